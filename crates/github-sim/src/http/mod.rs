//! The HTTP surface: GitHub's REST paths behind GitHub's request handling, plus `/_sim` control.

pub mod app;
pub mod checks;
pub mod comments;
pub mod control;
pub mod deployments;
pub mod middleware;
pub mod moved;
pub mod pages;
pub mod paginate;
pub mod rest;
pub mod statuses;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, delete, get, patch, post};

use crate::shared::Shared;

pub const JSON_CT: &str = "application/json; charset=utf-8";

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/repos/{owner}/{repo}", get(rest::get_repo))
        .route("/repos/{owner}/{repo}/pulls", get(rest::list_pulls))
        .route("/repos/{owner}/{repo}/pulls/{number}", get(rest::get_pull))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(rest::list_issue_labels)
                .post(rest::add_issue_labels)
                .put(rest::set_issue_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments::list).post(comments::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(comments::get)
                .patch(comments::update)
                .delete(comments::delete),
        )
        .route(
            "/repos/{owner}/{repo}/deployments",
            get(deployments::list).post(deployments::create),
        )
        .route(
            "/repos/{owner}/{repo}/deployments/{id}",
            get(deployments::get),
        )
        .route(
            "/repos/{owner}/{repo}/deployments/{id}/statuses",
            get(deployments::list_statuses).post(deployments::create_status),
        )
        .route(
            "/repos/{owner}/{repo}/deployments/{id}/statuses/{status_id}",
            get(deployments::get_status),
        )
        .route("/repos/{owner}/{repo}/check-runs", post(checks::create))
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}",
            get(checks::get).patch(checks::update),
        )
        .route(
            "/repos/{owner}/{repo}/statuses/{sha}",
            post(statuses::create),
        )
        // Catch-all so a name containing `/` matches whether or not the client encoded it.
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{*name}",
            delete(rest::remove_issue_label),
        )
        .route(
            "/repos/{owner}/{repo}/labels",
            get(rest::list_labels).post(rest::create_label),
        )
        // Catch-all, as for issue labels: `state/open` whether or not the client encoded the `/`.
        .route(
            "/repos/{owner}/{repo}/labels/{*name}",
            patch(rest::update_label).delete(rest::delete_label),
        )
        .route(
            "/repos/{owner}/{repo}/contents",
            get(rest::get_contents_root),
        )
        .route(
            "/repos/{owner}/{repo}/contents/",
            get(rest::get_contents_root),
        )
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(rest::get_contents),
        )
        // Catch-alls: a ref or branch name may contain `/` (`feature/a`, `refs/heads/main`).
        .route(
            "/repos/{owner}/{repo}/commits/{*reference}",
            get(statuses::commit_or_sub),
        )
        .route(
            "/repos/{owner}/{repo}/branches/{*branch}",
            get(rest::get_branch),
        )
        // Catch-all: a tree may be named by a branch, and a branch name may contain `/`.
        .route(
            "/repos/{owner}/{repo}/git/trees/{*tree_sha}",
            get(rest::get_tree),
        )
        .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(rest::get_blob))
        .route(
            "/repos/{owner}/{repo}/installation",
            get(app::repo_installation),
        )
        .route(
            "/app/installations/{id}/access_tokens",
            post(app::access_token),
        )
        .route("/app", get(app::get_app))
        .route("/rate_limit", get(rest::rate_limit))
        .route("/_moved/{id}", any(moved::redirect))
        .route("/_moved/{id}/{*rest}", any(moved::redirect))
        .fallback(rest::not_found)
        .layer(from_fn_with_state(shared.clone(), middleware::api));
    // Outside the API middleware: neither control requests nor page views are GitHub API calls.
    let app = api
        .merge(control::router())
        .merge(pages::router())
        .with_state(shared.clone());
    // Before routing: old names of renamed repositories, and /repositories/{id} paths.
    Router::new()
        .fallback_service(app)
        .layer(from_fn_with_state(shared, moved::resolve))
}
