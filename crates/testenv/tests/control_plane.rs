//! The harness itself: where it finds its binaries, that its clusters are separate, and that it
//! leaves nothing behind.

use std::{path::Path, process::Command};

use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::PostParams};
use prtracker_testenv::{
    Binaries, ControlPlane, ControlPlaneConfig, HarnessError, default_dir, is_running, shared,
    test_namespace,
};

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_build_script_and_the_harness_agree_on_where_binaries_live() {
    let output = Command::new("bash")
        .arg(workspace_root().join("scripts/build-control-plane.sh"))
        .arg("--dir")
        .output()
        .expect("bash runs the build script");
    assert!(
        output.status.success(),
        "build-control-plane.sh --dir failed: {output:?}"
    );
    let script_dir = String::from_utf8(output.stdout).expect("utf-8 path");
    assert_eq!(
        Path::new(script_dir.trim()),
        default_dir().expect("a cache dir")
    );
}

#[test]
fn missing_binaries_fail_with_the_command_that_builds_them() {
    let empty = tempfile::tempdir().expect("temp dir");
    let error =
        Binaries::in_dir(empty.path().to_owned()).expect_err("an empty dir has no binaries");
    assert!(
        matches!(error, HarnessError::MissingBinary { name: "etcd", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("scripts/build-control-plane.sh"),
        "{message}"
    );
    assert!(
        message.contains(&empty.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn missing_helm_names_the_build_that_makes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kubectl",
    ] {
        std::fs::write(dir.path().join(name), b"").expect("a stand-in binary");
    }
    let binaries = Binaries::in_dir(dir.path().to_owned()).expect("helm is not needed to run");
    let error = binaries.helm().expect_err("helm is missing");
    assert!(
        matches!(error, HarnessError::MissingBinary { name: "helm", .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("scripts/build-control-plane.sh --with-helm"),
        "{error}"
    );
}

#[tokio::test]
async fn each_cluster_is_a_separate_apiserver() {
    let plane = shared();
    let primary = plane.cluster("primary").client().expect("client");
    let secondary = plane.cluster("secondary").client().expect("client");
    assert_ne!(
        plane.cluster("primary").url(),
        plane.cluster("secondary").url()
    );

    let name = test_namespace(&primary, "only-in-primary")
        .await
        .expect("namespace");
    let in_secondary: Api<Namespace> = Api::all(secondary.clone());
    assert!(
        in_secondary.get_opt(&name).await.expect("get").is_none(),
        "namespace {name} made in primary is visible in secondary"
    );
    // The same name can be made in the other cluster: nothing is shared.
    let mut same = Namespace::default();
    same.metadata.name = Some(name.clone());
    in_secondary
        .create(&PostParams::default(), &same)
        .await
        .expect("same name in secondary");
}

#[tokio::test]
async fn kubectl_reaches_the_cluster_through_its_kubeconfig() {
    let cluster = shared().primary();
    let output = cluster
        .kubectl()
        .args(["get", "--raw", "/readyz"])
        .output()
        .expect("kubectl runs");
    assert!(output.status.success(), "kubectl failed: {output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
    let version = cluster
        .kubectl()
        .args(["version", "-o", "json"])
        .output()
        .expect("kubectl runs");
    let version: serde_json::Value = serde_json::from_slice(&version.stdout).expect("json");
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        prtracker_testenv::KUBERNETES_VERSION
    );
}

#[tokio::test]
async fn dropping_the_control_plane_stops_every_process_and_removes_its_directory() {
    let plane = ControlPlane::start(ControlPlaneConfig {
        clusters: vec!["short-lived".into()],
        install_crds: false,
        garbage_collection: true,
    })
    .await
    .expect("control plane starts");
    let pids = plane.pids();
    let root = plane.root().to_owned();
    assert_eq!(pids.len(), 3, "etcd, one apiserver, one controller-manager");
    assert!(pids.iter().all(|pid| is_running(*pid)));
    assert!(root.is_dir());

    drop(plane);

    for pid in pids {
        assert!(!is_running(pid), "process {pid} outlived the control plane");
    }
    // The supervisor removes the directory as its last act; Drop waits for it.
    assert!(!root.exists(), "{} was left behind", root.display());
}

#[tokio::test]
async fn a_control_plane_needs_a_cluster() {
    let result = ControlPlane::start(ControlPlaneConfig {
        clusters: vec![],
        install_crds: false,
        garbage_collection: false,
    })
    .await;
    assert!(matches!(result, Err(HarnessError::Config(_))));
}

#[tokio::test]
async fn owned_objects_are_garbage_collected_with_their_owner() {
    use k8s_openapi::{
        api::core::v1::ConfigMap, apimachinery::pkg::apis::meta::v1::OwnerReference,
    };
    use kube::{Resource, api::DeleteParams};

    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "gc").await.expect("namespace");
    let config_maps: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let mut owner = ConfigMap::default();
    owner.metadata.name = Some("owner".into());
    let owner = config_maps
        .create(&PostParams::default(), &owner)
        .await
        .expect("owner");
    let mut dependent = ConfigMap::default();
    dependent.metadata.name = Some("dependent".into());
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.meta().uid.clone().expect("a uid"),
        ..Default::default()
    }]);
    config_maps
        .create(&PostParams::default(), &dependent)
        .await
        .expect("dependent");

    config_maps
        .delete("owner", &DeleteParams::default())
        .await
        .expect("delete owner");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while config_maps
        .get_opt("dependent")
        .await
        .expect("get")
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the dependent outlived its owner by a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A cluster's apiserver stopped and started again, edited meanwhile through a stand-in apiserver
/// of the same cluster. A control plane of its own: the shared one serves tests running alongside.
#[tokio::test]
async fn an_apiserver_stopped_and_started_again_serves_what_its_stand_in_wrote_meanwhile() {
    use k8s_openapi::api::{
        authentication::v1::{SelfSubjectReview, TokenRequest, TokenRequestSpec},
        core::v1::{ConfigMap, ServiceAccount},
    };

    let plane = ControlPlane::start(ControlPlaneConfig {
        clusters: vec!["restarted".into()],
        install_crds: false,
        garbage_collection: false,
    })
    .await
    .expect("control plane starts");
    let cluster = plane.cluster("restarted");
    let client = cluster.client().expect("client");
    let namespace = test_namespace(&client, "restart").await.expect("namespace");
    let first_pid = cluster.apiserver_pid();

    plane.stop_apiserver("restarted").expect("stopped");
    assert!(!is_running(first_pid), "the apiserver outlived its stop");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    assert!(
        config_maps.list(&Default::default()).await.is_err(),
        "a stopped apiserver answered"
    );

    let stand_in = plane
        .start_stand_in_apiserver("restarted")
        .await
        .expect("the stand-in starts");
    assert_ne!(stand_in.cluster().url(), cluster.url());
    // Its kubeconfig and kubectl reach it, with the admin credentials of the cluster.
    let created = stand_in
        .cluster()
        .kubectl()
        .args(["create", "configmap", "made-while-down", "-n", &namespace])
        .args(["--from-literal=written-by=stand-in"])
        .output()
        .expect("kubectl runs");
    assert!(created.status.success(), "{created:?}");
    // A token the stand-in signs names the cluster's issuer: the usual apiserver will take it.
    let through_stand_in = stand_in.cluster().client().expect("client");
    let accounts: Api<ServiceAccount> = Api::namespaced(through_stand_in, &namespace);
    let mut account = ServiceAccount::default();
    account.metadata.name = Some("reader".into());
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("service account");
    let token = accounts
        .create_token_request(
            "reader",
            &PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec::default(),
                ..Default::default()
            },
        )
        .await
        .expect("token")
        .status
        .expect("a token in the status")
        .token;
    let stand_in_pid = stand_in.cluster().apiserver_pid();
    drop(stand_in);
    assert!(!is_running(stand_in_pid), "the stand-in outlived its drop");

    plane
        .start_apiserver_again("restarted")
        .await
        .expect("started again");
    let running_twice = plane.start_apiserver_again("restarted").await;
    assert!(
        matches!(running_twice, Err(HarnessError::Config(_))),
        "{running_twice:?}"
    );
    assert_ne!(cluster.apiserver_pid(), first_pid);
    assert!(is_running(cluster.apiserver_pid()));

    // The client made before the stop works again: same port, same certificates.
    let read = config_maps
        .get("made-while-down")
        .await
        .expect("the ConfigMap written through the stand-in");
    assert_eq!(
        read.data.unwrap_or_default().get("written-by"),
        Some(&"stand-in".to_owned())
    );
    let mut as_reader = cluster.config().clone();
    as_reader.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..Default::default()
    };
    let reviews: Api<SelfSubjectReview> =
        Api::all(kube::Client::try_from(as_reader).expect("client"));
    let review = reviews
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .expect("the stand-in's token is taken");
    assert_eq!(
        review
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username),
        Some(format!("system:serviceaccount:{namespace}:reader"))
    );
}
