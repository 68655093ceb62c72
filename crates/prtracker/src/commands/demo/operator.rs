//! The operator the demo runs: this binary's `run`, as a child process.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use prtracker_github_sim::SimulatorHandle;
use prtracker_testenv::Cluster;

use super::{NAMESPACE, REPO, TARGETS, WEBHOOK_SECRET};

/// The operator, this binary's `run`, as a child process.
pub(super) struct Operator {
    child: Child,
    port: u16,
}

impl Operator {
    pub(super) fn start(
        sim: &SimulatorHandle,
        cluster: &Cluster,
        kubectl: &std::path::Path,
        dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let token = dir.join("github-token");
        let secret = dir.join("webhook-secret");
        std::fs::write(&token, sim.token())?;
        std::fs::write(&secret, WEBHOOK_SECRET)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.join("operator.log"))?;
        let child = Command::new(std::env::current_exe().context("finding this binary")?)
            .arg("run")
            .arg(format!("--github-api-url={}", sim.api_url()))
            .arg(format!("--github-token-file={}", token.display()))
            .arg(format!("--webhook-secret-file={}", secret.display()))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--namespace={NAMESPACE}"))
            .arg(format!("--cluster-secrets-namespace={NAMESPACE}"))
            .arg(format!("--track-repo={REPO}"))
            // A target per cluster: the overlay rendered for it, built with `kubectl kustomize`.
            .args(
                TARGETS
                    .iter()
                    .map(|(cluster, path)| format!("--target={cluster}={path}")),
            )
            .arg(format!("--kustomize={}", kubectl.display()))
            .arg("--resync-interval=30s")
            // A demo cannot wait out a real rollout's settle window; 3 s shows the rule.
            .arg("--settle-window=3s")
            // What the PR shows beyond its label: the comment, a Deployment and a commit status
            // per cluster, seen on the simulator's PR pages.
            .args(["--pr-comment", "--github-deployments", "--commit-statuses"])
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting prtracker run")?;
        Ok(Self { child, port })
    }

    pub(super) fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.port)
    }

    pub(super) async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the operator exited during start-up ({status})");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the operator did not start listening within a minute");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(25);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
