//! The commit-status endpoints: create one (201 with `Location`, the commit's statuses URL as
//! recorded), list a ref's (newest first, paginated), the combined status of a ref. GitHub routes
//! `commits/{ref}/status`, `/statuses` and `/check-runs` under the commit path, whose ref may
//! contain `/`, so [`commit_or_sub`] dispatches on the suffix.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::http::deployments::{author, created};
use crate::http::middleware::Identity;
use crate::http::paginate::{self, Page};
use crate::shared::Shared;
use crate::statuses::{self, NewCommitStatus, combined_state};

pub async fn create(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((o, r, sha)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let login = author(&id)?;
    let new = NewCommitStatus::from_json(&body)?;
    let json = s.with_world(|w| {
        let st = w.create_commit_status(&o, &r, &sha, &new, login)?;
        let repo = w
            .repo(&o, &r)
            .ok_or_else(|| ApiError::not_found(statuses::DOC_CREATE))?;
        Ok::<_, ApiError>(statuses::commit_status(w, repo, &st, true))
    })?;
    Ok(created(json))
}

/// `GET .../commits/{ref}` and its `/status`, `/statuses` and `/check-runs`.
pub async fn commit_or_sub(
    State(s): State<Arc<Shared>>,
    Path((o, r, reference)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(rf) = reference.strip_suffix("/statuses") {
        return list(&s, &o, &r, rf, &q);
    }
    if let Some(rf) = reference.strip_suffix("/check-runs") {
        return crate::http::checks::for_ref(&s, &o, &r, rf, &q);
    }
    if let Some(rf) = reference.strip_suffix("/status") {
        return combined(&s, &o, &r, rf, &q);
    }
    Ok(Json(s.lock().world.commit(&o, &r, &reference)?).into_response())
}

fn list(
    s: &Shared,
    o: &str,
    r: &str,
    reference: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let (repo, items) = g.world.commit_statuses(o, r, reference)?;
    let url = format!(
        "{}/repos/{}/commits/{reference}/statuses",
        g.world.base,
        repo.full_name()
    );
    Ok(paginate::respond_rendered(
        items,
        |st| statuses::commit_status(&g.world, repo, st, true),
        q,
        &url,
    ))
}

/// The combined status; `per_page`/`page` slice its `statuses` (no `Link` header here).
fn combined(
    s: &Shared,
    o: &str,
    r: &str,
    reference: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let g = s.lock();
    let (repo, sha, latest) = g.world.latest_statuses(o, r, reference)?;
    let state = combined_state(&latest);
    let total = latest.len();
    let p = Page::from_query(q);
    let page: Vec<_> = latest
        .iter()
        .skip((p.page - 1).saturating_mul(p.per_page))
        .take(p.per_page)
        .map(|st| statuses::commit_status(&g.world, repo, st, false))
        .collect();
    Ok(Json(statuses::combined(&g.world, repo, &sha, state, page, total)).into_response())
}
