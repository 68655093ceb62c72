//! The control surface, as a typed Rust API (`Control`, reached through `SimulatorHandle`).
//! The `/_sim` HTTP endpoints (`http/control.rs`) call the same methods.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::comments::{DOC_CREATE, DOC_DELETE, DOC_UPDATE};
use crate::error::{ApiError, DOCS};
use crate::limits::{Budget, Faults};
use crate::model::{IssueComment, RepoOptions, World};
use crate::pulls::{NewPull, PullEdit};
use crate::render::{self, PullShape};
use crate::shared::{RequestRecord, Shared, TokenInfo};
use crate::webhook::{Delivery, WebhookConfig};

/// Login used for control actions when no actor is given.
pub const DEFAULT_ACTOR: &str = "octocat";

pub(crate) fn split(full: &str) -> Result<(&str, &str), ApiError> {
    full.split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| ApiError::not_found(DOCS))
}

/// Typed control of a running simulator. Repositories are named `owner/name`.
#[derive(Debug, Clone)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
}

impl Control {
    pub fn create_repo(&self, full: &str) -> Result<(), ApiError> {
        self.create_repo_with(full, RepoOptions::default())
    }

    pub fn create_repo_with(&self, full: &str, opts: RepoOptions) -> Result<(), ApiError> {
        let (o, n) = split(full)?;
        self.shared.with_world(|w| {
            w.create_repo(o, n, &opts);
        });
        Ok(())
    }

    /// Renames or transfers repository `from` to `to` (both `owner/name`), as GitHub does: it keeps
    /// its id and everything in it, and requests for the old name are redirected to
    /// `/repositories/{id}/...`. 404 when `from` does not exist, 422 when `to` is taken.
    pub fn rename_repo(&self, from: &str, to: &str) -> Result<(), ApiError> {
        let (from, to) = (split(from)?, split(to)?);
        self.shared.with_world(|w| {
            if w.repo(from.0, from.1).is_none() {
                return Err(ApiError::not_found(DOCS));
            }
            if w.rename_repo(from, to) {
                Ok(())
            } else {
                Err(ApiError::validation(
                    "Repository",
                    "already_exists",
                    "name",
                    DOCS,
                ))
            }
        })
    }

    /// Opens a pull request (an `opened` webhook, then `labeled` for each initial label).
    pub fn create_pull(&self, repo: &str, new: NewPull) -> Result<u64, ApiError> {
        let (o, n) = split(repo)?;
        self.shared.with_world(|w| w.create_pull(o, n, new))
    }

    pub fn edit_pull(
        &self,
        repo: &str,
        number: u64,
        edit: PullEdit,
        actor: &str,
    ) -> Result<(), ApiError> {
        let (o, n) = split(repo)?;
        self.shared
            .with_world(|w| w.edit_pull(o, n, number, edit, actor))
    }

    /// Adds a label as a person would; returns the PR's label names.
    pub fn add_label(
        &self,
        repo: &str,
        number: u64,
        label: &str,
        actor: &str,
    ) -> Result<Vec<String>, ApiError> {
        let (o, n) = split(repo)?;
        let v = self
            .shared
            .with_world(|w| w.add_issue_labels(o, n, number, &[label.to_string()], actor))?;
        Ok(names(&v))
    }

    /// Removes a label as a person would; returns the PR's label names.
    pub fn remove_label(
        &self,
        repo: &str,
        number: u64,
        label: &str,
        actor: &str,
    ) -> Result<Vec<String>, ApiError> {
        let (o, n) = split(repo)?;
        let v = self
            .shared
            .with_world(|w| w.remove_issue_label(o, n, number, label, actor))?;
        Ok(names(&v))
    }

    /// The comments on PR `number`, oldest first (without touching any budget).
    pub fn issue_comments(&self, repo: &str, number: u64) -> Result<Vec<IssueComment>, ApiError> {
        let (o, n) = split(repo)?;
        let g = self.shared.lock();
        let (_, list) = g.world.issue_comments(o, n, number)?;
        Ok(list.into_iter().cloned().collect())
    }

    /// Comment `id` of `repo`, as the REST API renders it (without touching any budget).
    pub fn issue_comment(&self, repo: &str, id: u64) -> Option<Value> {
        let (o, n) = split(repo).ok()?;
        let g = self.shared.lock();
        let c = g.world.issue_comment(o, n, id, DOCS).ok()?;
        Some(g.world.comment_json(o, n, &c))
    }

    /// Comments on PR `number` as a person would (an `issue_comment` `created` webhook); returns
    /// the new comment's id. GitHub's rules apply: 422 for an empty body or one over 65,536
    /// characters.
    pub fn comment(
        &self,
        repo: &str,
        number: u64,
        body: &str,
        sender: &str,
    ) -> Result<u64, ApiError> {
        let (o, n) = split(repo)?;
        if body.is_empty() {
            return Err(ApiError::validation(
                "IssueComment",
                "missing_field",
                "body",
                DOC_CREATE,
            ));
        }
        let c = self
            .shared
            .with_world(|w| w.create_issue_comment(o, n, number, body, sender))?;
        Ok(c.id)
    }

    /// Edits comment `id` as a person would (an `edited` webhook, when the body changes).
    pub fn edit_comment(
        &self,
        repo: &str,
        id: u64,
        body: &str,
        sender: &str,
    ) -> Result<(), ApiError> {
        let (o, n) = split(repo)?;
        if body.is_empty() {
            return Err(ApiError::validation(
                "IssueComment",
                "missing_field",
                "body",
                DOC_UPDATE,
            ));
        }
        self.shared
            .with_world(|w| w.edit_issue_comment(o, n, id, body, sender))?;
        Ok(())
    }

    /// Deletes comment `id` as a person would (a `deleted` webhook); 404 for an unknown one.
    pub fn delete_comment(&self, repo: &str, id: u64, sender: &str) -> Result<(), ApiError> {
        let (o, n) = split(repo).map_err(|_| ApiError::not_found(DOC_DELETE))?;
        self.shared
            .with_world(|w| w.delete_issue_comment(o, n, id, sender))
    }

    /// Merges; returns the merge commit sha (which carries the head commit's files).
    pub fn merge_pull(&self, repo: &str, number: u64, actor: &str) -> Result<String, ApiError> {
        self.merge_pull_as(repo, number, actor, None)
    }

    pub fn merge_pull_as(
        &self,
        repo: &str,
        number: u64,
        actor: &str,
        sha: Option<&str>,
    ) -> Result<String, ApiError> {
        let (o, n) = split(repo)?;
        self.shared
            .with_world(|w| w.merge_pull(o, n, number, actor, sha.map(str::to_string)))
    }

    pub fn close_pull(&self, repo: &str, number: u64, actor: &str) -> Result<(), ApiError> {
        let (o, n) = split(repo)?;
        self.shared
            .with_world(|w| w.close_pull(o, n, number, actor))
    }

    pub fn reopen_pull(&self, repo: &str, number: u64, actor: &str) -> Result<(), ApiError> {
        let (o, n) = split(repo)?;
        self.shared
            .with_world(|w| w.reopen_pull(o, n, number, actor))
    }

    /// Pushes to the head branch (`synchronize`); returns the new head sha.
    pub fn push_pull(
        &self,
        repo: &str,
        number: u64,
        actor: &str,
        sha: Option<&str>,
    ) -> Result<String, ApiError> {
        let (o, n) = split(repo)?;
        self.shared
            .with_world(|w| w.push_pull(o, n, number, actor, sha.map(str::to_string)))
    }

    /// Sets the files of commit `sha` (replacing any there).
    pub fn set_files<P, B>(
        &self,
        repo: &str,
        sha: &str,
        files: impl IntoIterator<Item = (P, B)>,
    ) -> Result<(), ApiError>
    where
        P: Into<String>,
        B: Into<Vec<u8>>,
    {
        let (o, n) = split(repo)?;
        let files: BTreeMap<String, Vec<u8>> = files
            .into_iter()
            .map(|(p, b)| (p.into(), b.into()))
            .collect();
        self.shared.with_world(|w| w.set_files(o, n, sha, files))
    }

    /// Pushes commit `sha` straight to `branch` (no PR), as a person with push rights does: its
    /// parent is the branch's head, and the branch moves to it. `files` are the commit's whole
    /// tree, as [`Control::set_files`] stores them. 404 for an unknown branch, 422 for a sha that
    /// is already a commit.
    pub fn push_commit<P, B>(
        &self,
        repo: &str,
        branch: &str,
        sha: &str,
        files: impl IntoIterator<Item = (P, B)>,
    ) -> Result<(), ApiError>
    where
        P: Into<String>,
        B: Into<Vec<u8>>,
    {
        self.push_commit_as(repo, branch, sha, files, DEFAULT_ACTOR)
    }

    /// [`Control::push_commit`] by `actor` (the sender of the `synchronize` webhook when the
    /// branch is an open PR's head).
    pub fn push_commit_as<P, B>(
        &self,
        repo: &str,
        branch: &str,
        sha: &str,
        files: impl IntoIterator<Item = (P, B)>,
        actor: &str,
    ) -> Result<(), ApiError>
    where
        P: Into<String>,
        B: Into<Vec<u8>>,
    {
        let (o, n) = split(repo)?;
        let files: BTreeMap<String, Vec<u8>> = files
            .into_iter()
            .map(|(p, b)| (p.into(), b.into()))
            .collect();
        self.shared
            .with_world(|w| w.push_commit(o, n, branch, sha, files, actor))
    }

    /// The sha `branch` points at; `None` for an unknown repository or branch.
    pub fn branch_head(&self, repo: &str, branch: &str) -> Option<String> {
        let (o, n) = split(repo).ok()?;
        self.shared.lock().world.branch_head(o, n, branch)
    }

    /// The parents of commit `sha`, first parent first; `None` for a commit without recorded
    /// history (unknown, or known only by files set through [`Control::set_files`]).
    pub fn commit_parents(&self, repo: &str, sha: &str) -> Option<Vec<String>> {
        let (o, n) = split(repo).ok()?;
        let g = self.shared.lock();
        g.world.repo(o, n)?.parents(sha).map(<[String]>::to_vec)
    }

    /// The PR as `GET /repos/{o}/{r}/pulls/{n}` would return it (without touching any budget).
    pub fn pull(&self, repo: &str, number: u64) -> Option<Value> {
        let (o, n) = split(repo).ok()?;
        let g = self.shared.lock();
        let r = g.world.repo(o, n)?;
        let pr = r.pulls.get(&number)?;
        Some(render::pull_request(&g.world, r, pr, PullShape::Full))
    }

    pub fn pull_labels(&self, repo: &str, number: u64) -> Result<Vec<String>, ApiError> {
        let (o, n) = split(repo)?;
        let v = self.shared.lock().world.list_issue_labels(o, n, number)?;
        Ok(names(&v))
    }

    pub fn repo_labels(&self, repo: &str) -> Result<Vec<String>, ApiError> {
        let (o, n) = split(repo)?;
        let items = self
            .shared
            .lock()
            .world
            .repo_labels(o, n)
            .ok_or_else(|| ApiError::not_found(DOCS))?;
        Ok(names(&Value::Array(items)))
    }

    /// A repository label's definition: `(name, colour, description)`.
    pub fn repo_label(&self, repo: &str, label: &str) -> Option<(String, String, Option<String>)> {
        let (o, n) = split(repo).ok()?;
        let g = self.shared.lock();
        let found = crate::labels::find_label(g.world.repo(o, n)?, label)?;
        Some((
            found.name.clone(),
            found.color.clone(),
            found.description.clone(),
        ))
    }

    /// Deletes a label's definition, as a person does in the repository's settings: the label goes
    /// from every PR too, without a webhook for each.
    pub fn delete_repo_label(&self, repo: &str, label: &str) -> Result<(), ApiError> {
        let (o, n) = split(repo)?;
        self.with_world(|w| w.delete_label(o, n, label))
    }

    /// Accepts `token` from now on, acting as `login`.
    pub fn add_token(&self, token: &str, login: &str) {
        let mut g = self.shared.lock();
        g.world.account(login);
        g.tokens.insert(
            token.to_string(),
            TokenInfo {
                login: login.to_string(),
                expires_at: None,
            },
        );
    }

    /// Configures the webhook (sends a `ping`, as GitHub does on creation).
    pub fn set_webhook(&self, url: &str, secret: Option<&str>) {
        self.shared.set_webhook(Some(WebhookConfig {
            url: url.to_string(),
            secret: secret.map(str::to_string),
        }));
    }

    pub fn clear_webhook(&self) {
        self.shared.set_webhook(None);
    }

    /// Replaces the fault settings (and restarts their counters and PRNG).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().limits.set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().limits.faults.clone()
    }

    /// Uses up `token`'s budget; it comes back `reset_in_secs` from now.
    pub fn exhaust_budget(&self, token: &str, reset_in_secs: i64) {
        let mut g = self.shared.lock();
        let now = g.world.now();
        g.limits.exhaust(token, now, reset_in_secs);
    }

    pub fn set_rate_limit(&self, token: &str, limit: u64) {
        let mut g = self.shared.lock();
        let now = g.world.now();
        g.limits.set_limit(token, now, limit);
    }

    /// Moves the simulator's clock forward (timestamps, budget resets, token expiry).
    pub fn advance_time(&self, secs: i64) {
        self.shared.lock().world.clock_offset += secs;
    }

    /// The simulator's current time, in epoch seconds.
    pub fn now(&self) -> i64 {
        self.shared.lock().world.now()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// The most API requests that were in flight at once (arrived, not yet answered) since the
    /// start or the last [`Control::reset_counters`].
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight()
    }

    /// Entries a recursive `git/trees` answer lists before it says `truncated: true` (GitHub's
    /// limit, 100,000, by default), to exercise clients' handling of a truncated tree.
    pub fn set_tree_entry_limit(&self, entries: usize) {
        self.shared.lock().limits.tree_entries = entries;
    }

    pub fn budget(&self, token: &str) -> Budget {
        let mut g = self.shared.lock();
        let now = g.world.now();
        g.limits.budget(token, now)
    }

    pub fn budgets(&self) -> BTreeMap<String, Budget> {
        let g = self.shared.lock();
        g.limits
            .budgets
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries()
    }

    /// Waits until at least `n` deliveries are finished (answered, failed or dropped).
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.deliveries();
            let done = all
                .iter()
                .filter(|d| d.dropped || d.status.is_some() || d.error.is_some())
                .count();
            if done >= n || tokio::time::Instant::now() >= deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Clears the request log, budgets, deliveries log, fault counters and the in-flight
    /// maximum (not the world).
    pub fn reset_counters(&self) {
        self.shared.reset_max_in_flight();
        let mut g = self.shared.lock();
        g.log.clear();
        g.limits.reset_counters();
        let faults = g.limits.faults.clone();
        g.limits.set_faults(faults);
        drop(g);
        match self.shared.deliveries.lock() {
            Ok(mut d) => d.clear(),
            Err(p) => p.into_inner().clear(),
        }
    }

    /// Direct access to the world, for tests that need a state the control API does not offer.
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        self.shared.with_world(f)
    }
}

fn names(labels: &Value) -> Vec<String> {
    labels
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
