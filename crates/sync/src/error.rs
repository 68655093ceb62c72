//! What can stop a sync.

use prtracker_api::status::StatusWriteError;
use prtracker_domain::PrState;
use prtracker_github::GitHubError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),

    #[error("writing to Kubernetes: {0}")]
    Kube(#[from] kube::Error),

    /// The tracker changed since it was read; the caller reads it again and retries.
    #[error("the tracker {0} changed while it was being synced; retry with the newer object")]
    Conflict(String),

    /// A change to the PR arrived after it was read (a webhook, or labels that moved under a
    /// write): nothing more is written on the strength of that read; the caller reads again.
    #[error("the PR of tracker {0} changed after it was read; reading it again before writing")]
    StaleRead(String),

    /// The tracker has no state to push to GitHub, or one the PR's facts contradict.
    #[error("cannot put {state:?} on the PR: {why}")]
    StateNotApplicable { state: Option<PrState>, why: String },

    /// Drift monitors watch a merge commit; an unmerged PR has none.
    #[error("the PR of tracker {0} is not merged: no commit to monitor")]
    NotMerged(String),

    #[error("the tracker has no {0}")]
    MissingField(&'static str),

    /// Whether the PR's change reaches a target could not be decided now (GitHub or the renderer
    /// failing); retried.
    #[error("cannot tell yet whether the change reaches {cluster}: {why}")]
    Undecided { cluster: String, why: String },

    #[error(transparent)]
    Status(StatusWriteError),
}

impl From<StatusWriteError> for SyncError {
    fn from(error: StatusWriteError) -> Self {
        match error {
            StatusWriteError::Conflict { name, .. } => SyncError::Conflict(name),
            other => SyncError::Status(other),
        }
    }
}

impl SyncError {
    /// The CamelCase reason a `Synced=False` condition carries for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::GitHub(GitHubError::NotFound { .. }) => "PullRequestNotFound",
            Self::GitHub(GitHubError::BadCredentials { .. }) => "BadCredentials",
            Self::GitHub(GitHubError::Forbidden { .. }) => "Forbidden",
            Self::GitHub(GitHubError::RateLimited { .. }) => "RateLimited",
            Self::GitHub(GitHubError::Unavailable { .. }) => "GitHubUnavailable",
            Self::GitHub(GitHubError::Outage { .. }) => "GitHubOutage",
            Self::GitHub(_) => "GitHubError",
            Self::Kube(_) | Self::Status(_) => "KubernetesError",
            Self::Conflict(_) => "Conflict",
            Self::StaleRead(_) => "StaleRead",
            Self::StateNotApplicable { .. } => "StateNotApplicable",
            Self::NotMerged(_) => "NotMerged",
            Self::MissingField(_) => "InvalidTracker",
            Self::Undecided { .. } => "ReachUndecided",
        }
    }
}
