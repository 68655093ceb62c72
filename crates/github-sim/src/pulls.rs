//! Pull-request lifecycle as people drive it on GitHub (open, edit, draft/ready, push, merge,
//! close, reopen), each change queuing the `pull_request` webhook GitHub would send.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, DOCS};
use crate::ids;
use crate::model::{Commit, PrState, PullRequest, World};

/// A new pull request (control API).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewPull {
    pub title: String,
    pub body: Option<String>,
    /// Author login; defaults to `octocat`.
    pub user: Option<String>,
    pub draft: bool,
    /// Defaults to `feature-<number>`.
    pub head_ref: Option<String>,
    /// Defaults to the repository's default branch.
    pub base_ref: Option<String>,
    /// Defaults to a generated sha.
    pub head_sha: Option<String>,
    /// Labels put on at creation (each one a `labeled` event after `opened`, as on GitHub).
    pub labels: Vec<String>,
}

/// An edit of title, body or draft state (control API). `None` leaves a field alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PullEdit {
    pub title: Option<String>,
    pub body: Option<String>,
    pub draft: Option<bool>,
}

fn conflict(msg: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, msg, DOCS)
}

impl World {
    fn pr_mut(&mut self, key: &str, number: u64) -> Result<&mut PullRequest, ApiError> {
        self.repos
            .get_mut(key)
            .and_then(|r| r.pulls.get_mut(&number))
            .ok_or_else(|| ApiError::not_found(DOCS))
    }

    pub fn create_pull(&mut self, owner: &str, name: &str, new: NewPull) -> Result<u64, ApiError> {
        let key = World::repo_key(owner, name);
        let user = new.user.clone().unwrap_or_else(|| "octocat".into());
        self.account(&user);
        let id = self.alloc_id();
        let now = self.now();
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(DOCS))?;
        let number = repo.next_number;
        repo.next_number += 1;
        let base_ref = new.base_ref.unwrap_or_else(|| repo.default_branch.clone());
        let base_sha = repo
            .branches
            .get(&base_ref)
            .cloned()
            .unwrap_or_else(|| ids::sha40(&format!("{key}:{base_ref}")));
        let head_ref = new.head_ref.unwrap_or_else(|| format!("feature-{number}"));
        let head_sha = new
            .head_sha
            .unwrap_or_else(|| ids::sha40(&format!("{key}:{number}:head:0")));
        repo.branches.insert(head_ref.clone(), head_sha.clone());
        // The head commit branched off the base branch's head.
        repo.record_commit(
            &head_sha,
            Commit {
                parents: vec![base_sha.clone()],
                author: user.clone(),
                by_github: false,
                message: new.title.clone(),
                at: now,
            },
        );
        repo.pulls.insert(
            number,
            PullRequest {
                number,
                id,
                title: new.title,
                body: new.body,
                user: user.clone(),
                state: PrState::Open,
                draft: new.draft,
                merged: false,
                merged_at: None,
                merged_by: None,
                closed_at: None,
                head_sha,
                head_ref,
                base_ref,
                base_sha,
                // GitHub fills this with a test-merge commit for open PRs.
                merge_commit_sha: Some(ids::sha40(&format!("{key}:{number}:test-merge"))),
                labels: Vec::new(),
                created_at: now,
                updated_at: now,
            },
        );
        self.emit_pull_request(&key, number, "opened", &user, Map::new());
        if !new.labels.is_empty() {
            self.add_issue_labels(owner, name, number, &new.labels, &user)?;
        }
        Ok(number)
    }

    pub fn edit_pull(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        edit: PullEdit,
        actor: &str,
    ) -> Result<(), ApiError> {
        let key = World::repo_key(owner, name);
        let now = self.now();
        let pr = self.pr_mut(&key, number)?;
        let mut changes = Map::new();
        if let Some(t) = edit.title
            && t != pr.title
        {
            changes.insert("title".into(), json!({"from": pr.title}));
            pr.title = t;
        }
        if let Some(b) = edit.body
            && pr.body.as_deref() != Some(b.as_str())
        {
            changes.insert("body".into(), json!({"from": pr.body}));
            pr.body = Some(b);
        }
        let draft_action = match edit.draft {
            Some(true) if !pr.draft => Some("converted_to_draft"),
            Some(false) if pr.draft => Some("ready_for_review"),
            _ => None,
        };
        if let Some(d) = edit.draft {
            pr.draft = d;
        }
        pr.updated_at = now;
        if !changes.is_empty() {
            let mut extra = Map::new();
            extra.insert("changes".into(), Value::Object(changes));
            self.emit_pull_request(&key, number, "edited", actor, extra);
        }
        if let Some(action) = draft_action {
            self.emit_pull_request(&key, number, action, actor, Map::new());
        }
        Ok(())
    }

    /// Merges: `merged`, `merged_at`, `merged_by`, `merge_commit_sha`, state `closed`; the files of
    /// the head commit become the files of the merge commit, and the base branch moves to it.
    pub fn merge_pull(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        actor: &str,
        merge_sha: Option<String>,
    ) -> Result<String, ApiError> {
        let key = World::repo_key(owner, name);
        self.account(actor);
        // GitHub's merge commits are committed by its `web-flow` account.
        self.account("web-flow");
        let now = self.now();
        let pr = self.pr_mut(&key, number)?;
        if pr.state != PrState::Open {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Pull Request is not mergeable",
                DOCS,
            ));
        }
        let sha = merge_sha.unwrap_or_else(|| ids::sha40(&format!("{key}:{number}:merge")));
        pr.state = PrState::Closed;
        pr.merged = true;
        pr.draft = false;
        pr.merged_at = Some(now);
        pr.closed_at = Some(now);
        pr.merged_by = Some(actor.to_string());
        pr.merge_commit_sha = Some(sha.clone());
        pr.updated_at = now;
        let (head_sha, base_ref, base_sha) = (
            pr.head_sha.clone(),
            pr.base_ref.clone(),
            pr.base_sha.clone(),
        );
        let message = format!(
            "Merge pull request #{number} from {owner}/{}\n\n{}",
            pr.head_ref, pr.title
        );
        if let Some(repo) = self.repos.get_mut(&key) {
            if !repo.files.contains_key(&sha) {
                let tree = repo.files.get(&head_sha).cloned().unwrap_or_default();
                repo.files.insert(sha.clone(), tree);
            }
            // First parent: where the base branch is now, which may be past the PR's base sha.
            let base_head = repo.branches.get(&base_ref).cloned().unwrap_or(base_sha);
            repo.record_commit(
                &sha,
                Commit {
                    parents: vec![base_head, head_sha],
                    author: actor.to_string(),
                    by_github: true,
                    message,
                    at: now,
                },
            );
            repo.branches.insert(base_ref, sha.clone());
        }
        self.emit_pull_request(&key, number, "closed", actor, Map::new());
        Ok(sha)
    }

    pub fn close_pull(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        actor: &str,
    ) -> Result<(), ApiError> {
        let key = World::repo_key(owner, name);
        let now = self.now();
        let pr = self.pr_mut(&key, number)?;
        if pr.state == PrState::Closed {
            return Err(conflict("Pull request is already closed"));
        }
        pr.state = PrState::Closed;
        pr.closed_at = Some(now);
        pr.updated_at = now;
        self.emit_pull_request(&key, number, "closed", actor, Map::new());
        Ok(())
    }

    pub fn reopen_pull(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        actor: &str,
    ) -> Result<(), ApiError> {
        let key = World::repo_key(owner, name);
        let now = self.now();
        let pr = self.pr_mut(&key, number)?;
        if pr.merged {
            return Err(conflict("Cannot reopen a merged pull request"));
        }
        if pr.state == PrState::Open {
            return Err(conflict("Pull request is already open"));
        }
        pr.state = PrState::Open;
        pr.closed_at = None;
        pr.updated_at = now;
        self.emit_pull_request(&key, number, "reopened", actor, Map::new());
        Ok(())
    }

    /// A push to the head branch (`synchronize`): new head sha, returned.
    pub fn push_pull(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        actor: &str,
        sha: Option<String>,
    ) -> Result<String, ApiError> {
        let key = World::repo_key(owner, name);
        let now = self.now();
        let pr = self.pr_mut(&key, number)?;
        if pr.state != PrState::Open {
            return Err(conflict("Cannot push to a closed pull request"));
        }
        let before = pr.head_sha.clone();
        let after = sha.unwrap_or_else(|| ids::sha40(&format!("{key}:{number}:head:{before}")));
        pr.head_sha = after.clone();
        pr.updated_at = now;
        let head_ref = pr.head_ref.clone();
        if let Some(repo) = self.repos.get_mut(&key) {
            repo.record_commit(
                &after,
                Commit {
                    parents: vec![before.clone()],
                    author: actor.to_string(),
                    by_github: false,
                    message: format!("Update {head_ref}"),
                    at: now,
                },
            );
            repo.branches.insert(head_ref, after.clone());
        }
        let mut extra = Map::new();
        extra.insert("before".into(), json!(before));
        extra.insert("after".into(), json!(after));
        self.emit_pull_request(&key, number, "synchronize", actor, extra);
        Ok(after)
    }
}
