//! Keeping the PR's one comment (`--pr-comment`, issue #16): posted once a PR is merged, edited in
//! place when what it says changes, never posted twice. The tracker's status keeps the comment's
//! id and a digest of its text, so a steady state costs no request; if the status is lost (a
//! restart with it wiped, a new tracker), the comment is found again by its marker among all of
//! the PR's comments before any new one is posted.

use std::sync::Arc;

use prtracker_api::{DriftMonitor, PrCommentStatus, PullRequestTracker};
use prtracker_domain::{LabelPrefix, Plan, Repository};
use prtracker_github::{GitHubError, IssueComments, PullRequest};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::{
    comment::{self, ClusterRow, CommentFacts},
    surfaces::monitor_status,
};

/// Writes the comment of each PR through a GitHub client.
pub struct PrCommentKeeper {
    github: Arc<dyn IssueComments>,
}

impl PrCommentKeeper {
    pub fn new(github: Arc<dyn IssueComments>) -> Self {
        Self { github }
    }

    /// Brings PR `number`'s comment to `body`: nothing when `recorded` says it already reads so;
    /// else an edit of the recorded comment, or of the one found by its marker, or a new one.
    /// Returns the record to keep.
    pub async fn keep(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
        recorded: Option<&PrCommentStatus>,
    ) -> Result<PrCommentStatus, GitHubError> {
        let digest = digest(body);
        if let Some(recorded) = recorded {
            if recorded.digest == digest {
                return Ok(recorded.clone());
            }
            match self
                .github
                .update_issue_comment(repo, recorded.id, body)
                .await
            {
                Ok(edited) => {
                    info!(%repo, number, comment = edited.id, "edited the PR's comment");
                    return Ok(PrCommentStatus {
                        id: edited.id,
                        digest,
                    });
                }
                // Deleted by someone: look for another of ours, else post it again.
                Err(GitHubError::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        let comments = self.github.list_issue_comments(repo, number).await?;
        if let Some(ours) = comments
            .iter()
            .find(|c| comment::is_ours(&c.body, repo, number))
        {
            if ours.body != body {
                self.github
                    .update_issue_comment(repo, ours.id, body)
                    .await?;
                info!(%repo, number, comment = ours.id, "edited the PR's comment, found by its marker");
            }
            return Ok(PrCommentStatus {
                id: ours.id,
                digest,
            });
        }
        let created = self.github.create_issue_comment(repo, number, body).await?;
        info!(%repo, number, comment = created.id, "posted the PR's comment");
        Ok(PrCommentStatus {
            id: created.id,
            digest,
        })
    }
}

/// What the comment says after this reconcile: only a merged PR whose change reaches a cluster
/// (`names`) has one.
pub fn body_for(
    tracker: &PullRequestTracker,
    names: &[String],
    pr: &PullRequest,
    plan: &Plan,
    monitors: &[DriftMonitor],
    prefix: &LabelPrefix,
) -> Option<String> {
    if !pr.is_merged() || names.is_empty() {
        return None;
    }

    let label = plan
        .after
        .label
        .clone()
        .unwrap_or_else(|| prefix.label_for(plan.target));
    let clusters = names
        .iter()
        .map(|cluster| ClusterRow {
            cluster,
            status: monitor_status(monitors, cluster),
        })
        .collect();
    Some(comment::render(&CommentFacts {
        repository: &tracker.spec.repository,
        number: tracker.spec.number,
        state_label: &label,
        merge_commit: pr.merge_commit_sha.as_deref(),
        clusters,
    }))
}

/// 16 hex digits of the text's SHA-256.
fn digest(body: &str) -> String {
    Sha256::digest(body.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
