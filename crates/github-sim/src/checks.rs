//! GitHub's check runs, which only a GitHub App writes (through an installation token; see
//! `http/checks.rs`): a named run on a commit with a status (`queued`, `in_progress`,
//! `completed`), a conclusion once completed, and an output (title, summary, text, annotations).
//! Annotations accumulate across requests, at most 50 a request (check-run-update-annotations:
//! 50 at creation and 50 more give `annotations_count: 100`). Runs of one commit share a check
//! suite. `check_run` webhooks: `created`, `completed` (when an update completes a run), and
//! `rerequested` (a person asks again, from the control API).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::commits::resolve_commit;
use crate::error::ApiError;
use crate::ids;
use crate::model::{OutgoingEvent, PrState, Repo, World};
use crate::request_json::{object, opt_str, schema_error};
use crate::time::rfc3339;

pub const DOC_CREATE: &str = "https://docs.github.com/rest/checks/runs#create-a-check-run";
pub const DOC_UPDATE: &str = "https://docs.github.com/rest/checks/runs#update-a-check-run";
pub const DOC_GET: &str = "https://docs.github.com/rest/checks/runs#get-a-check-run";
pub const DOC_FOR_REF: &str =
    "https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference";

/// GitHub's documented limit of annotations per request.
pub const MAX_ANNOTATIONS: usize = 50;
const STATUSES: [&str; 3] = ["queued", "in_progress", "completed"];
const CONCLUSIONS: [&str; 8] = [
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub external_id: String,
    /// `None`: the App's URL, as recorded for a run created without one.
    pub details_url: Option<String>,
    pub status: String,
    pub conclusion: Option<String>,
    /// RFC 3339, as sent or the time of the request.
    pub started_at: String,
    pub completed_at: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// Every annotation sent, across requests, as sent.
    pub annotations: Vec<Value>,
    pub check_suite: u64,
    /// The App object as it was when the run was created.
    pub app: Value,
}

/// A create or update request, checked (`name` and `head_sha` are required to create).
#[derive(Debug, Clone, Default)]
pub struct CheckRunRequest {
    pub name: Option<String>,
    pub head_sha: Option<String>,
    pub external_id: Option<String>,
    pub details_url: Option<String>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub annotations: Vec<Value>,
}

impl CheckRunRequest {
    /// 400 for JSON that does not parse; 422 in GitHub's JSON-schema form otherwise. A
    /// `completed` status without a conclusion gets the recorded message
    /// (check-run-create-422.json); the wording of the others is an assumption.
    pub fn from_json(bytes: &[u8], create: bool) -> Result<Self, ApiError> {
        let doc = if create { DOC_CREATE } else { DOC_UPDATE };
        let m = object(bytes, doc)?;
        let mut r = Self {
            name: opt_str(&m, "name", doc)?,
            head_sha: opt_str(&m, "head_sha", doc)?,
            external_id: opt_str(&m, "external_id", doc)?,
            details_url: opt_str(&m, "details_url", doc)?,
            status: opt_str(&m, "status", doc)?,
            conclusion: opt_str(&m, "conclusion", doc)?,
            started_at: opt_str(&m, "started_at", doc)?,
            completed_at: opt_str(&m, "completed_at", doc)?,
            ..Self::default()
        };
        for (key, field) in [("name", &r.name), ("head_sha", &r.head_sha)] {
            if create && field.is_none() {
                return Err(schema_error(&format!("\"{key}\" wasn't supplied."), doc));
            }
        }
        if let Some(s) = &r.status
            && !STATUSES.contains(&s.as_str())
        {
            return Err(schema_error(
                &format!("For 'properties/status', \"{s}\" is not a member of {STATUSES:?}."),
                doc,
            ));
        }
        if let Some(c) = &r.conclusion
            && !CONCLUSIONS.contains(&c.as_str())
        {
            return Err(schema_error(
                &format!(
                    "For 'properties/conclusion', \"{c}\" is not a member of {CONCLUSIONS:?}."
                ),
                doc,
            ));
        }
        if r.status.as_deref() == Some("completed") && r.conclusion.is_none() {
            return Err(schema_error(
                "No subschema in \"anyOf\" matched.\n\"conclusion\" wasn't supplied.\ncompleted is not a member of [\"queued\", \"in_progress\"].",
                doc,
            ));
        }
        if let Some(out) = m.get("output").filter(|v| !v.is_null()) {
            let Value::Object(o) = out else {
                return Err(schema_error(
                    "For 'properties/output', it is not an object.",
                    doc,
                ));
            };
            r.title = opt_str(o, "title", doc)?;
            r.summary = opt_str(o, "summary", doc)?;
            r.text = opt_str(o, "text", doc)?;
            for key in ["title", "summary"] {
                if !o.contains_key(key) {
                    return Err(schema_error(&format!("\"{key}\" wasn't supplied."), doc));
                }
            }
            r.annotations = match o.get("annotations") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => {
                    return Err(schema_error(
                        "For 'properties/annotations', it is not an array.",
                        doc,
                    ));
                }
            };
            if r.annotations.len() > MAX_ANNOTATIONS {
                return Err(schema_error(
                    &format!(
                        "For 'properties/annotations', {} items are more than the maximum of {MAX_ANNOTATIONS}.",
                        r.annotations.len()
                    ),
                    doc,
                ));
            }
        }
        Ok(r)
    }
}

impl World {
    pub fn check_run(
        &self,
        owner: &str,
        name: &str,
        id: u64,
        doc: &str,
    ) -> Result<&CheckRun, ApiError> {
        self.repo(owner, name)
            .and_then(|r| r.check_runs.iter().find(|c| c.id == id))
            .ok_or_else(|| ApiError::not_found(doc))
    }

    /// The runs on the commit `reference` names, newest first: with `latest`, only the newest
    /// of each name (GitHub's default `filter=latest`); with `name`, only runs so named.
    pub fn check_runs_for_ref(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
        check_name: Option<&str>,
        latest: bool,
    ) -> Result<(&Repo, Vec<&CheckRun>), ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_FOR_REF))?;
        let Some(sha) = resolve_commit(repo, reference) else {
            return Err(ApiError::new(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("No commit found for SHA: {reference}"),
                DOC_FOR_REF,
            ));
        };
        let mut out: Vec<&CheckRun> = Vec::new();
        for c in repo.check_runs.iter().rev().filter(|c| c.head_sha == sha) {
            if check_name.is_some_and(|n| n != c.name)
                || (latest && out.iter().any(|o| o.name == c.name))
            {
                continue;
            }
            out.push(c);
        }
        Ok((repo, out))
    }

    /// `POST .../check-runs` by the App (`app` its object): 422 for a commit the repository
    /// does not have. A conclusion completes the run.
    pub fn create_check_run(
        &mut self,
        owner: &str,
        name: &str,
        req: &CheckRunRequest,
        app: Value,
        sender: &str,
    ) -> Result<CheckRun, ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_CREATE))?;
        let head = req.head_sha.clone().unwrap_or_default();
        let sha = resolve_commit(repo, &head)
            .filter(|s| *s == head)
            .ok_or_else(|| ApiError::validation("CheckRun", "invalid", "head_sha", DOC_CREATE))?;
        let suite = repo
            .check_runs
            .iter()
            .find(|c| c.head_sha == sha)
            .map(|c| c.check_suite);
        let check_suite = match suite {
            Some(s) => s,
            None => self.alloc_id(),
        };
        let now = rfc3339(self.now());
        let status = match (&req.conclusion, &req.status) {
            (Some(_), _) => "completed".to_string(),
            (None, Some(s)) => s.clone(),
            (None, None) => "queued".to_string(),
        };
        let run = CheckRun {
            id: self.alloc_id(),
            name: req.name.clone().unwrap_or_default(),
            head_sha: sha,
            external_id: req.external_id.clone().unwrap_or_default(),
            details_url: req.details_url.clone(),
            completed_at: (status == "completed")
                .then(|| req.completed_at.clone().unwrap_or_else(|| now.clone())),
            status,
            conclusion: req.conclusion.clone(),
            started_at: req.started_at.clone().unwrap_or(now),
            title: req.title.clone(),
            summary: req.summary.clone(),
            text: req.text.clone(),
            annotations: req.annotations.clone(),
            check_suite,
            app,
        };
        let key = World::repo_key(owner, name);
        if let Some(repo) = self.repos.get_mut(&key) {
            repo.check_runs.push(run.clone());
        }
        self.emit_check_run(&key, &run, "created", sender, None);
        Ok(run)
    }

    /// `PATCH .../check-runs/{id}`: members sent replace the run's; annotations are appended.
    pub fn update_check_run(
        &mut self,
        owner: &str,
        name: &str,
        id: u64,
        req: &CheckRunRequest,
        sender: &str,
    ) -> Result<CheckRun, ApiError> {
        let now = rfc3339(self.now());
        let key = World::repo_key(owner, name);
        let run = self
            .repos
            .get_mut(&key)
            .and_then(|r| r.check_runs.iter_mut().find(|c| c.id == id))
            .ok_or_else(|| ApiError::not_found(DOC_UPDATE))?;
        let was_completed = run.status == "completed";
        let set = |dst: &mut Option<String>, src: &Option<String>| {
            if src.is_some() {
                dst.clone_from(src);
            }
        };
        if let Some(n) = &req.name {
            run.name.clone_from(n);
        }
        if let Some(e) = &req.external_id {
            run.external_id.clone_from(e);
        }
        if let Some(s) = &req.started_at {
            run.started_at.clone_from(s);
        }
        set(&mut run.details_url, &req.details_url);
        set(&mut run.title, &req.title);
        set(&mut run.summary, &req.summary);
        set(&mut run.text, &req.text);
        run.annotations.extend(req.annotations.iter().cloned());
        if let Some(s) = &req.status {
            run.status.clone_from(s);
        }
        if req.conclusion.is_some() {
            run.conclusion.clone_from(&req.conclusion);
            run.status = "completed".into();
        }
        if run.status == "completed" {
            run.completed_at = req
                .completed_at
                .clone()
                .or(run.completed_at.take())
                .or(Some(now));
        }
        let updated = run.clone();
        if !was_completed && updated.status == "completed" {
            self.emit_check_run(&key, &updated, "completed", sender, None);
        }
        Ok(updated)
    }

    /// A person re-requests run `id` (GitHub's "Re-run" button): a `rerequested` webhook with
    /// the run as it is and its suite `queued`, as in the recorded delivery.
    pub fn rerequest_check_run(
        &mut self,
        owner: &str,
        name: &str,
        id: u64,
        sender: &str,
    ) -> Result<(), ApiError> {
        let run = self.check_run(owner, name, id, DOC_GET)?.clone();
        self.emit_check_run(
            &World::repo_key(owner, name),
            &run,
            "rerequested",
            sender,
            Some("queued"),
        );
        Ok(())
    }

    fn emit_check_run(
        &mut self,
        key: &str,
        run: &CheckRun,
        action: &str,
        sender: &str,
        suite_status: Option<&str>,
    ) {
        let sender = self.account(sender);
        let Some(repo) = self.repos.get(key) else {
            return;
        };
        let mut cr = check_run(self, repo, run);
        if let Some(o) = cr.as_object_mut() {
            o.insert(
                "check_suite".into(),
                check_suite(self, repo, run, suite_status),
            );
        }
        let mut payload = Map::new();
        payload.insert("action".into(), json!(action));
        payload.insert("check_run".into(), cr);
        self.finish_payload(&mut payload, repo, &sender);
        self.outbox.push(OutgoingEvent {
            event: "check_run".into(),
            action: Some(action.into()),
            payload: Value::Object(payload),
        });
    }
}

/// Open PRs whose head is the run's commit, in the short form check runs carry.
fn pull_requests(world: &World, repo: &Repo, sha: &str) -> Value {
    let api = format!("{}/repos/{}", world.base, repo.full_name());
    let side = |r: &str, s: &str| json!({"ref": r, "sha": s, "repo": {"id": repo.id, "url": api, "name": repo.name}});
    Value::Array(
        repo.pulls
            .values()
            .filter(|p| p.state == PrState::Open && p.head_sha == sha)
            .map(|p| {
                json!({
                    "url": format!("{api}/pulls/{}", p.number),
                    "id": p.id,
                    "number": p.number,
                    "head": side(&p.head_ref, &p.head_sha),
                    "base": side(&p.base_ref, &p.base_sha),
                })
            })
            .collect(),
    )
}

/// A check run (check-run-create.json).
pub fn check_run(world: &World, repo: &Repo, c: &CheckRun) -> Value {
    let base = &world.base;
    let full = repo.full_name();
    let url = format!("{base}/repos/{full}/check-runs/{}", c.id);
    let details = c.details_url.clone().or_else(|| {
        c.app
            .get("external_url")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    json!({
        "id": c.id,
        "node_id": ids::node_id("CheckRun", c.id),
        "head_sha": c.head_sha,
        "external_id": c.external_id,
        "url": url,
        "html_url": format!("{base}/{full}/runs/{}", c.id),
        "details_url": details,
        "status": c.status,
        "conclusion": c.conclusion,
        "started_at": c.started_at,
        "completed_at": c.completed_at,
        "output": {
            "title": c.title,
            "summary": c.summary,
            "text": c.text,
            "annotations_count": c.annotations.len(),
            "annotations_url": format!("{url}/annotations"),
        },
        "name": c.name,
        "check_suite": {"id": c.check_suite},
        "app": c.app,
        "pull_requests": pull_requests(world, repo, &c.head_sha),
    })
}

/// The run's suite in full, as webhooks carry it: its status is the runs' (`completed` when all
/// are) unless `status` says otherwise.
fn check_suite(world: &World, repo: &Repo, run: &CheckRun, status: Option<&str>) -> Value {
    let runs: Vec<&CheckRun> = repo
        .check_runs
        .iter()
        .filter(|c| c.check_suite == run.check_suite)
        .collect();
    let all_done = runs.iter().all(|c| c.status == "completed");
    let status = status.unwrap_or(if all_done { "completed" } else { "in_progress" });
    let conclusion = (status == "completed").then(|| {
        let ok = runs.iter().all(|c| {
            matches!(
                c.conclusion.as_deref(),
                Some("success" | "neutral" | "skipped")
            )
        });
        if ok { "success" } else { "failure" }
    });
    let head_branch = repo
        .branches
        .iter()
        .find(|(_, s)| **s == run.head_sha)
        .map(|(b, _)| b.clone());
    json!({
        "id": run.check_suite,
        "node_id": ids::node_id("CheckSuite", run.check_suite),
        "head_branch": head_branch,
        "head_sha": run.head_sha,
        "status": status,
        "conclusion": conclusion,
        "url": format!("{}/repos/{}/check-suites/{}", world.base, repo.full_name(), run.check_suite),
        // The commit before the push that brought the head: its first parent here.
        "before": repo
            .parents(&run.head_sha)
            .and_then(|p| p.first().cloned())
            .unwrap_or_else(|| "0".repeat(40)),
        "after": run.head_sha,
        "pull_requests": pull_requests(world, repo, &run.head_sha),
        "app": run.app,
        "created_at": run.started_at,
        "updated_at": run.completed_at.clone().unwrap_or_else(|| run.started_at.clone()),
    })
}
