//! The surfaces of a merged PR against the GitHub simulator, from a tracker as the operator's
//! cache may show it just after a sync: without that sync's status write yet. The leader
//! remembers what it wrote, so the next sync writes nothing again; another leader (a fresh
//! `Surfaces`) goes by the status, and with the status wiped finds every write again by reading.

use std::sync::Arc;

use prtracker_api::{
    DriftMonitor, DriftMonitorSpec, DriftMonitorStatus, DriftPhase, ManifestSource,
    PullRequestTracker, PullRequestTrackerSpec,
};
use prtracker_domain::{LabelPrefix, Observation, Plan, PrState, Record, Repository};
use prtracker_github::{
    Deployments, GitHubAuth, GitHubConfig, NewDeployment, OctocrabGitHub, PullRequest,
};
use prtracker_github_sim::{NewPull, Simulator, SimulatorHandle};
use prtracker_sync::{
    CommitStatusKeeper, DeploymentKeeper, Environments, PrCommentKeeper, SyncResult,
    surfaces::{Kept, Sources, Surfaces},
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

/// A merged PR with two clusters live, and what a sync of its surfaces reads.
struct MergedPr {
    sim: SimulatorHandle,
    github: Arc<OctocrabGitHub>,
    tracker: PullRequestTracker,
    pr: PullRequest,
    merge: String,
    plan: Plan,
    monitors: [DriftMonitor; 2],
    prefix: LabelPrefix,
}

impl MergedPr {
    async fn start() -> Self {
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
        Self {
            sim,
            github,
            tracker,
            pr,
            merge,
            plan,
            monitors,
            prefix,
        }
    }

    /// A leader's surfaces, as a fresh replica starts with them: the comment, deployments and
    /// commit statuses.
    fn surfaces(&self) -> Surfaces {
        Surfaces {
            comments: Some(Arc::new(PrCommentKeeper::new(self.github.clone()))),
            deployments: Some(Arc::new(DeploymentKeeper::new(
                self.github.clone(),
                Environments::default(),
            ))),
            commit_statuses: Some(Arc::new(CommitStatusKeeper::new(self.github.clone()))),
            check_runs: None,
            written: Arc::default(),
        }
    }

    /// One sync of the surfaces from `tracker`, which must write everything it tries.
    async fn keep(&self, surfaces: &Surfaces, tracker: &PullRequestTracker) -> Kept {
        let clusters = tracker.spec.cluster_names();
        let sources = Sources {
            tracker,
            pr: &self.pr,
            plan: &self.plan,
            monitors: &self.monitors,
            clusters: &clusters,
            prefix: &self.prefix,
        };
        let mut result = SyncResult::unchanged(PrState::Merged);
        let mut incomplete = None;
        let kept = surfaces.keep(&sources, &mut result, &mut incomplete).await;
        assert!(incomplete.is_none(), "{:?}", result.errors);
        kept
    }

    fn writes_since(&self, from: usize) -> Vec<String> {
        writes_since(&self.sim, from)
    }
}

#[tokio::test]
async fn a_sync_from_a_tracker_not_showing_the_last_write_yet_writes_nothing_again() {
    let world = MergedPr::start().await;
    let mut tracker = world.tracker.clone();
    let leader = world.surfaces();

    // The first sync: a comment, a deployment and its status and a commit status per cluster.
    let start = world.sim.requests().len();
    let kept = world.keep(&leader, &tracker).await;
    let first = world.writes_since(start);
    assert_eq!(first.len(), 1 + 2 * 3, "{first:#?}");

    // The same tracker again, its status not showing that write: nothing is written again.
    let start = world.sim.requests().len();
    world.keep(&leader, &tracker).await;
    assert_eq!(world.writes_since(start), Vec::<String>::new());

    // Another leader, the status wiped: each write is found again on GitHub, by reads only.
    let start = world.sim.requests().len();
    world.keep(&world.surfaces(), &tracker).await;
    assert_eq!(world.writes_since(start), Vec::<String>::new());

    // Another leader reads the status, once written: nothing either.
    let mut status = tracker.status.clone().unwrap_or_default();
    kept.record_in(&mut status);
    tracker.status = Some(status);
    let start = world.sim.requests().len();
    world.keep(&world.surfaces(), &tracker).await;
    assert_eq!(world.writes_since(start), Vec::<String>::new());
}

#[tokio::test]
async fn another_tools_deployment_of_the_commit_is_never_taken_for_prtrackers() {
    let world = MergedPr::start().await;
    let repo: Repository = REPO.parse().expect("repository");
    // A CD pipeline deploys the merge commit to staging first, with GitHub's default task.
    let theirs = world
        .github
        .create_deployment(
            &repo,
            &NewDeployment {
                git_ref: &world.merge,
                task: "deploy",
                environment: "staging",
                description: "by the pipeline",
                production_environment: false,
                auto_merge: false,
                required_contexts: Vec::new(),
                transient_environment: false,
            },
        )
        .await
        .expect("the pipeline's deployment");

    // prtracker makes its own deployment in each environment, and posts nothing on theirs.
    let kept = world.keep(&world.surfaces(), &world.tracker).await;
    let ours: Vec<u64> = kept
        .deployments
        .expect("deployments kept")
        .iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(!ours.contains(&theirs.id), "{ours:?} took {}", theirs.id);
    assert_eq!(
        world
            .github
            .latest_deployment_status(&repo, theirs.id)
            .await
            .expect("their statuses"),
        None
    );

    // A replica that lost the record finds prtracker's deployments again, by reads only.
    let start = world.sim.requests().len();
    let again = world.keep(&world.surfaces(), &world.tracker).await;
    assert_eq!(world.writes_since(start), Vec::<String>::new());
    let found: Vec<u64> = again
        .deployments
        .expect("deployments found")
        .iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(found, ours);
}
