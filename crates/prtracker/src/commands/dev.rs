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
            "control plane ready in {:.1}s ({} cluster(s){}); try:\n  export KUBECONFIG={}\n  kubectl get prt,dm -A\nCtrl-C stops it and removes {}",
            started.elapsed().as_secs_f64(),
            plane.clusters().len(),
            if install_crds { ", prtracker CRDs installed" } else { "" },
            plane.primary().kubeconfig_path().display(),
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
