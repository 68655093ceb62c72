//! `prtracker dev ...`: local stand-ins for a cluster, for people and for end-to-end checks.

use std::io::Write;

use anyhow::Context;
use prtracker_testenv::{ControlPlane, ControlPlaneConfig};

/// Starts the control plane, prints where to reach it, and stops it on Ctrl-C or SIGTERM.
///
/// The first line of stdout per cluster is `kubeconfig <cluster> <path>`, stable for scripts; a
/// human summary goes to stderr.
pub fn control_plane(clusters: Vec<String>, install_crds: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let plane = ControlPlane::start(ControlPlaneConfig {
            clusters,
            install_crds,
            garbage_collection: true,
        })
        .await
        .context("starting the control plane")?;
        let mut out = std::io::stdout().lock();
        for cluster in plane.clusters() {
            writeln!(out, "kubeconfig {} {}", cluster.name(), cluster.kubeconfig_path().display())?;
        }
        out.flush()?;
        drop(out);
        eprintln!(
            "control plane ready in {:.1}s ({} cluster(s){}); in another terminal, try:\n  export KUBECONFIG={}\n  export PATH={}:$PATH\n  kubectl get prt,dm -A\nCtrl-C stops it and removes {}",
            started.elapsed().as_secs_f64(),
            plane.clusters().len(),
            if install_crds { ", prtracker CRDs installed" } else { "" },
            plane.primary().kubeconfig_path().display(),
            plane.binaries().dir().display(),
            plane.root().display(),
        );
        wait_for_shutdown_signal().await?;
        eprintln!("stopping the control plane");
        drop(plane);
        Ok(())
    })
}

async fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}

/// What `prtracker dev github` starts.
pub struct GithubOptions {
    pub listen: std::net::SocketAddr,
    pub repos: Vec<String>,
    pub token: String,
    pub webhook_url: Option<String>,
    pub webhook_secret_file: Option<std::path::PathBuf>,
}

/// Starts the GitHub API simulator; prints `api <url>` and `token <token>` on stdout (stable, for
/// scripts) and runs until Ctrl-C or SIGTERM.
pub fn github(options: GithubOptions) -> anyhow::Result<()> {
    use prtracker_github_sim::{SimConfig, Simulator};

    let secret = match &options.webhook_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--webhook-secret-file {}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        ),
        None => None,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let config = SimConfig {
            tokens: vec![(
                options.token.clone(),
                prtracker_github_sim::DEFAULT_LOGIN.to_owned(),
            )],
            ..SimConfig::default()
        };
        let sim = Simulator::start_on(options.listen, config)
            .await
            .with_context(|| format!("--listen {}: cannot bind", options.listen))?;
        for repo in &options.repos {
            sim.create_repo(repo)
                .map_err(|e| anyhow::anyhow!("--repo {repo}: {}", e.message))?;
        }
        if let Some(url) = &options.webhook_url {
            sim.set_webhook(url, secret.as_deref());
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "api {}", sim.api_url())?;
        writeln!(out, "token {}", options.token)?;
        // Each PR's page is at its html_url; this lists them all.
        writeln!(out, "pages {}/", sim.url())?;
        out.flush()?;
        drop(out);
        eprintln!(
            "GitHub simulator at {} (token {}); control API under {}/_sim; each PR's page at \
             its html_url, all listed at {}/ (open it in a browser). Ctrl-C stops it.",
            sim.api_url(),
            options.token,
            sim.url(),
            sim.url()
        );
        wait_for_shutdown_signal().await?;
        drop(sim);
        Ok(())
    })
}
