//! A PR's conversation comments: listed (all pages, conditionally), created, edited. What the
//! operator's one comment per PR is written with (issue #16); separate from [`crate::GitHubApi`]
//! so that clients which never comment need not implement it.

use async_trait::async_trait;
use prtracker_domain::Repository;
use tracing::instrument;

use crate::{
    endpoint::{self, Endpoint},
    error::GitHubError,
    models::{CommentBody, IssueComment},
    octo::OctocrabGitHub,
    transport::{Call, JSON, status_error},
};

/// GitHub cuts a comment's body at this many characters (422 past it).
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// A PR's comments.
#[async_trait]
pub trait IssueComments: Send + Sync {
    /// Every comment of PR `number`, oldest first (all pages).
    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError>;

    /// Posts a comment on PR `number`.
    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError>;

    /// Replaces the body of comment `id`; [`GitHubError::NotFound`] when it is gone.
    async fn update_issue_comment(
        &self,
        repo: &Repository,
        id: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError>;
}

#[async_trait]
impl IssueComments for OctocrabGitHub {
    #[instrument(skip(self), fields(%repo))]
    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let first = endpoint::issue_comments_path(repo, number, Some(self.config().per_page));
        self.get_all_pages(
            &octo,
            Endpoint::ListIssueComments,
            first,
            &format!("issue {repo}#{number}"),
        )
        .await
    }

    #[instrument(skip(self, body), fields(%repo))]
    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::CreateIssueComment,
            path: endpoint::issue_comments_path(repo, number, None),
            body: Some(json_body(body)?),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::CreateIssueComment,
                &reply,
                &format!("issue {repo}#{number}"),
            )
        })
    }

    #[instrument(skip(self, body), fields(%repo))]
    async fn update_issue_comment(
        &self,
        repo: &Repository,
        id: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::UpdateIssueComment,
            path: endpoint::issue_comment_path(repo, id),
            body: Some(json_body(body)?),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::UpdateIssueComment,
                &reply,
                &format!("comment {id} in {repo}"),
            )
        })
    }
}

fn json_body(body: &str) -> Result<serde_json::Value, GitHubError> {
    serde_json::to_value(CommentBody { body }).map_err(|e| GitHubError::Config(e.to_string()))
}
