//! The coordinator (the seed's `Coordinator`): GitHub ⇄ PullRequestTracker, and the DriftMonitors of
//! a merged PR. GitHub is the source of truth; the operator writes to GitHub only to repair labels
//! (recovery, facts that moved, conflicts) and for its own verdicts.
//!
//! Every entry point is the same three steps: read once (the PR; the tracker and its monitors come
//! from the caller), plan (pure, in the domain), carry the plan out (the PR's labels, the monitors,
//! then the status, written once and only when it changed).

use std::{sync::Arc, time::Duration};

use k8s_openapi::jiff::Timestamp;
use kube::{Client, ResourceExt};
use prtracker_api::{
    DriftMonitor, PullRequestTracker, interval::parse_go_duration, names::monitor_name,
};
use prtracker_domain::{NotApplicable, Observation, Plan};
use prtracker_github::{GitHubApi, PullRequest};
use tracing::{info, instrument, warn};

use crate::{
    error::SyncError,
    feed::{PullRequests, ReadEachTime},
    labels::{LabelManager, LabelWrite, Written},
    monitors::{self, Target},
    reach::{self, ChangeReach, Reached},
    result::SyncResult,
    status::{MonitorsAfter, synced_status},
    surfaces::{Sources, Surfaces},
};

mod echoes;
mod records;

pub use crate::heard::{Freshness, MergedBy};
use crate::heard::{HearsNothing, KnowsNoMerge};
use echoes::NotedWrites;
use records::record;

/// Keeps PullRequestTrackers and their PRs' labels in agreement.
pub struct Coordinator {
    kube: Client,
    reads: Arc<dyn PullRequests>,
    labels: Arc<dyn LabelManager>,
    monitor_interval: String,
    settle_window: Duration,
    freshness: Arc<dyn Freshness>,
    merges: Arc<dyn MergedBy>,
    /// What the PR shows beyond its label (a comment, deployments), as turned on.
    surfaces: Surfaces,
    /// Which targets a merged PR's change reaches; without it, every target is reached.
    reach: Option<Arc<dyn ChangeReach>>,
}

/// How long a drift must hold before it moves a PR's label, unless its tracker says otherwise: a
/// rollout usually finishes well within it.
pub const DEFAULT_SETTLE_WINDOW: Duration = Duration::from_secs(120);

/// What one sync did.
#[derive(Debug)]
pub struct Synced {
    /// The tracker as it now stands (as written, or as it was when its status already said all).
    pub tracker: PullRequestTracker,
    /// The plan carried out.
    pub plan: Plan,
    pub result: SyncResult,
    /// Whether the status was written.
    pub status_written: bool,
    /// Clusters whose monitor was created or updated, and those whose monitor was deleted.
    pub monitors_applied: Vec<String>,
    pub monitors_retired: Vec<String>,
    /// A write that failed after the labels were put right (a monitor the apiserver refused): the
    /// status records it, and the caller retries.
    pub incomplete: Option<SyncError>,
    /// When the PR was closed or merged, as GitHub says (`2024-01-01T00:00:00Z`); `None` while open.
    pub closed_at: Option<String>,
}

impl Coordinator {
    /// The seed's `NewCoordinator`: a Kubernetes client, a GitHub client and a label manager.
    pub fn new(kube: Client, github: Arc<dyn GitHubApi>, labels: Arc<dyn LabelManager>) -> Self {
        Self {
            kube,
            reads: Arc::new(ReadEachTime(github)),
            labels,
            monitor_interval: prtracker_api::interval::DEFAULT_INTERVAL.to_owned(),
            settle_window: DEFAULT_SETTLE_WINDOW,
            freshness: Arc::new(HearsNothing),
            merges: Arc::new(KnowsNoMerge),
            surfaces: Surfaces::default(),
            reach: None,
        }
    }

    /// Where the coordinator learns which targets a merged PR's change reaches: only those get a
    /// monitor (without it, every target of the spec does, as the seed's coordinator did).
    pub fn with_reach(mut self, reach: Arc<dyn ChangeReach>) -> Self {
        self.reach = Some(reach);
        self
    }

    /// How long a drift must hold before it moves the PR's label, where the tracker does not say.
    pub fn with_settle_window(mut self, window: Duration) -> Self {
        self.settle_window = window;
        self
    }

    /// The settle window of `tracker`: its own, else the coordinator's.
    fn settle_window(&self, tracker: &PullRequestTracker) -> Duration {
        tracker
            .spec
            .settle_window
            .as_deref()
            .and_then(parse_go_duration)
            .unwrap_or(self.settle_window)
    }

    /// Where the coordinator learns which tracked PR merged a commit.
    pub fn with_merges(mut self, merges: Arc<dyn MergedBy>) -> Self {
        self.merges = merges;
        self
    }

    /// What each merged PR shows beyond its label: its comment, its deployments (off by default).
    pub fn with_surfaces(mut self, surfaces: Surfaces) -> Self {
        self.surfaces = surfaces;
        self
    }

    /// Where the coordinator reads PRs (by default, a GET each time).
    pub fn with_reads(mut self, reads: Arc<dyn PullRequests>) -> Self {
        self.reads = reads;
        self
    }

    /// Where the coordinator learns of changes to a PR made after it read it.
    pub fn with_freshness(mut self, freshness: Arc<dyn Freshness>) -> Self {
        self.freshness = freshness;
        self
    }

    /// The check interval given to the DriftMonitors this coordinator creates.
    pub fn with_monitor_interval(mut self, interval: impl Into<String>) -> Self {
        self.monitor_interval = interval.into();
        self
    }

    /// One whole reconcile of a tracker whose monitors are `monitors`: the PR's state (GitHub wins;
    /// a missing label recovered; conflicts removed), the monitors' verdict, the monitors of a
    /// merged PR; one GitHub read, the label writes the plan needs, at most one status write.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn reconcile(
        &self,
        tracker: &PullRequestTracker,
        monitors: &[DriftMonitor],
    ) -> Result<Synced, SyncError> {
        self.sync(tracker, monitors, |observed| Ok(Plan::reconcile(observed)))
            .await
    }

    /// GitHub → tracker: the tracker's status follows the PR's labels and facts. Writes nothing to
    /// GitHub; a state label that is missing or conflicting shows as `Consistent=False`.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn sync_github_to_prt(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<SyncResult, SyncError> {
        let synced = self
            .sync(tracker, &[], |observed| Ok(Plan::follow_github(observed)))
            .await?;
        Ok(synced.result)
    }

    /// Tracker → GitHub: puts the tracker's recorded state on the PR (the operator's own verdicts,
    /// e.g. Deployed or Drifted). Refuses a state the PR's facts contradict.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn sync_prt_to_github(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<SyncResult, SyncError> {
        let synced = self.sync(tracker, &[], Plan::push_recorded).await?;
        Ok(synced.result)
    }

    /// A full check (the seed's `EnsureConsistency`): GitHub wins where it shows a state label; where
    /// it shows none, the tracker's state goes back on the PR if the facts allow it, else the facts'
    /// state does; losing and contradicting state labels are removed. Returns true when everything
    /// already agreed (nothing was written anywhere).
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn ensure_consistency(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<bool, SyncError> {
        let synced = self
            .sync(tracker, &[], |observed| {
                Ok(Plan::ensure_consistency(observed))
            })
            .await?;
        Ok(!synced.status_written && !synced.plan.changes_labels())
    }

    /// One DriftMonitor per cluster for a merged tracker, owned by it (deleted with it). Idempotent:
    /// server-side apply under the operator's field manager, so a second call changes nothing.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn create_drift_monitors_for_prt(
        &self,
        tracker: &PullRequestTracker,
        clusters: &[String],
    ) -> Result<Vec<DriftMonitor>, SyncError> {
        let commit = tracker
            .status
            .as_ref()
            .and_then(|s| s.merge_commit_sha.clone())
            .ok_or_else(|| SyncError::NotMerged(tracker.name_any()))?;
        let mut created = Vec::with_capacity(clusters.len());
        for cluster in clusters {
            let base_branch = tracker.status.as_ref().and_then(|s| s.base_ref.as_deref());
            let target = Target {
                commit: &commit,
                base_branch,
                interval: &self.monitor_interval,
            };
            let desired = monitors::desired(tracker, cluster, target)?;
            created.push(monitors::apply(&self.kube, &desired).await?);
        }
        let mut status = tracker.status.clone().unwrap_or_default();
        let names: Vec<String> = created.iter().map(ResourceExt::name_any).collect();
        if status.drift_monitors != names {
            status.drift_monitors = names;
            self.write(tracker, status).await?;
        }
        Ok(created)
    }

    /// Read, plan, carry out.
    async fn sync(
        &self,
        tracker: &PullRequestTracker,
        monitors: &[DriftMonitor],
        make_plan: impl FnOnce(&Observation<'_>) -> Result<Plan, NotApplicable>,
    ) -> Result<Synced, SyncError> {
        let (repo, number) = (&tracker.spec.repository, tracker.spec.number);
        let heard = self.freshness.heard(repo, number);
        let pr = self.read_pr(tracker).await?;
        let commit = merge_commit(&pr);
        let target = commit.map(|commit| self.target(&pr, commit));
        let seen = monitors::seen(tracker, target, monitors, Timestamp::now());
        let labels = pr.label_names();
        let last_added = self.freshness.last_added(repo, number);
        let reached = match (&self.reach, target) {
            (Some(reach), Some(target)) => {
                reach::decide(reach.as_ref(), tracker, target, monitors).await?
            }
            _ => Reached::every(tracker),
        };
        let observed = Observation {
            labels: &labels,
            facts: pr.facts(),
            merge_commit_known: commit.is_some(),
            record: record(tracker),
            clusters: &reached.clusters,
            monitors: &seen,
            prefix: self.labels.prefix(),
            settle: self.settle_window(tracker),
            last_added: last_added.as_ref().map(|(label, _)| label.as_str()),
            left: tracker
                .status
                .as_ref()
                .map_or(&[], |s| s.state_labels.as_slice()),
        };
        match make_plan(&observed) {
            Ok(plan) => {
                let plan = match &last_added {
                    Some((_, age)) => plan.waiting_for_the_person(*age),
                    None => plan,
                };
                self.carry_out(tracker, &pr, plan, monitors, heard, reached)
                    .await
            }
            Err(refused) => {
                let error = SyncError::StateNotApplicable {
                    state: refused.state,
                    why: format!("the PR's facts are {:?}", refused.facts),
                };
                self.record_failure(tracker, &error).await;
                Err(error)
            }
        }
    }

    /// The labels, then the monitors, then the status, once.
    async fn carry_out(
        &self,
        tracker: &PullRequestTracker,
        pr: &PullRequest,
        plan: Plan,
        existing: &[DriftMonitor],
        heard: u64,
        reached: Reached,
    ) -> Result<Synced, SyncError> {
        let (repo, number) = (&tracker.spec.repository, tracker.spec.number);
        let still_fresh = || self.freshness.heard(repo, number) == heard;
        let noted = NotedWrites::new(self.freshness.as_ref(), repo, number);
        let may_write = |write: &LabelWrite| {
            let fresh = still_fresh();
            if fresh {
                noted.note(write);
            }
            fresh
        };
        let stale = || SyncError::StaleRead(tracker.name_any());
        let mut result = SyncResult::unchanged(plan.initial);
        result.final_state = plan.target;
        if plan.changes_labels() {
            let written = self
                .labels
                .write_state(repo, pr, plan.target, &may_write)
                .await;
            noted.settle(&written);
            // Whatever was written (even in part), the PR as read is no more.
            self.reads.changed(repo, number);
            match written {
                Ok(Written::Done(done)) => {
                    result.labels_added = done.labels_added;
                    result.labels_removed = done.labels_removed;
                    result.errors = done.errors;
                }
                Ok(Written::Interrupted(done)) => {
                    info!(added = ?done.labels_added, removed = ?done.labels_removed, "the PR changed under the write; reading it again");
                    self.record_partial_write(tracker, &plan, &done, None).await;
                    return Err(stale());
                }
                Ok(Written::Failed(done, error)) => {
                    let error = SyncError::from(error);
                    self.record_partial_write(tracker, &plan, &done, Some(&error))
                        .await;
                    return Err(error);
                }
                Err(error) => {
                    let error = SyncError::from(error);
                    self.record_failure(tracker, &error).await;
                    return Err(error);
                }
            }
        }

        // Said in the status (lastSyncResult), not only retried: the PR has no monitor to say it.
        if let Some(error) = &reached.undecided {
            result.errors.push(error.to_string());
        }
        let mut incomplete = reached.undecided;
        let mut applied = Vec::new();
        let mut retired = Vec::new();
        let monitor_names = match &plan.monitors {
            None => tracker
                .status
                .as_ref()
                .map(|s| s.drift_monitors.clone())
                .unwrap_or_default(),
            Some(monitor_plan) => {
                let commit = merge_commit(pr).unwrap_or_default();
                let target = self.target(pr, commit);
                for cluster in &monitor_plan.apply {
                    let outcome = match monitors::desired(tracker, cluster, target) {
                        Ok(desired) => monitors::apply(&self.kube, &desired).await,
                        Err(error) => Err(error),
                    };
                    match outcome {
                        Ok(_) => applied.push(cluster.clone()),
                        Err(error) => {
                            warn!(%cluster, %error, "could not create the cluster's DriftMonitor");
                            result
                                .errors
                                .push(format!("the DriftMonitor of cluster {cluster}: {error}"));
                            incomplete.get_or_insert(error);
                        }
                    }
                }
                for cluster in &monitor_plan.retire {
                    for monitor in existing.iter().filter(|m| &m.spec.cluster == cluster) {
                        match monitors::retire(&self.kube, monitor).await {
                            Ok(()) => retired.push(cluster.clone()),
                            Err(error) => {
                                warn!(%cluster, %error, "could not delete the cluster's DriftMonitor");
                                result.errors.push(format!(
                                    "deleting the DriftMonitor of cluster {cluster}, no longer in the spec: {error}"
                                ));
                                incomplete.get_or_insert(error);
                            }
                        }
                    }
                }
                let name = tracker.name_any();
                monitor_plan
                    .wanted
                    .iter()
                    .filter(|cluster| {
                        applied.contains(cluster)
                            || existing.iter().any(|m| &&m.spec.cluster == cluster)
                    })
                    .map(|cluster| monitor_name(&name, cluster))
                    .collect()
            }
        };

        let sources = Sources {
            tracker,
            pr,
            plan: &plan,
            monitors: existing,
            clusters: &reached.clusters,
            prefix: self.labels.prefix(),
        };
        let kept = self
            .surfaces
            .keep(&sources, &mut result, &mut incomplete)
            .await;

        // A status from a read that a newer change has overtaken would only be overwritten; but
        // what the surfaces wrote to GitHub is a fact whatever the PR did meanwhile, and without
        // its record the next sync would write it again.
        if !still_fresh() {
            self.record_surfaces(tracker, kept).await;
            return Err(stale());
        }
        let superseding_pr = existing
            .iter()
            .find_map(|m| m.status.as_ref()?.superseded_by.as_deref())
            .and_then(|commit| self.merges.pull_request(repo, commit));
        let after = MonitorsAfter {
            names: monitor_names,
            judged: plan.monitors.as_ref().map(|_| existing),
            superseding_pr,
            reach: reached.record,
        };
        let mut status = synced_status(tracker, pr, &plan, &result, after);
        kept.record_in(&mut status);
        let (tracker, status_written) = match self.write(tracker, status).await {
            Ok(Some(written)) => (written, true),
            Ok(None) => (tracker.clone(), false),
            Err(error) => {
                if matches!(error, SyncError::Conflict(_)) {
                    self.record_after_conflict(tracker, &plan, &result).await;
                } else {
                    self.record_partial_write(tracker, &plan, &result, None)
                        .await;
                }
                return Err(error);
            }
        };
        Ok(Synced {
            tracker,
            plan,
            result,
            status_written,
            monitors_applied: applied,
            monitors_retired: retired,
            incomplete,
            closed_at: pr.closed_at.clone(),
        })
    }

    /// What the monitors of a merged PR check.
    fn target<'a>(&'a self, pr: &'a PullRequest, commit: &'a str) -> Target<'a> {
        Target {
            commit,
            base_branch: Some(pr.base.branch.as_str()).filter(|b| !b.is_empty()),
            interval: &self.monitor_interval,
        }
    }

    async fn read_pr(&self, tracker: &PullRequestTracker) -> Result<PullRequest, SyncError> {
        match self
            .reads
            .read(&tracker.spec.repository, tracker.spec.number)
            .await
        {
            Ok(pr) => Ok(pr),
            Err(error) => {
                let error = SyncError::from(error);
                self.record_failure(tracker, &error).await;
                Err(error)
            }
        }
    }
}

/// The merge commit of a merged PR (GitHub's field names a test merge before that).
fn merge_commit(pr: &PullRequest) -> Option<&str> {
    pr.merge_commit_sha
        .as_deref()
        .filter(|sha| pr.is_merged() && !sha.is_empty())
}
