//! GitHub's page-based pagination: `per_page` (default 30, at most 100), `page` (from 1), and a
//! `Link` header with `prev`, `next`, `last` and `first` as they apply.

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use serde_json::Value;

pub struct Page {
    pub page: usize,
    pub per_page: usize,
}

impl Page {
    pub fn from_query(q: &HashMap<String, String>) -> Self {
        let per_page = q
            .get("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(100))
            .unwrap_or(30);
        let page = q
            .get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        Self { page, per_page }
    }
}

/// Slices `items` and answers with the page and its `Link` header. `url` is the absolute URL
/// of the collection; other query parameters in `q` are kept in the links.
pub fn respond(items: Vec<Value>, q: &HashMap<String, String>, url: &str) -> Response {
    respond_rendered(items, |item| item, q, url)
}

/// [`respond`] for items rendered only once they are on the page asked for: a listing of tens of
/// thousands of PRs costs one page's rendering per request, not the whole list's.
pub fn respond_rendered<T>(
    items: Vec<T>,
    render: impl Fn(T) -> Value,
    q: &HashMap<String, String>,
    url: &str,
) -> Response {
    let p = Page::from_query(q);
    let total = items.len();
    let last = total.div_ceil(p.per_page).max(1);
    let start = (p.page - 1).saturating_mul(p.per_page).min(total);
    let end = (start + p.per_page).min(total);
    let slice: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(render)
        .collect();

    let mut resp = axum::Json(Value::Array(slice)).into_response();
    if let Some(v) = link(&p, last, q, url) {
        resp.headers_mut().insert(http::header::LINK, v);
    }
    resp
}

/// The `Link` header for page `p` of `last` (none when there is a single page).
pub fn link(p: &Page, last: usize, q: &HashMap<String, String>, url: &str) -> Option<HeaderValue> {
    let mut keep: Vec<(&String, &String)> = q
        .iter()
        .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
        .collect();
    keep.sort();
    let link_to = |page: usize| {
        let mut query: Vec<String> = keep.iter().map(|(k, v)| format!("{k}={v}")).collect();
        query.push(format!("per_page={}", p.per_page));
        query.push(format!("page={page}"));
        format!("<{url}?{}>", query.join("&"))
    };
    let mut links = Vec::new();
    if p.page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to((p.page - 1).min(last))));
    }
    if p.page < last {
        links.push(format!("{}; rel=\"next\"", link_to(p.page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if p.page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    if links.is_empty() {
        return None;
    }
    HeaderValue::from_str(&links.join(", ")).ok()
}
