//! What a sync records in its tracker's status besides a whole plan carried out: a failure, what
//! the surfaces wrote, and a label write stopped part-way.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Api, ResourceExt};
use prtracker_api::{PullRequestTracker, PullRequestTrackerStatus, status::write_status};
use prtracker_domain::{Plan, Record};
use tracing::warn;

use super::Coordinator;
use crate::{error::SyncError, result::SyncResult, status::failed_status, surfaces::Kept};

/// Writes of a label write's record, each after reading the tracker again on a conflict.
const RECORD_ATTEMPTS: usize = 3;

impl Coordinator {
    /// Records a failed sync in `Synced=False`, best effort: the error itself is what the caller
    /// acts on.
    pub(super) async fn record_failure(&self, tracker: &PullRequestTracker, error: &SyncError) {
        warn!(%error, "sync failed");
        let status = failed_status(tracker, error.reason(), error.to_string());
        if let Err(write_error) = self.write(tracker, status).await {
            warn!(%write_error, "could not record the failure in the tracker's status");
        }
    }

    /// A label write stopped part-way (the PR changed under it, or GitHub refused a later
    /// request: `error`). Records what went on the PR (see [`Plan::record_once_written`]) and the
    /// failure, if any, in one write, best effort; a conflict is met by reading the tracker again,
    /// a few times, since a record lost here is a verdict lost for good.
    pub(super) async fn record_partial_write(
        &self,
        tracker: &PullRequestTracker,
        plan: &Plan,
        done: &SyncResult,
        error: Option<&SyncError>,
    ) {
        if let Some(error) = error {
            warn!(%error, "sync failed");
        }
        let mut tracker = tracker.clone();
        for _ in 0..RECORD_ATTEMPTS {
            let mut status = match error {
                Some(error) => failed_status(&tracker, error.reason(), error.to_string()),
                None => tracker.status.clone().unwrap_or_default(),
            };
            labels_put_on(&mut status, plan, done);
            if tracker.status.clone().unwrap_or_default() == status {
                return;
            }
            match self.write(&tracker, status).await {
                Ok(_) => return,
                Err(SyncError::Conflict(_)) => match self.read_again(&tracker).await {
                    Ok(newer) => tracker = newer,
                    Err(read_error) => {
                        warn!(tracker = %tracker.name_any(), %read_error, "could not read the tracker again to record a label write");
                        return;
                    }
                },
                Err(write_error) => {
                    warn!(tracker = %tracker.name_any(), %write_error, "could not record a label write");
                    return;
                }
            }
        }
        warn!(tracker = %tracker.name_any(), "could not record a label write: the tracker kept changing");
    }

    /// The status of a whole write met someone else's newer write: what went on the PR is
    /// recorded against the tracker read again (the one at hand is known to be stale).
    pub(super) async fn record_after_conflict(
        &self,
        tracker: &PullRequestTracker,
        plan: &Plan,
        done: &SyncResult,
    ) {
        if done.labels_added.is_empty() && done.labels_removed.is_empty() {
            return;
        }
        match self.read_again(tracker).await {
            Ok(newer) => self.record_partial_write(&newer, plan, done, None).await,
            Err(read_error) => {
                warn!(tracker = %tracker.name_any(), %read_error, "could not read the tracker again to record a label write");
            }
        }
    }

    async fn read_again(
        &self,
        tracker: &PullRequestTracker,
    ) -> Result<PullRequestTracker, kube::Error> {
        let api: Api<PullRequestTracker> =
            Api::namespaced(self.kube.clone(), &tracker.namespace().unwrap_or_default());
        api.get(&tracker.name_any()).await
    }

    /// Records what the surfaces wrote in the tracker's status as it was read, nothing else;
    /// a failure is only logged (the next sync finds the writes again by listing).
    pub(super) async fn record_surfaces(&self, tracker: &PullRequestTracker, kept: Kept) {
        let mut status = tracker.status.clone().unwrap_or_default();
        kept.record_in(&mut status);
        if let Err(error) = write_status(&self.kube, tracker, status).await {
            warn!(%error, "could not record what was written to the PR's surfaces");
        }
    }

    /// Writes the status when it says something new, stamped with the time of the sync.
    pub(super) async fn write(
        &self,
        tracker: &PullRequestTracker,
        mut status: PullRequestTrackerStatus,
    ) -> Result<Option<PullRequestTracker>, SyncError> {
        status.last_sync_time = Some(Time(Timestamp::now()));
        Ok(write_status(&self.kube, tracker, status).await?)
    }
}

/// Records what went on the PR when a write of `plan` ended early (see
/// [`Plan::record_once_written`]).
fn labels_put_on(status: &mut PullRequestTrackerStatus, plan: &Plan, done: &SyncResult) {
    let before = Record {
        state: status.state,
        verdict: status.drift_verdict,
    };
    let after = plan.record_once_written(&done.labels_added, &done.labels_removed, before);
    status.state = after.state;
    status.drift_verdict = after.verdict;
    if !done.labels_added.is_empty() || !done.labels_removed.is_empty() {
        status.state_labels = plan.state_labels_left(&done.labels_added, &done.labels_removed);
    }
}

/// What the tracker recorded.
pub(super) fn record(tracker: &PullRequestTracker) -> Record {
    let status = tracker.status.as_ref();
    Record {
        state: status.and_then(|s| s.state),
        verdict: status.and_then(|s| s.drift_verdict),
    }
}
