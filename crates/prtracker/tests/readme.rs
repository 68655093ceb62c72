//! The README's "Install on a cluster" commands, run as written against the test control plane: what
//! a platform team types must work. Only what needs the outside world is left out: `docker`, GitHub
//! (`gh api`), an Ingress controller, and `rollout status` (the test clusters run no pods). Step 4's
//! target-cluster commands are run in `deploy.rs`, with a second cluster.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use prtracker_testenv::{Cluster, shared};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The `sh` code blocks of the README's section "Install on a cluster", in order.
fn install_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("the README");
    let start = readme
        .find("### Install on a cluster")
        .expect("the README has an \"Install on a cluster\" section");
    let section = &readme[start..];
    let section = &section[..section.find("### Metrics").unwrap_or(section.len())];
    section
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default().to_owned())
        .collect()
}

/// The one block that contains every one of `needles`.
fn block_with(needles: &[&str]) -> String {
    let found: Vec<String> = install_blocks()
        .into_iter()
        .filter(|block| needles.iter().all(|needle| block.contains(needle)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the README's install section should have exactly one sh block with {needles:?}"
    );
    found.into_iter().next().unwrap_or_default()
}

/// The image step 1 builds, from the README's `IMAGE=` line.
fn image() -> String {
    install_blocks()
        .iter()
        .flat_map(|block| block.lines())
        .find_map(|line| line.strip_prefix("IMAGE="))
        .expect("step 1 sets IMAGE=")
        .to_owned()
}

/// A place to run the README's commands from: a clone's `deploy/` and `examples/`, and the files
/// the person made in step 2.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    for linked in ["deploy", "examples"] {
        std::os::unix::fs::symlink(root().join(linked), dir.path().join(linked))
            .expect("a symlink");
    }
    for (file, content) in [
        ("github-token", "github_pat_readme_test\n"),
        ("webhook-secret", "0123456789abcdef\n"),
        (
            "github-app.pem",
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
        ),
    ] {
        std::fs::write(dir.path().join(file), content).expect("a credential file");
    }
    dir
}

/// Runs `block` with bash, kubectl and helm of the test control plane, against `cluster`.
fn run_block(block: &str, cluster: &Cluster, dir: &Path) -> Output {
    let binaries = shared().binaries();
    binaries
        .helm()
        .unwrap_or_else(|error| panic!("the README's Helm commands need helm: {error}"));
    let path = format!(
        "{}:{}",
        binaries.dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(dir)
        .env("PATH", path)
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("IMAGE", image())
        .env("HELM_CACHE_HOME", dir.join(".helm/cache"))
        .env("HELM_CONFIG_HOME", dir.join(".helm/config"))
        .env("HELM_DATA_HOME", dir.join(".helm/data"))
        .output()
        .expect("bash runs")
}

fn assert_ran(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "the README's {what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn kubectl_get(cluster: &Cluster, args: &[&str]) -> String {
    let output = cluster.kubectl().args(args).output().expect("kubectl runs");
    assert!(output.status.success(), "kubectl {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const DEPLOYMENT_JSONPATH: &str =
    "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].args}";

/// Step 3 with a token, on the primary cluster; then step 6's tracker by hand.
#[test]
fn the_helm_install_with_a_token_installs_the_operator_and_a_tracker_is_accepted() {
    let cluster = shared().primary();
    let dir = workdir();
    let install = block_with(&["helm install", "--from-file=token="]);
    assert_ran(&run_block(&install, cluster, dir.path()), "Helm install");

    let deployment = kubectl_get(
        cluster,
        &[
            "-n",
            "prtracker-system",
            "get",
            "deployment",
            "prtracker",
            "-o",
            DEPLOYMENT_JSONPATH,
        ],
    );
    assert!(
        deployment.starts_with(&format!("{} ", image())),
        "{deployment}"
    );
    for arg in [
        "--track-repo=octo-org/shop",
        "--default-clusters=in-cluster,staging",
        "--manifests-path=deploy",
        "--github-token-file=",
        "--webhook-secret-file=",
        "--leader-elect",
    ] {
        assert!(deployment.contains(arg), "{arg} missing: {deployment}");
    }
    let secret = kubectl_get(
        cluster,
        &[
            "-n",
            "prtracker-system",
            "get",
            "secret",
            "prtracker-github",
            "-o",
            "jsonpath={.data}",
        ],
    );
    assert!(
        secret.contains("\"token\"") && secret.contains("\"webhook-secret\""),
        "{secret}"
    );

    let tracker = block_with(&["kind: PullRequestTracker"]);
    assert_ran(&run_block(&tracker, cluster, dir.path()), "tracker");
    let spec = kubectl_get(
        cluster,
        &[
            "get",
            "prt",
            "shop-1347",
            "-o",
            "jsonpath={.spec.repository}#{.spec.number}",
        ],
    );
    assert_eq!(spec, "octo-org/shop#1347");
}

/// Step 3 with a GitHub App, on the secondary cluster (a person does one or the other).
#[test]
fn the_helm_install_with_an_app_authenticates_as_the_app() {
    let cluster = shared().cluster("secondary");
    let dir = workdir();
    // The namespace comes from the token variant's block, which a person reads first.
    let namespace = cluster
        .kubectl()
        .args(["create", "namespace", "prtracker-system"])
        .output()
        .expect("kubectl runs");
    assert!(namespace.status.success(), "{namespace:?}");
    let install = block_with(&["helm install", "github.app.enabled=true"]);
    assert_ran(
        &run_block(&install, cluster, dir.path()),
        "Helm install with an App",
    );

    let deployment = kubectl_get(
        cluster,
        &[
            "-n",
            "prtracker-system",
            "get",
            "deployment",
            "prtracker",
            "-o",
            DEPLOYMENT_JSONPATH,
        ],
    );
    for arg in [
        "--github-app-id=123456",
        "--github-app-private-key-file=",
        "--webhook-secret-file=",
    ] {
        assert!(deployment.contains(arg), "{arg} missing: {deployment}");
    }
    assert!(
        !deployment.contains("--github-token-file"),
        "an App install reads no token: {deployment}"
    );
}

/// Every command the install section names exists in the tools it names: nothing is left to guess.
#[test]
fn the_install_section_names_every_step() {
    let blocks = install_blocks().join("\n");
    for needed in [
        "docker build",
        "docker push",
        "openssl rand",
        "create secret generic prtracker-github",
        "helm install",
        "kubectl apply -k examples/overlay/",
        "kubectl --context staging apply -k deploy/target-cluster/",
        "deploy/target-cluster/kubeconfig.sh",
        "prtracker.io/cluster=staging",
        "create ingress",
        "gh api repos/octo-org/shop/hooks",
        "kubectl get prt,dm",
    ] {
        assert!(
            blocks.contains(needed),
            "the README's install section lacks `{needed}`"
        );
    }
}
