//! The traits the sync layer and the runtime program against; [`crate::OctocrabGitHub`] is the
//! production implementation, and tests may provide their own.

use async_trait::async_trait;
use prtracker_domain::Repository;

use crate::{
    error::GitHubError,
    models::{FeedPage, Label, NewLabel, PullRequest, RepoFile},
};

/// The seed's `GitHubClient`: read a PR, add or remove one label.
#[async_trait]
pub trait GitHubClient: Send + Sync {
    /// The pull request, labels included.
    async fn get_pr(&self, repo: &Repository, number: u64) -> Result<PullRequest, GitHubError>;

    /// Adds `label` to the PR (GitHub creates a missing label definition with a grey colour, so
    /// callers create definitions first). Returns the labels now on the PR, as GitHub returns them.
    async fn add_label(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
    ) -> Result<Vec<Label>, GitHubError>;

    /// Removes `label` from the PR and returns the labels that remain. A label that is not on
    /// the PR fails with [`GitHubError::LabelNotOnIssue`], which callers may take as done.
    async fn remove_label(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
    ) -> Result<Vec<Label>, GitHubError>;

    /// [`GitHubClient::add_label`], sent only if `still_fresh()` holds at the last moment before
    /// it leaves (after any wait for its turn); else [`GitHubError::Superseded`].
    async fn add_label_if_fresh(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
        still_fresh: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Vec<Label>, GitHubError> {
        if !still_fresh() {
            return Err(GitHubError::Superseded {
                endpoint: "add a label".to_owned(),
            });
        }
        self.add_label(repo, number, label).await
    }

    /// [`GitHubClient::remove_label`], sent only if `still_fresh()` holds at the last moment
    /// before it leaves; else [`GitHubError::Superseded`].
    async fn remove_label_if_fresh(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
        still_fresh: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Vec<Label>, GitHubError> {
        if !still_fresh() {
            return Err(GitHubError::Superseded {
                endpoint: "remove a label".to_owned(),
            });
        }
        self.remove_label(repo, number, label).await
    }
}

/// What the operator needs beyond the seed's three calls.
#[async_trait]
pub trait GitHubApi: GitHubClient {
    /// Every label defined in the repository (all pages).
    async fn list_repo_labels(&self, repo: &Repository) -> Result<Vec<Label>, GitHubError>;

    /// Defines a label in the repository; [`GitHubError::LabelAlreadyExists`] if it is there.
    async fn create_label(&self, repo: &Repository, label: &NewLabel)
    -> Result<Label, GitHubError>;

    /// Gives an existing label of the repository this colour and description (its name is kept).
    async fn update_label(
        &self,
        repo: &Repository,
        name: &str,
        label: &NewLabel,
    ) -> Result<Label, GitHubError>;

    /// Every open pull request of the repository (all pages).
    async fn list_open_prs(&self, repo: &Repository) -> Result<Vec<PullRequest>, GitHubError>;

    /// One page of the repository's PRs, open and closed, the most recently updated first: the
    /// first page when `page` is `None` (asked conditionally, so an unchanged repository costs a
    /// 304 and no quota), else the page a previous answer's `next` named.
    async fn pulls_by_update(
        &self,
        repo: &Repository,
        page: Option<&str>,
    ) -> Result<FeedPage, GitHubError>;

    /// Every file under `path` at `commit` (a commit SHA, or any git ref), recursively, sorted
    /// by path; `path` may also name a single file. Bounded by the configured contents limits.
    async fn read_files(
        &self,
        repo: &Repository,
        path: &str,
        commit: &str,
    ) -> Result<Vec<RepoFile>, GitHubError>;

    /// The shas of commit `sha`'s parents, first parent first: for a merge commit, the base
    /// branch's head it was merged onto, then the PR's head. A commit never changes, so an
    /// answer may be kept for good. [`GitHubError::NotFound`] for an unknown commit.
    async fn commit_parents(
        &self,
        repo: &Repository,
        sha: &str,
    ) -> Result<Vec<String>, GitHubError>;

    /// The sha of `branch`'s head now. [`GitHubError::NotFound`] for an unknown branch.
    async fn branch_head(&self, repo: &Repository, branch: &str) -> Result<String, GitHubError>;
}
