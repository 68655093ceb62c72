//! The coordinator (the seed's `Coordinator`): GitHub ⇄ PullRequestTracker, and the DriftMonitors of
//! a merged PR. GitHub is the source of truth; the operator writes to GitHub only to repair labels
//! (recovery, facts that moved, conflicts) and for its own verdicts.

use std::sync::Arc;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{
    DriftMonitor, DriftMonitorSpec, DriftPhase, ManifestSource, PullRequestTracker,
    PullRequestTrackerStatus,
};
use prtracker_domain::{LabelDiff, PrState, apply_diff};
use prtracker_github::{GitHubApi, PullRequest};
use tracing::{info, instrument, warn};

use crate::{
    error::SyncError,
    labels::LabelManager,
    result::SyncResult,
    status::{failed_status, needs_write, synced_status},
};

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "prtracker";

/// Keeps PullRequestTrackers and their PRs' labels in agreement.
pub struct Coordinator {
    kube: Client,
    github: Arc<dyn GitHubApi>,
    labels: Arc<dyn LabelManager>,
    monitor_interval: String,
}

impl Coordinator {
    /// The seed's `NewCoordinator`: a Kubernetes client, a GitHub client and a label manager.
    pub fn new(kube: Client, github: Arc<dyn GitHubApi>, labels: Arc<dyn LabelManager>) -> Self {
        Self {
            kube,
            github,
            labels,
            monitor_interval: prtracker_api::interval::DEFAULT_INTERVAL.to_owned(),
        }
    }

    /// The check interval given to the DriftMonitors this coordinator creates.
    pub fn with_monitor_interval(mut self, interval: impl Into<String>) -> Self {
        self.monitor_interval = interval.into();
        self
    }

    /// GitHub → tracker: the tracker's status follows the PR's labels and facts. Writes nothing to
    /// GitHub; a state label that is missing or conflicting shows as `Consistent=False`.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn sync_github_to_prt(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<SyncResult, SyncError> {
        let (repo, pr) = self.fetch(tracker).await?;
        let _ = repo;
        let reading = self.labels.current_state(&pr);
        let mut result = SyncResult::unchanged(recorded_state(tracker).unwrap_or(reading.state));
        result.final_state = reading.state;
        let status = synced_status(tracker, &pr, reading.state, &reading, &result);
        self.write_status(tracker, status).await?;
        Ok(result)
    }

    /// Tracker → GitHub: puts the tracker's state on the PR (the operator's own verdicts, e.g.
    /// Deployed or Drifted). Refuses a state the PR's facts contradict.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn sync_prt_to_github(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<SyncResult, SyncError> {
        let state = recorded_state(tracker);
        let (repo, pr) = self.fetch(tracker).await?;
        let Some(state) = state.filter(|s| s.is_consistent_with(pr.facts())) else {
            let error = SyncError::StateNotApplicable {
                state,
                why: format!("the PR's facts are {:?}", pr.facts()),
            };
            self.record_failure(tracker, &error).await;
            return Err(error);
        };
        self.put_state(tracker, &repo, &pr, state).await
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
        let (repo, pr) = self.fetch(tracker).await?;
        let reading = self.labels.current_state(&pr);
        let target = if !reading.missing {
            reading.state
        } else {
            match recorded_state(tracker) {
                Some(recorded) if recorded.is_consistent_with(pr.facts()) => {
                    info!(state = %recorded, "recovering the tracker's state label on the PR");
                    recorded
                }
                _ => reading.state,
            }
        };
        let result = self.put_state(tracker, &repo, &pr, target).await?;
        let already = !result.changed_labels() && recorded_state(tracker) == Some(target);
        Ok(already)
    }

    /// Puts `state` on the PR (a no-op when it is there alone) and records the outcome.
    async fn put_state(
        &self,
        tracker: &PullRequestTracker,
        repo: &prtracker_api::Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<SyncResult, SyncError> {
        let before = self.labels.current_state(pr);
        let diff = match self.labels.apply_state(repo, pr, state).await {
            Ok(diff) => diff,
            Err(error) => {
                let error = SyncError::from(error);
                self.record_failure(tracker, &error).await;
                return Err(error);
            }
        };
        let after_labels = apply_diff(&pr.label_names(), &diff);
        let mut after_pr = pr.clone();
        after_pr.labels = after_labels
            .into_iter()
            .map(|name| prtracker_github::Label {
                name,
                color: String::new(),
                description: None,
            })
            .collect();
        let after = self.labels.current_state(&after_pr);
        let LabelDiff { add, remove } = diff;
        let result = SyncResult {
            initial_state: recorded_state(tracker).unwrap_or(before.state),
            final_state: state,
            labels_added: add,
            labels_removed: remove,
            errors: Vec::new(),
            sync_time: Timestamp::now(),
        };
        let status = synced_status(tracker, pr, state, &after, &result);
        self.write_status(tracker, status).await?;
        Ok(result)
    }

    /// Records the monitors' combined verdict, and when it moves the state (`new_state`), puts that
    /// state in the status and on the PR (CRD → GitHub). Returns the sync's result when labels moved.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn apply_drift_verdict(
        &self,
        tracker: &PullRequestTracker,
        verdict: DriftPhase,
        new_state: Option<PrState>,
    ) -> Result<Option<SyncResult>, SyncError> {
        let mut status = tracker.status.clone().unwrap_or_default();
        status.drift_verdict = Some(verdict);
        if let Some(state) = new_state {
            status.state = Some(state);
        }
        let written = self.write_status(tracker, status).await?;
        match new_state {
            Some(_) => self.sync_prt_to_github(&written).await.map(Some),
            None => Ok(None),
        }
    }

    /// One DriftMonitor per cluster for a merged tracker, owned by it (deleted with it). Idempotent:
    /// server-side apply under the operator's field manager, so a second call changes nothing.
    #[instrument(skip_all, fields(tracker = %tracker.name_any()))]
    pub async fn create_drift_monitors_for_prt(
        &self,
        tracker: &PullRequestTracker,
        clusters: &[String],
    ) -> Result<Vec<DriftMonitor>, SyncError> {
        let name = tracker.name_any();
        let namespace = tracker
            .namespace()
            .ok_or(SyncError::MissingField("namespace"))?;
        let commit = tracker
            .status
            .as_ref()
            .and_then(|s| s.merge_commit_sha.clone())
            .ok_or_else(|| SyncError::NotMerged(name.clone()))?;
        let owner = tracker
            .controller_owner_ref(&())
            .ok_or(SyncError::MissingField("metadata.uid"))?;
        let api: Api<DriftMonitor> = Api::namespaced(self.kube.clone(), &namespace);
        let mut monitors = Vec::with_capacity(clusters.len());
        for cluster in clusters {
            let mut monitor = DriftMonitor::new(
                &monitor_name(&name, cluster),
                DriftMonitorSpec {
                    tracker: name.clone(),
                    cluster: cluster.clone(),
                    source: ManifestSource {
                        repository: tracker.spec.repository.clone(),
                        commit: commit.clone(),
                        path: tracker.spec.manifests_path.clone(),
                    },
                    interval: self.monitor_interval.clone(),
                },
            );
            monitor.metadata.namespace = Some(namespace.clone());
            monitor.metadata.owner_references = Some(vec![owner.clone()]);
            monitor
                .metadata
                .labels
                .get_or_insert_default()
                .insert("prtracker.io/tracker".into(), name.clone());
            let applied = api
                .patch(
                    &monitor.name_any(),
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&monitor),
                )
                .await?;
            monitors.push(applied);
        }
        let mut status = tracker.status.clone().unwrap_or_default();
        let names: Vec<String> = monitors.iter().map(ResourceExt::name_any).collect();
        if status.drift_monitors != names {
            status.drift_monitors = names;
            self.write_status(tracker, status).await?;
        }
        Ok(monitors)
    }

    async fn fetch(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<(prtracker_api::Repository, PullRequest), SyncError> {
        let repo = tracker.spec.repository.clone();
        match self.github.get_pr(&repo, tracker.spec.number).await {
            Ok(pr) => Ok((repo, pr)),
            Err(error) => {
                let error = SyncError::from(error);
                self.record_failure(tracker, &error).await;
                Err(error)
            }
        }
    }

    /// Records a failed sync in `Synced=False`, best effort: the error itself is what the caller
    /// acts on.
    async fn record_failure(&self, tracker: &PullRequestTracker, error: &SyncError) {
        warn!(%error, "sync failed");
        let status = failed_status(tracker, error.reason(), error.to_string());
        if let Err(write_error) = self.write_status(tracker, status).await {
            warn!(%write_error, "could not record the failure in the tracker's status");
        }
    }

    /// Replaces the tracker's status when it changed, and only then. The write carries the
    /// tracker's resourceVersion, so it cannot overwrite a newer object.
    async fn write_status(
        &self,
        tracker: &PullRequestTracker,
        mut status: PullRequestTrackerStatus,
    ) -> Result<PullRequestTracker, SyncError> {
        if !needs_write(tracker, &status) {
            return Ok(tracker.clone());
        }
        status.last_sync_time = Some(Time(Timestamp::now()));
        let namespace = tracker
            .namespace()
            .ok_or(SyncError::MissingField("namespace"))?;
        let api: Api<PullRequestTracker> = Api::namespaced(self.kube.clone(), &namespace);
        let mut updated = tracker.clone();
        updated.status = Some(status);
        match api
            .replace_status(&tracker.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(written) => Ok(written),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Err(SyncError::Conflict(tracker.name_any()))
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// The state the tracker records, if any.
fn recorded_state(tracker: &PullRequestTracker) -> Option<PrState> {
    tracker.status.as_ref().and_then(|s| s.state)
}

/// `<tracker>-<cluster>`, cut to Kubernetes' 253 characters with a hash suffix when too long, so
/// distinct pairs keep distinct names.
pub fn monitor_name(tracker: &str, cluster: &str) -> String {
    const MAX: usize = 253;
    let name = format!("{tracker}-{cluster}");
    if name.len() <= MAX {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let suffix = format!("-{hash:016x}");
    let keep = MAX - suffix.len();
    let cut = name[..keep].trim_end_matches(['-', '.']);
    format!("{cut}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_names_join_tracker_and_cluster() {
        assert_eq!(monitor_name("pr-7", "staging"), "pr-7-staging");
    }

    #[test]
    fn long_monitor_names_are_cut_and_stay_distinct() {
        let tracker = "a".repeat(240);
        let one = monitor_name(&tracker, "cluster-one-xxxxxxxxxxxx");
        let two = monitor_name(&tracker, "cluster-two-xxxxxxxxxxxx");
        assert!(one.len() <= 253 && two.len() <= 253);
        assert_ne!(one, two);
        assert!(
            one.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
