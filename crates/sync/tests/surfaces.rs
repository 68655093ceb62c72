//! The surfaces of a merged PR against the GitHub simulator, from a tracker as the operator's
//! cache may show it just after a sync: without that sync's status write yet. The leader
//! remembers what it wrote, so the next sync writes nothing again; another leader (a fresh
//! `Surfaces`) goes by the status, and with the status wiped finds every write again by reading.

use std::sync::Arc;

use prtracker_api::{
    DriftMonitor, DriftMonitorSpec, DriftMonitorStatus, DriftPhase, ManifestSource,
    PullRequestTracker, PullRequestTrackerSpec,
};
use prtracker_domain::{LabelPrefix, Observation, Plan, PrState, Record};
use prtracker_github::{GitHubAuth, GitHubConfig, OctocrabGitHub, PullRequest};
use prtracker_github_sim::{NewPull, Simulator, SimulatorHandle};
use prtracker_sync::{
    CommitStatusKeeper, DeploymentKeeper, Environments, PrCommentKeeper, SyncResult,
    surfaces::{Sources, Surfaces},
};

const REPO: &str = "octo-org/surfaces";
const PERSON: &str = "octocat";

fn writes_since(sim: &SimulatorHandle, from: usize) -> Vec<String> {
    sim.requests()[from..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn monitor(cluster: &str, merge: &str) -> DriftMonitor {
    let mut monitor = DriftMonitor::new(
        &format!("surfaces-1-{cluster}"),
        DriftMonitorSpec {
            tracker: "surfaces-1".into(),
            cluster: cluster.into(),
            source: ManifestSource {
                repository: REPO.parse().expect("repository"),
                commit: merge.into(),
                path: "deploy".into(),
                base_branch: None,
                values: Vec::new(),
            },
            interval: "1m".into(),
            ignore_differences: Vec::new(),
        },
    );
    monitor.status = Some(DriftMonitorStatus {
        phase: Some(DriftPhase::InSync),
        ..Default::default()
    });
    monitor
}

#[tokio::test]
async fn a_sync_from_a_tracker_not_showing_the_last_write_yet_writes_nothing_again() {
    let sim = Simulator::start().await.expect("simulator starts");
    sim.create_repo(REPO).expect("repository");
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "A change".into(),
                ..Default::default()
            },
        )
        .expect("PR");
    let merge = sim.merge_pull(REPO, number, PERSON).expect("merged");
    let pr: PullRequest =
        serde_json::from_value(sim.pull(REPO, number).expect("PR")).expect("a PR");
    assert!(pr.is_merged());

    let mut tracker = PullRequestTracker::new(
        "surfaces-1",
        PullRequestTrackerSpec {
            repository: REPO.parse().expect("repository"),
            number,
            clusters: vec!["staging".into(), "prod".into()],
            manifests_path: "deploy".into(),
            targets: Vec::new(),
            settle_window: None,
            ignore_differences: Vec::new(),
        },
    );
    tracker.metadata.uid = Some("7d1b5b0e-uid".into());
    let monitors = [monitor("staging", &merge), monitor("prod", &merge)];
    let prefix = LabelPrefix::default();
    let labels: Vec<String> = pr.label_names().into_iter().map(str::to_owned).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let plan = Plan::follow_github(&Observation {
        labels: &labels,
        facts: pr.facts(),
        merge_commit_known: true,
        record: Record::default(),
        clusters: &tracker.spec.clusters,
        monitors: &[],
        prefix: &prefix,
        settle: std::time::Duration::ZERO,
        last_added: None,
        left: &[],
    });

    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("client"));
    let surfaces = || Surfaces {
        comments: Some(Arc::new(PrCommentKeeper::new(github.clone()))),
        deployments: Some(Arc::new(DeploymentKeeper::new(
            github.clone(),
            Environments::default(),
        ))),
        commit_statuses: Some(Arc::new(CommitStatusKeeper::new(github.clone()))),
        check_runs: None,
        written: Arc::default(),
    };
    let leader = surfaces();
    let keep = |surfaces: &Surfaces, tracker: &PullRequestTracker| {
        let surfaces = surfaces.clone();
        let tracker = tracker.clone();
        let (pr, plan, monitors, prefix) = (&pr, &plan, &monitors, &prefix);
        async move {
            let clusters = tracker.spec.cluster_names();
            let sources = Sources {
                tracker: &tracker,
                pr,
                plan,
                monitors,
                clusters: &clusters,
                prefix,
            };
            let mut result = SyncResult::unchanged(PrState::Merged);
            let mut incomplete = None;
            let kept = surfaces.keep(&sources, &mut result, &mut incomplete).await;
            assert!(incomplete.is_none(), "{:?}", result.errors);
            kept
        }
    };

    // The first sync: a comment, a deployment and its status and a commit status per cluster.
    let start = sim.requests().len();
    let kept = keep(&leader, &tracker).await;
    let first = writes_since(&sim, start);
    assert_eq!(first.len(), 1 + 2 * 3, "{first:#?}");

    // The same tracker again, its status not showing that write: nothing is written again.
    let start = sim.requests().len();
    keep(&leader, &tracker).await;
    assert_eq!(writes_since(&sim, start), Vec::<String>::new());

    // Another leader, the status wiped: each write is found again on GitHub, by reads only.
    let start = sim.requests().len();
    keep(&surfaces(), &tracker).await;
    assert_eq!(writes_since(&sim, start), Vec::<String>::new());

    // Another leader reads the status, once written: nothing either.
    let mut status = tracker.status.clone().unwrap_or_default();
    kept.record_in(&mut status);
    tracker.status = Some(status);
    let start = sim.requests().len();
    keep(&surfaces(), &tracker).await;
    assert_eq!(writes_since(&sim, start), Vec::<String>::new());
}
