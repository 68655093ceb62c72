//! `/_sim/...`: the control surface over HTTP (JSON), for the standalone simulator and
//! end-to-end tests. GitHub never uses this prefix; these requests are not rate limited,
//! faulted or logged.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use base64::Engine;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::checks::CheckRun;
use crate::contents::Contents;
use crate::control::{Control, DEFAULT_ACTOR};
use crate::deployments::Deployment;
use crate::error::{ApiError, DOCS};
use crate::limits::Faults;
use crate::model::{IssueComment, RepoOptions};
use crate::pulls::{NewPull, PullEdit};
use crate::shared::Shared;
use crate::statuses::CommitStatus;

type Pr = Path<(String, String, u64)>;

fn ctl(s: Arc<Shared>) -> Control {
    Control { shared: s }
}

fn full(o: &str, r: &str) -> String {
    format!("{o}/{r}")
}

#[derive(Deserialize)]
struct NewRepo {
    owner: String,
    name: String,
    #[serde(flatten)]
    opts: RepoOptions,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Act {
    actor: Option<String>,
    sha: Option<String>,
    name: Option<String>,
    #[serde(flatten)]
    edit: PullEdit,
}

impl Act {
    fn actor(&self) -> &str {
        self.actor.as_deref().unwrap_or(DEFAULT_ACTOR)
    }
}

#[derive(Deserialize)]
struct Files {
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    files_base64: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Token {
    token: String,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    reset_in_secs: Option<i64>,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Deserialize)]
struct Hook {
    url: String,
    #[serde(default)]
    secret: Option<String>,
}

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/repos", post(create_repo))
        .route("/_sim/repos/{o}/{r}/rename", post(rename_repo))
        .route("/_sim/repos/{o}/{r}/pulls", post(create_pull))
        .route(
            "/_sim/repos/{o}/{r}/pulls/{n}",
            get(get_pull).patch(edit_pull),
        )
        .route("/_sim/repos/{o}/{r}/pulls/{n}/labels", post(add_label))
        .route(
            "/_sim/repos/{o}/{r}/pulls/{n}/labels/{*name}",
            delete(remove_label),
        )
        .route(
            "/_sim/repos/{o}/{r}/pulls/{n}/comments",
            get(list_comments).post(add_comment),
        )
        .route(
            "/_sim/repos/{o}/{r}/comments/{id}",
            get(get_comment).patch(edit_comment).delete(delete_comment),
        )
        .route("/_sim/repos/{o}/{r}/deployments", get(list_deployments))
        .route(
            "/_sim/repos/{o}/{r}/commits/{sha}/statuses",
            get(list_commit_statuses),
        )
        .route(
            "/_sim/repos/{o}/{r}/commits/{sha}/check-runs",
            get(list_check_runs),
        )
        .route(
            "/_sim/repos/{o}/{r}/check-runs/{id}/rerequest",
            post(rerequest_check_run),
        )
        .route("/_sim/repos/{o}/{r}/pulls/{n}/{action}", post(pull_action))
        .route("/_sim/repos/{o}/{r}/commits/{sha}/files", put(set_files))
        // Catch-all: branch names may contain `/`.
        .route(
            "/_sim/repos/{o}/{r}/branches/{*branch}",
            get(branch_head).post(push_commit),
        )
        .route("/_sim/raw/{o}/{r}/{reference}/{*path}", get(raw))
        .route("/_sim/webhook", put(set_webhook).delete(clear_webhook))
        .route(
            "/_sim/faults",
            get(get_faults).put(set_faults).delete(clear_faults),
        )
        .route("/_sim/tokens", post(add_token))
        .route("/_sim/budgets", get(budgets))
        .route("/_sim/budgets/exhaust", post(exhaust))
        .route("/_sim/budgets/limit", post(set_limit))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/requests", get(requests))
        .route("/_sim/deliveries", get(deliveries))
        .route("/_sim/reset", post(reset))
}

async fn create_repo(
    State(s): State<Arc<Shared>>,
    Json(b): Json<NewRepo>,
) -> Result<Response, ApiError> {
    ctl(s).create_repo_with(&full(&b.owner, &b.name), b.opts)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"full_name": full(&b.owner, &b.name)})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Rename {
    /// The new `owner/name`.
    to: String,
}

async fn rename_repo(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Path<(String, String)>,
    Json(b): Json<Rename>,
) -> Result<Response, ApiError> {
    ctl(s).rename_repo(&full(&o, &r), &b.to)?;
    Ok((StatusCode::OK, Json(json!({"full_name": b.to}))).into_response())
}

async fn create_pull(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Path<(String, String)>,
    Json(b): Json<NewPull>,
) -> Result<Response, ApiError> {
    let c = ctl(s);
    let n = c.create_pull(&full(&o, &r), b)?;
    let pr = c.pull(&full(&o, &r), n).unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, Json(pr)).into_response())
}

async fn get_pull(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Pr,
) -> Result<Json<Value>, ApiError> {
    ctl(s)
        .pull(&full(&o, &r), n)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(DOCS))
}

async fn edit_pull(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Pr,
    Json(b): Json<Act>,
) -> Result<Json<Value>, ApiError> {
    let c = ctl(s);
    c.edit_pull(&full(&o, &r), n, b.edit.clone(), b.actor())?;
    Ok(Json(c.pull(&full(&o, &r), n).unwrap_or(Value::Null)))
}

async fn add_label(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Pr,
    Json(b): Json<Act>,
) -> Result<Json<Vec<String>>, ApiError> {
    let name = b
        .name
        .clone()
        .ok_or_else(|| ApiError::validation("Label", "missing_field", "name", DOCS))?;
    Ok(Json(ctl(s).add_label(
        &full(&o, &r),
        n,
        &name,
        b.actor(),
    )?))
}

async fn remove_label(
    State(s): State<Arc<Shared>>,
    Path((o, r, n, name)): Path<(String, String, u64, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<String>>, ApiError> {
    let actor = q.get("actor").map(String::as_str).unwrap_or(DEFAULT_ACTOR);
    Ok(Json(ctl(s).remove_label(&full(&o, &r), n, &name, actor)?))
}

#[derive(Deserialize)]
struct CommentBody {
    body: String,
    #[serde(default)]
    actor: Option<String>,
}

impl CommentBody {
    fn actor(&self) -> &str {
        self.actor.as_deref().unwrap_or(DEFAULT_ACTOR)
    }
}

async fn list_comments(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Pr,
) -> Result<Json<Vec<IssueComment>>, ApiError> {
    Ok(Json(ctl(s).issue_comments(&full(&o, &r), n)?))
}

async fn add_comment(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Pr,
    Json(b): Json<CommentBody>,
) -> Result<Response, ApiError> {
    let c = ctl(s);
    let id = c.comment(&full(&o, &r), n, &b.body, b.actor())?;
    let json = c.issue_comment(&full(&o, &r), id).unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

async fn get_comment(
    State(s): State<Arc<Shared>>,
    Path((o, r, id)): Pr,
) -> Result<Json<Value>, ApiError> {
    ctl(s)
        .issue_comment(&full(&o, &r), id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(DOCS))
}

async fn edit_comment(
    State(s): State<Arc<Shared>>,
    Path((o, r, id)): Pr,
    Json(b): Json<CommentBody>,
) -> Result<Json<Value>, ApiError> {
    let c = ctl(s);
    c.edit_comment(&full(&o, &r), id, &b.body, b.actor())?;
    Ok(Json(
        c.issue_comment(&full(&o, &r), id).unwrap_or(Value::Null),
    ))
}

async fn delete_comment(
    State(s): State<Arc<Shared>>,
    Path((o, r, id)): Pr,
    Query(q): Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let actor = q.get("actor").map(String::as_str).unwrap_or(DEFAULT_ACTOR);
    ctl(s).delete_comment(&full(&o, &r), id, actor)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_deployments(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Path<(String, String)>,
) -> Result<Json<Vec<Deployment>>, ApiError> {
    Ok(Json(ctl(s).deployments(&full(&o, &r))?))
}

async fn list_commit_statuses(
    State(s): State<Arc<Shared>>,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Result<Json<Vec<CommitStatus>>, ApiError> {
    Ok(Json(ctl(s).commit_statuses(&full(&o, &r), &sha)?))
}

async fn list_check_runs(
    State(s): State<Arc<Shared>>,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Result<Json<Vec<CheckRun>>, ApiError> {
    Ok(Json(ctl(s).check_runs(&full(&o, &r), &sha)?))
}

async fn rerequest_check_run(
    State(s): State<Arc<Shared>>,
    Path((o, r, id)): Pr,
    Query(q): Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let actor = q.get("actor").map(String::as_str).unwrap_or(DEFAULT_ACTOR);
    ctl(s).rerequest_check_run(&full(&o, &r), id, actor)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pull_action(
    State(s): State<Arc<Shared>>,
    Path((o, r, n, action)): Path<(String, String, u64, String)>,
    body: Option<Json<Act>>,
) -> Result<Json<Value>, ApiError> {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let c = ctl(s);
    let repo = full(&o, &r);
    match action.as_str() {
        "merge" => {
            c.merge_pull_as(&repo, n, b.actor(), b.sha.as_deref())?;
        }
        "close" => c.close_pull(&repo, n, b.actor())?,
        "reopen" => c.reopen_pull(&repo, n, b.actor())?,
        "push" => {
            c.push_pull(&repo, n, b.actor(), b.sha.as_deref())?;
        }
        _ => return Err(ApiError::not_found(DOCS)),
    }
    Ok(Json(c.pull(&repo, n).unwrap_or(Value::Null)))
}

impl Files {
    /// Text files as given, binary ones decoded from base64.
    fn decode(self) -> Result<BTreeMap<String, Vec<u8>>, ApiError> {
        let mut files: BTreeMap<String, Vec<u8>> = self
            .files
            .into_iter()
            .map(|(p, t)| (p, t.into_bytes()))
            .collect();
        for (p, enc) in self.files_base64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(enc.as_bytes())
                .map_err(|_| ApiError::validation("File", "invalid", "files_base64", DOCS))?;
            files.insert(p, bytes);
        }
        Ok(files)
    }
}

async fn set_files(
    State(s): State<Arc<Shared>>,
    Path((o, r, sha)): Path<(String, String, String)>,
    Json(b): Json<Files>,
) -> Result<StatusCode, ApiError> {
    ctl(s).set_files(&full(&o, &r), &sha, b.decode()?)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Push {
    sha: String,
    #[serde(default)]
    actor: Option<String>,
    #[serde(flatten)]
    files: Files,
}

/// The branch's name and head sha, as `push_commit` and `branch_head` answer.
fn branch_body(name: &str, sha: &str) -> Json<Value> {
    Json(json!({"name": name, "sha": sha}))
}

async fn branch_head(
    State(s): State<Arc<Shared>>,
    Path((o, r, branch)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    ctl(s)
        .branch_head(&full(&o, &r), &branch)
        .map(|sha| branch_body(&branch, &sha))
        .ok_or_else(|| ApiError::not_found(DOCS))
}

async fn push_commit(
    State(s): State<Arc<Shared>>,
    Path((o, r, branch)): Path<(String, String, String)>,
    Json(b): Json<Push>,
) -> Result<Response, ApiError> {
    let actor = b.actor.as_deref().unwrap_or(DEFAULT_ACTOR).to_string();
    ctl(s).push_commit_as(&full(&o, &r), &branch, &b.sha, b.files.decode()?, &actor)?;
    Ok((StatusCode::CREATED, branch_body(&branch, &b.sha)).into_response())
}

/// Stands in for raw.githubusercontent.com (`download_url` of content entries).
async fn raw(
    State(s): State<Arc<Shared>>,
    Path((o, r, reference, path)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    match s.lock().world.contents(&o, &r, &path, Some(&reference))? {
        Contents::File { bytes, .. } => Ok(bytes.into_response()),
        Contents::Dir(_) => Err(ApiError::not_found(DOCS)),
    }
}

async fn set_webhook(State(s): State<Arc<Shared>>, Json(b): Json<Hook>) -> StatusCode {
    ctl(s).set_webhook(&b.url, b.secret.as_deref());
    StatusCode::NO_CONTENT
}

async fn clear_webhook(State(s): State<Arc<Shared>>) -> StatusCode {
    ctl(s).clear_webhook();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(s): State<Arc<Shared>>) -> Json<Faults> {
    Json(ctl(s).faults())
}

async fn set_faults(State(s): State<Arc<Shared>>, Json(f): Json<Faults>) -> Json<Faults> {
    let c = ctl(s);
    c.set_faults(f);
    Json(c.faults())
}

async fn clear_faults(State(s): State<Arc<Shared>>) -> StatusCode {
    ctl(s).set_faults(Faults::default());
    StatusCode::NO_CONTENT
}

async fn add_token(State(s): State<Arc<Shared>>, Json(t): Json<Token>) -> StatusCode {
    ctl(s).add_token(&t.token, t.login.as_deref().unwrap_or(DEFAULT_ACTOR));
    StatusCode::NO_CONTENT
}

async fn budgets(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(ctl(s).budgets()))
}

async fn exhaust(State(s): State<Arc<Shared>>, Json(t): Json<Token>) -> StatusCode {
    ctl(s).exhaust_budget(&t.token, t.reset_in_secs.unwrap_or(3600));
    StatusCode::NO_CONTENT
}

async fn set_limit(State(s): State<Arc<Shared>>, Json(t): Json<Token>) -> StatusCode {
    ctl(s).set_rate_limit(&t.token, t.limit.unwrap_or(5000));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance(State(s): State<Arc<Shared>>, Json(a): Json<Advance>) -> Json<Value> {
    let c = ctl(s);
    c.advance_time(a.seconds);
    Json(json!({"now": c.now()}))
}

async fn requests(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(ctl(s).requests()))
}

async fn deliveries(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(ctl(s).deliveries()))
}

async fn reset(State(s): State<Arc<Shared>>) -> StatusCode {
    ctl(s).reset_counters();
    StatusCode::NO_CONTENT
}
