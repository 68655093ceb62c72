//! A PR's drift verdict speaks for the PR's own change, end to end through the real `prtracker run`,
//! two clusters (`in-cluster` and `secondary`) and the GitHub simulator: a later PR or a direct
//! push to the base branch supersedes a change (it is not drift); a hand edit drifts only the PR
//! whose field it undid, and only once it has held for the settle window; a merged change not
//! deployed yet waits; ignore rules spare fields another manager owns; a PR that changed nothing,
//! or whose manifests do not parse, is not checked again and again.
//!
//! Each test runs its own operator against its own simulator, namespace and app namespace. A CD
//! system is played by `kubectl apply --server-side --field-manager=cd`.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    KillOnDrop, OPERATOR_NAMESPACE, eventually, free_port, operator_kubeconfig, state_labels,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{DriftMonitor, DriftPhase, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::{NewPull, Simulator, SimulatorHandle};
use prtracker_testenv::{shared, test_namespace};
use serde_json::json;

const REPO: &str = "octo-org/shop";
const PERSON: &str = "octocat";
const CLUSTERS: [&str; 2] = ["primary", "secondary"];

/// The app as the base branch holds it before the tests' PRs.
struct App {
    namespace: String,
    replicas: u32,
    image: &'static str,
    setting: &'static str,
    /// Whether the `extra` ConfigMap is there.
    extra: bool,
}

impl App {
    fn base(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            replicas: 2,
            image: "registry.example/shop:1.0",
            setting: "1",
            extra: true,
        }
    }

    fn yaml(&self) -> String {
        let ns = &self.namespace;
        let mut yaml = format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  mode: \"{setting}\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      containers:
        - name: app
          image: {image}
",
            setting = self.setting,
            replicas = self.replicas,
            image = self.image,
        );
        if self.extra {
            yaml.push_str(&format!(
                "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: {ns}
data:
  note: kept
"
            ));
        }
        yaml
    }

    fn files(&self) -> Vec<(String, Vec<u8>)> {
        vec![("deploy/app.yaml".to_owned(), self.yaml().into_bytes())]
    }
}

/// How the operator runs in a test.
#[derive(Default)]
struct Options {
    settle: Option<&'static str>,
    ignore_file: Option<String>,
}

struct World {
    sim: SimulatorHandle,
    namespace: String,
    app_namespace: String,
    trackers: Api<PullRequestTracker>,
    monitors: Api<DriftMonitor>,
    dir: tempfile::TempDir,
    _operator: KillOnDrop,
    commits: std::cell::Cell<u32>,
}

impl World {
    async fn start(prefix: &str, options: Options) -> World {
        let client: Client = shared().primary().client().expect("client");
        let namespace = test_namespace(&client, prefix).await.expect("namespace");
        let app_namespace = format!("{namespace}-app");
        for cluster in CLUSTERS {
            let namespaces: Api<Namespace> =
                Api::all(shared().cluster(cluster).client().expect("client"));
            let mut ns = Namespace::default();
            ns.metadata.name = Some(app_namespace.clone());
            namespaces
                .create(&PostParams::default(), &ns)
                .await
                .expect("app namespace");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // deploy/ applied (its namespace holds the cluster Secrets), and the operator's identity.
        let kubeconfig_path = operator_kubeconfig(dir.path());
        // The secondary cluster, reached through its Secret (one per test: the name is the test's).
        let secondary = format!(
            "secondary-{}",
            &namespace[namespace.len().saturating_sub(5)..]
        );
        let kubeconfig = std::fs::read_to_string(shared().cluster("secondary").kubeconfig_path())
            .expect("kubeconfig");
        let mut secret = Secret::default();
        secret.metadata.name = Some(format!("cluster-{secondary}"));
        secret.metadata.labels =
            Some([("prtracker.io/cluster".to_owned(), secondary.clone())].into());
        secret.string_data = Some([("kubeconfig".to_owned(), kubeconfig)].into());
        Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE)
            .create(&PostParams::default(), &secret)
            .await
            .expect("cluster Secret");

        let sim = Simulator::start().await.expect("simulator");
        sim.create_repo(REPO).expect("repository");
        let base = App::base(&app_namespace);
        sim.push_commit(REPO, "main", &sha(0, 1), base.files())
            .expect("base commit");
        for cluster in CLUSTERS {
            apply(cluster, &base.yaml(), "cd");
        }

        std::fs::write(dir.path().join("token"), sim.token()).expect("token");
        std::fs::write(dir.path().join("secret"), "s3cret").expect("secret");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("operator.log")).expect("log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_prtracker"));
        command
            .arg("run")
            .arg(format!("--github-api-url={}", sim.api_url()))
            .arg(format!(
                "--github-token-file={}",
                dir.path().join("token").display()
            ))
            .arg(format!(
                "--webhook-secret-file={}",
                dir.path().join("secret").display()
            ))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--namespace={namespace}"))
            .arg(format!("--cluster-secrets-namespace={OPERATOR_NAMESPACE}"))
            .arg(format!("--track-repo={REPO}"))
            .arg(format!("--default-clusters=in-cluster,{secondary}"))
            .arg("--manifests-path=deploy")
            .arg("--resync-interval=10s")
            .arg("--monitor-interval=30s")
            .arg(format!(
                "--settle-window={}",
                options.settle.unwrap_or("0s")
            ))
            .env("KUBECONFIG", &kubeconfig_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if let Some(rules) = &options.ignore_file {
            let path = dir.path().join("ignore.yaml");
            std::fs::write(&path, rules).expect("rules");
            command.arg(format!("--ignore-differences-file={}", path.display()));
        }
        let operator = KillOnDrop(command.spawn().expect("prtracker runs"));
        sim.set_webhook(&format!("http://127.0.0.1:{port}/webhook"), Some("s3cret"));
        World {
            sim,
            trackers: Api::namespaced(client.clone(), &namespace),
            monitors: Api::namespaced(client, &namespace),
            namespace,
            app_namespace,
            dir,
            _operator: operator,
            commits: std::cell::Cell::new(1),
        }
    }

    fn app(&self) -> App {
        App::base(&self.app_namespace)
    }

    fn next_sha(&self, kind: u32) -> String {
        let n = self.commits.get() + 1;
        self.commits.set(n);
        sha(kind, n)
    }

    /// A PR whose head holds `app`, merged: its number and merge commit.
    async fn merged_pr(&self, title: &str, app: &App) -> (u64, String) {
        let head = self.next_sha(1);
        self.sim
            .set_files(REPO, &head, app.files())
            .expect("head files");
        let number = self
            .sim
            .create_pull(
                REPO,
                NewPull {
                    title: title.into(),
                    head_sha: Some(head),
                    ..Default::default()
                },
            )
            .expect("PR");
        self.wait_for_state(number, PrState::Open).await;
        let merge = self.next_sha(2);
        self.sim
            .merge_pull_as(REPO, number, PERSON, Some(&merge))
            .expect("merge");
        self.wait_for_state(number, PrState::Merged).await;
        (number, merge)
    }

    async fn tracker(&self, number: u64) -> Option<PullRequestTracker> {
        self.trackers
            .list(&Default::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|t| t.spec.number == number)
    }

    async fn state(&self, number: u64) -> Option<PrState> {
        self.tracker(number).await?.status?.state
    }

    async fn wait_for_state(&self, number: u64, state: PrState) {
        eventually(
            &format!("#{number} {state}, on the PR too"),
            Duration::from_secs(60),
            || async {
                (self.state(number).await == Some(state)
                    && state_labels(&self.sim, REPO, number) == [format!("state/{}", state.name())])
                .then_some(())
            },
        )
        .await;
    }

    /// The monitors of PR `number`.
    async fn monitors_of(&self, number: u64) -> Vec<DriftMonitor> {
        let Some(tracker) = self.tracker(number).await else {
            return Vec::new();
        };
        self.monitors
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.spec.tracker == tracker.name_any())
            .collect()
    }

    async fn phases(&self, number: u64) -> Vec<Option<DriftPhase>> {
        self.monitors_of(number)
            .await
            .iter()
            .map(|m| m.status.as_ref().and_then(|s| s.phase))
            .collect()
    }

    /// Asks PR `number`'s monitors to check now, and waits until both have (a monitor that has
    /// stopped checking for good answers nothing).
    async fn check_now(&self, number: u64) {
        let names: Vec<_> = self
            .monitors_of(number)
            .await
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        let stamp = format!("{:?}", Instant::now());
        for name in &names {
            let patch =
                json!({ "metadata": { "annotations": { "prtracker.io/check-requested": stamp } } });
            self.monitors
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("annotated");
        }
        eventually("the checks asked for", Duration::from_secs(60), || async {
            let now = self.monitors_of(number).await;
            names
                .iter()
                .all(|name| {
                    now.iter().find(|m| &m.name_any() == name).is_some_and(|m| {
                        is_final(m)
                            || m.status
                                .as_ref()
                                .and_then(|s| s.answered_check_request.as_deref())
                                == Some(stamp.as_str())
                    })
                })
                .then_some(())
        })
        .await;
    }

    async fn wait_for_phases(&self, number: u64, phase: DriftPhase) {
        eventually(
            &format!("#{number}'s monitors {phase:?}"),
            Duration::from_secs(90),
            || async {
                let phases = self.phases(number).await;
                (phases.len() == 2 && phases.iter().all(|p| *p == Some(phase))).then_some(())
            },
        )
        .await;
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("operator.log")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the monitors said, read with kubectl (no runtime is at hand in a drop).
            let output = shared()
                .primary()
                .kubectl()
                .args(["get", "dm,prt", "-n", &self.namespace, "-o", "yaml"])
                .output();
            if let Ok(output) = output {
                eprintln!("--- monitors and trackers of {} ---", self.namespace);
                eprintln!("{}", String::from_utf8_lossy(&output.stdout));
            }
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- operator log of {} (last lines) ---", self.namespace);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

fn last_check(monitor: &DriftMonitor) -> Option<String> {
    monitor
        .status
        .as_ref()
        .and_then(|s| s.last_check_time.as_ref())
        .map(|t| t.0.to_string())
}

fn is_final(monitor: &DriftMonitor) -> bool {
    monitor
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(DriftPhase::is_final)
}

/// A commit sha of the test's own: kind and number, padded to 40 hex digits.
fn sha(kind: u32, n: u32) -> String {
    format!("{kind:08x}{n:032x}")
}

/// What a CD system (or a person, as another manager) does: server-side apply.
fn apply(cluster: &str, yaml: &str, manager: &str) {
    common::server_side_apply(
        shared().cluster(cluster),
        &["--force-conflicts", &format!("--field-manager={manager}")],
        yaml,
    );
}

fn apply_everywhere(yaml: &str) {
    for cluster in CLUSTERS {
        apply(cluster, yaml, "cd");
    }
}

/// A hand edit of the Deployment's replicas in one cluster, as `manager`.
fn scale(cluster: &str, namespace: &str, replicas: u32, manager: &str) {
    apply(
        cluster,
        &format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {namespace}
spec:
  replicas: {replicas}
"
        ),
        manager,
    );
}

fn delete(cluster: &str, namespace: &str, kind: &str, name: &str) {
    let status = shared()
        .cluster(cluster)
        .kubectl()
        .args(["delete", "-n", namespace, kind, name, "--wait=true"])
        .stdout(Stdio::null())
        .status()
        .expect("kubectl runs");
    assert!(
        status.success(),
        "kubectl delete {kind}/{name} in {cluster}"
    );
}

/// Every label the PR ever carried, as the webhooks told it.
fn label_history(sim: &SimulatorHandle, number: u64) -> Vec<String> {
    sim.deliveries()
        .iter()
        .filter(|d| d.event == "pull_request" && d.payload()["number"].as_u64() == Some(number))
        .filter_map(|d| d.payload()["label"]["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn two_prs_that_set_the_same_field_both_end_deployed_and_the_earlier_is_superseded_for_good()
{
    let world = World::start("superseded", Options::default()).await;
    let mut app = world.app();
    app.image = "registry.example/shop:2.0";
    let (first, first_merge) = world.merged_pr("Shop 2.0", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(first).await;
    world.wait_for_state(first, PrState::Deployed).await;

    app.image = "registry.example/shop:3.0";
    let (second, second_merge) = world.merged_pr("Shop 3.0", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(second).await;
    world.wait_for_state(second, PrState::Deployed).await;

    // The first PR's image is the repository's no more: superseded, not drifted.
    world.check_now(first).await;
    world.wait_for_phases(first, DriftPhase::Superseded).await;
    let superseded = eventually(
        "the tracker names what superseded it",
        Duration::from_secs(30),
        || async { world.tracker(first).await?.status?.superseded_by },
    )
    .await;
    assert_eq!(superseded.commit, second_merge);
    assert_eq!(superseded.pull_request, Some(second));
    assert_eq!(state_labels(&world.sim, REPO, first), ["state/deployed"]);
    assert_ne!(first_merge, second_merge);

    // No more checks: GitHub is not asked for the first PR's commits, and its monitors' last check
    // stays where it was, over more than a check interval.
    let checked: Vec<_> = world
        .monitors_of(first)
        .await
        .iter()
        .map(last_check)
        .collect();
    let requests = world.sim.requests().len();
    tokio::time::sleep(Duration::from_secs(40)).await;
    let later: Vec<_> = world
        .monitors_of(first)
        .await
        .iter()
        .map(last_check)
        .collect();
    assert_eq!(checked, later, "a superseded monitor checked again");
    let about_first: Vec<String> = world
        .sim
        .requests()
        .iter()
        .skip(requests)
        .filter(|r| r.path.contains(&first_merge))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        about_first.is_empty(),
        "requests for the superseded change: {about_first:?}"
    );
}

#[tokio::test]
async fn a_hand_edit_drifts_only_the_pr_that_set_the_field_not_a_later_configmap_pr() {
    let world = World::start("scoped", Options::default()).await;
    let mut app = world.app();
    app.replicas = 3;
    let (scaled, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(scaled).await;
    world.wait_for_state(scaled, PrState::Deployed).await;

    app.setting = "2";
    let (configured, _) = world.merged_pr("Setting 2", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(configured).await;
    world.wait_for_state(configured, PrState::Deployed).await;

    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(scaled).await;
    world.check_now(configured).await;
    world.wait_for_state(scaled, PrState::Drifted).await;
    assert_eq!(world.state(configured).await, Some(PrState::Deployed));
    assert_eq!(
        world.phases(configured).await,
        [Some(DriftPhase::InSync), Some(DriftPhase::InSync)]
    );
    let live = world
        .tracker(scaled)
        .await
        .and_then(|t| t.status)
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
        .expect("a Live condition");
    assert_eq!(live.reason, "Drifted");
    assert!(
        live.message.contains("spec.replicas: 3 -> 5"),
        "{}",
        live.message
    );
}

#[tokio::test]
async fn a_direct_push_to_the_base_branch_supersedes_a_field_it_does_not_drift_it() {
    let world = World::start("pushed", Options::default()).await;
    let mut app = world.app();
    app.image = "registry.example/shop:2.0";
    let (pr, _) = world.merged_pr("Shop 2.0", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    // A hotfix pushed straight to main, and deployed.
    app.image = "registry.example/shop:2.0.1";
    let hotfix = world.next_sha(3);
    world
        .sim
        .push_commit(REPO, "main", &hotfix, app.files())
        .expect("pushed");
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::Superseded).await;
    let by = eventually(
        "superseded by the push",
        Duration::from_secs(30),
        || async { world.tracker(pr).await?.status?.superseded_by },
    )
    .await;
    assert_eq!(by.commit, hotfix);
    assert_eq!(by.pull_request, None, "no PR merged it");
    assert_eq!(state_labels(&world.sim, REPO, pr), ["state/deployed"]);
    assert!(!label_history(&world.sim, pr).contains(&"state/drifted".to_owned()));
}

#[tokio::test]
async fn a_hand_edit_shorter_than_the_settle_window_never_reaches_the_pr_and_a_longer_one_does() {
    let world = World::start(
        "settle",
        Options {
            settle: Some("20s"),
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    let (pr, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    // Scaled by hand, seen, undone within the window.
    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(pr).await;
    assert!(world.phases(pr).await.contains(&Some(DriftPhase::Drifted)));
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::InSync).await;
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(
        !label_history(&world.sim, pr).contains(&"state/drifted".to_owned()),
        "a drift undone within the settle window reached the PR"
    );
    assert_eq!(world.state(pr).await, Some(PrState::Deployed));

    // Scaled by hand and left: once the window has passed, the PR says so; undone, deployed again.
    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;
}

/// An autoscaler's replicas: drift without a rule; none once the tracker ignores its manager.
#[tokio::test]
async fn another_managers_replicas_drift_without_a_rule_and_not_with_the_trackers_rule() {
    let world = World::start("manager-rule", Options::default()).await;
    let mut app = world.app();
    app.replicas = 3;
    let (pr, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    scale("secondary", &world.app_namespace, 6, "hpa-controller");
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;

    let tracker = world.tracker(pr).await.expect("tracker");
    let rule = json!({ "spec": { "ignoreDifferences": [
        { "group": "apps", "kind": "Deployment", "managedFieldsManagers": ["hpa-controller"] }
    ] } });
    world
        .trackers
        .patch(
            &tracker.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&rule),
        )
        .await
        .expect("rule added");
    eventually(
        "the rule on the monitors",
        Duration::from_secs(30),
        || async {
            let monitors = world.monitors_of(pr).await;
            monitors
                .iter()
                .all(|m| !m.spec.ignore_differences.is_empty())
                .then_some(())
        },
    )
    .await;
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;
}

#[tokio::test]
async fn another_managers_replicas_are_not_drift_under_a_global_rule() {
    let rules = "- group: apps\n  kind: Deployment\n  managedFieldsManagers: [hpa-controller]\n";
    let world = World::start(
        "global-rule",
        Options {
            ignore_file: Some(rules.to_owned()),
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    let (pr, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    scale("secondary", &world.app_namespace, 6, "hpa-controller");
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::InSync).await;
    assert_eq!(world.state(pr).await, Some(PrState::Deployed));
    // The same edit by a person is drift all the same.
    scale("secondary", &world.app_namespace, 7, "kubectl-edit");
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;
}

#[tokio::test]
async fn a_pr_that_deletes_an_object_is_deployed_once_it_is_gone_and_drifted_if_it_comes_back() {
    let world = World::start("deleted", Options::default()).await;
    let mut app = world.app();
    app.extra = false;
    let (pr, _) = world.merged_pr("Drop the extra settings", &app).await;
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::Waiting).await;
    for cluster in CLUSTERS {
        delete(cluster, &world.app_namespace, "configmap", "extra");
    }
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;
    // Someone puts it back by hand.
    apply_everywhere(&world.app().yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;
}

#[tokio::test]
async fn merged_and_not_applied_yet_waits_and_is_never_drifted() {
    let world = World::start("waiting", Options::default()).await;
    let mut app = world.app();
    app.replicas = 4;
    let (pr, _) = world.merged_pr("Four replicas", &app).await;
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::Waiting).await;
    world.check_now(pr).await;
    assert_eq!(world.state(pr).await, Some(PrState::Merged));
    assert_eq!(
        world.phases(pr).await,
        [Some(DriftPhase::Waiting), Some(DriftPhase::Waiting)]
    );
    let live = world
        .tracker(pr)
        .await
        .and_then(|t| t.status)
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
        .expect("a Live condition");
    assert_eq!(live.reason, "Waiting");
    assert!(
        live.message.contains("spec.replicas: 4 -> 2"),
        "{}",
        live.message
    );
    assert!(!label_history(&world.sim, pr).contains(&"state/drifted".to_owned()));
}

#[tokio::test]
async fn a_pr_with_nothing_to_deploy_or_manifests_that_do_not_parse_is_checked_once() {
    let world = World::start("once", Options::default()).await;
    // A PR that changes nothing under deploy/ (its head holds the base's files).
    let (nothing, nothing_merge) = world.merged_pr("Docs only", &world.app()).await;
    world
        .wait_for_phases(nothing, DriftPhase::NothingToDeploy)
        .await;
    // The tracker follows its monitors at its next reconcile, which the monitors' change wakes.
    eventually(
        "the Live condition says NothingToDeploy",
        Duration::from_secs(20),
        || async {
            world
                .tracker(nothing)
                .await
                .and_then(|t| t.status)
                .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
                .filter(|live| live.reason == "NothingToDeploy")
        },
    )
    .await;
    assert_eq!(world.state(nothing).await, Some(PrState::Merged));

    // A PR whose manifests do not parse.
    let head = world.next_sha(1);
    world
        .sim
        .set_files(REPO, &head, [("deploy/app.yaml", "kind: [unclosed\n")])
        .expect("files");
    let broken = world
        .sim
        .create_pull(
            REPO,
            NewPull {
                title: "Broken".into(),
                head_sha: Some(head),
                ..Default::default()
            },
        )
        .expect("PR");
    world.wait_for_state(broken, PrState::Open).await;
    let broken_merge = world.next_sha(2);
    world
        .sim
        .merge_pull_as(REPO, broken, PERSON, Some(&broken_merge))
        .expect("merged");
    world.wait_for_phases(broken, DriftPhase::Error).await;

    // Two intervals later, neither has asked GitHub anything more about its commits.
    let requests = world.sim.requests().len();
    tokio::time::sleep(Duration::from_secs(65)).await;
    let more: Vec<String> = world
        .sim
        .requests()
        .iter()
        .skip(requests)
        .filter(|r| r.path.contains(&nothing_merge) || r.path.contains(&broken_merge))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(more.is_empty(), "retried: {more:?}");
    let reason = world
        .monitors_of(broken)
        .await
        .first()
        .and_then(|m| m.status.clone())
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
        .map(|c| (c.reason, c.message))
        .expect("a Ready condition");
    assert_eq!(reason.0, "InvalidManifests");
    assert!(reason.1.contains("deploy/app.yaml"), "{}", reason.1);
}
