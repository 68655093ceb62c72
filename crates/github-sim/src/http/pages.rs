//! The web pages (see `page/`), at the paths github.com has them: a PR at its `html_url`
//! (`/{owner}/{repo}/pull/{number}`), a repository's PRs at `/{owner}/{repo}/pulls`, and all PRs
//! at `/`. Merged outside the API middleware, as `/_sim` is: a person looking at a page is no API
//! request, so it needs no token, spends no budget, meets no injected fault and is not logged.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

use crate::page;
use crate::shared::Shared;

pub const HTML_CT: &str = "text/html; charset=utf-8";

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index))
        .route("/{owner}/{repo}/pulls", get(pulls))
        .route("/{owner}/{repo}/pull/{number}", get(pull))
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HTML_CT)),
            // The world changes under the page: a browser must not show an old copy.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    html(StatusCode::NOT_FOUND, page::not_found_page(what))
}

/// A renamed repository's old name, as GitHub answers it on the web: a permanent redirect to the
/// same page under the new name.
fn moved(shared: &Shared, owner: &str, repo: &str, tail: &str) -> Option<Response> {
    let g = shared.lock();
    let id = g.world.moved_id(owner, repo)?;
    let now = g.world.repo_by_id(id)?;
    let location = format!("/{}/{}{tail}", now.owner, now.name);
    let location = HeaderValue::from_str(&location).ok()?;
    Some(
        (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response(),
    )
}

async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let body = page::index_page(&shared.lock().world);
    html(StatusCode::OK, body)
}

async fn pulls(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let body = page::pulls_page(&shared.lock().world, &owner, &repo);
    match body {
        Some(body) => html(StatusCode::OK, body),
        None => moved(&shared, &owner, &repo, "/pulls")
            .unwrap_or_else(|| not_found(&format!("{owner}/{repo}"))),
    }
}

async fn pull(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Response {
    let what = format!("{owner}/{repo}#{number}");
    // Not a `u64` extractor: `/pull/abc` is a page that is not there, not a 400.
    let Ok(n) = number.parse::<u64>() else {
        return not_found(&what);
    };
    let body = page::pull_page(&shared.lock().world, &owner, &repo, n);
    match body {
        Some(body) => html(StatusCode::OK, body),
        None => {
            moved(&shared, &owner, &repo, &format!("/pull/{n}")).unwrap_or_else(|| not_found(&what))
        }
    }
}
