//! Drift across two clusters, end to end through the real `prtracker run`: a merged PR whose
//! manifests are live in both clusters becomes Deployed; a hand edit in one cluster makes it Drifted,
//! on the PR too; undoing the edit makes it Deployed again. With `--pr-comment`, the PR's one
//! comment follows each step (which cluster, which field), edited in place, never posted twice,
//! even after a restart with the tracker's record of it wiped; without it, no comment request is
//! made at all.

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    KillOnDrop, OPERATOR_NAMESPACE, eventually, free_port, operator_kubeconfig, state_labels,
};

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{DriftMonitor, DriftPhase, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::{NewPull, Simulator};
use prtracker_testenv::{shared, test_namespace};
use serde_json::json;

const REPO: &str = "octo-org/shop";
const PERSON: &str = "octocat";

fn manifests(app_namespace: &str, replicas: u32) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
  namespace: {app_namespace}
data:
  mode: live
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {app_namespace}
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
          image: registry.example/shop:1.0
"
    )
}

/// What a CD system would do: apply the manifests to a cluster, as its own field manager.
fn apply(cluster: &str, yaml: &str) {
    common::server_side_apply(shared().cluster(cluster), &["--field-manager=cd"], yaml);
}

async fn request_checks(monitors: &Api<DriftMonitor>) {
    let stamp = format!("{:?}", Instant::now());
    for monitor in monitors
        .list(&Default::default())
        .await
        .expect("monitors")
        .items
    {
        let patch =
            json!({ "metadata": { "annotations": { "prtracker.io/check-requested": stamp } } });
        monitors
            .patch(
                &monitor.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .expect("annotated");
    }
}

async fn phases(monitors: &Api<DriftMonitor>) -> Vec<(String, Option<DriftPhase>)> {
    let mut phases: Vec<_> = monitors
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.spec.cluster.clone(), m.status.and_then(|s| s.phase)))
        .collect();
    phases.sort_by(|a, b| a.0.cmp(&b.0));
    phases
}

async fn state(trackers: &Api<PullRequestTracker>) -> Option<PrState> {
    trackers
        .list(&Default::default())
        .await
        .ok()?
        .items
        .first()
        .and_then(|t| t.status.as_ref().and_then(|s| s.state))
}

#[tokio::test]
async fn a_merged_pr_is_deployed_drifts_with_a_hand_edit_and_is_deployed_again() {
    deployed_drifted_deployed("drift-e2e", false).await;
}

/// With `--pr-comment` and `--github-deployments`.
#[tokio::test]
async fn the_prs_comment_and_deployments_follow_each_verdict_and_are_never_made_twice() {
    deployed_drifted_deployed("drift-comment", true).await;
}

/// The PR's comments, by the simulator.
fn comments(sim: &prtracker_github_sim::SimulatorHandle, number: u64) -> Vec<String> {
    sim.issue_comments(REPO, number)
        .expect("comments")
        .into_iter()
        .map(|c| c.body)
        .collect()
}

/// Each environment's deployments, with the state of their newest status.
fn deployments(
    sim: &prtracker_github_sim::SimulatorHandle,
) -> Vec<(String, Option<String>, String)> {
    let mut all: Vec<_> = sim
        .deployments(REPO)
        .expect("deployments")
        .into_iter()
        .map(|d| {
            let description = d
                .statuses
                .last()
                .map(|s| s.description.clone())
                .unwrap_or_default();
            (
                d.environment.clone(),
                d.state().map(str::to_owned),
                description,
            )
        })
        .collect();
    all.sort();
    all
}

/// Waits until the deployments are one per cluster with these states.
async fn deployments_are(sim: &prtracker_github_sim::SimulatorHandle, states: [&str; 2]) {
    eventually(
        "the deployments to say so",
        Duration::from_secs(60),
        || async {
            let now = deployments(sim);
            assert!(now.len() <= 2, "a deployment made twice: {now:#?}");
            let got: Vec<Option<&str>> = now.iter().map(|d| d.1.as_deref()).collect();
            (now.len() == 2
                && now[0].0 == "in-cluster"
                && now[1].0 == "secondary"
                && got == [Some(states[0]), Some(states[1])])
            .then_some(now)
        },
    )
    .await;
}

/// The newest state of each cluster's commit status on the PR's merge commit.
async fn statuses_are(
    sim: &prtracker_github_sim::SimulatorHandle,
    trackers: &Api<PullRequestTracker>,
    states: [&str; 2],
) {
    eventually(
        "the commit statuses to say so",
        Duration::from_secs(60),
        || async {
            let merge = trackers
                .list(&Default::default())
                .await
                .ok()?
                .items
                .first()?
                .status
                .as_ref()?
                .merge_commit_sha
                .clone()?;
            let (_, latest) = sim.combined_status(REPO, &merge).ok()?;
            let mut got: Vec<(String, String)> =
                latest.into_iter().map(|s| (s.context, s.state)).collect();
            got.sort();
            (got == [
                ("prtracker/in-cluster".to_owned(), states[0].to_owned()),
                ("prtracker/secondary".to_owned(), states[1].to_owned()),
            ])
            .then_some(())
        },
    )
    .await;
}

/// Waits until the PR has exactly one comment and it holds every one of `needles`.
async fn comment_says(sim: &prtracker_github_sim::SimulatorHandle, number: u64, needles: &[&str]) {
    eventually(
        "the PR's comment to say so",
        Duration::from_secs(60),
        || async {
            let bodies = comments(sim, number);
            assert!(bodies.len() <= 1, "a second comment: {bodies:#?}");
            bodies
                .first()
                .filter(|body| needles.iter().all(|n| body.contains(n)))
                .cloned()
        },
    )
    .await;
}

async fn deployed_drifted_deployed(prefix: &str, with_comment: bool) {
    let client: Client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, prefix).await.expect("namespace");
    let trackers: Api<PullRequestTracker> = Api::namespaced(client.clone(), &namespace);
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);

    // The app's namespace, in both clusters; the `secondary` cluster reached through its Secret.
    let app_namespace = format!("{namespace}-app");
    for cluster in ["primary", "secondary"] {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
            Api::all(shared().cluster(cluster).client().expect("client"));
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.metadata.name = Some(app_namespace.clone());
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("app namespace");
    }
    // The operator runs as deploy/'s ServiceAccount, which reads cluster Secrets in its own
    // namespace only, and checks drift in its own cluster through prtracker-drift-in-cluster.
    let dir = tempfile::tempdir().expect("temp dir");
    let operator_kubeconfig = operator_kubeconfig(dir.path());
    let kubeconfig = std::fs::read_to_string(shared().cluster("secondary").kubeconfig_path())
        .expect("kubeconfig");
    let mut secret = Secret::default();
    secret.metadata.name = Some("cluster-secondary".into());
    secret.metadata.labels =
        Some([("prtracker.io/cluster".to_owned(), "secondary".to_owned())].into());
    secret.string_data = Some([("kubeconfig".to_owned(), kubeconfig)].into());
    // The same Secret for every test that reaches `secondary`: one made first serves the others.
    match Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("cluster Secret: {error}"),
    }

    // A PR whose head commit carries the manifests.
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Deploy the shop".into(),
                ..Default::default()
            },
        )
        .expect("PR");
    let head = sim.pull(REPO, number).expect("PR")["head"]["sha"]
        .as_str()
        .expect("head sha")
        .to_owned();
    let desired = manifests(&app_namespace, 3);
    sim.set_files(
        REPO,
        &head,
        [("deploy/shop.yaml", desired.as_bytes().to_vec())],
    )
    .expect("files");

    std::fs::write(dir.path().join("token"), sim.token()).expect("token");
    std::fs::write(dir.path().join("secret"), "s3cret").expect("secret");
    let port = free_port();
    let start = |log: &str| {
        let log = std::fs::File::create(dir.path().join(log)).expect("log");
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
            .arg("--default-clusters=in-cluster,secondary")
            .arg("--manifests-path=deploy")
            .arg("--resync-interval=10s")
            .arg("--monitor-interval=30s")
            .arg("--settle-window=0s")
            .env("KUBECONFIG", &operator_kubeconfig)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if with_comment {
            command.args(["--pr-comment", "--github-deployments", "--commit-statuses"]);
        }
        KillOnDrop(command.spawn().expect("prtracker runs"))
    };
    let mut operator = Some(start("operator.log"));
    sim.set_webhook(&format!("http://127.0.0.1:{port}/webhook"), Some("s3cret"));

    // Merged, and the change is live in both clusters: Deployed.
    apply("primary", &desired);
    apply("secondary", &desired);
    eventually("the tracker", Duration::from_secs(30), || async {
        state(&trackers).await
    })
    .await;
    sim.merge_pull(REPO, number, PERSON).expect("merge");
    eventually("both monitors InSync", Duration::from_secs(60), || async {
        let phases = phases(&monitors).await;
        (phases
            == [
                ("in-cluster".to_owned(), Some(DriftPhase::InSync)),
                ("secondary".to_owned(), Some(DriftPhase::InSync)),
            ])
        .then_some(())
    })
    .await;
    eventually(
        "Deployed, on the PR too",
        Duration::from_secs(30),
        || async {
            (state(&trackers).await == Some(PrState::Deployed)
                && state_labels(&sim, REPO, number) == ["state/deployed"])
            .then_some(())
        },
    )
    .await;

    if with_comment {
        comment_says(
            &sim,
            number,
            &[
                "`state/deployed`",
                "| in-cluster | ✅ live |",
                "| secondary | ✅ live |",
            ],
        )
        .await;
        deployments_are(&sim, ["success", "success"]).await;
        statuses_are(&sim, &trackers, ["success", "success"]).await;
    }

    // A hand edit in one cluster: Drifted, with the field named, and state/drifted on the PR.
    apply("secondary", &manifests(&app_namespace, 5));
    request_checks(&monitors).await;
    eventually(
        "Drifted, on the PR too",
        Duration::from_secs(60),
        || async {
            (state(&trackers).await == Some(PrState::Drifted)
                && state_labels(&sim, REPO, number) == ["state/drifted"])
            .then_some(())
        },
    )
    .await;
    let drifted = monitors
        .list(&Default::default())
        .await
        .expect("monitors")
        .items
        .into_iter()
        .find(|m| m.spec.cluster == "secondary")
        .and_then(|m| m.status)
        .expect("status");
    assert_eq!(drifted.phase, Some(DriftPhase::Drifted));
    let fields: Vec<_> = drifted
        .drifted_resources
        .iter()
        .flat_map(|r| r.fields.iter())
        .collect();
    assert!(
        fields.iter().any(|f| f.path == "spec.replicas"
            && f.desired.as_deref() == Some("3")
            && f.live.as_deref() == Some("5")),
        "{fields:?}"
    );

    if with_comment {
        comment_says(
            &sim,
            number,
            &[
                "`state/drifted`",
                "| in-cluster | ✅ live |",
                "| secondary | ⚠️ changed by hand |",
                "`spec.replicas`: the PR set `3`, the cluster holds `5`",
            ],
        )
        .await;
        deployments_are(&sim, ["success", "failure"]).await;
        statuses_are(&sim, &trackers, ["success", "failure"]).await;
        let failure = &deployments(&sim)[1].2;
        assert!(
            failure.contains("spec.replicas"),
            "the failure names the field: {failure}"
        );
    }

    // The edit undone: InSync and Deployed again.
    apply("secondary", &desired);
    request_checks(&monitors).await;
    eventually("Deployed again", Duration::from_secs(60), || async {
        (state(&trackers).await == Some(PrState::Deployed)
            && state_labels(&sim, REPO, number) == ["state/deployed"])
        .then_some(())
    })
    .await;

    let comment_requests = |sim: &prtracker_github_sim::SimulatorHandle| {
        sim.requests()
            .into_iter()
            .filter(|r| {
                r.path.contains("/comments")
                    || r.path.contains("/deployments")
                    || r.path.contains("/status")
                    || r.path.contains("/check-runs")
            })
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect::<Vec<_>>()
    };
    if !with_comment {
        assert_eq!(
            comment_requests(&sim),
            Vec::<String>::new(),
            "without the flags no comment or deployment is read or written"
        );
        return;
    }
    comment_says(
        &sim,
        number,
        &["`state/deployed`", "| secondary | ✅ live |"],
    )
    .await;
    deployments_are(&sim, ["success", "success"]).await;
    statuses_are(&sim, &trackers, ["success", "success"]).await;
    let written = comment_requests(&sim);
    let posts = |what: &str| {
        written
            .iter()
            .filter(|r| r.starts_with("POST") && r.contains(what))
            .count()
    };
    assert_eq!(
        posts("/comments"),
        1,
        "posted once, edited after: {written:#?}"
    );
    assert_eq!(
        posts("/deployments ") + posts("/deployments?"),
        2,
        "one deployment per cluster: {written:#?}"
    );

    // At rest, the comment costs nothing: two resyncs and a check of each monitor.
    let before = comment_requests(&sim).len();
    request_checks(&monitors).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        comment_requests(&sim)[before..].to_vec(),
        Vec::<String>::new(),
        "a steady state writes no comment"
    );

    // A restart with the tracker's record of the comment wiped: found again by its marker, and
    // neither posted again nor edited (it already says what it should).
    drop(operator.take());
    let tracker = trackers
        .list(&Default::default())
        .await
        .expect("trackers")
        .items
        .into_iter()
        .next()
        .expect("the tracker");
    assert!(
        tracker
            .status
            .as_ref()
            .and_then(|s| s.pr_comment.as_ref())
            .is_some(),
        "the status records the comment"
    );
    trackers
        .patch_status(
            &tracker.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({
                "status": { "prComment": null, "deployments": null, "commitStatuses": null }
            })),
        )
        .await
        .expect("record wiped");
    let before = comment_requests(&sim).len();
    operator = Some(start("operator-restarted.log"));
    eventually(
        "the comment found again and recorded",
        Duration::from_secs(60),
        || async {
            trackers
                .get(&tracker.name_any())
                .await
                .ok()?
                .status?
                .pr_comment
        },
    )
    .await;
    // And afterwards too: the restarted operator's caches filling must not flicker the comment.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_restart = comment_requests(&sim)[before..].to_vec();
    // The comment, the deployments (with their newest status) and the commit statuses are
    // found by reading: nothing is written again.
    assert!(
        after_restart.iter().all(|r| r.starts_with("GET")),
        "found by reading, not written again: {after_restart:#?}"
    );
    assert_eq!(comments(&sim, number).len(), 1);
    assert_eq!(deployments(&sim).len(), 2);
    drop(operator);
}
