//! `prtracker run` refuses to start, clearly and before writing anything, when what it needs is
//! wrong; and stops cleanly on SIGTERM, releasing its lease.

mod common;

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use prtracker_github_sim::Simulator;
use prtracker_testenv::{ControlPlane, ControlPlaneConfig, shared, test_namespace};

use common::free_port;

fn files(dir: &Path, token: &str) -> (String, String) {
    let token_file = dir.join("token");
    let secret_file = dir.join("secret");
    std::fs::write(&token_file, token).expect("token");
    std::fs::write(&secret_file, "s3cret").expect("secret");
    (
        format!("--github-token-file={}", token_file.display()),
        format!("--webhook-secret-file={}", secret_file.display()),
    )
}

/// Runs `prtracker run` to completion (it must not start) and returns its output. Async: the
/// simulator answering it runs on this test's runtime.
async fn run_to_failure(args: &[String], kubeconfig: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prtracker"))
        .arg("run")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prtracker runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("prtracker run kept running with {args:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.wait_with_output().expect("output")
}

fn assert_refused(output: &Output, says: &str) {
    assert!(!output.status.success(), "it started: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(says),
        "the error does not say {says:?}:\n{stderr}"
    );
}

#[tokio::test]
async fn bad_setups_are_refused_at_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Simulator::start().await.expect("simulator");
    let good_kubeconfig = shared().primary().kubeconfig_path().to_owned();
    let listen = format!("--listen=127.0.0.1:{}", free_port());
    let api = format!("--github-api-url={}", sim.api_url());

    // Bad flags: a repository that is not owner/name, an empty secret file.
    let (token, secret) = files(dir.path(), sim.token());
    let output = run_to_failure(
        &[
            api.clone(),
            token.clone(),
            secret.clone(),
            "--track-repo=not-a-repo".into(),
        ],
        &good_kubeconfig,
    )
    .await;
    assert_refused(&output, "--track-repo");
    // Targets beside default clusters, and a check run without an App.
    let output = run_to_failure(
        &[
            api.clone(),
            token.clone(),
            secret.clone(),
            "--target=prod=deploy/overlays/prod".into(),
            "--default-clusters=staging".into(),
        ],
        &good_kubeconfig,
    )
    .await;
    assert_refused(&output, "--target and --default-clusters: give one");
    let output = run_to_failure(
        &[
            api.clone(),
            token.clone(),
            secret.clone(),
            "--check-runs".into(),
        ],
        &good_kubeconfig,
    )
    .await;
    assert_refused(&output, "only a GitHub App write check runs");
    // Render limits that would refuse every render.
    for (flag, says) in [
        (
            "--render-timeout=0s",
            "--render-timeout must be at least 1s",
        ),
        (
            "--render-max-output=1Ki",
            "--render-max-output must be at least 64Ki",
        ),
        (
            "--render-concurrency=0",
            "--render-concurrency must be at least 1",
        ),
    ] {
        let output = run_to_failure(
            &[api.clone(), token.clone(), secret.clone(), flag.into()],
            &good_kubeconfig,
        )
        .await;
        assert_refused(&output, says);
    }
    std::fs::write(dir.path().join("empty"), "\n").expect("file");
    let empty = format!(
        "--webhook-secret-file={}",
        dir.path().join("empty").display()
    );
    assert_refused(
        &run_to_failure(&[api.clone(), token.clone(), empty], &good_kubeconfig).await,
        "it is empty",
    );

    // Bad GitHub credentials: refused by GitHub at start.
    let (bad_token, secret) = files(dir.path(), "not-a-token");
    let output = run_to_failure(
        &[api.clone(), bad_token, secret.clone(), listen.clone()],
        &good_kubeconfig,
    )
    .await;
    assert_refused(&output, "GitHub refused the configured credentials");
    let (token, secret) = files(dir.path(), sim.token());

    // An unreachable apiserver.
    let unreachable = dir.path().join("unreachable-kubeconfig");
    let text = std::fs::read_to_string(&good_kubeconfig)
        .expect("kubeconfig")
        .replace(
            shared().primary().url(),
            &format!("https://127.0.0.1:{}", free_port()),
        );
    std::fs::write(&unreachable, text).expect("kubeconfig");
    let output = run_to_failure(
        &[api.clone(), token.clone(), secret.clone(), listen.clone()],
        &unreachable,
    )
    .await;
    assert_refused(&output, "the Kubernetes apiserver cannot be reached");

    // A cluster without the CRDs.
    let bare = ControlPlane::start(ControlPlaneConfig {
        clusters: vec!["bare".into()],
        install_crds: false,
        garbage_collection: false,
    })
    .await
    .expect("control plane");
    let output = run_to_failure(
        &[api, token, secret, listen],
        bare.primary().kubeconfig_path(),
    )
    .await;
    assert_refused(&output, "the prtracker CRDs are not installed");

    // Nothing was written to GitHub by any of these attempts.
    assert!(
        sim.requests().iter().all(|r| r.method == "GET"),
        "a refused start wrote to GitHub: {:?}",
        sim.requests()
    );
}

#[tokio::test]
async fn sigterm_stops_the_operator_cleanly_and_releases_its_lease() {
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "sigterm").await.expect("namespace");
    let leases: Api<Lease> = Api::namespaced(client, &namespace);
    let sim = Simulator::start().await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, secret) = files(dir.path(), sim.token());
    let mut child = Command::new(env!("CARGO_BIN_EXE_prtracker"))
        .arg("run")
        .arg(format!("--github-api-url={}", sim.api_url()))
        .args([token, secret])
        .arg(format!("--listen=127.0.0.1:{}", free_port()))
        .arg(format!("--namespace={namespace}"))
        .arg(format!("--lease-namespace={namespace}"))
        .arg("--leader-elect")
        .env("KUBECONFIG", shared().primary().kubeconfig_path())
        .env("POD_NAME", "the-only-replica")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("operator.log")).expect("log"))
        .spawn()
        .expect("prtracker runs");

    let holder = || async {
        leases
            .get_opt("prtracker-leader")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec.and_then(|s| s.holder_identity))
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while holder().await != "the-only-replica" {
        assert!(Instant::now() < deadline, "it never took the lease");
        assert!(child.try_wait().expect("wait").is_none(), "it exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "it did not stop on SIGTERM; its log:\n{}",
            std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "SIGTERM ended it with {status}; its log:\n{}",
        std::fs::read_to_string(dir.path().join("operator.log")).unwrap_or_default()
    );
    assert_eq!(holder().await, "", "the lease was not released");
}
