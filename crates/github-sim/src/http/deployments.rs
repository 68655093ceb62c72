//! The deployment endpoints: list (filters `sha`, `ref`, `task`, `environment`; newest first,
//! paginated), create (201 with `Location`), get; a deployment's statuses: list (newest first,
//! paginated), create (201 with `Location`), get.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::comments::requires_authentication;
use crate::deployments::{
    self, DOC_CREATE, DOC_GET, DOC_LIST, DOC_STATUS_CREATE, DOC_STATUS_GET, DOC_STATUS_LIST,
    DeploymentFilter, NewDeployment, NewDeploymentStatus,
};
use crate::error::ApiError;
use crate::http::middleware::Identity;
use crate::http::paginate;
use crate::shared::Shared;

type Repo = Path<(String, String)>;
type One = Path<(String, String, String)>;
type Two = Path<(String, String, String, String)>;

/// A number from the path; GitHub answers 404 for a path segment that is not one.
pub(crate) fn number(segment: &str, doc: &str) -> Result<u64, ApiError> {
    segment.parse().map_err(|_| ApiError::not_found(doc))
}

/// Writes need a token (GitHub: 401 "Requires authentication").
pub(crate) fn author(id: &Identity) -> Result<&str, ApiError> {
    match id.token {
        Some(_) => Ok(&id.login),
        None => Err(requires_authentication()),
    }
}

/// 201 with the new object and its `url` as `Location`.
pub(crate) fn created(json: Value) -> Response {
    let mut resp = (StatusCode::CREATED, Json(json.clone())).into_response();
    if let Some(url) = json.get("url").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(url)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub async fn list(
    State(s): State<Arc<Shared>>,
    Path((o, r)): Repo,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let filter = DeploymentFilter {
        sha: q.get("sha").cloned(),
        reference: q.get("ref").cloned(),
        task: q.get("task").cloned(),
        environment: q.get("environment").cloned(),
    };
    let g = s.lock();
    let items = g.world.deployments(&o, &r, &filter)?;
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_LIST))?;
    let url = format!("{}/repos/{}/deployments", g.world.base, repo.full_name());
    Ok(paginate::respond_rendered(
        items,
        |d| deployments::deployment(&g.world, repo, d),
        &q,
        &url,
    ))
}

pub async fn create(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r)): Repo,
    body: Bytes,
) -> Result<Response, ApiError> {
    let login = author(&id)?;
    let new = NewDeployment::from_json(&body)?;
    let json = s.with_world(|w| {
        let d = w.create_deployment(&o, &r, &new, login)?;
        let repo = w
            .repo(&o, &r)
            .ok_or_else(|| ApiError::not_found(DOC_CREATE))?;
        Ok::<_, ApiError>(deployments::deployment(w, repo, &d))
    })?;
    Ok(created(json))
}

pub async fn get(
    State(s): State<Arc<Shared>>,
    Path((o, r, did)): One,
) -> Result<Response, ApiError> {
    let did = number(&did, DOC_GET)?;
    let g = s.lock();
    let d = g.world.deployment(&o, &r, did, DOC_GET)?;
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_GET))?;
    Ok(Json(deployments::deployment(&g.world, repo, d)).into_response())
}

pub async fn list_statuses(
    State(s): State<Arc<Shared>>,
    Path((o, r, did)): One,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let did = number(&did, DOC_STATUS_LIST)?;
    let g = s.lock();
    let d = g.world.deployment(&o, &r, did, DOC_STATUS_LIST)?;
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_STATUS_LIST))?;
    let url = format!(
        "{}/repos/{}/deployments/{did}/statuses",
        g.world.base,
        repo.full_name()
    );
    Ok(paginate::respond_rendered(
        d.statuses.iter().rev().collect(),
        |st| deployments::deployment_status(&g.world, repo, d, st),
        &q,
        &url,
    ))
}

pub async fn create_status(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, did)): One,
    body: Bytes,
) -> Result<Response, ApiError> {
    let did = number(&did, DOC_STATUS_CREATE)?;
    let login = author(&id)?;
    let new = NewDeploymentStatus::from_json(&body)?;
    let json = s.with_world(|w| {
        let (d, st) = w.create_deployment_status(&o, &r, did, &new, login)?;
        let repo = w
            .repo(&o, &r)
            .ok_or_else(|| ApiError::not_found(DOC_STATUS_CREATE))?;
        Ok::<_, ApiError>(deployments::deployment_status(w, repo, &d, &st))
    })?;
    Ok(created(json))
}

pub async fn get_status(
    State(s): State<Arc<Shared>>,
    Path((o, r, did, sid)): Two,
) -> Result<Response, ApiError> {
    let did = number(&did, DOC_STATUS_GET)?;
    let sid = number(&sid, DOC_STATUS_GET)?;
    let g = s.lock();
    let d = g.world.deployment(&o, &r, did, DOC_STATUS_GET)?;
    let st = d
        .statuses
        .iter()
        .find(|st| st.id == sid)
        .ok_or_else(|| ApiError::not_found(DOC_STATUS_GET))?;
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_STATUS_GET))?;
    Ok(Json(deployments::deployment_status(&g.world, repo, d, st)).into_response())
}
