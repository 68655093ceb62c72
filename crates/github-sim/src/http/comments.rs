//! The issue-comment endpoints: list a PR's comments (paginated, oldest first), create one
//! (201 with `Location`), get, update and delete one by id.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::comments::{
    DOC_CREATE, DOC_DELETE, DOC_GET, DOC_LIST, DOC_UPDATE, body_of_request, requires_authentication,
};
use crate::error::ApiError;
use crate::http::middleware::Identity;
use crate::http::paginate;
use crate::render;
use crate::shared::Shared;

type Issue = Path<(String, String, String)>;

/// A number from the path; GitHub answers 404 for a path segment that is not one.
fn number(segment: &str, doc: &str) -> Result<u64, ApiError> {
    segment.parse().map_err(|_| ApiError::not_found(doc))
}

/// Writes need a token (GitHub: 401 "Requires authentication").
fn author(id: &Identity) -> Result<&str, ApiError> {
    match id.token {
        Some(_) => Ok(&id.login),
        None => Err(requires_authentication()),
    }
}

pub async fn list(
    State(s): State<Arc<Shared>>,
    Path((o, r, n)): Issue,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let n = number(&n, DOC_LIST)?;
    let g = s.lock();
    let (repo, items) = g.world.issue_comments(&o, &r, n)?;
    let url = format!(
        "{}/repos/{}/issues/{n}/comments",
        g.world.base,
        repo.full_name()
    );
    Ok(paginate::respond_rendered(
        items,
        |c| render::issue_comment(&g.world, repo, c),
        &q,
        &url,
    ))
}

pub async fn create(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, n)): Issue,
    body: Bytes,
) -> Result<Response, ApiError> {
    let n = number(&n, DOC_CREATE)?;
    let login = author(&id)?;
    let text = body_of_request(&body, DOC_CREATE)?;
    let json = s.with_world(|w| {
        w.create_issue_comment(&o, &r, n, &text, login)
            .map(|c| w.comment_json(&o, &r, &c))
    })?;
    let mut resp = (StatusCode::CREATED, Json(json.clone())).into_response();
    if let Some(url) = json.get("url").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(url)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn get(
    State(s): State<Arc<Shared>>,
    Path((o, r, cid)): Issue,
) -> Result<Response, ApiError> {
    let cid = number(&cid, DOC_GET)?;
    let g = s.lock();
    let c = g.world.issue_comment(&o, &r, cid, DOC_GET)?;
    Ok(Json(g.world.comment_json(&o, &r, &c)).into_response())
}

pub async fn update(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, cid)): Issue,
    body: Bytes,
) -> Result<Response, ApiError> {
    let cid = number(&cid, DOC_UPDATE)?;
    let login = author(&id)?;
    let text = body_of_request(&body, DOC_UPDATE)?;
    let json = s.with_world(|w| {
        w.edit_issue_comment(&o, &r, cid, &text, login)
            .map(|c| w.comment_json(&o, &r, &c))
    })?;
    Ok(Json(json).into_response())
}

pub async fn delete(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, cid)): Issue,
) -> Result<Response, ApiError> {
    let cid = number(&cid, DOC_DELETE)?;
    let login = author(&id)?;
    s.with_world(|w| w.delete_issue_comment(&o, &r, cid, login))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
