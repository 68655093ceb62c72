//! Commit statuses: a status per cluster on a merged PR's merge commit, for a token (a GitHub App
//! gets check runs instead), each told apart by its context (issue #16 part 3).

use async_trait::async_trait;
use prtracker_domain::Repository;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::{
    endpoint::{self, Endpoint},
    error::GitHubError,
    octo::OctocrabGitHub,
    transport::{Call, JSON, status_error},
};

/// GitHub keeps at most this many statuses per commit and context (422 past it).
pub const MAX_STATUSES_PER_CONTEXT: u32 = 1_000;

/// One status of a commit, as GitHub returns it (the members prtracker reads).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommitStatus {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub context: String,
}

/// A status to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCommitStatus<'a> {
    pub state: &'a str,
    pub description: &'a str,
    pub context: &'a str,
}

/// The newest status of each context of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
struct Combined {
    #[serde(default)]
    statuses: Vec<CommitStatus>,
}

/// A commit's statuses.
#[async_trait]
pub trait CommitStatuses: Send + Sync {
    /// The newest status of each context of commit `sha` (GitHub's combined status; its first
    /// 100 contexts, more than any tracker has clusters).
    async fn latest_commit_statuses(
        &self,
        repo: &Repository,
        sha: &str,
    ) -> Result<Vec<CommitStatus>, GitHubError>;

    async fn create_commit_status(
        &self,
        repo: &Repository,
        sha: &str,
        status: &NewCommitStatus<'_>,
    ) -> Result<CommitStatus, GitHubError>;
}

#[async_trait]
impl CommitStatuses for OctocrabGitHub {
    #[instrument(skip(self), fields(%repo))]
    async fn latest_commit_statuses(
        &self,
        repo: &Repository,
        sha: &str,
    ) -> Result<Vec<CommitStatus>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::GetCombinedStatus,
            path: endpoint::combined_status_path(repo, sha),
            body: None,
            accept: JSON,
        };
        let reply = self.transport().send(&octo, &call, None).await?;
        if !reply.status.is_success() {
            return Err(status_error(
                Endpoint::GetCombinedStatus,
                &reply,
                &format!("commit {sha} in {repo}"),
            ));
        }
        let combined: Combined =
            serde_json::from_slice(&reply.body).map_err(|e| GitHubError::Decode {
                endpoint: Endpoint::GetCombinedStatus.template().to_owned(),
                reason: e.to_string(),
            })?;
        Ok(combined.statuses)
    }

    #[instrument(skip(self, status), fields(%repo, context = status.context))]
    async fn create_commit_status(
        &self,
        repo: &Repository,
        sha: &str,
        status: &NewCommitStatus<'_>,
    ) -> Result<CommitStatus, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::CreateCommitStatus,
            path: endpoint::commit_status_path(repo, sha),
            body: Some(
                serde_json::to_value(status).map_err(|e| GitHubError::Config(e.to_string()))?,
            ),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::CreateCommitStatus,
                &reply,
                &format!("commit {sha} in {repo}"),
            )
        })
    }
}
