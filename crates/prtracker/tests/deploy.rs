//! `deploy/` on the test control plane: `kubectl apply -k deploy/` is accepted, and the RBAC it grants
//! is the least the operator needs.

use std::path::Path;

use serde::Deserialize;

use prtracker_testenv::shared;

mod common;

use common::operator_container;

fn deploy_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy"))
}

fn kubectl(args: &[&str]) -> std::process::Output {
    shared()
        .primary()
        .kubectl()
        .args(args)
        .output()
        .expect("kubectl runs")
}

#[test]
fn kubectl_apply_k_deploy_is_accepted_and_grants_least_privilege() {
    let dir = deploy_dir().display().to_string();
    let applied = kubectl(&["apply", "-k", &dir]);
    assert!(
        applied.status.success(),
        "kubectl apply -k deploy/ failed: {applied:?}"
    );
    let text = String::from_utf8_lossy(&applied.stdout);
    for object in [
        "namespace/prtracker-system",
        "serviceaccount/prtracker",
        "clusterrole.rbac.authorization.k8s.io/prtracker",
        "deployment.apps/prtracker",
        "service/prtracker",
        "customresourcedefinition.apiextensions.k8s.io/pullrequesttrackers.prtracker.io",
    ] {
        assert!(text.contains(object), "{object} was not applied:\n{text}");
    }
    let deployment = kubectl(&[
        "get",
        "deployment",
        "prtracker",
        "-n",
        "prtracker-system",
        "-o",
        "name",
    ]);
    assert!(deployment.status.success(), "{deployment:?}");

    let operator = "system:serviceaccount:prtracker-system:prtracker";
    let can = |verb: &str, resource: &str, namespace: Option<&str>| {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let subresource = format!("--subresource={subresource}");
        let mut args = vec!["auth", "can-i", verb, resource, "--as", operator];
        if subresource != "--subresource=" {
            args.push(&subresource);
        }
        match namespace {
            Some(ns) => args.extend(["-n", ns]),
            None => args.push("-A"),
        }
        String::from_utf8_lossy(&kubectl(&args).stdout).trim() == "yes"
    };
    // What it needs.
    assert!(can("watch", "pullrequesttrackers.prtracker.io", None));
    assert!(can(
        "create",
        "pullrequesttrackers.prtracker.io",
        Some("team-a")
    ));
    assert!(can(
        "update",
        "pullrequesttrackers.prtracker.io/status",
        Some("team-a")
    ));
    assert!(can("patch", "driftmonitors.prtracker.io", Some("team-a")));
    // A follower's webhook hand-over annotates the PR's trackers.
    assert!(can(
        "patch",
        "pullrequesttrackers.prtracker.io",
        Some("team-a")
    ));
    assert!(can("create", "events.events.k8s.io", Some("team-a")));
    assert!(can(
        "update",
        "leases.coordination.k8s.io",
        Some("prtracker-system")
    ));
    assert!(can("get", "secrets", Some("prtracker-system")));
    // --forget-after deletes the trackers of PRs closed long ago.
    assert!(can(
        "delete",
        "pullrequesttrackers.prtracker.io",
        Some("team-a")
    ));
    // What it does not.
    assert!(
        !can("delete", "driftmonitors.prtracker.io", Some("team-a")),
        "monitors go with their tracker, by the garbage collector"
    );
    assert!(
        !can("update", "pullrequesttrackers.prtracker.io", Some("team-a")),
        "spec is the user's"
    );
    assert!(
        !can("get", "secrets", Some("team-a")),
        "secrets only in its own namespace"
    );
    assert!(!can("update", "leases.coordination.k8s.io", Some("team-a")));
    assert!(!can("delete", "deployments.apps", Some("team-a")));

    // The README's overlay over it: the same objects, with the image and flags it sets, and an Ingress.
    let overlay = deploy_dir()
        .join("../examples/overlay")
        .display()
        .to_string();
    let applied = kubectl(&["apply", "-k", &overlay]);
    assert!(
        applied.status.success(),
        "kubectl apply -k examples/overlay/ failed: {applied:?}"
    );
    let container = operator_container(shared().primary());
    assert!(
        container.starts_with("registry.example.com/platform/prtracker:0.1.0 "),
        "{container}"
    );
    for arg in [
        "--leader-elect",
        "--track-repo=octo-org/shop",
        "--default-clusters=in-cluster,staging",
        "--manifests-path=deploy",
    ] {
        assert!(container.contains(arg), "{arg} missing: {container}");
    }
    let ingress = kubectl(&["-n", "prtracker-system", "get", "ingress", "prtracker"]);
    assert!(ingress.status.success(), "{ingress:?}");
}

/// The drift role in a target cluster is the in-cluster one: one list of kinds, kept in two files.
#[test]
fn the_target_cluster_role_grants_what_the_in_cluster_role_grants() {
    let rules = |file: &str, role: &str| -> serde_yaml_ng::Value {
        let text = std::fs::read_to_string(deploy_dir().join(file)).expect("readable");
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|document| serde_yaml_ng::Value::deserialize(document).expect("YAML"))
            .find(|object| object["kind"] == "ClusterRole" && object["metadata"]["name"] == role)
            .unwrap_or_else(|| panic!("no ClusterRole {role} in {file}"))["rules"]
            .clone()
    };
    assert_eq!(
        rules("target-cluster/rbac.yaml", "prtracker-drift"),
        rules("rbac.yaml", "prtracker-drift-in-cluster"),
        "deploy/target-cluster/rbac.yaml and deploy/rbac.yaml grant different kinds"
    );
}

/// kubeconfig.sh against a cluster where deploy/target-cluster/ was never applied: it fails, with
/// kubectl's own error and what to do, and prints no kubeconfig.
#[test]
fn kubeconfig_sh_without_the_kit_says_what_to_apply() {
    let plane = shared();
    let path = format!(
        "{}:{}",
        plane.binaries().dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new(deploy_dir().join("target-cluster/kubeconfig.sh"))
        .arg(format!(
            "--kubeconfig={}",
            plane.primary().kubeconfig_path().display()
        ))
        .env("PATH", path)
        .env("TOKEN_WAIT", "2")
        .output()
        .expect("kubeconfig.sh runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "it printed a kubeconfig: {output:?}"
    );
    assert!(output.stdout.is_empty(), "{output:?}");
    assert!(
        stderr.contains("not found") && stderr.contains("apply -k deploy/target-cluster/"),
        "{stderr}"
    );
}
