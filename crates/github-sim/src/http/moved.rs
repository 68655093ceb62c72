//! Renamed and transferred repositories, as GitHub answers for them: a request for the old
//! `owner/name` is redirected to `/repositories/{id}/...` (302 for GET and HEAD, as recorded in
//! `contents-directory-redirect-302`; 307 for other methods, which keeps the method and body), and
//! `/repositories/{id}/...` serves the repository whatever its name now is.
//!
//! [`resolve`] runs before routing and rewrites both forms: an old name to this module's
//! [`redirect`] route (so the redirect passes through the API middleware and carries GitHub's
//! rate-limit headers), and an id to the repository's current path.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::shared::Shared;

/// Where [`resolve`] sends a request for an old name: `/_moved/{id}` and the rest of its path.
pub const REDIRECT_PREFIX: &str = "/_moved/";

pub async fn resolve(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    if let Some(path) = rewritten(&shared, req.uri().path())
        && let Some(uri) = with_path(req.uri(), &path)
    {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

/// The path a request should be routed by, when it names a moved repository or an id.
fn rewritten(shared: &Shared, path: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix("/repos/") {
        let mut parts = rest.splitn(3, '/');
        let (owner, name) = (parts.next()?, parts.next()?);
        let tail = parts.next().map(|t| format!("/{t}")).unwrap_or_default();
        let id = shared.lock().world.moved_id(owner, name)?;
        return Some(format!("{REDIRECT_PREFIX}{id}{tail}"));
    }
    if let Some(rest) = path.strip_prefix("/repositories/") {
        let (id, tail) = rest.split_once('/').map_or((rest, ""), |(id, t)| (id, t));
        let id: u64 = id.parse().ok()?;
        let g = shared.lock();
        let repo = g.world.repo_by_id(id)?;
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!("/{tail}")
        };
        return Some(format!("/repos/{}/{}{tail}", repo.owner, repo.name));
    }
    None
}

fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    Uri::builder().path_and_query(path_and_query).build().ok()
}

/// The redirect GitHub sends for an old name: an empty body and `Location` on the id's path.
pub async fn redirect(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let rest = uri
        .path()
        .strip_prefix(REDIRECT_PREFIX)
        .unwrap_or_default()
        .trim_end_matches('/');
    let base = shared.lock().world.base.clone();
    let location = match uri.query() {
        Some(query) => format!("{base}/repositories/{rest}?{query}"),
        None => format!("{base}/repositories/{rest}"),
    };
    let status = if method == Method::GET || method == Method::HEAD {
        StatusCode::FOUND
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}
