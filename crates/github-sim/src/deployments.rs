//! GitHub Deployments and their statuses: a deployment names a commit (found from a branch or a
//! sha), an environment and a task; statuses follow it (`queued`, `in_progress`, `success`, …).
//! Lists are newest first. Each creation is a `deployment` or `deployment_status` webhook
//! (`created`). A `success` marks the earlier successful deployments of the same environment
//! `inactive` unless `auto_inactive` is false, as GitHub documents.
//!
//! Not simulated: `auto_merge` (GitHub merges the default branch into a ref behind it; the
//! simulator never does, as if every ref were up to date) and the `required_contexts` check (every
//! deployment is created as if its contexts had passed); tags (the simulator has none).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::commits::resolve_commit;
use crate::error::ApiError;
use crate::model::{OutgoingEvent, Repo, World};
use crate::request_json::{object, opt_bool, opt_str, schema_error};

mod render;
pub use render::{deployment, deployment_status};

pub const DOC_CREATE: &str =
    "https://docs.github.com/rest/deployments/deployments#create-a-deployment";
pub const DOC_LIST: &str = "https://docs.github.com/rest/deployments/deployments#list-deployments";
pub const DOC_GET: &str = "https://docs.github.com/rest/deployments/deployments#get-a-deployment";
pub const DOC_STATUS_CREATE: &str =
    "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status";
pub const DOC_STATUS_LIST: &str =
    "https://docs.github.com/rest/deployments/statuses#list-deployment-statuses";
pub const DOC_STATUS_GET: &str =
    "https://docs.github.com/rest/deployments/statuses#get-a-deployment-status";

/// GitHub's limit on a deployment status's description (PR github/developer.github.com#976;
/// the 422 as logged in Shopify/shipit-engine#1004).
pub const MAX_DESCRIPTION_CHARS: usize = 140;

/// The states a deployment status may have.
pub const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// A deployment as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    /// The ref as given (a branch name or a sha).
    #[serde(rename = "ref")]
    pub reference: String,
    pub task: String,
    /// As sent: a JSON string stays a string, an object stays an object.
    pub payload: Value,
    /// The environment now (a status may move it); `original_environment` is the first.
    pub environment: String,
    pub original_environment: String,
    pub description: Option<String>,
    pub creator: String,
    pub transient_environment: bool,
    pub production_environment: bool,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds; moves with each new status.
    pub updated_at: i64,
    /// Oldest first (the REST API lists them newest first).
    pub statuses: Vec<DeploymentStatus>,
}

impl Deployment {
    /// The state of the newest status, if any.
    pub fn state(&self) -> Option<&str> {
        self.statuses.last().map(|s| s.state.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: String,
    pub creator: String,
    pub description: String,
    pub environment: String,
    pub target_url: String,
    pub log_url: String,
    pub environment_url: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// A deployment request, checked (see [`NewDeployment::from_json`]).
#[derive(Debug, Clone, Default)]
pub struct NewDeployment {
    pub reference: String,
    pub task: Option<String>,
    pub payload: Option<Value>,
    pub environment: Option<String>,
    pub description: Option<String>,
    pub transient_environment: Option<bool>,
    pub production_environment: Option<bool>,
}

/// A deployment status request, checked (see [`NewDeploymentStatus::from_json`]).
#[derive(Debug, Clone, Default)]
pub struct NewDeploymentStatus {
    pub state: String,
    pub description: Option<String>,
    pub environment: Option<String>,
    pub target_url: Option<String>,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    /// Default true.
    pub auto_inactive: Option<bool>,
}

impl NewDeployment {
    /// Parses a POST body: 400 for JSON that does not parse, 422 for a missing `ref` or a member
    /// of the wrong type. `auto_merge` and `required_contexts` are checked for type only.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ApiError> {
        let m = object(bytes, DOC_CREATE)?;
        let reference = opt_str(&m, "ref", DOC_CREATE)?
            .ok_or_else(|| schema_error("\"ref\" wasn't supplied.", DOC_CREATE))?;
        opt_bool(&m, "auto_merge", DOC_CREATE)?;
        match m.get("required_contexts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(v) => {
                return Err(schema_error(
                    &format!("For 'properties/required_contexts', {v} is not an array."),
                    DOC_CREATE,
                ));
            }
        }
        let payload = match m.get("payload") {
            None | Some(Value::Null) => None,
            Some(v @ (Value::String(_) | Value::Object(_))) => Some(v.clone()),
            Some(v) => {
                return Err(schema_error(
                    &format!(
                        "For 'anyOf/0', {v} is not an object. For 'anyOf/1', {v} is not a string."
                    ),
                    DOC_CREATE,
                ));
            }
        };
        Ok(Self {
            reference,
            task: opt_str(&m, "task", DOC_CREATE)?,
            payload,
            environment: opt_str(&m, "environment", DOC_CREATE)?,
            description: opt_str(&m, "description", DOC_CREATE)?,
            transient_environment: opt_bool(&m, "transient_environment", DOC_CREATE)?,
            production_environment: opt_bool(&m, "production_environment", DOC_CREATE)?,
        })
    }
}

impl NewDeploymentStatus {
    /// Parses a POST body: 422 for a missing or unknown `state`, a member of the wrong type, or
    /// a description over 140 characters (in GitHub's recorded `Validation Failed` form).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ApiError> {
        let m = object(bytes, DOC_STATUS_CREATE)?;
        let state = opt_str(&m, "state", DOC_STATUS_CREATE)?
            .ok_or_else(|| schema_error("\"state\" wasn't supplied.", DOC_STATUS_CREATE))?;
        let s = Self {
            state,
            description: opt_str(&m, "description", DOC_STATUS_CREATE)?,
            environment: opt_str(&m, "environment", DOC_STATUS_CREATE)?,
            target_url: opt_str(&m, "target_url", DOC_STATUS_CREATE)?,
            log_url: opt_str(&m, "log_url", DOC_STATUS_CREATE)?,
            environment_url: opt_str(&m, "environment_url", DOC_STATUS_CREATE)?,
            auto_inactive: opt_bool(&m, "auto_inactive", DOC_STATUS_CREATE)?,
        };
        s.check()?;
        Ok(s)
    }

    /// GitHub's rules on a status: a known state, a description of at most 140 characters.
    pub fn check(&self) -> Result<(), ApiError> {
        if !STATES.contains(&self.state.as_str()) {
            return Err(schema_error(
                &format!(
                    "For 'properties/state', \"{}\" is not a member of {STATES:?}.",
                    self.state
                ),
                DOC_STATUS_CREATE,
            ));
        }
        if self
            .description
            .as_deref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err(ApiError::validation_message(
                "DeploymentStatus",
                "custom",
                "description",
                "description is too long (maximum is 140 characters)",
                DOC_STATUS_CREATE,
            ));
        }
        Ok(())
    }
}

/// Filters of `GET .../deployments`.
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    pub sha: Option<String>,
    pub reference: Option<String>,
    pub task: Option<String>,
    pub environment: Option<String>,
}

impl DeploymentFilter {
    fn matches(&self, d: &Deployment) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.sha, &d.sha)
            && eq(&self.reference, &d.reference)
            && eq(&self.task, &d.task)
            && eq(&self.environment, &d.environment)
    }
}

impl World {
    fn repo_or_404(&self, owner: &str, name: &str, doc: &str) -> Result<&Repo, ApiError> {
        self.repo(owner, name)
            .ok_or_else(|| ApiError::not_found(doc))
    }

    /// The repository's deployments that match, newest first.
    pub fn deployments(
        &self,
        owner: &str,
        name: &str,
        filter: &DeploymentFilter,
    ) -> Result<Vec<&Deployment>, ApiError> {
        let repo = self.repo_or_404(owner, name, DOC_LIST)?;
        Ok(repo
            .deployments
            .iter()
            .rev()
            .filter(|d| filter.matches(d))
            .collect())
    }

    pub fn deployment(
        &self,
        owner: &str,
        name: &str,
        id: u64,
        doc: &str,
    ) -> Result<&Deployment, ApiError> {
        self.repo_or_404(owner, name, doc)?
            .deployments
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| ApiError::not_found(doc))
    }

    /// `POST .../deployments`: 422 when the ref names no branch or commit ("No ref found for:
    /// X", the message clients log for this case; no recording of it was found).
    pub fn create_deployment(
        &mut self,
        owner: &str,
        name: &str,
        new: &NewDeployment,
        sender: &str,
    ) -> Result<Deployment, ApiError> {
        let repo = self.repo_or_404(owner, name, DOC_CREATE)?;
        let sha = resolve_commit(repo, &new.reference).ok_or_else(|| {
            ApiError::new(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("No ref found for: {}", new.reference),
                DOC_CREATE,
            )
        })?;
        self.account(sender);
        let id = self.alloc_id();
        let now = self.now();
        let environment = new
            .environment
            .clone()
            .unwrap_or_else(|| "production".into());
        let d = Deployment {
            id,
            sha,
            reference: new.reference.clone(),
            task: new.task.clone().unwrap_or_else(|| "deploy".into()),
            payload: new.payload.clone().unwrap_or_else(|| json!({})),
            production_environment: new
                .production_environment
                .unwrap_or(environment == "production"),
            original_environment: environment.clone(),
            environment,
            description: new.description.clone(),
            creator: sender.to_string(),
            transient_environment: new.transient_environment.unwrap_or(false),
            created_at: now,
            updated_at: now,
            statuses: Vec::new(),
        };
        let key = World::repo_key(owner, name);
        if let Some(repo) = self.repos.get_mut(&key) {
            repo.deployments.push(d.clone());
        }
        self.emit_deployment(&key, &d, sender);
        Ok(d)
    }

    /// `POST .../deployments/{id}/statuses`: a new status (a `deployment_status` webhook). An
    /// `environment` moves the deployment to it; `log_url` and `target_url` stand for each other
    /// (the recording answers `target_url` = the `log_url` sent). A `success` with
    /// `auto_inactive` (the default) adds an `inactive` status to each earlier deployment of the
    /// same environment that is neither transient nor production and whose last state is
    /// `success`; those additions send no webhook (an assumption: none was recorded).
    pub fn create_deployment_status(
        &mut self,
        owner: &str,
        name: &str,
        deployment: u64,
        new: &NewDeploymentStatus,
        sender: &str,
    ) -> Result<(Deployment, DeploymentStatus), ApiError> {
        new.check()?;
        self.deployment(owner, name, deployment, DOC_STATUS_CREATE)?;
        self.account(sender);
        let id = self.alloc_id();
        let now = self.now();
        let key = World::repo_key(owner, name);
        let Some(repo) = self.repos.get_mut(&key) else {
            return Err(ApiError::not_found(DOC_STATUS_CREATE));
        };
        let Some(d) = repo.deployments.iter_mut().find(|d| d.id == deployment) else {
            return Err(ApiError::not_found(DOC_STATUS_CREATE));
        };
        if let Some(env) = &new.environment {
            d.environment = env.clone();
        }
        let log_url = new.log_url.clone().or_else(|| new.target_url.clone());
        let status = DeploymentStatus {
            id,
            state: new.state.clone(),
            creator: sender.to_string(),
            description: new.description.clone().unwrap_or_default(),
            environment: d.environment.clone(),
            target_url: log_url.clone().unwrap_or_default(),
            log_url: log_url.unwrap_or_default(),
            environment_url: new.environment_url.clone().unwrap_or_default(),
            created_at: now,
        };
        d.statuses.push(status.clone());
        d.updated_at = now;
        let updated = d.clone();
        if new.state == "success" && new.auto_inactive.unwrap_or(true) {
            self.mark_inactive(&key, &updated, sender);
        }
        self.emit_deployment_status(&key, &updated, &status, sender);
        Ok((updated, status))
    }

    fn mark_inactive(&mut self, key: &str, current: &Deployment, sender: &str) {
        let ids: Vec<u64> = self
            .repos
            .get(key)
            .map(|r| {
                r.deployments
                    .iter()
                    .filter(|d| d.id < current.id && d.environment == current.environment)
                    .filter(|d| !d.transient_environment && !d.production_environment)
                    .filter(|d| d.state() == Some("success"))
                    .map(|d| d.id)
                    .collect()
            })
            .unwrap_or_default();
        for old in ids {
            let id = self.alloc_id();
            let now = self.now();
            let Some(d) = self
                .repos
                .get_mut(key)
                .and_then(|r| r.deployments.iter_mut().find(|d| d.id == old))
            else {
                continue;
            };
            let last = d.statuses.last().cloned();
            d.statuses.push(DeploymentStatus {
                id,
                state: "inactive".into(),
                creator: sender.to_string(),
                description: String::new(),
                environment: d.environment.clone(),
                target_url: last
                    .as_ref()
                    .map(|s| s.target_url.clone())
                    .unwrap_or_default(),
                log_url: last.as_ref().map(|s| s.log_url.clone()).unwrap_or_default(),
                environment_url: last.map(|s| s.environment_url).unwrap_or_default(),
                created_at: now,
            });
            d.updated_at = now;
        }
    }

    fn emit_deployment(&mut self, key: &str, d: &Deployment, sender: &str) {
        let sender = self.account(sender);
        let Some(repo) = self.repos.get(key) else {
            return;
        };
        let mut payload = Map::new();
        payload.insert("action".into(), json!("created"));
        payload.insert("deployment".into(), deployment(self, repo, d));
        // Set when an Actions workflow made the deployment; never here.
        payload.insert("workflow".into(), Value::Null);
        payload.insert("workflow_run".into(), Value::Null);
        self.finish_payload(&mut payload, repo, &sender);
        self.outbox.push(OutgoingEvent {
            event: "deployment".into(),
            action: Some("created".into()),
            payload: Value::Object(payload),
        });
    }

    fn emit_deployment_status(
        &mut self,
        key: &str,
        d: &Deployment,
        s: &DeploymentStatus,
        sender: &str,
    ) {
        let sender = self.account(sender);
        let Some(repo) = self.repos.get(key) else {
            return;
        };
        let mut payload = Map::new();
        payload.insert("action".into(), json!("created"));
        payload.insert(
            "deployment_status".into(),
            deployment_status(self, repo, d, s),
        );
        payload.insert("deployment".into(), deployment(self, repo, d));
        // Set when an Actions job reports the status; never here.
        payload.insert("check_run".into(), Value::Null);
        payload.insert("workflow_run".into(), Value::Null);
        self.finish_payload(&mut payload, repo, &sender);
        self.outbox.push(OutgoingEvent {
            event: "deployment_status".into(),
            action: Some("created".into()),
            payload: Value::Object(payload),
        });
    }
}
