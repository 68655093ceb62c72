//! Drift checks of two clusters (the `primary` and `secondary` apiservers of the harness) against
//! manifests held by the GitHub simulator at a commit: applied → in sync; changed by hand → drifted,
//! with the field paths; deleted → missing; put back → in sync.

mod common;

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::{ByteString, api::core::v1::Secret, jiff::Timestamp};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{
    DriftMonitor, DriftMonitorSpec, DriftPhase, ManifestSource, Repository, status::write_status,
};
use prtracker_drift::{
    CLUSTER_LABEL, ClusterRegistry, DriftChecker, DriftReport, IN_CLUSTER, KUBECONFIG_KEY,
    mark_pending, next_status,
};
use prtracker_github::{GitHubAuth, GitHubConfig, OctocrabGitHub};
use prtracker_github_sim::Simulator;
use prtracker_testenv::{shared, test_namespace};

use common::kubectl_ok;

const REPO: &str = "octo-org/shop";
const COMMIT: &str = "5c1e7d3a9b2f4e6d8c0a1b3c5d7e9f1a2b4c6d8e";

const MANIFESTS: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: shop-reader
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: production
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        ports:
        - containerPort: 80
        resources:
          limits: {cpu: 1000m, memory: 128Mi}
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
"#;

fn all_manifests() -> String {
    format!("{MANIFESTS}---\n{SERVICE}")
}

async fn monitor(api: &Api<DriftMonitor>, cluster: &str) -> DriftMonitor {
    let monitor = DriftMonitor::new(
        &format!("shop-{cluster}"),
        DriftMonitorSpec {
            tracker: "shop".into(),
            cluster: cluster.into(),
            source: ManifestSource {
                repository: REPO.parse::<Repository>().expect("repository"),
                commit: COMMIT.into(),
                path: "deploy".into(),
                base_branch: None,
                values: Vec::new(),
            },
            interval: "1m".into(),
            ignore_differences: Vec::new(),
        },
    );
    api.create(&PostParams::default(), &monitor)
        .await
        .expect("monitor created")
}

/// Checks, writes the status, and returns the report and the monitor as written.
async fn check(
    checker: &DriftChecker,
    client: &Client,
    api: &Api<DriftMonitor>,
    name: &str,
) -> (DriftReport, DriftMonitor, bool) {
    let monitor = api.get(name).await.expect("monitor");
    let result = checker.check(&monitor).await;
    let status = next_status(&monitor, &result, Timestamp::now());
    let wrote = write_status(client, &monitor, status)
        .await
        .expect("status written")
        .is_some();
    let report = result.expect("checked").report;
    (report, api.get(name).await.expect("monitor"), wrote)
}

fn fields(
    report: &DriftReport,
    kind: &str,
    name: &str,
) -> Vec<(String, Option<String>, Option<String>)> {
    report
        .resources
        .iter()
        .find(|r| r.kind == kind && r.name == name)
        .map(|r| {
            r.fields
                .iter()
                .map(|f| (f.path.clone(), f.desired.clone(), f.live.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn phase(monitor: &DriftMonitor) -> Option<DriftPhase> {
    monitor.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn two_clusters_in_sync_then_drifted_by_hand_then_in_sync_again() {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(
        REPO,
        COMMIT,
        [
            ("deploy/app.yaml", MANIFESTS.to_owned()),
            ("deploy/service.yml", SERVICE.to_owned()),
            ("deploy/README.md", "# not a manifest: {".to_owned()),
        ],
    )
    .expect("files");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("github client"));

    // The operator runs in `primary`; `secondary` is known by a Secret in its namespace.
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "drift-check")
        .await
        .expect("namespace");
    let kubeconfig =
        std::fs::read(shared().cluster("secondary").kubeconfig_path()).expect("kubeconfig");
    let mut secret = Secret::default();
    secret.metadata.name = Some("cluster-secondary".into());
    secret.metadata.labels = Some(BTreeMap::from([(CLUSTER_LABEL.into(), "secondary".into())]));
    secret.data = Some(BTreeMap::from([(
        KUBECONFIG_KEY.into(),
        ByteString(kubeconfig),
    )]));
    Api::<Secret>::namespaced(client.clone(), &namespace)
        .patch(
            "cluster-secondary",
            &PatchParams::apply("test"),
            &Patch::Apply(&secret),
        )
        .await
        .expect("secret");
    let checker = DriftChecker::new(github, ClusterRegistry::new(client.clone(), &namespace));
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let primary = monitor(&monitors, IN_CLUSTER).await;
    let secondary = monitor(&monitors, "secondary").await;
    let (primary, secondary) = (
        primary.metadata.name.expect("name"),
        secondary.metadata.name.expect("name"),
    );

    // The merged manifests, applied to both clusters as a person would.
    for cluster in ["primary", "secondary"] {
        kubectl_ok(cluster, &["apply", "-f", "-"], Some(&all_manifests()));
    }
    for name in [&primary, &secondary] {
        let (report, written, wrote) = check(&checker, &client, &monitors, name).await;
        assert!(report.in_sync(), "{name}: {report:#?}");
        assert_eq!(report.checked, 5);
        assert!(wrote);
        assert_eq!(phase(&written), Some(DriftPhase::InSync));
        let status = written.status.as_ref().expect("status");
        assert_eq!(status.checked_commit.as_deref(), Some(COMMIT));
        assert_eq!(status.resources_checked, 5);
        // Checked again, unchanged: nothing to write.
        let (_, _, wrote) = check(&checker, &client, &monitors, name).await;
        assert!(!wrote, "an unchanged verdict is not written again");
    }

    // By hand, in the secondary cluster: replicas, an image, a ConfigMap key.
    kubectl_ok(
        "secondary",
        &["-n", "shop", "scale", "deployment/web", "--replicas=5"],
        None,
    );
    kubectl_ok(
        "secondary",
        &[
            "-n",
            "shop",
            "set",
            "image",
            "deployment/web",
            "app=nginx:1.27",
        ],
        None,
    );
    kubectl_ok(
        "secondary",
        &[
            "-n",
            "shop",
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"mode":"debug"}}"#,
        ],
        None,
    );
    let (report, written, _) = check(&checker, &client, &monitors, &secondary).await;
    assert_eq!(phase(&written), Some(DriftPhase::Drifted));
    assert_eq!((report.drifted, report.missing), (2, 0), "{report:#?}");
    assert_eq!(
        fields(&report, "Deployment", "web"),
        [
            (
                "spec.replicas".to_owned(),
                Some("2".to_owned()),
                Some("5".to_owned())
            ),
            (
                "spec.template.spec.containers[name=app].image".to_owned(),
                Some("\"nginx:1.25\"".to_owned()),
                Some("\"nginx:1.27\"".to_owned())
            ),
        ]
    );
    assert_eq!(
        fields(&report, "ConfigMap", "settings"),
        [(
            "data.mode".to_owned(),
            Some("\"production\"".to_owned()),
            Some("\"debug\"".to_owned())
        )]
    );
    let (report, written, _) = check(&checker, &client, &monitors, &primary).await;
    assert!(report.in_sync(), "the primary was not touched: {report:#?}");
    assert_eq!(phase(&written), Some(DriftPhase::InSync));

    // A deleted object is missing.
    kubectl_ok(
        "secondary",
        &["-n", "shop", "delete", "service", "web"],
        None,
    );
    let (report, written, _) = check(&checker, &client, &monitors, &secondary).await;
    assert_eq!((report.drifted, report.missing), (2, 1), "{report:#?}");
    let service = report
        .resources
        .iter()
        .find(|r| r.kind == "Service")
        .expect("service reported");
    assert!(service.missing);
    assert_eq!(service.namespace.as_deref(), Some("shop"));
    // Where the repository writes it: what a check run's annotation points at.
    assert_eq!(
        (service.file.as_deref(), service.line),
        (Some("deploy/service.yml"), Some(1))
    );
    assert_eq!(
        written.status.as_ref().map(|s| s.resources_missing),
        Some(1)
    );

    // Put back as the manifests say: in sync again.
    kubectl_ok("secondary", &["apply", "-f", "-"], Some(&all_manifests()));
    let (report, written, wrote) = check(&checker, &client, &monitors, &secondary).await;
    assert!(report.in_sync(), "{report:#?}");
    assert!(wrote);
    assert_eq!(phase(&written), Some(DriftPhase::InSync));
    assert!(
        written
            .status
            .as_ref()
            .is_some_and(|s| s.drifted_resources.is_empty())
    );
}

#[tokio::test]
async fn a_manifest_that_does_not_parse_is_an_error_naming_the_file_and_line() {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(
        REPO,
        COMMIT,
        [(
            "deploy/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: {\n".to_owned(),
        )],
    )
    .expect("files");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("github client"));
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "drift-broken")
        .await
        .expect("namespace");
    let checker = DriftChecker::new(github, ClusterRegistry::new(client.clone(), &namespace));
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let created = monitor(&monitors, IN_CLUSTER).await;
    // Never checked: Pending while the first check runs, and the check's write follows it.
    let created = mark_pending(&client, created).await.expect("marked");
    assert_eq!(phase(&created), Some(DriftPhase::Pending));
    let result = checker.check(&created).await;
    let status = next_status(&created, &result, Timestamp::now());
    assert_eq!(status.phase, Some(DriftPhase::Error));
    let ready = &status.conditions[0];
    assert_eq!(ready.reason, "InvalidManifests");
    assert!(
        ready.message.contains("deploy/broken.yaml, line 5"),
        "{}",
        ready.message
    );
    assert!(
        write_status(&client, &created, status)
            .await
            .expect("written after Pending, without a conflict")
            .is_some()
    );
    // A monitor with a verdict is not marked again.
    let checked = monitors
        .get(&created.name_any())
        .await
        .expect("the monitor");
    let version = checked.resource_version();
    let unchanged = mark_pending(&client, checked).await.expect("no write");
    assert_eq!(unchanged.resource_version(), version);
    assert_eq!(phase(&unchanged), Some(DriftPhase::Error));
}

/// A tree entry named `..` at the monitor's commit (GitHub never lists one; a proxy or a fake
/// could): the monitor says `Error`, naming the entry, and no request to GitHub carries `..`.
#[tokio::test]
async fn a_dot_dot_entry_in_the_tree_is_an_error_naming_it_and_no_request_carries_it() {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(
        REPO,
        COMMIT,
        [
            ("deploy/app.yaml", all_manifests()),
            (
                "deploy/traversal/../../../etc/passwd",
                "root:x:0:0\n".to_owned(),
            ),
        ],
    )
    .expect("files");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("github client"));
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "drift-dotdot")
        .await
        .expect("namespace");
    let checker = DriftChecker::new(github, ClusterRegistry::new(client.clone(), &namespace));
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let created = monitor(&monitors, IN_CLUSTER).await;
    let result = checker.check(&created).await;
    let status = next_status(&created, &result, Timestamp::now());
    assert_eq!(status.phase, Some(DriftPhase::Error));
    let ready = &status.conditions[0];
    assert!(
        ready.message.contains("\"traversal/..\""),
        "the message names the entry: {}",
        ready.message
    );
    write_status(&client, &created, status)
        .await
        .expect("status written");
    let written = monitors.get(&created.name_any()).await.expect("monitor");
    assert_eq!(phase(&written), Some(DriftPhase::Error));
    let sent: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    assert!(
        sent.iter()
            .all(|p| !p.contains("..") && !p.to_ascii_lowercase().contains("%2e%2e")),
        "{sent:#?}"
    );
}

/// What one check of a PR's change costs, counted: GitHub (the simulator's request log) and the
/// apiserver (a counting client), before and after the change is superseded. Printed for the
/// record; the assertions are the promises (commits are read once; a superseded change is not
/// compared with the cluster at all).
#[tokio::test]
async fn a_check_reads_a_commit_once_and_a_superseded_change_costs_the_cluster_nothing() {
    use prtracker_drift::Outcome;

    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "drift-cost")
        .await
        .expect("namespace");
    let settings = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {namespace}}}\ndata: {{mode: \"{value}\"}}\n"
        )
    };
    let base = "0000000000000000000000000000000000000b01";
    sim.push_commit(REPO, "main", base, [("deploy/app.yaml", settings("1"))])
        .expect("base");
    let merge = "0000000000000000000000000000000000000b02";
    sim.push_commit(REPO, "main", merge, [("deploy/app.yaml", settings("2"))])
        .expect("the PR's merge");
    kubectl_ok("primary", &["apply", "-f", "-"], Some(&settings("2")));

    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("github client"));
    let (counted, apiserver) = shared().primary().counting_client().expect("client");
    let checker = DriftChecker::new(github, ClusterRegistry::new(counted, &namespace))
        // The head is asked for at every check here, conditionally: the worst case.
        .with_head_max_age(std::time::Duration::ZERO);
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let mut monitor = monitor(&monitors, IN_CLUSTER).await;
    monitor.spec.source.commit = merge.to_owned();
    monitor.spec.source.base_branch = Some("main".to_owned());

    let mut costs = Vec::new();
    for _ in 0..3 {
        let (github_before, kube_before) = (sim.requests().len(), apiserver.requests());
        let checked = checker.check(&monitor).await.expect("checked");
        assert_eq!(checked.outcome, Outcome::Holds, "{checked:?}");
        costs.push((
            sim.requests().len() - github_before,
            apiserver.requests() - kube_before,
        ));
    }
    eprintln!("a check of a live change: (GitHub, apiserver) requests per check {costs:?}");
    let repeated: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/contents") || r.path.contains("/commits/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let mut distinct = repeated.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        repeated.len(),
        distinct.len(),
        "a commit was read twice: {repeated:?}"
    );
    assert_eq!(
        costs[1].0, 1,
        "a later check asks GitHub the branch head only"
    );
    assert_eq!(costs[1], costs[2]);

    // A later commit changes the field: superseded, and the cluster is not asked at all.
    let later = "0000000000000000000000000000000000000b03";
    sim.push_commit(REPO, "main", later, [("deploy/app.yaml", settings("3"))])
        .expect("a later commit");
    let kube_before = apiserver.requests();
    let checked = checker.check(&monitor).await.expect("checked");
    assert_eq!(
        checked.outcome,
        Outcome::Superseded {
            by: later.to_owned()
        }
    );
    assert_eq!(
        apiserver.requests() - kube_before,
        0,
        "a superseded change is not compared with the cluster"
    );
}

/// A kustomized target checked again: nothing is rendered again and nothing is read from GitHub
/// (counted: kustomize's runs through a wrapper, and the simulator's request log).
#[tokio::test]
async fn a_second_check_of_a_rendered_commit_renders_nothing_and_reads_nothing() {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "drift-render")
        .await
        .expect("namespace");
    let settings = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{mode: \"{value}\"}}\n"
        )
    };
    let kustomization = format!("namespace: {namespace}\nresources: [app.yaml]\n");
    let base = "0000000000000000000000000000000000000c01";
    sim.push_commit(
        REPO,
        "main",
        base,
        [
            ("deploy/kustomization.yaml", kustomization.clone()),
            ("deploy/app.yaml", settings("1")),
        ],
    )
    .expect("base");
    let merge = "0000000000000000000000000000000000000c02";
    sim.push_commit(
        REPO,
        "main",
        merge,
        [
            ("deploy/kustomization.yaml", kustomization),
            ("deploy/app.yaml", settings("2")),
        ],
    )
    .expect("the PR's merge");
    let live = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {namespace}}}\ndata: {{mode: \"2\"}}\n"
    );
    kubectl_ok("primary", &["apply", "-f", "-"], Some(&live));

    // kustomize, counted: a wrapper that notes each run and hands over to kubectl kustomize.
    let dir = tempfile::tempdir().expect("dir");
    let runs = dir.path().join("runs");
    let wrapper = dir.path().join("counting-kustomize");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho run >> {}\nexec {} kustomize \"$2\"\n",
            runs.display(),
            shared().binaries().kubectl().display()
        ),
    )
    .expect("wrapper");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .expect("chmod");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("github client"));
    let checker = DriftChecker::new(github, ClusterRegistry::new(client.clone(), &namespace))
        .with_renderer(prtracker_drift::Renderer::default().with_kustomize(&wrapper));
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let mut monitor = monitor(&monitors, IN_CLUSTER).await;
    monitor.spec.source.commit = merge.to_owned();

    let renders = || {
        std::fs::read_to_string(&runs)
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    let mut costs = Vec::new();
    for _ in 0..3 {
        let (github_before, renders_before) = (sim.requests().len(), renders());
        let checked = checker.check(&monitor).await.expect("checked");
        assert_eq!(
            checked.outcome,
            prtracker_drift::Outcome::Holds,
            "{checked:?}"
        );
        costs.push((
            sim.requests().len() - github_before,
            renders() - renders_before,
        ));
    }
    eprintln!("(GitHub requests, renders) per check of a kustomized target: {costs:?}");
    assert_eq!(costs[0].1, 2, "the merge and its parent rendered once each");
    assert_eq!(
        costs[1],
        (0, 0),
        "a second check renders nothing and reads nothing"
    );
    assert_eq!(costs[2], (0, 0));

    // Changed by hand: the drifted object names no file, since kustomize's output is no file of
    // the repository (a line of it would point nowhere).
    let edited = live.replace("mode: \"2\"", "mode: \"3\"");
    kubectl_ok("primary", &["apply", "-f", "-"], Some(&edited));
    let checked = checker.check(&monitor).await.expect("checked");
    assert!(
        matches!(checked.outcome, prtracker_drift::Outcome::DoesNotHold),
        "{checked:?}"
    );
    let drifted = &checked.report.resources[0];
    assert_eq!((drifted.file.as_deref(), drifted.line), (None, None));
}
