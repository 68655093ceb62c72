//! The GitHub REST endpoints the project uses: pulls, issue labels, repository labels,
//! contents, git trees and blobs, commits, branches, and the repository itself.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::contents::Contents;
use crate::error::{ApiError, DOCS};
use crate::http::middleware::Identity;
use crate::http::paginate;
use crate::model::PrState;
use crate::render::{self, PullShape};
use crate::shared::Shared;

type Repo2 = Path<(String, String)>;
type Issue = Path<(String, String, u64)>;
type Q = Query<HashMap<String, String>>;

const DOC_PULL: &str = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request";
const DOC_PULLS: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests";
const DOC_LABELS: &str = "https://docs.github.com/rest/issues/labels#list-labels-for-a-repository";
const DOC_CREATE: &str = "https://docs.github.com/rest/issues/labels#create-a-label";
const DOC_REPO: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";

pub async fn get_repo(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Repo2,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_REPO))?;
    Ok(Json(render::repository(&g.world, repo)).into_response())
}

pub async fn get_pull(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Issue,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_PULL))?;
    let pr = repo
        .pulls
        .get(&n)
        .ok_or_else(|| ApiError::not_found(DOC_PULL))?;
    Ok(Json(render::pull_request(&g.world, repo, pr, PullShape::Full)).into_response())
}

pub async fn list_pulls(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Repo2,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_PULLS))?;
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    let want = |st: PrState| match state {
        "all" => true,
        "closed" => st == PrState::Closed,
        _ => st == PrState::Open,
    };
    // `sort`: created (default), updated, popularity, long-running; the last two are ordered
    // as created here (the simulator has no comments). Timestamps are whole seconds: the
    // number breaks ties.
    let sort = q.get("sort").map(String::as_str);
    let by_updated = sort == Some("updated");
    // GitHub's documented default: desc when sort is created or absent, otherwise asc.
    let ascending = match q.get("direction").map(String::as_str) {
        Some("asc") => true,
        Some("desc") => false,
        _ => matches!(sort, Some("updated" | "popularity" | "long-running")),
    };
    let mut pulls: Vec<_> = repo.pulls.values().filter(|p| want(p.state)).collect();
    if by_updated {
        pulls.sort_by_key(|p| (p.updated_at, p.number));
    } else {
        pulls.sort_by_key(|p| (p.created_at, p.number));
    }
    if !ascending {
        pulls.reverse();
    }
    let url = format!("{}/repos/{}/pulls", g.world.base, repo.full_name());
    Ok(paginate::respond_rendered(
        pulls,
        |p| render::pull_request(&g.world, repo, p, PullShape::Simple),
        &q,
        &url,
    ))
}

pub async fn list_issue_labels(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Issue,
) -> Result<Response, ApiError> {
    let g = s.lock();
    Ok(Json(g.world.list_issue_labels(&o, &r, n)?).into_response())
}

/// `{"labels": [...]}` or a bare array; items are names or `{"name": ...}` objects.
fn label_names(body: &Bytes, doc: &str) -> Result<Vec<String>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ApiError::bad_json(doc))?;
    let arr = match &v {
        Value::Array(a) => a,
        Value::Object(m) => match m.get("labels") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(ApiError::validation(
                    "Label",
                    "missing_field",
                    "labels",
                    doc,
                ));
            }
        },
        _ => return Err(ApiError::bad_json(doc)),
    };
    arr.iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.clone()),
            Value::Object(m) => m
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ApiError::validation("Label", "invalid", "name", doc)),
            _ => Err(ApiError::validation("Label", "invalid", "labels", doc)),
        })
        .collect()
}

pub async fn add_issue_labels(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, n)): Issue,
    body: Bytes,
) -> Result<Response, ApiError> {
    let names = label_names(
        &body,
        "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue",
    )?;
    let out = s.with_world(|w| w.add_issue_labels(&o, &r, n, &names, &id.login))?;
    Ok(Json(out).into_response())
}

pub async fn set_issue_labels(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, n)): Issue,
    body: Bytes,
) -> Result<Response, ApiError> {
    let names = label_names(
        &body,
        "https://docs.github.com/rest/issues/labels#set-labels-for-an-issue",
    )?;
    let out = s.with_world(|w| w.set_issue_labels(&o, &r, n, &names, &id.login))?;
    Ok(Json(out).into_response())
}

pub async fn remove_issue_label(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, n, name)): Path<(String, String, u64, String)>,
) -> Result<Response, ApiError> {
    let out = s.with_world(|w| w.remove_issue_label(&o, &r, n, &name, &id.login))?;
    Ok(Json(out).into_response())
}

pub async fn list_labels(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Repo2,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let items = g
        .world
        .repo_labels(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_LABELS))?;
    let url = format!("{}/repos/{o}/{r}/labels", g.world.base);
    Ok(paginate::respond(items, &q, &url))
}

pub async fn create_label(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Repo2,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_json(DOC_CREATE))?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let color = v.get("color").and_then(Value::as_str).map(str::to_string);
    let desc = v
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    if s.lock().limits.faults.forbid_label_creation {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
            DOC_CREATE,
        ));
    }
    let label =
        s.with_world(|w| w.create_label(&o, &r, &name, color.as_deref(), desc.as_deref()))?;
    let mut resp = (StatusCode::CREATED, Json(label.clone())).into_response();
    if let Some(url) = label.get("url").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(url)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn update_label(
    State(s): State<Arc<Shared>>,
    Path((o, r, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_json(DOC_CREATE))?;
    let color = v.get("color").and_then(Value::as_str).map(str::to_string);
    // Absent: kept; `null`: cleared.
    let description = v.get("description").map(|d| d.as_str().map(str::to_string));
    let label = s.with_world(|w| {
        w.update_label(
            &o,
            &r,
            &name,
            color.as_deref(),
            description.as_ref().map(|d| d.as_deref()),
        )
    })?;
    Ok(Json(label).into_response())
}

pub async fn delete_label(
    State(s): State<Arc<Shared>>,
    Path((o, r, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    s.with_world(|w| w.delete_label(&o, &r, &name))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `Accept: application/vnd.github.raw` (or `.v3.raw`) asks for the bytes themselves.
fn raw_media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.split(';').next().unwrap_or("").trim())
        .find(|a| *a == "application/vnd.github.raw" || *a == "application/vnd.github.v3.raw")
        .map(str::to_string)
}

pub async fn get_contents_root(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Repo2,
    Query(q): Q,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    contents(&s, &o, &r, "", &q, &headers)
}

pub async fn get_contents(
    State(s): State<Arc<Shared>>,
    Path((o, r, p)): Path<(String, String, String)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    contents(&s, &o, &r, &p, &q, &headers)
}

fn contents(
    s: &Shared,
    o: &str,
    r: &str,
    p: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let found = s
        .lock()
        .world
        .contents(o, r, p, q.get("ref").map(String::as_str))?;
    match found {
        Contents::File { body, bytes } => match raw_media_type(headers) {
            Some(mt) => {
                let ct = format!("{mt}; charset=utf-8");
                let mut resp = bytes.into_response();
                if let Ok(v) = HeaderValue::from_str(&ct) {
                    resp.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                resp.headers_mut()
                    .insert("x-sim-strong-etag", HeaderValue::from_static("1"));
                resp.headers_mut().insert(
                    "x-github-media-type",
                    HeaderValue::from_static("github.v3; param=raw"),
                );
                Ok(resp)
            }
            None => Ok(Json(body).into_response()),
        },
        Contents::Dir(list) => Ok(Json(list).into_response()),
    }
}

pub async fn get_branch(
    State(s): State<Arc<Shared>>,
    Path((o, r, branch)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(s.lock().world.branch(&o, &r, &branch)?).into_response())
}

/// `?recursive` with any value (GitHub's docs: even `0` and `false`) lists the whole tree.
pub async fn get_tree(
    State(s): State<Arc<Shared>>,
    Path((o, r, tree_sha)): Path<(String, String, String)>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let recursive = q.contains_key("recursive");
    let mut g = s.lock();
    let limit = g.limits.tree_entries;
    Ok(Json(g.world.git_tree(&o, &r, &tree_sha, recursive, limit)?).into_response())
}

pub async fn get_blob(
    State(s): State<Arc<Shared>>,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(s.lock().world.git_blob(&o, &r, &sha)?).into_response())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found(DOCS)
}

/// `GET /rate_limit`: the caller's budget; free, and answered even when the budget is spent.
pub async fn rate_limit(
    State(shared): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
) -> Response {
    let key = crate::http::middleware::budget_key(&id);
    let mut g = shared.lock();
    let now = g.world.now();
    let b = g.limits.budget(&key, now);
    let core = serde_json::json!({
        "limit": b.limit,
        "remaining": b.remaining(),
        "reset": b.reset,
        "used": b.used,
        "resource": "core",
    });
    let body = serde_json::json!({ "resources": { "core": core }, "rate": core });
    (StatusCode::OK, axum::Json(body)).into_response()
}
