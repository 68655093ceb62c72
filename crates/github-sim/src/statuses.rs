//! GitHub's commit statuses: per commit and context, a history of states (`error`, `failure`,
//! `pending`, `success`), listed newest first; the combined status is the newest of each context
//! and one state for all (`failure` if any is `error` or `failure`, else `pending` if any is
//! pending or there is none, else `success`). At most 1,000 statuses per commit and context.
//! Commit statuses send no webhook here (GitHub's `status` event is not modelled).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::commits::resolve_commit;
use crate::error::ApiError;
use crate::ids;
use crate::model::{Repo, World};
use crate::render::{self, user_value};
use crate::request_json::{object, opt_str, schema_error};
use crate::time::rfc3339;

pub const DOC_CREATE: &str = "https://docs.github.com/rest/commits/statuses#create-a-commit-status";
pub const DOC_LIST: &str =
    "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference";
pub const DOC_COMBINED: &str = "https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference";

/// GitHub's cap per commit and context (its docs; the 422 as logged in openshift/release#6179).
pub const MAX_PER_CONTEXT: usize = 1_000;
pub const MAX_DESCRIPTION_CHARS: usize = 140;
pub const STATES: [&str; 4] = ["error", "failure", "pending", "success"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// A status request, checked by [`NewCommitStatus::from_json`].
#[derive(Debug, Clone, Default)]
pub struct NewCommitStatus {
    pub state: String,
    pub context: Option<String>,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

fn custom(field: &str, message: &str) -> ApiError {
    ApiError::validation_message("Status", "custom", field, message, DOC_CREATE)
}

impl NewCommitStatus {
    /// 400 for JSON that does not parse; 422 for a missing or unknown state, a member of the
    /// wrong type, or a description over 140 characters.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ApiError> {
        let m = object(bytes, DOC_CREATE)?;
        let s = Self {
            state: opt_str(&m, "state", DOC_CREATE)?
                .ok_or_else(|| schema_error("\"state\" wasn't supplied.", DOC_CREATE))?,
            context: opt_str(&m, "context", DOC_CREATE)?,
            description: opt_str(&m, "description", DOC_CREATE)?,
            target_url: opt_str(&m, "target_url", DOC_CREATE)?,
        };
        s.check()?;
        Ok(s)
    }

    /// The messages are GitHub's `Validation Failed` form for statuses (resource `Status`,
    /// code `custom`); the wording for a bad state is an assumption, none was recorded.
    pub fn check(&self) -> Result<(), ApiError> {
        if !STATES.contains(&self.state.as_str()) {
            return Err(custom("state", "state is not included in the list"));
        }
        if self
            .description
            .as_deref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err(custom(
                "description",
                "description is too long (maximum is 140 characters)",
            ));
        }
        Ok(())
    }
}

/// The combined state of the newest status of each context.
pub fn combined_state(latest: &[&CommitStatus]) -> &'static str {
    if latest
        .iter()
        .any(|s| s.state == "error" || s.state == "failure")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    }
}

impl World {
    /// The commit `reference` names in the repository (404 for an unknown repository, 422 "No
    /// commit found for SHA" for an unknown commit, as GitHub answers a status for one).
    fn status_commit(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
        doc: &str,
    ) -> Result<(&Repo, String), ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(doc))?;
        let sha = resolve_commit(repo, reference).ok_or_else(|| {
            ApiError::new(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("No commit found for SHA: {reference}"),
                doc,
            )
        })?;
        Ok((repo, sha))
    }

    /// The statuses of the commit `reference` names, newest first (none for an unknown ref).
    pub fn commit_statuses(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
    ) -> Result<(&Repo, Vec<&CommitStatus>), ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_LIST))?;
        let Some(sha) = resolve_commit(repo, reference) else {
            return Ok((repo, Vec::new()));
        };
        Ok((
            repo,
            repo.statuses
                .iter()
                .rev()
                .filter(|s| s.sha == sha)
                .collect(),
        ))
    }

    /// The newest status of each context of the commit, oldest context first, with the sha.
    pub fn latest_statuses(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
    ) -> Result<(&Repo, String, Vec<&CommitStatus>), ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_COMBINED))?;
        let sha =
            resolve_commit(repo, reference).ok_or_else(|| ApiError::not_found(DOC_COMBINED))?;
        let mut latest: Vec<&CommitStatus> = Vec::new();
        for s in repo.statuses.iter().filter(|s| s.sha == sha) {
            match latest.iter_mut().find(|l| l.context == s.context) {
                Some(l) => *l = s,
                None => latest.push(s),
            }
        }
        Ok((repo, sha, latest))
    }

    /// `POST .../statuses/{sha}`: a new status for the commit and context.
    pub fn create_commit_status(
        &mut self,
        owner: &str,
        name: &str,
        reference: &str,
        new: &NewCommitStatus,
        sender: &str,
    ) -> Result<CommitStatus, ApiError> {
        new.check()?;
        let (repo, sha) = self.status_commit(owner, name, reference, DOC_CREATE)?;
        let context = new.context.clone().unwrap_or_else(|| "default".into());
        let count = repo
            .statuses
            .iter()
            .filter(|s| s.sha == sha && s.context == context)
            .count();
        if count >= MAX_PER_CONTEXT {
            let mut e = custom(
                "",
                "This SHA and context has reached the maximum number of statuses.",
            );
            // GitHub's error names no field here.
            if let Some(first) = e.errors.as_mut().and_then(|v| v.first_mut()) {
                first.field.clear();
            }
            return Err(e);
        }
        self.account(sender);
        let status = CommitStatus {
            id: self.alloc_id(),
            sha,
            state: new.state.clone(),
            context,
            description: new.description.clone(),
            target_url: new.target_url.clone(),
            creator: sender.to_string(),
            created_at: self.now(),
        };
        let Some(repo) = self.repo_mut(owner, name) else {
            return Err(ApiError::not_found(DOC_CREATE));
        };
        repo.statuses.push(status.clone());
        Ok(status)
    }
}

/// A commit status (commit-status-create.json); the combined status leaves out `creator`.
pub fn commit_status(world: &World, repo: &Repo, s: &CommitStatus, with_creator: bool) -> Value {
    let creator = user_value(world, &s.creator);
    let mut v = json!({
        "url": format!("{}/repos/{}/statuses/{}", world.base, repo.full_name(), s.sha),
        "avatar_url": creator.get("avatar_url").cloned().unwrap_or(Value::Null),
        "id": s.id,
        "node_id": ids::node_id("StatusContext", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.created_at),
    });
    if with_creator && let Some(o) = v.as_object_mut() {
        o.insert("creator".into(), creator);
    }
    v
}

/// The combined status (commit-status-combined.json), with `statuses` as given (one page).
pub fn combined(
    world: &World,
    repo: &Repo,
    sha: &str,
    state: &str,
    statuses: Vec<Value>,
    total: usize,
) -> Value {
    let api = format!("{}/repos/{}", world.base, repo.full_name());
    json!({
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": total,
        "repository": render::repository(world, repo),
        "commit_url": format!("{api}/commits/{sha}"),
        "url": format!("{api}/commits/{sha}/status"),
    })
}
