//! What a merged PR shows on GitHub beyond its label (issue #16), each surface opt-in: the one
//! comment, a Deployment per cluster, a commit status per cluster and a check run per cluster.
//! Brought up to date after the labels and the monitors; a failure is recorded in the status and
//! retried like a monitor's, the labels being right.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kube::ResourceExt;
use prtracker_api::{
    CheckRunRecord, CommitStatusRecord, DeploymentRecord, DriftMonitor, DriftMonitorStatus,
    PrCommentStatus, PullRequestTracker, PullRequestTrackerStatus, names::monitor_name,
};
use prtracker_domain::{LabelPrefix, Plan};
use prtracker_github::{MAX_DEPLOYMENT_DESCRIPTION, PullRequest};
use tracing::warn;

use crate::{
    check_runs::{self, CheckRunKeeper},
    commit_statuses::{self, CommitStatusKeeper},
    deployments::{self, DeploymentKeeper},
    error::SyncError,
    pr_comment::{self, PrCommentKeeper},
    result::SyncResult,
};

/// The surfaces turned on.
#[derive(Default, Clone)]
pub struct Surfaces {
    pub comments: Option<Arc<PrCommentKeeper>>,
    pub deployments: Option<Arc<DeploymentKeeper>>,
    pub commit_statuses: Option<Arc<CommitStatusKeeper>>,
    pub check_runs: Option<Arc<CheckRunKeeper>>,
    /// What this leader wrote last, per tracker.
    pub written: Arc<LastWritten>,
}

/// The surfaces' records of one tracker: what was last written to GitHub.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Records {
    pub comment: Option<PrCommentStatus>,
    pub deployments: Vec<DeploymentRecord>,
    pub commit_statuses: Vec<CommitStatusRecord>,
    pub check_runs: Vec<CheckRunRecord>,
}

impl Records {
    fn of(status: Option<&PullRequestTrackerStatus>) -> Self {
        status.map_or_else(Self::default, |s| Self {
            comment: s.pr_comment.clone(),
            deployments: s.deployments.clone(),
            commit_statuses: s.commit_statuses.clone(),
            check_runs: s.check_runs.clone(),
        })
    }

    fn after(mut self, kept: &Kept) -> Self {
        if kept.comment.is_some() {
            self.comment.clone_from(&kept.comment);
        }
        if let Some(new) = &kept.deployments {
            self.deployments.clone_from(new);
        }
        if let Some(new) = &kept.commit_statuses {
            self.commit_statuses.clone_from(new);
        }
        if let Some(new) = &kept.check_runs {
            self.check_runs.clone_from(new);
        }
        self
    }
}

/// What this leader last wrote to each tracker's surfaces, for a few minutes. The tracker's
/// status is the lasting record, but a sync may start from a cached tracker that does not show
/// the previous sync's status write yet (the watch lags it by a moment), and would write the same
/// thing to GitHub again. No other replica writes while this one leads (it exits on losing the
/// lease), so what it remembers is never older than the status.
#[derive(Debug, Default)]
pub struct LastWritten {
    by_tracker: Mutex<HashMap<String, (Instant, Records)>>,
}

impl LastWritten {
    /// How long a write is remembered: far longer than the watch lags the write.
    const HORIZON: Duration = Duration::from_secs(300);

    fn get(&self, tracker: &str) -> Option<Records> {
        let map = self.by_tracker.lock().unwrap_or_else(|e| e.into_inner());
        map.get(tracker)
            .filter(|(at, _)| at.elapsed() < Self::HORIZON)
            .map(|(_, records)| records.clone())
    }

    fn put(&self, tracker: String, records: Records) {
        let mut map = self.by_tracker.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 1024 {
            map.retain(|_, (at, _)| at.elapsed() < Self::HORIZON);
        }
        map.insert(tracker, (Instant::now(), records));
    }
}

/// What the surfaces' writes leave to record in the status; `None` leaves the record as it was.
#[derive(Debug, Default)]
pub struct Kept {
    pub comment: Option<PrCommentStatus>,
    pub deployments: Option<Vec<DeploymentRecord>>,
    pub commit_statuses: Option<Vec<CommitStatusRecord>>,
    pub check_runs: Option<Vec<CheckRunRecord>>,
}

impl Kept {
    /// Puts the records into `status`, leaving those the sync did not touch as they were.
    pub fn record_in(self, status: &mut PullRequestTrackerStatus) {
        if self.comment.is_some() {
            status.pr_comment = self.comment;
        }
        if let Some(deployments) = self.deployments {
            status.deployments = deployments;
        }
        if let Some(statuses) = self.commit_statuses {
            status.commit_statuses = statuses;
        }
        if let Some(runs) = self.check_runs {
            status.check_runs = runs;
        }
    }
}

/// What one sync knows that the surfaces are made from.
pub struct Sources<'a> {
    pub tracker: &'a PullRequestTracker,
    pub pr: &'a PullRequest,
    pub plan: &'a Plan,
    pub monitors: &'a [DriftMonitor],
    /// The clusters the PR's change reaches (every cluster of the spec, before the merge).
    pub clusters: &'a [String],
    pub prefix: &'a LabelPrefix,
}

impl Surfaces {
    /// Brings every surface turned on up to date; failures go to `result` and `incomplete`.
    pub async fn keep(
        &self,
        sources: &Sources<'_>,
        result: &mut SyncResult,
        incomplete: &mut Option<SyncError>,
    ) -> Kept {
        let mut kept = Kept::default();
        if !monitors_caught_up(sources.tracker, sources.clusters, sources.monitors) {
            return kept;
        }
        let mut failed = |what: &str, error: prtracker_github::GitHubError| {
            warn!(%error, "could not write the PR's {what}");
            result.errors.push(format!("the PR's {what}: {error}"));
            incomplete.get_or_insert(SyncError::from(error));
        };
        let tracker = sources.tracker;
        let (repo, number) = (&tracker.spec.repository, tracker.spec.number);
        let key = tracker
            .metadata
            .uid
            .clone()
            .unwrap_or_else(|| tracker.name_any());
        let records = self
            .written
            .get(&key)
            .unwrap_or_else(|| Records::of(tracker.status.as_ref()));
        if let Some(keeper) = &self.comments
            && let Some(body) = pr_comment::body_for(
                tracker,
                sources.clusters,
                sources.pr,
                sources.plan,
                sources.monitors,
                sources.prefix,
            )
        {
            let recorded = records.comment.as_ref();
            match keeper.keep(repo, number, &body, recorded).await {
                Ok(record) => kept.comment = Some(record),
                Err(error) => failed("comment", error),
            }
        }
        if let Some(keeper) = &self.deployments
            && let Some(commit) = sources
                .pr
                .merge_commit_sha
                .as_deref()
                .filter(|_| sources.pr.is_merged())
        {
            let desired =
                deployments::desired(sources.clusters, sources.monitors, keeper.environments());
            let recorded = records.deployments.as_slice();
            let (records, error) = keeper.keep(repo, number, commit, &desired, recorded).await;
            kept.deployments = Some(records);
            if let Some(error) = error {
                failed("deployments", error);
            }
        }
        if let Some(keeper) = &self.commit_statuses
            && let Some(commit) = sources
                .pr
                .merge_commit_sha
                .as_deref()
                .filter(|_| sources.pr.is_merged())
        {
            let desired = commit_statuses::desired(sources.clusters, sources.monitors);
            let recorded = records.commit_statuses.as_slice();
            let (records, error) = keeper.keep(repo, commit, &desired, recorded).await;
            kept.commit_statuses = Some(records);
            if let Some(error) = error {
                failed("commit statuses", error);
            }
        }
        if let Some(keeper) = &self.check_runs
            && let Some(commit) = sources
                .pr
                .merge_commit_sha
                .as_deref()
                .filter(|_| sources.pr.is_merged())
        {
            let desired = check_runs::desired(sources.clusters, sources.monitors);
            let recorded = records.check_runs.as_slice();
            let (records, error) = keeper.keep(repo, commit, &desired, recorded).await;
            kept.check_runs = Some(records);
            if let Some(error) = error {
                failed("check runs", error);
            }
        }
        self.written.put(key, records.after(&kept));
        kept
    }
}

/// Whether every monitor the tracker knows of is in the cache: just after a start it may not be
/// yet, and the surfaces would say "not checked" for a moment (an edit, a status posted for
/// nothing). They wait for the cache instead.
fn monitors_caught_up(
    tracker: &PullRequestTracker,
    clusters: &[String],
    monitors: &[DriftMonitor],
) -> bool {
    let known = tracker
        .status
        .as_ref()
        .map(|s| s.drift_monitors.as_slice())
        .unwrap_or_default();
    let name = tracker.name_any();
    clusters.iter().all(|cluster| {
        !known.contains(&monitor_name(&name, cluster))
            || monitors.iter().any(|m| &m.spec.cluster == cluster)
    })
}

/// The status of `cluster`'s monitor among `monitors`, if it has one yet.
pub(crate) fn monitor_status<'a>(
    monitors: &'a [DriftMonitor],
    cluster: &str,
) -> Option<&'a DriftMonitorStatus> {
    monitors
        .iter()
        .find(|m| m.spec.cluster == cluster)
        .and_then(|m| m.status.as_ref())
}

/// What a drift is, in a line: `changed by hand in CLUSTER: KIND NAME FIELD` (or `missing`).
pub(crate) fn changed_by_hand(cluster: &str, status: Option<&DriftMonitorStatus>) -> String {
    let what = status
        .and_then(|s| s.drifted_resources.first())
        .map(|r| match r.fields.first() {
            _ if r.missing => format!(": {} {} missing", r.kind, r.name),
            Some(field) => format!(": {} {} {}", r.kind, r.name, field.path),
            None => format!(": {} {}", r.kind, r.name),
        })
        .unwrap_or_default();
    format!("changed by hand in {cluster}{what}")
}

/// GitHub's 140 characters for a deployment's or a commit's status description, cut on a
/// character.
pub(crate) fn bounded_description(text: String) -> String {
    if text.chars().count() <= MAX_DEPLOYMENT_DESCRIPTION {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_DEPLOYMENT_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}
