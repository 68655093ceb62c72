//! The README's "Install on a cluster" commands, run as written against the test control plane: what
//! a platform team types must work. Only what needs the outside world is left out: `docker`, GitHub
//! (`gh api`), an Ingress controller, and `rollout status` (the test clusters run no pods).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use prtracker_testenv::{Cluster, shared};

mod common;

use common::operator_container;

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

/// Step 3 with a token, on the primary cluster; then step 6's tracker by hand.
#[test]
fn the_helm_install_with_a_token_installs_the_operator_and_a_tracker_is_accepted() {
    let cluster = shared().primary();
    let dir = workdir();
    let install = block_with(&["helm install", "--from-file=token="]);
    assert_ran(&run_block(&install, cluster, dir.path()), "Helm install");

    let deployment = operator_container(cluster);
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

    let deployment = operator_container(cluster);
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

/// Step 4 as written, on a control plane of its own whose kubectl contexts are the README's: `ops`
/// (the operator's cluster) and `staging` (a target). The operator's cluster registry then reaches
/// `staging` with the Secret the commands made, checks drift there, and may do nothing more.
#[tokio::test]
async fn the_target_cluster_commands_give_the_operator_a_working_least_privilege_kubeconfig() {
    let plane = prtracker_testenv::ControlPlane::start(prtracker_testenv::ControlPlaneConfig {
        clusters: vec!["ops".into(), "staging".into()],
        install_crds: false,
        // The controller-manager mints the ServiceAccount's token.
        garbage_collection: true,
    })
    .await
    .expect("a control plane");
    let (ops, staging) = (plane.cluster("ops"), plane.cluster("staging"));
    // Step 3 made the operator's namespace.
    let namespace = ops
        .kubectl()
        .args(["create", "namespace", "prtracker-system"])
        .output()
        .expect("kubectl runs");
    assert!(namespace.status.success(), "{namespace:?}");

    let dir = workdir();
    let path = format!(
        "{}:{}",
        plane.binaries().dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let contexts = format!(
        "{}:{}",
        ops.kubeconfig_path().display(),
        staging.kubeconfig_path().display()
    );
    let step = block_with(&["deploy/target-cluster/kubeconfig.sh"]);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &step])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("KUBECONFIG", contexts)
        .output()
        .expect("bash runs");
    assert_ran(&output, "target-cluster commands");

    // The kubeconfig in the Secret: what drift checks need, and nothing more.
    let kubeconfig = dir.path().join("from-the-secret.kubeconfig");
    let stored = kubectl_get(
        ops,
        &[
            "-n",
            "prtracker-system",
            "get",
            "secret",
            "cluster-staging",
            "-o",
            "go-template={{base64decode .data.kubeconfig}}",
        ],
    );
    std::fs::write(&kubeconfig, stored).expect("written");
    let can = |verb: &str, resource: &str| {
        let output = staging
            .kubectl()
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(["auth", "can-i", verb, resource, "-n", "team-a"])
            .output()
            .expect("kubectl runs");
        String::from_utf8_lossy(&output.stdout).trim() == "yes"
    };
    assert!(can("patch", "deployments.apps"));
    assert!(can("list", "configmaps"));
    assert!(!can("delete", "deployments.apps"));
    assert!(!can("get", "secrets"));
    assert!(!can("create", "configmaps"));

    // Something deployed in staging by its admin, then checked through the registry.
    let app = "shop";
    let created = staging
        .kubectl()
        .args(["create", "namespace", app])
        .output()
        .expect("kubectl runs");
    assert!(created.status.success(), "{created:?}");
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {app}\ndata:\n  mode: blue\n"
    );
    let manifest_file = dir.path().join("settings.yaml");
    std::fs::write(&manifest_file, &manifest).expect("manifest written");
    let deployed = staging
        .kubectl()
        .args(["apply", "-f", &manifest_file.display().to_string()])
        .output()
        .expect("kubectl runs");
    assert!(deployed.status.success(), "{deployed:?}");

    let registry =
        prtracker_drift::ClusterRegistry::new(ops.client().expect("a client"), "prtracker-system");
    let client = registry
        .reachable_client("staging")
        .await
        .expect("staging is reachable with the stored kubeconfig");
    let desired = prtracker_drift::manifests::parse_file("settings.yaml", manifest.as_bytes())
        .expect("parsed");
    let comparer = prtracker_drift::Comparer::new(client, "staging", Default::default());
    let report = comparer.compare(&desired).await.expect("a comparison");
    assert!(report.in_sync(), "{report:?}");
    let edited = staging
        .kubectl()
        .args([
            "-n",
            app,
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"mode":"green"}}"#,
        ])
        .output()
        .expect("kubectl runs");
    assert!(edited.status.success(), "{edited:?}");
    let report = comparer.compare(&desired).await.expect("a comparison");
    assert_eq!((report.drifted, report.missing), (1, 0), "{report:?}");
}
