//! `POST /webhook`: the checks in their order (see the module's documentation), each answered with
//! GitHub's expectations of a receiver: 2xx for what was taken, 4xx for what never will be, 503 for
//! what may be redelivered.

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use tokio::sync::mpsc;

use super::{
    ENQUEUE_TIMEOUT, WebhookConfig,
    body::{BodyBudget, BodyLimits, BodyRead, read_body},
    dedup::{self, Deliveries},
    payload::{
        CHECK_RUN_ACTIONS, PULL_REQUEST_ACTIONS, WebhookEvent, json_payload, parse_check_run,
        parse_pull_request,
    },
    signature::SignatureCheck,
};
use crate::{
    handover,
    ledger::ChangeLedger,
    metrics::{Metrics, WebhookResult},
};

struct Shared {
    secrets: Vec<Vec<u8>>,
    body_limits: BodyLimits,
    budget: Arc<BodyBudget>,
    seen: Deliveries,
    ledger: Option<Arc<ChangeLedger>>,
    events: mpsc::Sender<WebhookEvent>,
    metrics: Metrics,
}

impl Shared {
    fn answer(&self, result: WebhookResult, status: StatusCode, message: &str) -> Response {
        self.metrics.webhook_delivery(result);
        let body = serde_json::json!({ "result": result.as_str(), "msg": message });
        (status, axum::Json(body)).into_response()
    }

    /// 503 with `Retry-After`: the bodies in flight fill the budget; GitHub redelivers later.
    fn busy(&self) -> Response {
        let mut response = self.answer(
            WebhookResult::Busy,
            StatusCode::SERVICE_UNAVAILABLE,
            "too many deliveries in flight, retry later",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
        response
    }

    fn too_large(&self) -> Response {
        self.answer(
            WebhookResult::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body larger than {} bytes", self.body_limits.max_bytes),
        )
    }
}

/// What a 503 for a full budget asks the sender to wait, in seconds.
const RETRY_AFTER_SECONDS: &str = "5";

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
        body_limits: BodyLimits {
            max_bytes: config.max_body_bytes,
            timeout: config.body_read_timeout,
        },
        budget: BodyBudget::new(config.bodies_in_flight_bytes),
        seen: Deliveries::new(config.dedup_capacity),
        ledger: config.ledger,
        events,
        metrics,
    });
    Router::new()
        .route("/webhook", post(handle))
        // The body is read, and limited, by `handle` itself, as it streams in.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body's declared length; `Err` when the header is there but not a number.
fn content_length(headers: &HeaderMap) -> Result<Option<usize>, ()> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(Some)
            .ok_or(()),
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;

    // Header values are the sender's to choose: bounded before they are logged or kept.
    let delivery = dedup::bounded(header_str(headers, "x-github-delivery").unwrap_or_default());
    let event = dedup::bounded(header_str(headers, "x-github-event").unwrap_or_default());

    // Everything that can be refused from the headers alone is, before a byte of body is read.
    let Ok(declared) = content_length(headers) else {
        return shared.answer(
            WebhookResult::Malformed,
            StatusCode::BAD_REQUEST,
            "Content-Length is not a number",
        );
    };
    if declared.is_some_and(|length| length > shared.body_limits.max_bytes) {
        tracing::warn!(%delivery, %event, "webhook delivery refused: body over the limit");
        return shared.too_large();
    }
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
    let Some(signature) = header_str(headers, "x-hub-signature-256") else {
        tracing::warn!(%delivery, %event, "webhook delivery refused: no X-Hub-Signature-256");
        return shared.answer(
            WebhookResult::BadSignature,
            StatusCode::UNAUTHORIZED,
            "missing X-Hub-Signature-256",
        );
    };
    let Some(check) = SignatureCheck::new(&shared.secrets, signature) else {
        tracing::warn!(%delivery, %event, "webhook delivery refused: malformed X-Hub-Signature-256");
        return shared.answer(
            WebhookResult::BadSignature,
            StatusCode::UNAUTHORIZED,
            "X-Hub-Signature-256 is not sha256=<64 hex digits>",
        );
    };

    // Only the events acted on are kept in memory; the others are only checked as they pass.
    let kept = matches!(event.as_str(), "pull_request" | "check_run");
    let mut reservation = kept.then(|| shared.budget.reserve());
    let read = read_body(
        body,
        check,
        reservation.as_mut(),
        declared,
        &shared.body_limits,
    )
    .await;
    let body = match read {
        BodyRead::Complete { body, signed: true } => body,
        BodyRead::Complete { signed: false, .. } => {
            tracing::warn!(%delivery, %event, "webhook delivery refused: bad signature");
            return shared.answer(
                WebhookResult::BadSignature,
                StatusCode::UNAUTHORIZED,
                "signature does not match",
            );
        }
        BodyRead::TooLarge => {
            tracing::warn!(%delivery, %event, "webhook delivery refused: body over the limit");
            return shared.too_large();
        }
        BodyRead::OverBudget => {
            tracing::warn!(%delivery, %event, "webhook delivery refused: the bodies in flight fill the budget");
            return shared.busy();
        }
        BodyRead::TimedOut => {
            tracing::warn!(%delivery, %event, timeout = ?shared.body_limits.timeout,
                           "webhook delivery refused: the body did not arrive in time");
            return shared.answer(
                WebhookResult::TimedOut,
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            );
        }
        BodyRead::Broken(error) => {
            tracing::warn!(%delivery, %event, %error, "webhook delivery: the body could not be read");
            return shared.answer(
                WebhookResult::Malformed,
                StatusCode::BAD_REQUEST,
                &format!("the body could not be read: {error}"),
            );
        }
    };

    if event.is_empty() {
        return shared.answer(
            WebhookResult::Malformed,
            StatusCode::BAD_REQUEST,
            "missing X-GitHub-Event",
        );
    }

    if !shared.seen.first_sight(&delivery) {
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
        "pull_request" => {
            let response = pull_request(&shared, headers, &body, delivery).await;
            // The parsed event owns what it needs: the raw body leaves the budget now.
            drop(reservation);
            response
        }
        "check_run" => {
            let response = check_run(&shared, headers, &body, delivery).await;
            drop(reservation);
            response
        }
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
    let read = read_event(
        shared,
        headers,
        body,
        &delivery,
        "pull_request",
        parse_pull_request,
    );
    let event = match read {
        Ok(event) if PULL_REQUEST_ACTIONS.contains(&event.action.as_str()) => event,
        Ok(event) => return ignored(shared, &delivery, "pull_request", &event.action),
        Err(answer) => return *answer,
    };
    if let Some(ledger) = &shared.ledger {
        let change = handover::label_change(&event.action, event.label.as_deref());
        ledger.tell_delivery(&event.repository, event.number, change.as_ref());
    }
    let what = format!("{} #{} {}", event.repository, event.number, event.action);
    enqueue(shared, WebhookEvent::PullRequest(event), &delivery, &what).await
}

async fn check_run(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    delivery: String,
) -> Response {
    let read = read_event(
        shared,
        headers,
        body,
        &delivery,
        "check_run",
        parse_check_run,
    );
    let event = match read {
        Ok(event) if CHECK_RUN_ACTIONS.contains(&event.action.as_str()) => event,
        Ok(event) => return ignored(shared, &delivery, "check_run", &event.action),
        Err(answer) => return *answer,
    };
    let what = format!(
        "{} {} run {} {}",
        event.repository, event.name, event.id, event.action
    );
    enqueue(shared, WebhookEvent::CheckRun(event), &delivery, &what).await
}

/// The delivery's payload as `parse` reads it; a malformed one is answered 400 and forgotten, so
/// that a redelivery is processed.
fn read_event<E>(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    delivery: &str,
    kind: &str,
    parse: impl FnOnce(&str, &[u8]) -> Result<E, String>,
) -> Result<E, Box<Response>> {
    let content_type = header_str(headers, header::CONTENT_TYPE.as_str());
    json_payload(content_type, body)
        .and_then(|json| parse(delivery, &json))
        .map_err(|error| {
            tracing::warn!(%delivery, %error, "malformed {kind} delivery");
            shared.seen.forget(delivery);
            Box::new(shared.answer(
                WebhookResult::Malformed,
                StatusCode::BAD_REQUEST,
                &format!("malformed {kind} payload: {error}"),
            ))
        })
}

/// 202 for an action the operator does not act on.
fn ignored(shared: &Shared, delivery: &str, kind: &str, action: &str) -> Response {
    tracing::debug!(%delivery, %action, "{kind} action ignored");
    shared.answer(
        WebhookResult::Ignored,
        StatusCode::ACCEPTED,
        &format!("{kind} action {action} ignored"),
    )
}

/// Hands `event` to the operator: 202, or 503 when its queue stays full (GitHub redelivers).
async fn enqueue(shared: &Shared, event: WebhookEvent, delivery: &str, what: &str) -> Response {
    match shared.events.send_timeout(event, ENQUEUE_TIMEOUT).await {
        Ok(()) => {
            tracing::debug!(%delivery, %what, "delivery accepted");
            shared.answer(WebhookResult::Accepted, StatusCode::ACCEPTED, "accepted")
        }
        Err(error) => {
            let why = match error {
                mpsc::error::SendTimeoutError::Timeout(_) => "the event queue is full",
                mpsc::error::SendTimeoutError::Closed(_) => "the operator is shutting down",
            };
            tracing::warn!(%delivery, %what, "delivery refused: {why}");
            shared.seen.forget(delivery);
            shared.answer(
                WebhookResult::Unavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{why}, retry later"),
            )
        }
    }
}
