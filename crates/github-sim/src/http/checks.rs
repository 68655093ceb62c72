//! The check-run endpoints: create (201 with `Location`), update, get, and a ref's runs. Writes
//! need the App's installation token: any other token gets the 403 GitHub sends ("You must
//! authenticate via a GitHub App.", as clients have logged it with its status, e.g.
//! iterative/cml#645 and EnricoMi/publish-unit-test-result-action#31; no recording of it was
//! found). Reading is open to any token, as on GitHub.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::checks::{self, CheckRunRequest, DOC_CREATE, DOC_GET, DOC_UPDATE};
use crate::error::ApiError;
use crate::http::deployments::{author, created, number};
use crate::http::middleware::Identity;
use crate::http::paginate::{self, Page};
use crate::render;
use crate::shared::{Inner, Shared};
use crate::time::rfc3339;

/// The App's object as check runs carry it (check-run-create.json), or the 403 for a caller
/// that is not the App's installation.
fn installation_app(g: &Inner, id: &Identity, owner: &str, doc: &str) -> Result<Value, ApiError> {
    let login = author(id)?;
    let forbidden = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "You must authenticate via a GitHub App.",
            doc,
        )
    };
    let app = g.app.as_ref().ok_or_else(forbidden)?;
    if login != format!("{}[bot]", app.slug) {
        return Err(forbidden());
    }
    // The App's grants (as GET /app answers) and the checks:write that check runs need.
    let mut permissions = crate::http::app::permissions();
    if let Some(p) = permissions.as_object_mut() {
        p.insert("checks".into(), json!("write"));
    }
    let base = &g.world.base;
    let owner = g
        .world
        .accounts
        .get(owner)
        .map(|a| render::account(base, a))
        .unwrap_or(Value::Null);
    Ok(json!({
        "id": app.app_id,
        "client_id": format!("Iv1.{:016x}", app.app_id),
        "slug": app.slug,
        "node_id": crate::ids::node_id("Integration", app.app_id),
        "owner": owner,
        "name": app.slug,
        "description": "",
        "external_url": format!("{base}/apps/{}", app.slug),
        "html_url": format!("{base}/apps/{}", app.slug),
        "created_at": rfc3339(g.world.now()),
        "updated_at": rfc3339(g.world.now()),
        "permissions": permissions,
        "events": ["pull_request"],
    }))
}

pub async fn create(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = installation_app(&s.lock(), &id, &o, DOC_CREATE)?;
    let req = CheckRunRequest::from_json(&body, true)?;
    let json = s.with_world(|w| {
        let run = w.create_check_run(&o, &r, &req, app, &id.login)?;
        let repo = w
            .repo(&o, &r)
            .ok_or_else(|| ApiError::not_found(DOC_CREATE))?;
        Ok::<_, ApiError>(checks::check_run(w, repo, &run))
    })?;
    Ok(created(json))
}

pub async fn update(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, cid)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let cid = number(&cid, DOC_UPDATE)?;
    installation_app(&s.lock(), &id, &o, DOC_UPDATE)?;
    let req = CheckRunRequest::from_json(&body, false)?;
    let json = s.with_world(|w| {
        let run = w.update_check_run(&o, &r, cid, &req, &id.login)?;
        let repo = w
            .repo(&o, &r)
            .ok_or_else(|| ApiError::not_found(DOC_UPDATE))?;
        Ok::<_, ApiError>(checks::check_run(w, repo, &run))
    })?;
    Ok(Json(json).into_response())
}

pub async fn get(
    State(s): State<Arc<Shared>>,
    Path((o, r, cid)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let cid = number(&cid, DOC_GET)?;
    let g = s.lock();
    let run = g.world.check_run(&o, &r, cid, DOC_GET)?;
    let repo = g
        .world
        .repo(&o, &r)
        .ok_or_else(|| ApiError::not_found(DOC_GET))?;
    Ok(Json(checks::check_run(&g.world, repo, run)).into_response())
}

/// `GET .../commits/{ref}/check-runs` (`check_name`, `filter` latest|all, pagination):
/// `{"total_count", "check_runs"}` as check-runs-for-ref.json.
pub fn for_ref(
    s: &Shared,
    o: &str,
    r: &str,
    reference: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let latest = q.get("filter").map(String::as_str) != Some("all");
    let name = q.get("check_name").map(String::as_str);
    let (repo, runs) = g.world.check_runs_for_ref(o, r, reference, name, latest)?;
    let p = Page::from_query(q);
    let total = runs.len();
    let page: Vec<Value> = runs
        .iter()
        .skip((p.page - 1).saturating_mul(p.per_page))
        .take(p.per_page)
        .map(|c| checks::check_run(&g.world, repo, c))
        .collect();
    let url = format!(
        "{}/repos/{}/commits/{reference}/check-runs",
        g.world.base,
        repo.full_name()
    );
    let last = total.div_ceil(p.per_page).max(1);
    let mut resp = Json(json!({"total_count": total, "check_runs": page})).into_response();
    if let Some(v) = paginate::link(&p, last, q, &url) {
        resp.headers_mut().insert(http::header::LINK, v);
    }
    Ok(resp)
}
