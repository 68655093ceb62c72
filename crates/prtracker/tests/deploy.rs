//! `deploy/` on the test control plane: `kubectl apply -k deploy/` is accepted, and the RBAC it grants
//! is the least the operator needs.

use std::path::Path;

use serde::Deserialize;

use prtracker_testenv::shared;

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
    assert!(can("patch", "pullrequesttrackers.prtracker.io", Some("team-a")));
    assert!(can("create", "events.events.k8s.io", Some("team-a")));
    assert!(can(
        "update",
        "leases.coordination.k8s.io",
        Some("prtracker-system")
    ));
    assert!(can("get", "secrets", Some("prtracker-system")));
    // What it does not.
    assert!(!can(
        "delete",
        "pullrequesttrackers.prtracker.io",
        Some("team-a")
    ));
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
    let container = kubectl(&[
        "-n",
        "prtracker-system",
        "get",
        "deployment",
        "prtracker",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].args}",
    ]);
    let container = String::from_utf8_lossy(&container.stdout);
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

/// The README's "Target clusters" steps, in the test control plane's second cluster: apply
/// `deploy/target-cluster/` there, print its kubeconfig with the kit's script, store it in the
/// operator's cluster as a labelled Secret, and the operator's cluster registry reaches the target
/// with it, checks drift there, and may do no more than that.
#[tokio::test]
async fn a_target_cluster_registered_as_the_readme_says_is_checked_for_drift() {
    let plane = shared();
    let target = plane.cluster("secondary");
    let target_kubeconfig = format!("--kubeconfig={}", target.kubeconfig_path().display());
    let kit = deploy_dir().join("target-cluster");

    let applied = target
        .kubectl()
        .args(["apply", "-k", &kit.display().to_string()])
        .output()
        .expect("kubectl runs");
    assert!(applied.status.success(), "{applied:?}");

    let path = format!(
        "{}:{}",
        plane.binaries().dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let printed = std::process::Command::new(kit.join("kubeconfig.sh"))
        .arg(&target_kubeconfig)
        .env("PATH", path)
        .output()
        .expect("kubeconfig.sh runs");
    assert!(printed.status.success(), "{printed:?}");
    let dir = tempfile::tempdir().expect("a temp dir");
    let kubeconfig = dir.path().join("staging.kubeconfig");
    std::fs::write(&kubeconfig, &printed.stdout).expect("kubeconfig written");

    // The identity in that kubeconfig: what drift checks need, and nothing more.
    let can = |verb: &str, resource: &str| {
        let output = target
            .kubectl()
            .args([
                &format!("--kubeconfig={}", kubeconfig.display()),
                "auth",
                "can-i",
                verb,
                resource,
                "-n",
                "team-a",
            ])
            .output()
            .expect("kubectl runs");
        String::from_utf8_lossy(&output.stdout).trim() == "yes"
    };
    assert!(can("patch", "deployments.apps"));
    assert!(can("list", "configmaps"));
    assert!(!can("delete", "deployments.apps"));
    assert!(!can("get", "secrets"));
    assert!(!can("create", "configmaps"));

    // The operator's side: the kubeconfig as a Secret labelled with the cluster's name.
    let operator = plane.primary();
    let operator_client = operator.client().expect("a client");
    let namespace = prtracker_testenv::test_namespace(&operator_client, "clusters")
        .await
        .expect("a namespace");
    for args in [
        vec![
            "-n".to_owned(),
            namespace.clone(),
            "create".to_owned(),
            "secret".to_owned(),
            "generic".to_owned(),
            "cluster-staging".to_owned(),
            format!("--from-file=kubeconfig={}", kubeconfig.display()),
        ],
        vec![
            "-n".to_owned(),
            namespace.clone(),
            "label".to_owned(),
            "secret".to_owned(),
            "cluster-staging".to_owned(),
            "prtracker.io/cluster=staging".to_owned(),
        ],
    ] {
        let output = operator
            .kubectl()
            .args(&args)
            .output()
            .expect("kubectl runs");
        assert!(output.status.success(), "kubectl {args:?}: {output:?}");
    }

    // Something deployed in the target, by its admin.
    let app_namespace =
        prtracker_testenv::test_namespace(&target.client().expect("a client"), "app")
            .await
            .expect("a namespace");
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {app_namespace}\ndata:\n  mode: blue\n"
    );
    let manifest_file = dir.path().join("settings.yaml");
    std::fs::write(&manifest_file, &manifest).expect("manifest written");
    let deployed = target
        .kubectl()
        .args(["apply", "-f", &manifest_file.display().to_string()])
        .output()
        .expect("kubectl runs");
    assert!(deployed.status.success(), "{deployed:?}");

    let registry = prtracker_drift::ClusterRegistry::new(operator_client, namespace);
    let client = registry
        .reachable_client("staging")
        .await
        .expect("the target is reachable with the printed kubeconfig");
    let desired = prtracker_drift::manifests::parse_file("settings.yaml", manifest.as_bytes())
        .expect("parsed");
    let comparer = prtracker_drift::Comparer::new(client, "staging", Default::default());
    let report = comparer.compare(&desired).await.expect("a comparison");
    assert!(report.in_sync(), "{report:?}");

    let edited = target
        .kubectl()
        .args([
            "-n",
            &app_namespace,
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
