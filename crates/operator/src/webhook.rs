//! The GitHub webhook endpoint: `POST /webhook`.
//!
//! Order of checks, each one final:
//! 1. body size (413 past [`WebhookConfig::max_body_bytes`], never buffered past it);
//! 2. `X-Hub-Signature-256` against every configured secret, in constant time (401; without any
//!    secret every delivery is refused);
//! 3. `X-GitHub-Delivery` seen before (200, duplicate);
//! 4. the event: `ping` → 200; `pull_request` with an action that can move a tracker → parsed (400
//!    if unreadable) and handed to the operator on a channel (202; 503 when the channel stays full,
//!    so GitHub records a failed delivery); anything else → 202, ignored.
//!
//! Only a delivery that was handed over (or answered as ping or ignored) stays recorded as seen:
//! a delivery refused with 401, 400 or 503 can be redelivered and will be processed.
//!
//! Payloads are read as GitHub sends them with content type `application/json`, and also as
//! `application/x-www-form-urlencoded` (`payload=<json>`), GitHub's other content type.

use std::{
    fmt,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use hmac::{Hmac, Mac};
use lru::LruCache;
use prtracker_api::Repository;
use prtracker_domain::PrFacts;
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::metrics::{Metrics, WebhookResult};

/// GitHub caps webhook payloads at 25 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// Delivery ids remembered for deduplication.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;
/// How long a delivery waits for room on a full event channel before it is answered 503.
pub const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `pull_request` actions that can change a tracker (facts, labels, title, head): the ones
/// handed to the operator. Other actions (assigned, review_requested, ...) are answered 202 and
/// ignored.
pub const PULL_REQUEST_ACTIONS: [&str; 9] = [
    "opened",
    "edited",
    "labeled",
    "unlabeled",
    "closed",
    "reopened",
    "synchronize",
    "ready_for_review",
    "converted_to_draft",
];

/// Configuration of the endpoint.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The webhook secrets; a delivery signed with any of them is accepted (rotation: configure the
    /// new one next to the old one, change it on GitHub, then drop the old one). Empty secrets are
    /// ignored. With none, every delivery is refused.
    pub secrets: Vec<Vec<u8>>,
    /// Largest body accepted (default 25 MiB, GitHub's cap); larger is 413.
    pub max_body_bytes: usize,
    /// Delivery ids remembered to drop repeated deliveries (default 10,000); 0 disables it.
    pub dedup_capacity: usize,
}

impl WebhookConfig {
    /// Defaults with these secrets.
    pub fn new(secrets: Vec<Vec<u8>>) -> Self {
        Self {
            secrets,
            ..Self::default()
        }
    }
}

impl Default for WebhookConfig {
    /// No secret (refuses everything until one is set), 25 MiB, 10,000 ids.
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("dedup_capacity", &self.dedup_capacity)
            .finish()
    }
}

/// An event for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    PullRequest(PullRequestEvent),
}

/// GitHub's `state` of a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullRequestState {
    Open,
    Closed,
}

/// A `pull_request` delivery: what the operator needs to reconcile the matching tracker, and to
/// create one for a newly opened PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    /// `X-GitHub-Delivery` (empty if the header was absent).
    pub delivery: String,
    /// `opened`, `labeled`, ... (one of [`PULL_REQUEST_ACTIONS`]).
    pub action: String,
    pub repository: Repository,
    pub number: u64,
    /// The GitHub App installation that sent it, if any.
    pub installation_id: Option<u64>,
    pub draft: bool,
    pub state: PullRequestState,
    pub merged: bool,
    /// The PR's labels after the change, by name.
    pub labels: Vec<String>,
    /// For `labeled`/`unlabeled`: the label added or removed.
    pub label: Option<String>,
    pub title: String,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
    /// The merge commit; only when `merged` (GitHub's field means a test merge before that).
    pub merge_commit_sha: Option<String>,
    /// The PR's author.
    pub author: Option<String>,
    /// Who caused the event.
    pub sender: Option<String>,
    pub html_url: String,
}

impl PullRequestEvent {
    /// The GitHub facts of the PR after the change.
    pub fn facts(&self) -> PrFacts {
        PrFacts::from_github(
            self.state == PullRequestState::Closed,
            self.merged,
            self.draft,
        )
    }

    /// Whether the PR is open now (for auto-tracking: `opened`, `reopened`, or any event of an open
    /// PR not tracked yet).
    pub fn is_open(&self) -> bool {
        self.state == PullRequestState::Open
    }
}

// GitHub's payload, the members we read (serde ignores the rest).

#[derive(Deserialize)]
struct RawPullRequestEvent {
    action: String,
    number: u64,
    pull_request: RawPull,
    repository: RawRepository,
    #[serde(default)]
    installation: Option<RawId>,
    #[serde(default)]
    label: Option<RawLabel>,
    #[serde(default)]
    sender: Option<RawUser>,
}

#[derive(Deserialize)]
struct RawPull {
    state: PullRequestState,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    labels: Vec<RawLabel>,
    #[serde(default)]
    title: String,
    head: RawRef,
    #[serde(default)]
    base: Option<RawRef>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    user: Option<RawUser>,
    #[serde(default)]
    html_url: String,
}

#[derive(Deserialize)]
struct RawRef {
    sha: String,
    #[serde(default, rename = "ref")]
    reference: String,
}

#[derive(Deserialize)]
struct RawRepository {
    full_name: String,
}

#[derive(Deserialize)]
struct RawId {
    id: u64,
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
}

#[derive(Deserialize)]
struct RawUser {
    login: String,
}

impl RawPullRequestEvent {
    fn into_event(self, delivery: String) -> Result<PullRequestEvent, String> {
        let repository: Repository = self
            .repository
            .full_name
            .parse()
            .map_err(|e| format!("repository.full_name: {e}"))?;
        let pr = self.pull_request;
        // `merged` is in every real payload; `merged_at` is the fallback.
        let merged = pr.merged.unwrap_or(pr.merged_at.is_some());
        Ok(PullRequestEvent {
            delivery,
            action: self.action,
            repository,
            number: self.number,
            installation_id: self.installation.map(|i| i.id),
            draft: pr.draft.unwrap_or(false),
            state: pr.state,
            merged,
            labels: pr.labels.into_iter().map(|l| l.name).collect(),
            label: self.label.map(|l| l.name),
            title: pr.title,
            head_sha: pr.head.sha,
            head_ref: pr.head.reference,
            base_ref: pr.base.map(|b| b.reference).unwrap_or_default(),
            merge_commit_sha: pr.merge_commit_sha.filter(|_| merged),
            author: pr.user.map(|u| u.login),
            sender: self.sender.map(|u| u.login),
            html_url: pr.html_url,
        })
    }
}

/// Parses a `pull_request` payload (the raw JSON body) into an event; the error says what is wrong.
pub fn parse_pull_request(delivery: &str, json: &[u8]) -> Result<PullRequestEvent, String> {
    let raw: RawPullRequestEvent = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    raw.into_event(delivery.to_owned())
}

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`) of `body` against each secret, in constant time
/// per secret, without stopping at the first match. Empty secrets never match.
pub fn verify_signature(secrets: &[Vec<u8>], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut ok = false;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            continue;
        };
        mac.update(body);
        ok |= mac.verify_slice(&sig).is_ok();
    }
    ok
}

struct Shared {
    secrets: Vec<Vec<u8>>,
    max_body_bytes: usize,
    seen: Option<Mutex<LruCache<String, ()>>>,
    events: mpsc::Sender<WebhookEvent>,
    metrics: Metrics,
}

impl Shared {
    /// Records `delivery` as seen; false if it was already.
    fn first_sight(&self, delivery: &str) -> bool {
        let Some(seen) = &self.seen else {
            return true;
        };
        if delivery.is_empty() {
            return true;
        }
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(delivery).is_some() {
            return false;
        }
        seen.put(delivery.to_owned(), ());
        true
    }

    /// Forgets `delivery`, so a redelivery of a refused delivery is processed.
    fn forget(&self, delivery: &str) {
        if let Some(seen) = &self.seen {
            seen.lock().unwrap_or_else(|e| e.into_inner()).pop(delivery);
        }
    }

    fn answer(&self, result: WebhookResult, status: StatusCode, message: &str) -> Response {
        self.metrics.webhook_delivery(result);
        let body = serde_json::json!({ "result": result.as_str(), "msg": message });
        (status, axum::Json(body)).into_response()
    }
}

/// The router serving `POST /webhook`; accepted events go to `events`, every outcome is counted
/// in `metrics` (`prtracker_webhook_deliveries_total{result}`).
pub fn router(
    config: WebhookConfig,
    events: mpsc::Sender<WebhookEvent>,
    metrics: Metrics,
) -> Router {
    let secrets: Vec<Vec<u8>> = config
        .secrets
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if secrets.is_empty() {
        tracing::error!(
            "no webhook secret is configured: every webhook delivery will be refused with 401"
        );
    }
    let shared = Arc::new(Shared {
        secrets,
        max_body_bytes: config.max_body_bytes,
        seen: NonZeroUsize::new(config.dedup_capacity).map(|n| Mutex::new(LruCache::new(n))),
        events,
        metrics,
    });
    Router::new()
        .route("/webhook", post(handle))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(shared)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The JSON document of a delivery: the body itself, or the `payload` field of a form body.
fn json_payload(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, String> {
    let form = header_str(headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok(body.to_vec());
    }
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned().into_bytes())
        .ok_or_else(|| "form-encoded delivery without a payload field".to_owned())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let too_large = |shared: &Shared| {
        shared.answer(
            WebhookResult::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body larger than {} bytes", shared.max_body_bytes),
        )
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!("webhook delivery refused: body over the limit");
            return too_large(&shared);
        }
        Err(rejection) => {
            tracing::warn!(error = %rejection, "webhook delivery: the body could not be read");
            return shared.answer(
                WebhookResult::Malformed,
                StatusCode::BAD_REQUEST,
                &format!("the body could not be read: {rejection}"),
            );
        }
    };
    if body.len() > shared.max_body_bytes {
        return too_large(&shared);
    }

    let delivery = header_str(&headers, "x-github-delivery")
        .unwrap_or_default()
        .to_owned();
    let event = header_str(&headers, "x-github-event")
        .unwrap_or_default()
        .to_owned();

    if shared.secrets.is_empty() {
        tracing::warn!(
            %delivery, %event,
            "webhook delivery refused: no webhook secret is configured, unsigned events are not accepted"
        );
        return shared.answer(
            WebhookResult::BadSignature,
            StatusCode::UNAUTHORIZED,
            "no webhook secret configured on this endpoint",
        );
    }
    let Some(signature) = header_str(&headers, "x-hub-signature-256") else {
        tracing::warn!(%delivery, %event, "webhook delivery refused: no X-Hub-Signature-256");
        return shared.answer(
            WebhookResult::BadSignature,
            StatusCode::UNAUTHORIZED,
            "missing X-Hub-Signature-256",
        );
    };
    if !verify_signature(&shared.secrets, &body, signature) {
        tracing::warn!(%delivery, %event, "webhook delivery refused: bad signature");
        return shared.answer(
            WebhookResult::BadSignature,
            StatusCode::UNAUTHORIZED,
            "signature does not match",
        );
    }

    if event.is_empty() {
        return shared.answer(
            WebhookResult::Malformed,
            StatusCode::BAD_REQUEST,
            "missing X-GitHub-Event",
        );
    }

    if !shared.first_sight(&delivery) {
        tracing::debug!(%delivery, %event, "duplicate webhook delivery ignored");
        return shared.answer(
            WebhookResult::Duplicate,
            StatusCode::OK,
            "duplicate delivery, already processed",
        );
    }

    match event.as_str() {
        "ping" => {
            tracing::info!(%delivery, "webhook ping");
            shared.answer(WebhookResult::Ping, StatusCode::OK, "pong")
        }
        "pull_request" => pull_request(&shared, &headers, &body, delivery).await,
        _ => {
            tracing::debug!(%delivery, %event, "webhook event ignored");
            shared.answer(
                WebhookResult::Ignored,
                StatusCode::ACCEPTED,
                &format!("event {event} ignored"),
            )
        }
    }
}

async fn pull_request(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    delivery: String,
) -> Response {
    let parsed = json_payload(headers, body).and_then(|json| parse_pull_request(&delivery, &json));
    let event = match parsed {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%delivery, %error, "malformed pull_request delivery");
            shared.forget(&delivery);
            return shared.answer(
                WebhookResult::Malformed,
                StatusCode::BAD_REQUEST,
                &format!("malformed pull_request payload: {error}"),
            );
        }
    };
    if !PULL_REQUEST_ACTIONS.contains(&event.action.as_str()) {
        tracing::debug!(%delivery, action = %event.action, "pull_request action ignored");
        return shared.answer(
            WebhookResult::Ignored,
            StatusCode::ACCEPTED,
            &format!("pull_request action {} ignored", event.action),
        );
    }
    let (repository, number, action) = (
        event.repository.to_string(),
        event.number,
        event.action.clone(),
    );
    match shared
        .events
        .send_timeout(WebhookEvent::PullRequest(event), ENQUEUE_TIMEOUT)
        .await
    {
        Ok(()) => {
            tracing::debug!(%delivery, %repository, number, %action, "pull_request delivery accepted");
            shared.answer(WebhookResult::Accepted, StatusCode::ACCEPTED, "accepted")
        }
        Err(error) => {
            let why = match error {
                mpsc::error::SendTimeoutError::Timeout(_) => "the event queue is full",
                mpsc::error::SendTimeoutError::Closed(_) => "the operator is shutting down",
            };
            tracing::warn!(%delivery, %repository, number, %action, "pull_request delivery refused: {why}");
            shared.forget(&delivery);
            shared.answer(
                WebhookResult::Unavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{why}, retry later"),
            )
        }
    }
}
