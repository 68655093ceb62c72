//! What the end-to-end tests of the binary share.

#![allow(dead_code)] // each test binary uses its own part

pub mod apiserver;
pub mod world;

use std::{
    net::TcpListener,
    process::Child,
    time::{Duration, Instant},
};

use prtracker_github_sim::SimulatorHandle;

/// What a CD system (or a person, as another manager) does: `kubectl apply --server-side` of
/// `yaml` to `cluster`, with `args` (the field manager, `--force-conflicts`).
pub fn server_side_apply(cluster: &prtracker_testenv::Cluster, args: &[&str], yaml: &str) {
    use std::io::Write;
    let mut child = cluster
        .kubectl()
        .args(["apply", "--server-side"])
        .args(args)
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kubectl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("manifests piped");
    assert!(
        child.wait().expect("kubectl finishes").success(),
        "kubectl apply to {}",
        cluster.name()
    );
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The value of `sample` (a metric name with its labels, as the exposition writes it) in the
/// metrics an operator serves on `port`; 0 when it is not there yet.
pub async fn operator_metric_at(port: u16, sample: &str) -> f64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| {
            line.strip_prefix(sample)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// Polls `probe` until it gives a value; fails the test after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The state labels on a PR of the simulator.
pub fn state_labels(sim: &SimulatorHandle, repo: &str, number: u64) -> Vec<String> {
    sim.pull_labels(repo, number)
        .expect("labels")
        .into_iter()
        .filter(|l| l.starts_with("state/"))
        .collect()
}

/// A child process killed (and reaped) when the test ends, passing or not.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A kubeconfig for the operator as deploy/ runs it: the shared primary cluster, with deploy/ applied
/// there, as the ServiceAccount prtracker-system/prtracker (impersonated), so the end-to-end tests
/// run with exactly the RBAC a cluster grants it. Written into `dir`.
pub fn operator_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    static APPLIED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let cluster = prtracker_testenv::shared().primary();
    APPLIED.get_or_init(|| {
        let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");
        let applied = cluster
            .kubectl()
            .args(["apply", "-k", deploy])
            .output()
            .expect("kubectl runs");
        assert!(
            applied.status.success(),
            "kubectl apply -k deploy/: {applied:?}"
        );
    });
    let admin = std::fs::read_to_string(cluster.kubeconfig_path()).expect("the kubeconfig");
    assert!(
        admin.contains("\n  user:\n"),
        "the harness's kubeconfig changed shape"
    );
    let operator = admin.replace(
        "\n  user:\n",
        &format!("\n  user:\n    as: {OPERATOR_USER}\n"),
    );
    let path = dir.join("operator.kubeconfig");
    std::fs::write(&path, operator).expect("kubeconfig written");
    path
}

/// The operator's identity in deploy/: its ServiceAccount.
pub const OPERATOR_USER: &str = "system:serviceaccount:prtracker-system:prtracker";

/// Where deploy/ lets the operator hold its Lease (and read cluster Secrets): its own namespace.
pub const OPERATOR_NAMESPACE: &str = "prtracker-system";

/// The operator's container as installed: `IMAGE ["arg", ...]`.
pub fn operator_container(cluster: &prtracker_testenv::Cluster) -> String {
    let output = cluster
        .kubectl()
        .args([
            "-n",
            OPERATOR_NAMESPACE,
            "get",
            "deployment",
            "prtracker",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].args}",
        ])
        .output()
        .expect("kubectl runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
