//! The coordinator against the real apiserver and the GitHub simulator: each sync rule of SPEC.md,
//! and what happens when GitHub fails.

use std::{sync::Arc, time::Duration};

use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use prtracker_api::{DriftMonitor, PullRequestTracker, PullRequestTrackerSpec};
use prtracker_domain::{LabelPrefix, PrState};
use prtracker_github::{GitHubApi, GitHubAuth, GitHubConfig, OctocrabGitHub};
use prtracker_github_sim::{Faults, NewPull, Simulator, SimulatorHandle};
use prtracker_sync::{Coordinator, GitHubLabelManager, SyncError};
use prtracker_testenv::{RequestCounter, shared, test_namespace};
use serde_json::json;

const REPO: &str = "octo-org/app";
const PERSON: &str = "octocat";

struct Env {
    sim: SimulatorHandle,
    github: Arc<OctocrabGitHub>,
    kube_writes: RequestCounter,
    coordinator: Coordinator,
    trackers: Api<PullRequestTracker>,
    monitors: Api<DriftMonitor>,
}

async fn env(prefix: &str) -> Env {
    env_with(prefix, |_| {}).await
}

async fn env_with(prefix: &str, tune: impl FnOnce(&mut GitHubConfig)) -> Env {
    let sim = Simulator::start().await.expect("simulator starts");
    sim.create_repo(REPO).expect("repository");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    tune(&mut config);
    let github = Arc::new(OctocrabGitHub::new(config).expect("client"));
    let labels = Arc::new(GitHubLabelManager::new(
        github.clone(),
        LabelPrefix::default(),
    ));
    let client = shared().primary().client().expect("kube client");
    let namespace = test_namespace(&client, prefix).await.expect("namespace");
    let (counted, kube_writes) = shared()
        .primary()
        .counting_client()
        .expect("counting client");
    Env {
        sim,
        coordinator: Coordinator::new(counted, github.clone(), labels),
        github,
        kube_writes,
        trackers: Api::namespaced(client.clone(), &namespace),
        monitors: Api::namespaced(client, &namespace),
    }
}

impl Env {
    fn open_pr(&self, labels: &[&str]) -> u64 {
        self.sim
            .create_pull(
                REPO,
                NewPull {
                    title: "Add the thing".into(),
                    labels: labels.iter().map(|l| (*l).to_owned()).collect(),
                    ..Default::default()
                },
            )
            .expect("PR")
    }

    fn labels(&self, number: u64) -> Vec<String> {
        let mut labels = self.sim.pull_labels(REPO, number).expect("labels");
        labels.sort();
        labels
    }

    /// Label writes the operator sent to GitHub (the simulator's REST API, not its control API).
    fn label_writes(&self) -> Vec<String> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.path.contains("/labels"))
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect()
    }

    async fn tracker(&self, number: u64, state: Option<PrState>) -> PullRequestTracker {
        let name = format!("pr-{number}");
        let tracker = PullRequestTracker::new(
            &name,
            PullRequestTrackerSpec {
                repository: REPO.parse().expect("repository"),
                number,
                clusters: vec!["in-cluster".into()],
                manifests_path: "deploy".into(),
                targets: Vec::new(),
                settle_window: None,
                ignore_differences: Vec::new(),
            },
        );
        self.trackers
            .create(&PostParams::default(), &tracker)
            .await
            .expect("tracker created");
        match state {
            Some(state) => self.record_state(&name, state).await,
            None => self.fresh(&name).await,
        }
    }

    /// Sets the tracker's recorded state, as the operator does with a drift verdict, and returns
    /// the tracker as it now is.
    async fn record_state(&self, name: &str, state: PrState) -> PullRequestTracker {
        self.trackers
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": { "state": state } })),
            )
            .await
            .expect("status written");
        self.fresh(name).await
    }

    async fn fresh(&self, name: &str) -> PullRequestTracker {
        self.trackers.get(name).await.expect("tracker")
    }

    fn condition(tracker: &PullRequestTracker, type_: &str) -> (String, String) {
        tracker
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
            .map(|c| (c.status.clone(), c.reason.clone()))
            .unwrap_or_default()
    }
}

fn state(tracker: &PullRequestTracker) -> Option<PrState> {
    tracker.status.as_ref().and_then(|s| s.state)
}

#[tokio::test]
async fn github_to_crd_a_label_a_person_changes_appears_in_the_status() {
    let env = env("github-to-crd").await;
    let number = env.open_pr(&["state/open", "bug"]);
    let tracker = env.tracker(number, None).await;
    env.coordinator
        .sync_github_to_prt(&tracker)
        .await
        .expect("sync");
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(state(&tracker), Some(PrState::Open));

    env.sim
        .add_label(REPO, number, "state/approved", PERSON)
        .expect("label");
    env.sim
        .remove_label(REPO, number, "state/open", PERSON)
        .expect("unlabel");
    let result = env
        .coordinator
        .sync_github_to_prt(&tracker)
        .await
        .expect("sync");
    assert_eq!(
        (result.initial_state, result.final_state),
        (PrState::Open, PrState::Approved)
    );
    let tracker = env.fresh(&tracker.name_any()).await;
    let status = tracker.status.as_ref().expect("status");
    assert_eq!(status.state, Some(PrState::Approved));
    assert_eq!(status.state_labels, ["state/approved"]);
    assert_eq!(status.title.as_deref(), Some("Add the thing"));
    assert_eq!(
        Env::condition(&tracker, "Synced"),
        ("True".into(), "Synced".into())
    );
    assert_eq!(
        Env::condition(&tracker, "Consistent"),
        ("True".into(), "OneStateLabel".into())
    );
    assert!(
        env.label_writes().is_empty(),
        "GitHub → CRD wrote to GitHub: {:?}",
        env.label_writes()
    );
}

#[tokio::test]
async fn github_wins_a_merged_pr_makes_an_approved_tracker_merged_without_writing_to_github() {
    let env = env("github-wins").await;
    let number = env.open_pr(&["state/approved"]);
    let merge_sha = env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    env.sim
        .remove_label(REPO, number, "state/approved", PERSON)
        .expect("unlabel");
    env.sim
        .add_label(REPO, number, "state/merged", PERSON)
        .expect("label");
    let tracker = env.tracker(number, Some(PrState::Approved)).await;

    let consistent = env
        .coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    assert!(
        !consistent,
        "the tracker was corrected, so it was not consistent"
    );
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(state(&tracker), Some(PrState::Merged));
    assert_eq!(
        tracker
            .status
            .as_ref()
            .and_then(|s| s.merge_commit_sha.as_deref()),
        Some(merge_sha.as_str())
    );
    assert_eq!(env.labels(number), ["state/merged"]);
    assert!(
        env.label_writes().is_empty(),
        "GitHub won, yet the operator wrote: {:?}",
        env.label_writes()
    );
    assert!(
        env.coordinator
            .ensure_consistency(&tracker)
            .await
            .expect("sync"),
        "now consistent"
    );

    // GitHub wins even where the tracker's state would also fit the facts.
    let open = env.open_pr(&["state/open"]);
    let tracker = env.tracker(open, Some(PrState::Approved)).await;
    assert!(
        !env.coordinator
            .ensure_consistency(&tracker)
            .await
            .expect("sync")
    );
    assert_eq!(
        state(&env.fresh(&tracker.name_any()).await),
        Some(PrState::Open)
    );
    assert_eq!(env.labels(open), ["state/open"]);
    assert!(
        env.label_writes().is_empty(),
        "GitHub won, yet the operator wrote: {:?}",
        env.label_writes()
    );
}

#[tokio::test]
async fn recovery_puts_the_trackers_state_back_and_creates_missing_label_definitions() {
    let env = env("recovery").await;
    let number = env.open_pr(&["bug"]);
    let definitions = env.sim.repo_labels(REPO).expect("labels");
    assert!(
        !definitions.iter().any(|l| l.starts_with("state/")),
        "a fresh repository has no state labels"
    );
    let tracker = env.tracker(number, Some(PrState::Approved)).await;

    let consistent = env
        .coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    assert!(!consistent);
    assert_eq!(env.labels(number), ["bug", "state/approved"]);
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(state(&tracker), Some(PrState::Approved));
    let result = tracker
        .status
        .as_ref()
        .and_then(|s| s.last_sync_result.clone())
        .expect("result");
    assert_eq!(result.labels_added, ["state/approved"]);

    // Every state label is now defined, with the project's colour and description, not GitHub's grey.
    let defined = env
        .github
        .list_repo_labels(&REPO.parse().expect("repository"))
        .await
        .expect("labels");
    for state in PrState::ALL {
        let name = format!("state/{}", state.name());
        let label = defined
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("{name} was not created"));
        assert_eq!(label.color, state.color(), "{name}");
        assert_eq!(
            label.description.as_deref(),
            Some(state.description()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn conflict_the_most_advanced_state_label_stays_and_the_other_is_removed() {
    let env = env("conflict").await;
    let number = env.open_pr(&[]);
    env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    env.sim
        .add_label(REPO, number, "state/merged", PERSON)
        .expect("label");
    env.sim
        .add_label(REPO, number, "state/deployed", PERSON)
        .expect("label");
    let tracker = env.tracker(number, Some(PrState::Merged)).await;

    env.coordinator
        .sync_github_to_prt(&tracker)
        .await
        .expect("sync");
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(state(&tracker), Some(PrState::Deployed));
    assert_eq!(
        Env::condition(&tracker, "Consistent"),
        ("False".into(), "ConflictingStateLabels".into())
    );

    assert!(
        !env.coordinator
            .ensure_consistency(&tracker)
            .await
            .expect("sync")
    );
    assert_eq!(env.labels(number), ["state/deployed"]);
    let tracker = env.fresh(&tracker.name_any()).await;
    let result = tracker
        .status
        .as_ref()
        .and_then(|s| s.last_sync_result.clone())
        .expect("result");
    assert_eq!(result.final_state, Some(PrState::Deployed));
    assert_eq!(result.labels_removed, ["state/merged"]);
    assert!(result.labels_added.is_empty());
    assert_eq!(
        Env::condition(&tracker, "Consistent"),
        ("True".into(), "OneStateLabel".into())
    );
}

#[tokio::test]
async fn facts_moved_a_merged_pr_still_labelled_approved_becomes_merged() {
    let env = env("facts-moved").await;
    let number = env.open_pr(&["state/approved", "needs-docs"]);
    let tracker = env.tracker(number, None).await;
    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    env.sim.merge_pull(REPO, number, PERSON).expect("merge");

    let tracker = env.fresh(&tracker.name_any()).await;
    assert!(
        !env.coordinator
            .ensure_consistency(&tracker)
            .await
            .expect("sync")
    );
    assert_eq!(env.labels(number), ["needs-docs", "state/merged"]);
    assert_eq!(
        state(&env.fresh(&tracker.name_any()).await),
        Some(PrState::Merged)
    );
}

#[tokio::test]
async fn operator_verdicts_change_exactly_the_state_labels() {
    let env = env("operator").await;
    let number = env.open_pr(&["state/approved", "bug", "area/api"]);
    env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let tracker = env.tracker(number, None).await;
    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    assert_eq!(env.labels(number), ["area/api", "bug", "state/merged"]);

    for (verdict, expected) in [
        (PrState::Deployed, ["area/api", "bug", "state/deployed"]),
        (PrState::Drifted, ["area/api", "bug", "state/drifted"]),
        (PrState::Deployed, ["area/api", "bug", "state/deployed"]),
    ] {
        let tracker = env.record_state(&tracker.name_any(), verdict).await;
        let result = env
            .coordinator
            .sync_prt_to_github(&tracker)
            .await
            .expect("sync");
        assert_eq!(result.final_state, verdict);
        assert_eq!(result.labels_added, [format!("state/{}", verdict.name())]);
        assert_eq!(result.labels_removed.len(), 1);
        assert_eq!(env.labels(number), expected);
    }

    // A verdict the facts contradict is refused, and nothing is written.
    env.record_state(&tracker.name_any(), PrState::Open).await;
    let writes = env.label_writes().len();
    let refused = env
        .coordinator
        .sync_prt_to_github(&env.fresh(&tracker.name_any()).await)
        .await;
    assert!(
        matches!(refused, Err(SyncError::StateNotApplicable { .. })),
        "{refused:?}"
    );
    assert_eq!(env.label_writes().len(), writes);
}

#[tokio::test]
async fn drift_monitors_are_created_once_per_cluster_and_deleted_with_their_tracker() {
    let env = env("monitors").await;
    let number = env.open_pr(&[]);
    let merge_sha = env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let tracker = env.tracker(number, None).await;
    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    let tracker = env.fresh(&tracker.name_any()).await;
    let clusters = vec!["staging".to_owned(), "production".to_owned()];

    let first = env
        .coordinator
        .create_drift_monitors_for_prt(&tracker, &clusters)
        .await
        .expect("monitors");
    let tracker = env.fresh(&tracker.name_any()).await;
    let second = env
        .coordinator
        .create_drift_monitors_for_prt(&tracker, &clusters)
        .await
        .expect("monitors again");
    assert_eq!(first.len(), 2);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            a.uid(),
            b.uid(),
            "the second call made a new {}",
            a.name_any()
        );
        assert_eq!(
            a.resource_version(),
            b.resource_version(),
            "the second call changed {}",
            a.name_any()
        );
    }
    let listed = env.monitors.list(&Default::default()).await.expect("list");
    assert_eq!(listed.items.len(), 2);
    for monitor in &listed.items {
        assert_eq!(monitor.spec.tracker, tracker.name_any());
        assert_eq!(monitor.spec.source.commit, merge_sha);
        assert_eq!(monitor.spec.source.path, "deploy");
        assert_eq!(monitor.spec.source.repository.to_string(), REPO);
        let owner = &monitor.owner_references()[0];
        assert_eq!(
            (owner.uid.as_str(), owner.controller),
            (tracker.uid().as_deref().unwrap_or(""), Some(true))
        );
    }
    let mut names = env
        .fresh(&tracker.name_any())
        .await
        .status
        .expect("status")
        .drift_monitors;
    names.sort();
    assert_eq!(
        names,
        [
            format!("pr-{number}-production"),
            format!("pr-{number}-staging")
        ]
    );

    env.trackers
        .delete(&tracker.name_any(), &DeleteParams::background())
        .await
        .expect("delete");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !env
        .monitors
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "monitors outlived their tracker"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Targets: a monitor per target, each reading its own path (an overlay per environment).
#[tokio::test]
async fn a_tracker_with_targets_gets_a_monitor_per_target_reading_its_path() {
    let env = env("targets").await;
    let number = env.open_pr(&[]);
    env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let targets = [
        ("staging", "deploy/overlays/staging"),
        ("production", "deploy/overlays/prod"),
    ];
    let tracker = PullRequestTracker::new(
        &format!("pr-{number}"),
        PullRequestTrackerSpec {
            repository: REPO.parse().expect("repository"),
            number,
            clusters: Vec::new(),
            manifests_path: ".".into(),
            targets: targets
                .iter()
                .map(|(cluster, path)| prtracker_api::Target {
                    cluster: (*cluster).to_owned(),
                    path: (*path).to_owned(),
                    values: Vec::new(),
                })
                .collect(),
            settle_window: None,
            ignore_differences: Vec::new(),
        },
    );
    env.trackers
        .create(&PostParams::default(), &tracker)
        .await
        .expect("tracker created");
    // The first reconcile records the merge; the next makes the monitors.
    for _ in 0..2 {
        let tracker = env.fresh(&tracker.name_any()).await;
        env.coordinator
            .reconcile(&tracker, &[])
            .await
            .expect("reconcile");
    }
    let mut paths: Vec<(String, String)> = env
        .monitors
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|m| (m.spec.cluster, m.spec.source.path))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("production".to_owned(), "deploy/overlays/prod".to_owned()),
            ("staging".to_owned(), "deploy/overlays/staging".to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_unmerged_pr_gets_no_drift_monitors() {
    let env = env("no-monitors").await;
    let number = env.open_pr(&[]);
    let tracker = env.tracker(number, None).await;
    let result = env
        .coordinator
        .create_drift_monitors_for_prt(&tracker, &["staging".to_owned()])
        .await;
    assert!(matches!(result, Err(SyncError::NotMerged(_))), "{result:?}");
    assert!(
        env.monitors
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_missing_pr_is_reported_in_a_condition_with_no_label_writes() {
    let env = env("missing-pr").await;
    let tracker = env.tracker(4040, Some(PrState::Approved)).await;
    let error = env
        .coordinator
        .ensure_consistency(&tracker)
        .await
        .expect_err("404");
    assert_eq!(error.reason(), "PullRequestNotFound");
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(
        Env::condition(&tracker, "Synced"),
        ("False".into(), "PullRequestNotFound".into())
    );
    assert_eq!(Env::condition(&tracker, "Ready").0, "False");
    assert_eq!(
        state(&tracker),
        Some(PrState::Approved),
        "what was known is kept"
    );
    assert!(env.label_writes().is_empty());

    // A repository that is gone reads the same.
    let gone = PullRequestTracker::new(
        "gone",
        PullRequestTrackerSpec {
            repository: "octo-org/deleted".parse().expect("repository"),
            number: 1,
            clusters: vec![],
            manifests_path: ".".into(),
            targets: Vec::new(),
            settle_window: None,
            ignore_differences: Vec::new(),
        },
    );
    env.trackers
        .create(&PostParams::default(), &gone)
        .await
        .expect("create");
    let error = env
        .coordinator
        .sync_github_to_prt(&env.fresh("gone").await)
        .await
        .expect_err("404");
    assert_eq!(error.reason(), "PullRequestNotFound");
    assert_eq!(
        Env::condition(&env.fresh("gone").await, "Synced").1,
        "PullRequestNotFound"
    );
}

#[tokio::test]
async fn server_errors_during_apply_state_are_retried_and_leave_one_state_label() {
    let env = env("flaky").await;
    for round in 0..4u64 {
        let number = env.open_pr(&["state/approved", "keep-me"]);
        env.sim.merge_pull(REPO, number, PERSON).expect("merge");
        let tracker = env.tracker(number, None).await;
        // Every other request fails with a 502, at a different point of each round's write sequence.
        env.sim.set_faults(Faults {
            fail_every_nth: Some(2 + round % 2),
            ..Default::default()
        });
        env.coordinator
            .ensure_consistency(&tracker)
            .await
            .expect("retried through the 502s");
        env.sim.set_faults(Faults::default());
        assert_eq!(
            env.labels(number),
            ["keep-me", "state/merged"],
            "round {round}"
        );
    }
    assert!(
        env.sim.requests().iter().any(|r| r.status == 502),
        "no fault was injected: the test proved nothing"
    );
}

#[tokio::test]
async fn an_exhausted_budget_is_waited_for_and_loses_nothing() {
    let env = env("rate-limited").await;
    let number = env.open_pr(&["bug"]);
    let tracker = env.tracker(number, Some(PrState::Approved)).await;
    env.sim.exhaust_budget(env.sim.token(), 2);
    let started = std::time::Instant::now();
    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("waited for the reset");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it did not wait for the reset"
    );
    assert_eq!(env.labels(number), ["bug", "state/approved"]);
    let refused = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.status == 403 || r.status == 429)
        .count();
    assert!(
        refused <= 1,
        "{refused} requests hammered an exhausted budget"
    );
}

#[tokio::test]
async fn a_budget_exhausted_past_the_wait_limit_is_reported_and_loses_nothing() {
    let env = env_with("rate-limited-long", |config| {
        config.rate_limit.max_wait = Duration::from_secs(1);
    })
    .await;
    let number = env.open_pr(&["state/open", "bug"]);
    let tracker = env.tracker(number, None).await;
    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    let tracker = env.fresh(&tracker.name_any()).await;
    env.sim.exhaust_budget(env.sim.token(), 3600);
    let error = env
        .coordinator
        .ensure_consistency(&tracker)
        .await
        .expect_err("rate limited");
    assert_eq!(error.reason(), "RateLimited");
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(
        Env::condition(&tracker, "Synced"),
        ("False".into(), "RateLimited".into())
    );
    assert_eq!(state(&tracker), Some(PrState::Open));
    assert_eq!(env.labels(number), ["bug", "state/open"]);
}

#[tokio::test]
async fn a_no_op_sync_costs_no_kubernetes_write_and_no_counted_github_request() {
    let env = env("no-op").await;
    let number = env.open_pr(&["state/open"]);
    let tracker = env.tracker(number, None).await;
    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("first sync");
    let tracker = env.fresh(&tracker.name_any()).await;
    let version = tracker.resource_version();
    let budget = env.sim.budget(env.sim.token()).used;
    let writes = env.kube_writes.writes();

    for _ in 0..3 {
        assert!(
            env.coordinator
                .ensure_consistency(&tracker)
                .await
                .expect("no-op")
        );
        env.coordinator
            .sync_github_to_prt(&tracker)
            .await
            .expect("no-op");
    }
    assert_eq!(
        env.kube_writes.writes(),
        writes,
        "a no-op sync sent a Kubernetes write"
    );
    assert_eq!(
        env.fresh(&tracker.name_any()).await.resource_version(),
        version
    );
    assert_eq!(
        env.sim.budget(env.sim.token()).used,
        budget,
        "a no-op sync spent GitHub budget"
    );
    assert!(
        env.sim.requests().iter().any(|r| r.status == 304),
        "the repeated GETs were not conditional"
    );
}

#[tokio::test]
async fn apply_state_never_shows_an_observer_no_state_label_and_two_only_until_the_removal() {
    let env = env("atomic").await;
    let number = env.open_pr(&["state/approved", "bug"]);
    env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let tracker = env.tracker(number, None).await;
    // Every label change is a webhook carrying the PR's labels at that moment: what an observer sees.
    // Nothing listens on the discard port; the deliveries are recorded all the same.
    env.sim.set_webhook("http://127.0.0.1:9/", Some("secret"));
    let before = env
        .sim
        .deliveries()
        .iter()
        .filter(|d| d.event == "pull_request")
        .count();

    env.coordinator
        .ensure_consistency(&tracker)
        .await
        .expect("sync");
    let tracker = env.fresh(&tracker.name_any()).await;
    env.record_state(&tracker.name_any(), PrState::Deployed)
        .await;
    env.coordinator
        .sync_prt_to_github(&env.fresh(&tracker.name_any()).await)
        .await
        .expect("sync");

    let label_events = |env: &Env| -> Vec<Vec<String>> {
        env.sim
            .deliveries()
            .into_iter()
            .filter(|d| d.event == "pull_request")
            .skip(before)
            .map(|d| {
                d.payload()["pull_request"]["labels"]
                    .as_array()
                    .expect("labels")
                    .iter()
                    .filter_map(|l| l["name"].as_str())
                    .filter(|name| name.starts_with("state/"))
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while label_events(&env).len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = label_events(&env);
    assert_eq!(seen.len(), 4, "two adds and two removes: {seen:?}");
    for (i, state_labels) in seen.iter().enumerate() {
        assert!(
            !state_labels.is_empty(),
            "an observer saw no state label: {seen:?}"
        );
        assert!(state_labels.len() <= 2, "an observer saw {state_labels:?}");
        if state_labels.len() == 2 {
            // Two only between an add and the removal that follows it, one round trip later.
            assert_eq!(
                seen.get(i + 1).map(Vec::len),
                Some(1),
                "two state labels lingered: {seen:?}"
            );
        }
    }
    assert_eq!(seen.last().expect("events"), &["state/deployed".to_owned()]);
}

#[tokio::test]
async fn a_label_a_person_adds_meanwhile_is_never_clobbered() {
    use prtracker_github::GitHubClient;
    use prtracker_sync::LabelManager;

    let env = env("concurrent").await;
    let number = env.open_pr(&["state/approved"]);
    env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let repo = REPO.parse().expect("repository");
    let stale = env.github.get_pr(&repo, number).await.expect("PR");
    // A person labels the PR after the operator read it and before it writes.
    env.sim
        .add_label(REPO, number, "needs-review", PERSON)
        .expect("label");
    let labels = GitHubLabelManager::new(env.github.clone(), LabelPrefix::default());
    labels
        .apply_state(&repo, &stale, PrState::Merged)
        .await
        .expect("applied");
    assert_eq!(env.labels(number), ["needs-review", "state/merged"]);
}

#[tokio::test]
async fn a_stale_tracker_cannot_overwrite_a_newer_status() {
    let env = env("stale").await;
    let number = env.open_pr(&["state/open"]);
    let stale = env.tracker(number, None).await;
    env.trackers
        .patch_status(
            &stale.name_any(),
            &PatchParams::default(),
            &Patch::Merge(
                json!({ "status": { "state": "Approved", "title": "written by someone newer" } }),
            ),
        )
        .await
        .expect("newer status");
    let result = env.coordinator.sync_github_to_prt(&stale).await;
    assert!(matches!(result, Err(SyncError::Conflict(_))), "{result:?}");
    let status = env.fresh(&stale.name_any()).await.status.expect("status");
    assert_eq!(status.title.as_deref(), Some("written by someone newer"));
    assert_eq!(status.state, Some(PrState::Approved));
}

/// The requests sent to GitHub's REST API since `from` (the simulator's control API aside).
fn github_requests_since(env: &Env, from: usize) -> Vec<String> {
    env.sim
        .requests()
        .into_iter()
        .skip(from)
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

#[tokio::test]
async fn a_reconcile_of_an_unchanged_pr_costs_one_conditional_read_and_no_write() {
    let env = env("cost-unchanged").await;
    let number = env.open_pr(&["state/open"]);
    let tracker = env.tracker(number, None).await;
    let first = env
        .coordinator
        .reconcile(&tracker, &[])
        .await
        .expect("first");
    assert!(first.status_written, "a new tracker gets its status");

    let (github_before, kube_before, writes_before) = (
        env.sim.requests().len(),
        env.kube_writes.requests(),
        env.kube_writes.writes(),
    );
    let again = env
        .coordinator
        .reconcile(&first.tracker, &[])
        .await
        .expect("again");
    assert!(!again.status_written && !again.plan.changes_labels());
    let sent = github_requests_since(&env, github_before);
    assert_eq!(
        sent,
        [format!("GET /repos/{REPO}/pulls/{number} 304")],
        "one conditional read, answered 304"
    );
    assert_eq!(
        env.kube_writes.requests() - kube_before,
        0,
        "an unchanged PR costs no apiserver request at all (writes before: {writes_before})"
    );
}

#[tokio::test]
async fn a_persons_label_change_costs_one_read_the_label_write_and_one_status_write() {
    let env = env("cost-change").await;
    let number = env.open_pr(&["state/open"]);
    let tracker = env.tracker(number, None).await;
    // The label definitions exist already, as in any repository prtracker has written to before.
    let labels = GitHubLabelManager::new(env.github.clone(), LabelPrefix::default());
    labels
        .ensure_label_definitions(&REPO.parse().expect("repository"))
        .await
        .expect("definitions");
    let synced = env
        .coordinator
        .reconcile(&tracker, &[])
        .await
        .expect("first");

    env.sim
        .add_label(REPO, number, "state/approved", PERSON)
        .expect("label");
    let (github_before, kube_before, writes_before) = (
        env.sim.requests().len(),
        env.kube_writes.requests(),
        env.kube_writes.writes(),
    );
    let changed = env
        .coordinator
        .reconcile(&synced.tracker, &[])
        .await
        .expect("reconcile");
    assert_eq!(changed.plan.target, PrState::Approved);
    let sent = github_requests_since(&env, github_before);
    assert_eq!(
        sent,
        [
            format!("GET /repos/{REPO}/pulls/{number} 200"),
            format!("DELETE /repos/{REPO}/issues/{number}/labels/state%2Fopen 200"),
        ],
        "one read, then the removal of the label that lost"
    );
    assert_eq!(
        env.kube_writes.writes() - writes_before,
        1,
        "one status write"
    );
    assert_eq!(
        env.kube_writes.requests() - kube_before,
        1,
        "and no other apiserver request"
    );
    assert_eq!(env.labels(number), ["state/approved"]);
    assert_eq!(state(&changed.tracker), Some(PrState::Approved));
}

#[tokio::test]
async fn a_label_definition_deleted_on_github_is_restored_when_its_label_is_next_added() {
    let env = env("definition-deleted").await;
    let number = env.open_pr(&["bug"]);
    let tracker = env.tracker(number, Some(PrState::Approved)).await;
    // Recovery adds state/approved, defining every state label on the way.
    let synced = env
        .coordinator
        .reconcile(&tracker, &[])
        .await
        .expect("first");
    assert_eq!(env.labels(number), ["bug", "state/approved"]);

    // A person deletes the definition (and so the label, from every PR); the coordinator still
    // believes the repository's definitions complete.
    env.sim
        .delete_repo_label(REPO, "state/approved")
        .expect("deleted");
    assert_eq!(env.labels(number), ["bug"]);
    env.coordinator
        .reconcile(&synced.tracker, &[])
        .await
        .expect("recovered again");
    assert_eq!(env.labels(number), ["bug", "state/approved"]);
    let (_, color, description) = env
        .sim
        .repo_label(REPO, "state/approved")
        .expect("GitHub made the label again on first use");
    assert_eq!(color, PrState::Approved.color(), "not GitHub's grey");
    assert_eq!(
        description.as_deref(),
        Some(PrState::Approved.description())
    );
}

#[tokio::test]
async fn label_definitions_github_refuses_are_reported_and_the_label_is_still_written() {
    let env = env("definitions-refused").await;
    let number = env.open_pr(&["bug"]);
    let tracker = env.tracker(number, Some(PrState::Approved)).await;
    env.sim.set_faults(Faults {
        forbid_label_creation: true,
        ..Default::default()
    });
    let synced = env
        .coordinator
        .reconcile(&tracker, &[])
        .await
        .expect("synced");
    assert_eq!(
        env.labels(number),
        ["bug", "state/approved"],
        "the label was written"
    );
    assert_eq!(synced.result.labels_added, ["state/approved"]);
    assert_eq!(synced.result.errors.len(), 1, "{:?}", synced.result.errors);
    assert!(
        synced.result.errors[0].contains("could not be created"),
        "{}",
        synced.result.errors[0]
    );
    let recorded = synced
        .tracker
        .status
        .as_ref()
        .and_then(|s| s.last_sync_result.as_ref())
        .expect("the sync's result is recorded");
    assert_eq!(
        recorded.errors, synced.result.errors,
        "and kept in the status"
    );
}

#[tokio::test]
async fn a_removal_that_leaves_no_state_label_puts_back_what_the_facts_say_not_the_stale_read() {
    use prtracker_github::GitHubClient;
    use prtracker_sync::{LabelManager, Written};

    let env = env("removal-race").await;
    let number = env.open_pr(&["state/approved"]);
    let repo = REPO.parse().expect("repository");
    // A person moves the PR back to open: adds state/open ...
    env.sim
        .add_label(REPO, number, "state/open", PERSON)
        .expect("label");
    // ... the operator reads it now, with both labels: approved wins the read ...
    let read = env.github.get_pr(&repo, number).await.expect("PR");
    // ... and the person removes state/approved before the operator writes.
    env.sim
        .remove_label(REPO, number, "state/approved", PERSON)
        .expect("unlabel");
    let labels = GitHubLabelManager::new(env.github.clone(), LabelPrefix::default());
    let written = labels
        .write_state(&repo, &read, PrState::Approved, &|_| true)
        .await
        .expect("written");
    assert!(
        matches!(written, Written::Interrupted(_)),
        "the write noticed the PR changed under it: {written:?}"
    );
    assert_eq!(
        env.labels(number),
        ["state/open"],
        "the person's last choice stands, and the PR is never left without a state label"
    );
}

#[tokio::test]
async fn no_label_is_written_on_a_read_a_newer_change_has_overtaken() {
    use prtracker_github::GitHubClient;
    use prtracker_sync::{LabelManager, Written};

    let env = env("stale-read").await;
    let number = env.open_pr(&["state/open", "state/approved"]);
    let repo = REPO.parse().expect("repository");
    let read = env.github.get_pr(&repo, number).await.expect("PR");
    let writes_before = env.label_writes().len();
    let labels = GitHubLabelManager::new(env.github.clone(), LabelPrefix::default());
    let written = labels
        .write_state(&repo, &read, PrState::Approved, &|_| false)
        .await
        .expect("nothing to fail");
    assert!(matches!(written, Written::Interrupted(_)), "{written:?}");
    assert_eq!(
        env.label_writes().len(),
        writes_before,
        "a stale read wrote: {:?}",
        env.label_writes()
    );
    assert_eq!(env.labels(number), ["state/approved", "state/open"]);
}

#[tokio::test]
async fn a_drift_within_the_settle_window_moves_nothing_and_asks_to_be_looked_at_again() {
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
    use prtracker_api::{DriftMonitorStatus, DriftPhase};
    use prtracker_sync::monitors::{Target, desired};

    let env = env("settle").await;
    let number = env.open_pr(&["state/deployed"]);
    let merge = env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let mut tracker = env.tracker(number, Some(PrState::Deployed)).await;
    let status = tracker.status.get_or_insert_default();
    status.drift_verdict = Some(DriftPhase::InSync);
    let target = Target {
        commit: &merge,
        base_branch: Some("main"),
        interval: prtracker_api::interval::DEFAULT_INTERVAL,
    };
    let mut monitor = desired(&tracker, "in-cluster", target).expect("a monitor");
    monitor.status = Some(DriftMonitorStatus {
        phase: Some(DriftPhase::Drifted),
        drifted_since: Some(Time(Timestamp::now())),
        ..Default::default()
    });
    let synced = env
        .coordinator
        .reconcile(&tracker, &[monitor])
        .await
        .expect("reconciled");
    assert_eq!(synced.plan.target, PrState::Deployed, "not yet");
    let review = synced.plan.review_after.expect("a time to look again");
    assert!(
        review <= prtracker_sync::DEFAULT_SETTLE_WINDOW,
        "{review:?}"
    );
}

/// Hears the labels the simulator added to one PR, as the operator's ledger hears their
/// `labeled` webhooks (our own writes' included: they cannot be told from a person's). On its first
/// question after the first label went on, it may also make GitHub fail every request.
struct HearsLabelWrites {
    sim: prtracker_github_sim::Control,
    number: u64,
    labels_at_start: Vec<String>,
    fail_after_the_first_write: bool,
}

impl HearsLabelWrites {
    fn new(env: &Env, number: u64, fail_after_the_first_write: bool) -> Self {
        Self {
            sim: env.sim.control().clone(),
            number,
            labels_at_start: env.labels(number),
            fail_after_the_first_write,
        }
    }

    fn label_writes(&self) -> u64 {
        let path = format!("/issues/{}/labels", self.number);
        let writes = self
            .sim
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains(&path) && r.status < 300)
            .count() as u64;
        if writes > 0 && self.fail_after_the_first_write {
            self.sim.set_faults(Faults {
                fail_every_nth: Some(1),
                fail_status: Some(500),
                ..Default::default()
            });
        }
        writes
    }
}

impl prtracker_sync::Freshness for HearsLabelWrites {
    fn heard(&self, _: &prtracker_domain::Repository, _: u64) -> u64 {
        let writes = self.label_writes();
        if self.fail_after_the_first_write {
            0
        } else {
            writes
        }
    }

    fn last_added(&self, _: &prtracker_domain::Repository, _: u64) -> Option<(String, Duration)> {
        let now = self.sim.pull_labels(REPO, self.number).ok()?;
        let added = now
            .into_iter()
            .rfind(|l| !self.labels_at_start.contains(l))?;
        // Heard longer ago than a person's grace: the removal is not held back for them.
        Some((added, prtracker_domain::PERSON_GRACE))
    }
}

/// A merged PR, deployed (its verdict InSync), and its monitor.
async fn deployed_and_judged(env: &Env) -> (PullRequestTracker, DriftMonitor) {
    use prtracker_api::DriftPhase;
    use prtracker_sync::monitors::{Target, desired};

    let number = env.open_pr(&["state/deployed"]);
    let merge = env.sim.merge_pull(REPO, number, PERSON).expect("merge");
    let name = env
        .tracker(number, Some(PrState::Deployed))
        .await
        .name_any();
    env.trackers
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "driftVerdict": DriftPhase::InSync } })),
        )
        .await
        .expect("verdict recorded");
    let tracker = env.fresh(&name).await;
    let monitor = desired(
        &tracker,
        "in-cluster",
        Target {
            commit: &merge,
            base_branch: Some("main"),
            interval: prtracker_api::interval::DEFAULT_INTERVAL,
        },
    )
    .expect("a monitor");
    (tracker, monitor)
}

/// A coordinator that hears `freshness` and takes a drift at once.
fn hearing(env: &Env, freshness: Option<HearsLabelWrites>) -> Coordinator {
    let labels = Arc::new(GitHubLabelManager::new(
        env.github.clone(),
        LabelPrefix::default(),
    ));
    let client = shared().primary().client().expect("kube client");
    let coordinator =
        Coordinator::new(client, env.github.clone(), labels).with_settle_window(Duration::ZERO);
    match freshness {
        Some(freshness) => coordinator.with_freshness(Arc::new(freshness)),
        None => coordinator,
    }
}

fn judged(monitor: &DriftMonitor, phase: prtracker_api::DriftPhase) -> DriftMonitor {
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
    let mut monitor = monitor.clone();
    monitor.status = Some(prtracker_api::DriftMonitorStatus {
        phase: Some(phase),
        drifted_since: (phase == prtracker_api::DriftPhase::Drifted)
            .then(|| Time(Timestamp::now())),
        ..Default::default()
    });
    monitor
}

/// The drift repaired before the retry: the next reconcile brings the PR back to deployed, its
/// drift label gone, whatever the cut-short write left.
async fn repaired_before_the_retry(
    env: &Env,
    coordinator: &Coordinator,
    tracker: &PullRequestTracker,
    monitor: &DriftMonitor,
) {
    let tracker = env.fresh(&tracker.name_any()).await;
    let synced = coordinator
        .reconcile(
            &tracker,
            &[judged(monitor, prtracker_api::DriftPhase::InSync)],
        )
        .await
        .expect("reconciled");
    assert_eq!(synced.plan.target, PrState::Deployed);
    assert_eq!(env.labels(tracker.spec.number), ["state/deployed"]);
    assert_eq!(state(&synced.tracker), Some(PrState::Deployed));
}

/// The drift's label goes on, then the write stops: the operator heard its own `labeled` webhook
/// (the common case, not a race). The drift is repaired before the retry. The next sync reads the
/// drift's label as the PR's word; the PR must still go back to deployed, not keep a label no
/// verdict holds. (A CI run of `apiserver_restart.rs` once left a PR drifted this way.)
#[tokio::test]
async fn a_verdict_whose_label_write_was_interrupted_is_not_lost_when_it_changes_back() {
    use prtracker_api::DriftPhase;
    let env = env("interrupted-verdict").await;
    let (tracker, monitor) = deployed_and_judged(&env).await;
    let number = tracker.spec.number;
    let coordinator = hearing(&env, Some(HearsLabelWrites::new(&env, number, false)));

    let stopped = coordinator
        .reconcile(&tracker, &[judged(&monitor, DriftPhase::Drifted)])
        .await;
    assert!(
        matches!(stopped, Err(SyncError::StaleRead(_))),
        "{stopped:?}"
    );
    assert_eq!(env.labels(number), ["state/deployed", "state/drifted"]);
    repaired_before_the_retry(&env, &coordinator, &tracker, &monitor).await;
}

/// The same when GitHub refuses the removal after the drift's label went on: the error is
/// returned (the caller backs off), what went on the PR is recorded with it, and a repair made
/// before the retry brings the PR back to deployed.
#[tokio::test]
async fn a_verdict_whose_label_write_failed_half_way_is_not_lost_when_it_changes_back() {
    use prtracker_api::DriftPhase;
    let env = env("failed-verdict").await;
    let (tracker, monitor) = deployed_and_judged(&env).await;
    let number = tracker.spec.number;
    let coordinator = hearing(&env, Some(HearsLabelWrites::new(&env, number, true)));

    let failed = coordinator
        .reconcile(&tracker, &[judged(&monitor, DriftPhase::Drifted)])
        .await;
    env.sim.set_faults(Faults::default());
    assert!(matches!(failed, Err(SyncError::GitHub(_))), "{failed:?}");
    assert_eq!(env.labels(number), ["state/deployed", "state/drifted"]);
    let tracker = env.fresh(&tracker.name_any()).await;
    assert_eq!(
        Env::condition(&tracker, "Synced").0,
        "False",
        "the failure is in the status"
    );

    let coordinator =
        coordinator.with_freshness(Arc::new(HearsLabelWrites::new(&env, number, false)));
    repaired_before_the_retry(&env, &coordinator, &tracker, &monitor).await;
}

/// The same when the labels were all written but the status write met someone else's newer
/// write (here an annotation put on the tracker meanwhile): the tracker is read again and the
/// verdict recorded, so a repair before the retry still brings the PR back to deployed.
#[tokio::test]
async fn a_verdict_whose_status_write_conflicted_is_not_lost_when_it_changes_back() {
    use prtracker_api::DriftPhase;
    let env = env("conflicted-verdict").await;
    let (tracker, monitor) = deployed_and_judged(&env).await;
    let number = tracker.spec.number;
    let coordinator = hearing(&env, None);
    env.trackers
        .patch(
            &tracker.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "annotations": { "team": "shop" } } })),
        )
        .await
        .expect("annotated");

    let conflicted = coordinator
        .reconcile(&tracker, &[judged(&monitor, DriftPhase::Drifted)])
        .await;
    assert!(
        matches!(conflicted, Err(SyncError::Conflict(_))),
        "{conflicted:?}"
    );
    assert_eq!(env.labels(number), ["state/drifted"]);
    repaired_before_the_retry(&env, &coordinator, &tracker, &monitor).await;
}
