//! The operations of [`GitHubClient`] and [`GitHubApi`] on the production client: paths,
//! bodies, and the answers GitHub gives that mean something particular to callers.

use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use prtracker_domain::Repository;
use tracing::instrument;

use super::{OctocrabGitHub, decode_json};
use crate::{
    client::{GitHubApi, GitHubClient},
    endpoint::{self, Endpoint},
    error::{ErrorBody, GitHubError},
    models::{AddLabels, Branch, Commit, FeedPage, Label, NewLabel, PullRequest, RepoFile},
    transport::{Call, JSON, status_error},
};

#[async_trait]
impl GitHubClient for OctocrabGitHub {
    #[instrument(skip(self), fields(%repo))]
    async fn get_pr(&self, repo: &Repository, number: u64) -> Result<PullRequest, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let endpoint = Endpoint::GetPull;
        let pr: Arc<PullRequest> = self
            .get_cached(
                &octo,
                endpoint,
                endpoint::pull_path(repo, number),
                &format!("pull request {repo}#{number}"),
                |_, body| decode_json(endpoint, body),
            )
            .await?;
        Ok(PullRequest::clone(&pr))
    }

    #[instrument(skip(self), fields(%repo))]
    async fn add_label(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
    ) -> Result<Vec<Label>, GitHubError> {
        self.add_label_when(repo, number, label, None).await
    }

    #[instrument(skip(self), fields(%repo))]
    async fn remove_label(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
    ) -> Result<Vec<Label>, GitHubError> {
        self.remove_label_when(repo, number, label, None).await
    }

    #[instrument(skip(self, still_fresh), fields(%repo))]
    async fn add_label_if_fresh(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
        still_fresh: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Vec<Label>, GitHubError> {
        self.add_label_when(repo, number, label, Some(still_fresh))
            .await
    }

    #[instrument(skip(self, still_fresh), fields(%repo))]
    async fn remove_label_if_fresh(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
        still_fresh: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Vec<Label>, GitHubError> {
        self.remove_label_when(repo, number, label, Some(still_fresh))
            .await
    }
}

impl OctocrabGitHub {
    async fn add_label_when(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
        ready: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<Vec<Label>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::AddIssueLabels,
            path: endpoint::issue_labels_path(repo, number),
            body: Some(
                serde_json::to_value(AddLabels {
                    labels: vec![label],
                })
                .map_err(|e| GitHubError::Config(e.to_string()))?,
            ),
            accept: JSON,
        };
        let endpoint = call.endpoint;
        self.write_when(&octo, call, ready)
            .await?
            .map_err(|reply| status_error(endpoint, &reply, &format!("issue {repo}#{number}")))
    }

    async fn remove_label_when(
        &self,
        repo: &Repository,
        number: u64,
        label: &str,
        ready: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<Vec<Label>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::RemoveIssueLabel,
            path: endpoint::issue_label_path(repo, number, label),
            body: None,
            accept: JSON,
        };
        let endpoint = call.endpoint;
        self.write_when(&octo, call, ready).await?.map_err(|reply| {
            if is_label_not_on_issue(reply.status, &reply.body) {
                GitHubError::LabelNotOnIssue {
                    repo: repo.to_string(),
                    number,
                    label: label.to_owned(),
                }
            } else {
                status_error(endpoint, &reply, &format!("issue {repo}#{number}"))
            }
        })
    }
}

/// GitHub answers 404 "Label does not exist" both for a label not on the issue and for one not
/// defined in the repository; either way, the label is not on the issue.
pub(crate) fn is_label_not_on_issue(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::NOT_FOUND
        && ErrorBody::parse(body)
            .message
            .to_ascii_lowercase()
            .contains("label does not exist")
}

/// GitHub answers an unknown ref of `GET /commits/{ref}` with 422 "No commit found for SHA: …"
/// rather than 404 (a missing repository is still a 404).
pub(crate) fn is_no_commit(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::UNPROCESSABLE_ENTITY
        && ErrorBody::parse(body)
            .message
            .to_ascii_lowercase()
            .starts_with("no commit found")
}

/// 422 with `errors[].code == "already_exists"`.
pub(crate) fn is_already_exists(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::UNPROCESSABLE_ENTITY && ErrorBody::parse(body).has_code("already_exists")
}

#[async_trait]
impl GitHubApi for OctocrabGitHub {
    #[instrument(skip(self), fields(%repo))]
    async fn list_repo_labels(&self, repo: &Repository) -> Result<Vec<Label>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let first = endpoint::repo_labels_path(repo, self.transport.config.per_page);
        self.get_all_pages(
            &octo,
            Endpoint::ListRepoLabels,
            first,
            &format!("repository {repo}"),
        )
        .await
    }

    #[instrument(skip(self), fields(%repo, label = %label.name))]
    async fn create_label(
        &self,
        repo: &Repository,
        label: &NewLabel,
    ) -> Result<Label, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let body = serde_json::to_value(label).map_err(|e| GitHubError::Config(e.to_string()))?;
        let call = Call {
            endpoint: Endpoint::CreateRepoLabel,
            path: endpoint::create_label_path(repo),
            body: Some(body),
            accept: JSON,
        };
        let endpoint = call.endpoint;
        self.write(&octo, call).await?.map_err(|reply| {
            if is_already_exists(reply.status, &reply.body) {
                GitHubError::LabelAlreadyExists {
                    repo: repo.to_string(),
                    name: label.name.clone(),
                }
            } else {
                status_error(endpoint, &reply, &format!("repository {repo}"))
            }
        })
    }

    #[instrument(skip(self, label), fields(%repo))]
    async fn update_label(
        &self,
        repo: &Repository,
        name: &str,
        label: &NewLabel,
    ) -> Result<Label, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let body = serde_json::json!({ "color": label.color, "description": label.description });
        let call = Call {
            endpoint: Endpoint::UpdateRepoLabel,
            path: endpoint::repo_label_path(repo, name),
            body: Some(body),
            accept: JSON,
        };
        let endpoint = call.endpoint;
        self.write(&octo, call)
            .await?
            .map_err(|reply| status_error(endpoint, &reply, &format!("label {name} of {repo}")))
    }

    #[instrument(skip(self), fields(%repo))]
    async fn list_open_prs(&self, repo: &Repository) -> Result<Vec<PullRequest>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let first = endpoint::open_pulls_path(repo, self.transport.config.per_page);
        self.get_all_pages(
            &octo,
            Endpoint::ListPulls,
            first,
            &format!("repository {repo}"),
        )
        .await
    }

    #[instrument(skip(self), fields(%repo))]
    async fn pulls_by_update(
        &self,
        repo: &Repository,
        page: Option<&str>,
    ) -> Result<FeedPage, GitHubError> {
        let octo = self.octo_for(repo).await?;
        self.feed_page(&octo, repo, page).await
    }

    #[instrument(skip(self), fields(%repo))]
    async fn read_files(
        &self,
        repo: &Repository,
        path: &str,
        commit: &str,
    ) -> Result<Vec<RepoFile>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        crate::contents::read_tree(self, &octo, repo, path, commit).await
    }

    #[instrument(skip(self), fields(%repo))]
    async fn commit_parents(
        &self,
        repo: &Repository,
        sha: &str,
    ) -> Result<Vec<String>, GitHubError> {
        if let Some(parents) = self.parents.get(repo, sha) {
            return Ok(parents);
        }
        let what = format!("commit {sha:?} of {repo}");
        if sha.is_empty() {
            // `commits/` would name another endpoint.
            return Err(GitHubError::NotFound {
                what,
                message: "no commit named".into(),
            });
        }
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::GetCommit,
            path: endpoint::commit_path(repo, sha),
            body: None,
            accept: JSON,
        };
        // No ETag: the answer is kept for good below, so this is asked once per commit.
        let reply = self.transport.send(&octo, &call, None).await?;
        if !reply.status.is_success() {
            return Err(if is_no_commit(reply.status, &reply.body) {
                GitHubError::NotFound {
                    what,
                    message: ErrorBody::parse(&reply.body).message,
                }
            } else {
                status_error(call.endpoint, &reply, &what)
            });
        }
        let commit: Commit = decode_json(call.endpoint, &reply.body)?;
        let parents = commit.parent_shas();
        // Kept under the sha GitHub answered with: a branch name asked for moves on.
        self.parents.insert(repo, &commit.sha, parents.clone());
        Ok(parents)
    }

    #[instrument(skip(self), fields(%repo))]
    async fn branch_head(&self, repo: &Repository, branch: &str) -> Result<String, GitHubError> {
        let what = format!("branch {branch:?} of {repo}");
        if branch.is_empty() {
            // `branches/` would list the branches.
            return Err(GitHubError::NotFound {
                what,
                message: "no branch named".into(),
            });
        }
        let octo = self.octo_for(repo).await?;
        let endpoint = Endpoint::GetBranch;
        // Through the ETag cache: a branch that has not moved costs a 304 and no budget.
        let found: Arc<Branch> = self
            .get_cached(
                &octo,
                endpoint,
                endpoint::branch_path(repo, branch),
                &what,
                |_, body| decode_json(endpoint, body),
            )
            .await?;
        Ok(found.commit.sha.clone())
    }
}
