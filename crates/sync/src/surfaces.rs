//! What a merged PR shows on GitHub beyond its label (issue #16), each surface opt-in: the one
//! comment, and a Deployment per cluster. Brought up to date after the labels and the monitors;
//! a failure is recorded in the status and retried like a monitor's, the labels being right.

use std::sync::Arc;

use prtracker_api::{DeploymentRecord, DriftMonitor, PrCommentStatus, PullRequestTracker};
use prtracker_domain::{LabelPrefix, Plan};
use prtracker_github::PullRequest;
use tracing::warn;

use crate::{
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
}

/// What the surfaces' writes leave to record in the status; `None` leaves the record as it was.
#[derive(Debug, Default)]
pub struct Kept {
    pub comment: Option<PrCommentStatus>,
    pub deployments: Option<Vec<DeploymentRecord>>,
}

/// What one sync knows that the surfaces are made from.
pub struct Sources<'a> {
    pub tracker: &'a PullRequestTracker,
    pub pr: &'a PullRequest,
    pub plan: &'a Plan,
    pub monitors: &'a [DriftMonitor],
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
        let mut failed = |what: &str, error: prtracker_github::GitHubError| {
            warn!(%error, "could not write the PR's {what}");
            result.errors.push(format!("the PR's {what}: {error}"));
            incomplete.get_or_insert(SyncError::from(error));
        };
        let tracker = sources.tracker;
        let (repo, number) = (&tracker.spec.repository, tracker.spec.number);
        let status = tracker.status.as_ref();
        if let Some(keeper) = &self.comments
            && let Some(body) = pr_comment::body_for(
                tracker,
                sources.pr,
                sources.plan,
                sources.monitors,
                sources.prefix,
            )
        {
            let recorded = status.and_then(|s| s.pr_comment.as_ref());
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
            let desired = deployments::desired(
                &tracker.spec.clusters,
                sources.monitors,
                keeper.environments(),
            );
            let recorded = status.map(|s| s.deployments.as_slice()).unwrap_or_default();
            let (records, error) = keeper.keep(repo, number, commit, &desired, recorded).await;
            kept.deployments = Some(records);
            if let Some(error) = error {
                failed("deployments", error);
            }
        }
        kept
    }
}
