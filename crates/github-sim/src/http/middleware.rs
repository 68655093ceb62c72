//! Everything GitHub does around a request: authentication, injected latency and faults,
//! primary and secondary rate limits, ETags and 304s (not counted), the headers every response
//! carries, and the request log.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::json;

use crate::error::{ApiError, DOCS};
use crate::http::JSON_CT;
use crate::http::app::verify_jwt;
use crate::ids;
use crate::limits::{ANONYMOUS, Injected};
use crate::shared::{RequestRecord, Shared};

/// Who is calling, for handlers (the `sender` of webhooks caused by REST calls).
#[derive(Debug, Clone)]
pub struct Identity {
    pub token: Option<String>,
    pub login: String,
    /// Authenticated as the GitHub App itself (JWT), not as a user or installation.
    pub app: bool,
}

const MAX_BODY: usize = 64 * 1024 * 1024;
const RATE_DOC: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

fn credential(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    matches!(scheme.to_ascii_lowercase().as_str(), "token" | "bearer")
        .then(|| rest.trim().to_string())
}

/// App-JWT endpoints: GitHub accepts the app's JWT only on `/app/...` and `.../installation`.
fn wants_app_auth(path: &str) -> bool {
    path.starts_with("/app/") || path == "/app" || path.ends_with("/installation")
}

fn authenticate(shared: &Shared, req: &Request) -> Result<Identity, ApiError> {
    let path = req.uri().path();
    let cred = credential(req.headers());
    let mut g = shared.lock();
    let now = g.world.now();
    match cred {
        None if g.require_auth => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
            DOCS,
        )),
        None => Ok(Identity {
            token: None,
            login: ANONYMOUS.into(),
            app: false,
        }),
        Some(tok) => {
            if wants_app_auth(path) && tok.matches('.').count() == 2 {
                let app = g.app.clone().ok_or_else(ApiError::bad_credentials)?;
                verify_jwt(&tok, &app, now).map_err(|_| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "A JSON web token could not be decoded",
                        DOCS,
                    )
                })?;
                return Ok(Identity {
                    token: Some("app".into()),
                    login: format!("{}[bot]", app.slug),
                    app: true,
                });
            }
            match g.tokens.get(&tok) {
                Some(info) if info.expires_at.is_none_or(|e| e > now) => {
                    let login = info.login.clone();
                    g.world.account(&login);
                    Ok(Identity {
                        token: Some(tok),
                        login,
                        app: false,
                    })
                }
                _ => Err(ApiError::bad_credentials()),
            }
        }
    }
}

pub(crate) fn budget_key(id: &Identity) -> String {
    id.token.clone().unwrap_or_else(|| ANONYMOUS.into())
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, JSON_CT)], bytes).into_response()
}

fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, v);
    }
}

/// Strips `W/` and quotes so weak and strong forms of the same tag compare equal (GitHub answers
/// a weak `If-None-Match` with 304, see conditional-request-304.txt).
fn etag_core(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/").trim_matches('"')
}

fn if_none_match_hits(headers: &HeaderMap, hash: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || etag_core(t) == hash)
        })
}

pub async fn api(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let at = shared.started.elapsed();
    let _in_flight = shared.enter();
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let req_headers = req.headers().clone();
    // GitHub: "Accessing this endpoint does not count against your REST API rate limit".
    let free = req.uri().path() == "/rate_limit";
    let request_id = {
        let mut g = shared.lock();
        let a = g.rng.next_u64();
        format!(
            "{:04X}:{:04X}:{:X}:{:X}:{:08X}",
            a & 0xffff,
            (a >> 16) & 0xffff,
            (a >> 32) & 0xfffff,
            (a >> 52) & 0xfff,
            g.world.now()
        )
    };

    let (identity, early) = match authenticate(&shared, &req) {
        Ok(id) => (Some(id), None),
        Err(e) => (None, Some(e.into_response())),
    };
    let key = identity
        .as_ref()
        .map(budget_key)
        .unwrap_or_else(|| ANONYMOUS.into());

    let latency = shared.lock().limits.faults.latency_ms;
    if let Some(ms) = latency.filter(|ms| *ms > 0) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    let (mut resp, counted) = match early {
        Some(r) => (r, false),
        None => {
            let (injected, budget, now, primary_status) = {
                let mut g = shared.lock();
                let now = g.world.now();
                let inj = g.limits.inject();
                let b = g.limits.budget(&key, now);
                let ps = g.limits.faults.primary_status.unwrap_or(403);
                (inj, b, now, ps)
            };
            match injected {
                Injected::Secondary {
                    status,
                    retry_after,
                } => {
                    let st = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                    let mut r = json_response(
                        st,
                        json!({
                            "message": format!("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."),
                            "documentation_url": format!("{RATE_DOC}#about-secondary-rate-limits"),
                            "status": status.to_string(),
                        }),
                    );
                    set(r.headers_mut(), "retry-after", retry_after);
                    (r, false)
                }
                Injected::ServerError(status) => {
                    let st = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                    (json_response(st, json!({"message": "Server Error"})), false)
                }
                Injected::None if budget.remaining() == 0 && !free => {
                    let st = StatusCode::from_u16(primary_status).unwrap_or(StatusCode::FORBIDDEN);
                    let message = match &identity {
                        Some(id) if id.token.is_some() => {
                            let uid = shared.lock().world.account(&id.login).id;
                            format!("API rate limit exceeded for user ID {uid}. If you reach out to GitHub Support for help, please include the request ID {request_id} and timestamp {}.", crate::time::rfc3339(now).replace('T', " ").replace('Z', " UTC"))
                        }
                        _ => "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.) If you reach out to GitHub Support for help, please include the request ID ".to_string() + &request_id + ".",
                    };
                    (
                        json_response(
                            st,
                            json!({"message": message, "documentation_url": format!("{RATE_DOC}#about-the-primary-rate-limit"), "status": primary_status.to_string()}),
                        ),
                        false,
                    )
                }
                Injected::None => {
                    if let Some(id) = identity.clone() {
                        req.extensions_mut().insert(id);
                    }
                    let r = next.run(req).await;
                    let (r, counted) = finish(r, &method, &req_headers).await;
                    (r, counted && !free)
                }
            }
        }
    };

    // Rate-limit headers reflect the budget after this request.
    let budget = {
        let mut g = shared.lock();
        let now = g.world.now();
        let b = if counted {
            g.limits.count(&key, now)
        } else {
            g.limits.budget(&key, now)
        };
        g.log.push(RequestRecord {
            method: method.to_string(),
            path,
            status: resp.status().as_u16(),
            counted,
            token: identity.as_ref().and_then(|i| i.token.clone()),
            at,
        });
        b
    };
    let not_modified = resp.status() == StatusCode::NOT_MODIFIED;
    let h = resp.headers_mut();
    set(h, "x-ratelimit-limit", budget.limit);
    set(h, "x-ratelimit-remaining", budget.remaining());
    set(h, "x-ratelimit-reset", budget.reset);
    set(h, "x-ratelimit-used", budget.used);
    set(h, "x-ratelimit-resource", "core");
    set(h, "x-github-request-id", request_id);
    set(h, "x-github-api-version-selected", "2022-11-28");
    if !h.contains_key("x-github-media-type") {
        set(h, "x-github-media-type", "github.v3; format=json");
    }
    set(
        h,
        "access-control-expose-headers",
        "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset",
    );
    // axum's Json says `application/json`; GitHub adds the charset.
    let plain_json = h
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes() == b"application/json");
    if !not_modified && plain_json {
        set(h, "content-type", JSON_CT);
    }
    resp
}

/// Adds the ETag to successful responses and turns a matching conditional GET into a 304.
/// Returns whether the request counts against the budget.
async fn finish(resp: Response, method: &Method, req_headers: &HeaderMap) -> (Response, bool) {
    if !resp.status().is_success() {
        return (resp, true);
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR.into_response(), true),
    };
    let hash = ids::sha256_hex(&bytes);
    // Raw content keeps a strong tag (GitHub uses the blob sha there); JSON gets a weak one.
    let strong = parts.headers.contains_key("x-sim-strong-etag");
    parts.headers.remove("x-sim-strong-etag");
    if *method == Method::GET && if_none_match_hits(req_headers, &hash) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        set(r.headers_mut(), "etag", format!("\"{hash}\""));
        set(
            r.headers_mut(),
            "cache-control",
            "private, max-age=60, s-maxage=60",
        );
        return (r, false);
    }
    let tag = if strong {
        format!("\"{hash}\"")
    } else {
        format!("W/\"{hash}\"")
    };
    set(&mut parts.headers, "etag", tag);
    set(
        &mut parts.headers,
        "cache-control",
        "private, max-age=60, s-maxage=60",
    );
    set(
        &mut parts.headers,
        "vary",
        "Accept, Authorization, Cookie, X-GitHub-OTP",
    );
    (Response::from_parts(parts, Body::from(bytes)), true)
}
