//! The webhook endpoint, driven in process with `oneshot` (and once over loopback by the GitHub
//! simulator). Tests named `fixture_*` read real GitHub payloads from the shared fixtures folder:
//! `$PRTRACKER_GITHUB_FIXTURES`, else `<workspace root>/../shared/github-fixtures`.

// Helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, time::Duration};

use axum::body::Body;
use hmac::{Hmac, Mac};
use http::{Request, StatusCode};
use prtracker_api::Repository;
use prtracker_domain::PrFacts;
use prtracker_github_sim::{NewPull, Simulator};
use prtracker_operator::{
    metrics::{Metrics, WebhookResult},
    webhook::{PullRequestEvent, PullRequestState, WebhookConfig, WebhookEvent, router},
};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use tower::ServiceExt;

const SECRET: &[u8] = b"s3cret-webhook";
const OLD_SECRET: &[u8] = b"the-previous-secret";

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Endpoint {
    app: axum::Router,
    events: mpsc::Receiver<WebhookEvent>,
    metrics: Metrics,
}

fn endpoint_with(config: WebhookConfig, capacity: usize) -> Endpoint {
    let (tx, events) = mpsc::channel(capacity);
    let metrics = Metrics::new();
    Endpoint {
        app: router(config, tx, metrics.clone()),
        events,
        metrics,
    }
}

fn endpoint() -> Endpoint {
    endpoint_with(WebhookConfig::new(vec![SECRET.to_vec()]), 16)
}

/// A delivery as GitHub sends it.
struct Delivery {
    event: &'static str,
    id: String,
    signature: Option<String>,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Delivery {
    fn new(event: &'static str, id: &str, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        Self {
            event,
            id: id.to_owned(),
            signature: Some(sign(SECRET, &body)),
            content_type: "application/json",
            body,
        }
    }

    fn signed_with(mut self, secret: &[u8]) -> Self {
        self.signature = Some(sign(secret, &self.body));
        self
    }

    fn signature(mut self, signature: Option<&str>) -> Self {
        self.signature = signature.map(str::to_owned);
        self
    }

    fn request(&self) -> Request<Body> {
        let mut req = Request::post("/webhook")
            .header("content-type", self.content_type)
            .header("user-agent", "GitHub-Hookshot/044aadd")
            .header("x-github-event", self.event)
            .header("x-github-delivery", &self.id)
            .header("x-github-hook-id", "480171412");
        if let Some(sig) = &self.signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.body(Body::from(self.body.clone())).unwrap()
    }
}

async fn send(app: &axum::Router, delivery: &Delivery) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(delivery.request()).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}

fn next_event(events: &mut mpsc::Receiver<WebhookEvent>) -> PullRequestEvent {
    match events.try_recv() {
        Ok(WebhookEvent::PullRequest(e)) => e,
        Ok(other) => panic!("not a pull_request event: {other:?}"),
        Err(e) => panic!("no event on the channel: {e}"),
    }
}

fn assert_nothing_sent(events: &mut mpsc::Receiver<WebhookEvent>) {
    if let Ok(event) = events.try_recv() {
        panic!("unexpected event: {event:?}");
    }
}

/// A `pull_request` payload with the members GitHub always sends that we read.
fn pr_payload(action: &str, number: u64, labels: &[&str]) -> Vec<u8> {
    let labels: Vec<Value> = labels.iter().map(|l| json!({"name": l})).collect();
    serde_json::to_vec(&json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "draft": false,
            "merged": false,
            "merged_at": null,
            "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
            "title": "Bump the deploy image",
            "labels": labels,
            "html_url": format!("https://github.com/acme/app/pull/{number}"),
            "user": {"login": "octocat"},
            "head": {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "ref": "feature"},
            "base": {"sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b", "ref": "main"},
        },
        "label": {"name": "state/approved"},
        "repository": {"full_name": "acme/app", "name": "app", "owner": {"login": "acme"}},
        "sender": {"login": "hubot"},
        "installation": {"id": 42},
    }))
    .unwrap()
}

fn acme_app() -> Repository {
    "acme/app".parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[tokio::test]
async fn a_signed_pull_request_is_accepted_and_handed_over() {
    let mut ep = endpoint();
    let d = Delivery::new(
        "pull_request",
        "d-1",
        pr_payload("labeled", 7, &["state/approved", "bug"]),
    );
    let (status, body) = send(&ep.app, &d).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["result"], "accepted");
    let e = next_event(&mut ep.events);
    assert_eq!(e.repository, acme_app());
    assert_eq!(e.number, 7);
    assert_eq!(e.action, "labeled");
    assert_eq!(e.delivery, "d-1");
    assert_eq!(e.installation_id, Some(42));
    assert_eq!(
        e.labels,
        vec!["state/approved".to_owned(), "bug".to_owned()]
    );
    assert_eq!(e.label.as_deref(), Some("state/approved"));
    assert_eq!(e.state, PullRequestState::Open);
    assert!(!e.draft && !e.merged);
    // Not merged: GitHub's test-merge sha is not a merge commit.
    assert_eq!(e.merge_commit_sha, None);
    assert_eq!(e.head_sha, "6dcb09b5b57875f334f61aebed695e2e4193db5e");
    assert_eq!(
        (e.head_ref.as_str(), e.base_ref.as_str()),
        ("feature", "main")
    );
    assert_eq!(e.title, "Bump the deploy image");
    assert_eq!(e.author.as_deref(), Some("octocat"));
    assert_eq!(e.sender.as_deref(), Some("hubot"));
    assert_eq!(e.facts(), PrFacts::Open { draft: false });
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Accepted), 1);
}

#[tokio::test]
async fn githubs_documented_test_vector_verifies() {
    let ep = endpoint_with(
        WebhookConfig::new(vec![b"It's a Secret to Everybody".to_vec()]),
        4,
    );
    let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let d = Delivery::new("ping", "v-1", "Hello, World!").signature(Some(signature));
    let (status, body) = send(&ep.app, &d).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["msg"], "pong");

    // The same signature with one byte changed is refused.
    let d = Delivery::new("ping", "v-2", "Hello, World?").signature(Some(signature));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::UNAUTHORIZED);
    // Upper-case hex is still the same signature.
    let d = Delivery::new("ping", "v-3", "Hello, World!").signature(Some(
        &signature.to_uppercase().replacen("SHA256=", "sha256=", 1),
    ));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_second_secret_is_accepted_during_rotation() {
    let mut ep = endpoint_with(
        WebhookConfig::new(vec![SECRET.to_vec(), OLD_SECRET.to_vec()]),
        4,
    );
    let d =
        Delivery::new("pull_request", "r-1", pr_payload("opened", 1, &[])).signed_with(OLD_SECRET);
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    assert_eq!(next_event(&mut ep.events).number, 1);
    let d = Delivery::new("pull_request", "r-2", pr_payload("opened", 2, &[]));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    assert_eq!(next_event(&mut ep.events).number, 2);
    let d =
        Delivery::new("pull_request", "r-3", pr_payload("opened", 3, &[])).signed_with(b"another");
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::UNAUTHORIZED);
    assert_nothing_sent(&mut ep.events);
}

#[tokio::test]
async fn bad_missing_or_foreign_signatures_are_401_and_change_nothing() {
    let mut ep = endpoint();
    let body = pr_payload("labeled", 7, &["state/merged"]);
    let other_body = pr_payload("labeled", 8, &["state/merged"]);
    let cases = [
        Delivery::new("pull_request", "x-1", body.clone()).signed_with(b"wrong secret"),
        Delivery::new("pull_request", "x-1", body.clone()).signature(None),
        Delivery::new("pull_request", "x-1", body.clone())
            .signature(Some(&sign(SECRET, &other_body))),
        Delivery::new("pull_request", "x-1", body.clone()).signature(Some("sha256=zz")),
        Delivery::new("pull_request", "x-1", body.clone()).signature(Some("sha256=")),
        Delivery::new("pull_request", "x-1", body.clone())
            .signature(Some(&sign(SECRET, &body).replacen("sha256=", "sha1=", 1))),
        Delivery::new("pull_request", "x-1", body.clone())
            .signature(Some(&sign(SECRET, &body)[..40])),
        // Valid for a ping body: a signature is bound to its body, not to the event.
        Delivery::new("pull_request", "x-1", body.clone())
            .signature(Some(&sign(SECRET, b"{\"zen\":\"Design for failure.\"}"))),
    ];
    for d in &cases {
        let (status, reply) = send(&ep.app, d).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{:?}: {reply}",
            d.signature
        );
        assert_eq!(reply["result"], "bad_signature");
    }
    assert_nothing_sent(&mut ep.events);
    assert_eq!(
        ep.metrics.webhook_deliveries(WebhookResult::BadSignature),
        cases.len() as u64
    );
    // The id was not recorded as seen: the genuine delivery with that id goes through.
    let d = Delivery::new("pull_request", "x-1", body);
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    assert_eq!(next_event(&mut ep.events).number, 7);
}

#[tokio::test]
async fn without_any_secret_every_delivery_is_refused() {
    for secrets in [vec![], vec![Vec::new()]] {
        let mut ep = endpoint_with(WebhookConfig::new(secrets), 4);
        // Even one "signed" with the empty key, which anyone can compute.
        let d = Delivery::new("pull_request", "n-1", pr_payload("opened", 1, &[])).signed_with(b"");
        let (status, body) = send(&ep.app, &d).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let d = Delivery::new("ping", "n-2", "{}").signature(None);
        assert_eq!(send(&ep.app, &d).await.0, StatusCode::UNAUTHORIZED);
        assert_nothing_sent(&mut ep.events);
    }
}

#[test]
fn the_config_does_not_print_its_secrets() {
    let config = WebhookConfig::new(vec![SECRET.to_vec()]);
    let printed = format!("{config:?}");
    assert!(!printed.contains("s3cret"), "{printed}");
    assert_eq!(config.max_body_bytes, 25 * 1024 * 1024);
}

// ---------------------------------------------------------------------------------------------
// Size, duplicates, events

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let mut ep = endpoint_with(
        WebhookConfig {
            max_body_bytes: 4096,
            ..WebhookConfig::new(vec![SECRET.to_vec()])
        },
        4,
    );
    let mut big = pr_payload("opened", 1, &[]);
    // Still valid JSON, and validly signed: only the size is wrong.
    big.truncate(big.len() - 1);
    big.extend_from_slice(format!(",\"padding\":\"{}\"}}", "x".repeat(8192)).as_bytes());
    let d = Delivery::new("pull_request", "big-1", big);
    let (status, body) = send(&ep.app, &d).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_nothing_sent(&mut ep.events);
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::TooLarge), 1);

    // Exactly at the limit is fine.
    let mut exact = pr_payload("opened", 2, &[]);
    let room = 4096 - exact.len() - ",\"p\":\"\"}".len() + 1;
    exact.truncate(exact.len() - 1);
    exact.extend_from_slice(format!(",\"p\":\"{}\"}}", "x".repeat(room)).as_bytes());
    assert_eq!(exact.len(), 4096);
    let d = Delivery::new("pull_request", "big-2", exact);
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    assert_eq!(next_event(&mut ep.events).number, 2);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413() {
    // No Content-Length: the limit applies while reading.
    let mut ep = endpoint_with(
        WebhookConfig {
            max_body_bytes: 1024,
            ..WebhookConfig::new(vec![SECRET.to_vec()])
        },
        4,
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let req = Request::post("/webhook")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", "s-1")
        .header("x-hub-signature-256", sign(SECRET, &[b' '; 4096]))
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let resp = ep.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_nothing_sent(&mut ep.events);
}

#[tokio::test]
async fn a_repeated_delivery_id_is_not_sent_twice() {
    let mut ep = endpoint();
    let d = Delivery::new("pull_request", "dup-1", pr_payload("unlabeled", 3, &[]));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    let (status, body) = send(&ep.app, &d).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "duplicate");
    assert!(
        body["msg"].as_str().unwrap().contains("duplicate"),
        "{body}"
    );
    assert_eq!(next_event(&mut ep.events).number, 3);
    assert_nothing_sent(&mut ep.events);
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Duplicate), 1);
    // Another id with the same body is another delivery.
    let d = Delivery::new("pull_request", "dup-2", pr_payload("unlabeled", 3, &[]));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    assert_eq!(next_event(&mut ep.events).number, 3);
}

#[tokio::test]
async fn the_dedup_memory_is_bounded() {
    let mut ep = endpoint_with(
        WebhookConfig {
            dedup_capacity: 2,
            ..WebhookConfig::new(vec![SECRET.to_vec()])
        },
        16,
    );
    for id in ["a", "b", "c"] {
        let d = Delivery::new("pull_request", id, pr_payload("opened", 1, &[]));
        assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
        next_event(&mut ep.events);
    }
    // "a" was evicted (least recently used), "c" is remembered.
    let d = Delivery::new("pull_request", "c", pr_payload("opened", 1, &[]));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::OK);
    let d = Delivery::new("pull_request", "a", pr_payload("opened", 1, &[]));
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn ping_is_answered() {
    let mut ep = endpoint();
    let body = serde_json::to_vec(&json!({"zen": "Design for failure.", "hook_id": 1})).unwrap();
    let (status, reply) = send(&ep.app, &Delivery::new("ping", "p-1", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["msg"], "pong");
    assert_nothing_sent(&mut ep.events);
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Ping), 1);
}

#[tokio::test]
async fn other_events_and_actions_are_202_and_ignored() {
    let mut ep = endpoint();
    let issue = serde_json::to_vec(&json!({"action": "opened", "issue": {"number": 1}})).unwrap();
    let (status, body) = send(&ep.app, &Delivery::new("issues", "o-1", issue)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["result"], "ignored");
    // Not even parsed: an event we do not read may be anything.
    let (status, _) = send(&ep.app, &Delivery::new("push", "o-2", "not json")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // A pull_request action that cannot move a tracker.
    let d = Delivery::new(
        "pull_request",
        "o-3",
        pr_payload("review_requested", 1, &[]),
    );
    let (status, body) = send(&ep.app, &d).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["result"], "ignored");
    assert_nothing_sent(&mut ep.events);
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Ignored), 3);
}

#[tokio::test]
async fn every_action_that_can_move_a_tracker_goes_through() {
    let actions = [
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
    let mut ep = endpoint();
    for (i, action) in actions.iter().enumerate() {
        let d = Delivery::new(
            "pull_request",
            &format!("a-{i}"),
            pr_payload(action, 5, &[]),
        );
        assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED, "{action}");
        assert_eq!(next_event(&mut ep.events).action, *action);
    }
}

#[tokio::test]
async fn malformed_payloads_are_400_with_a_message() {
    let mut ep = endpoint();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "m-1",
            b"{not json".to_vec(),
            "malformed pull_request payload",
        ),
        (
            "m-2",
            b"Hello, World!".to_vec(),
            "malformed pull_request payload",
        ),
        (
            "m-3",
            serde_json::to_vec(&json!({"action": "opened", "number": 1})).unwrap(),
            "pull_request",
        ),
        (
            "m-4",
            String::from_utf8(pr_payload("opened", 1, &[]))
                .unwrap()
                .replace("acme/app", "not a repository")
                .into_bytes(),
            "repository.full_name",
        ),
    ];
    for (id, body, expected) in cases {
        let (status, reply) = send(&ep.app, &Delivery::new("pull_request", id, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {reply}");
        assert_eq!(reply["result"], "malformed");
        let msg = reply["msg"].as_str().unwrap();
        assert!(msg.contains(expected), "{id}: {msg}");
    }
    assert_nothing_sent(&mut ep.events);
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Malformed), 4);
}

#[tokio::test]
async fn a_form_encoded_delivery_is_read_from_its_payload_field() {
    let mut ep = endpoint();
    let json = String::from_utf8(pr_payload("opened", 9, &["state/open"])).unwrap();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &json)
        .finish();
    let mut d = Delivery::new("pull_request", "f-1", body);
    d.content_type = "application/x-www-form-urlencoded";
    assert_eq!(send(&ep.app, &d).await.0, StatusCode::ACCEPTED);
    let e = next_event(&mut ep.events);
    assert_eq!(
        (e.number, e.labels.as_slice()),
        (9, ["state/open".to_owned()].as_slice())
    );
}

// ---------------------------------------------------------------------------------------------
// Back pressure

#[tokio::test]
async fn a_full_channel_is_503_and_the_redelivery_goes_through() {
    let mut ep = endpoint_with(WebhookConfig::new(vec![SECRET.to_vec()]), 1);
    let first = Delivery::new("pull_request", "q-1", pr_payload("opened", 1, &[]));
    assert_eq!(send(&ep.app, &first).await.0, StatusCode::ACCEPTED);
    let second = Delivery::new("pull_request", "q-2", pr_payload("opened", 2, &[]));
    let (status, body) = send(&ep.app, &second).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["result"], "unavailable");
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Unavailable), 1);
    assert_eq!(next_event(&mut ep.events).number, 1);
    // GitHub's "Redeliver" sends the same id: it was not recorded as seen.
    assert_eq!(send(&ep.app, &second).await.0, StatusCode::ACCEPTED);
    assert_eq!(next_event(&mut ep.events).number, 2);
}

#[tokio::test]
async fn a_closed_channel_is_503() {
    let ep = endpoint();
    let Endpoint { app, events, .. } = ep;
    drop(events);
    let d = Delivery::new("pull_request", "c-1", pr_payload("opened", 1, &[]));
    assert_eq!(send(&app, &d).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

// ---------------------------------------------------------------------------------------------
// Real payloads

/// `$PRTRACKER_GITHUB_FIXTURES`, else `<workspace root>/../shared/github-fixtures`.
fn fixtures_dir() -> PathBuf {
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/github-fixtures");
    let dir = std::env::var_os("PRTRACKER_GITHUB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| default.clone());
    assert!(
        dir.is_dir(),
        "the GitHub fixtures are missing: set PRTRACKER_GITHUB_FIXTURES, or put them at {} (looked in {})",
        default.display(),
        dir.display()
    );
    dir
}

/// A person's "Re-run" of a check run, as GitHub delivered it to an App: handed on with the run,
/// its name and commit. A run's other actions (created, completed) are GitHub telling the App of
/// its own writes: 202 and ignored.
#[tokio::test]
async fn fixture_check_run_rerequested_is_handed_on_and_created_is_ignored() {
    let path = fixtures_dir().join("webhook-check_run-rerequested.json");
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: Value = serde_json::from_slice(&body).unwrap();
    let mut ep = endpoint();
    let (status, reply) = send(&ep.app, &Delivery::new("check_run", "cr-1", body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let event = match ep.events.try_recv() {
        Ok(WebhookEvent::CheckRun(e)) => e,
        other => panic!("not a check_run event: {other:?}"),
    };
    assert_eq!(event.action, "rerequested");
    assert_eq!(Some(event.id), fixture["check_run"]["id"].as_u64());
    assert_eq!(event.name, fixture["check_run"]["name"].as_str().unwrap());
    assert_eq!(
        event.head_sha,
        fixture["check_run"]["head_sha"].as_str().unwrap()
    );
    assert_eq!(
        event.repository.to_string(),
        fixture["repository"]["full_name"].as_str().unwrap()
    );
    assert_eq!(event.sender.as_deref(), fixture["sender"]["login"].as_str());

    let created = fixtures_dir().join("webhook-check_run-created.json");
    let body = std::fs::read(&created).unwrap_or_else(|e| panic!("{}: {e}", created.display()));
    let (status, reply) = send(&ep.app, &Delivery::new("check_run", "cr-2", body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["result"], "ignored");
    assert_nothing_sent(&mut ep.events);

    // A check_run delivery we cannot read is refused, and may come again.
    let broken = serde_json::to_vec(&json!({"action": "rerequested", "check_run": {}})).unwrap();
    let (status, _) = send(&ep.app, &Delivery::new("check_run", "cr-3", broken)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_nothing_sent(&mut ep.events);
}

async fn deliver_fixture(name: &str) -> PullRequestEvent {
    let path = fixtures_dir().join(name);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut ep = endpoint();
    let d = Delivery::new("pull_request", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body);
    let (status, reply) = send(&ep.app, &d).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{name}: {reply}");
    next_event(&mut ep.events)
}

#[tokio::test]
async fn fixture_pull_request_opened() {
    let e = deliver_fixture("webhook-pull_request-opened.json").await;
    assert_eq!(e.action, "opened");
    assert_eq!(
        e.repository,
        "codinasion/codinasion-bot".parse::<Repository>().unwrap()
    );
    assert_eq!(e.number, 6);
    assert_eq!(e.installation_id, Some(27_216_354));
    assert_eq!(e.facts(), PrFacts::Open { draft: false });
    assert!(e.labels.is_empty());
    assert_eq!(e.head_sha, "489ddc6d9f5effc97bf4451de257e0c7b7b64af0");
    assert_eq!(e.title, "Create 1.txt");
    assert_eq!(e.author.as_deref(), Some("harshraj8843"));
    assert_eq!(
        e.html_url,
        "https://github.com/codinasion/codinasion-bot/pull/6"
    );
    assert_eq!(e.merge_commit_sha, None);
}

#[tokio::test]
async fn fixture_pull_request_labeled() {
    let e = deliver_fixture("webhook-pull_request-labeled.json").await;
    assert_eq!(e.action, "labeled");
    assert_eq!(
        e.repository,
        "Codertocat/Hello-World".parse::<Repository>().unwrap()
    );
    assert_eq!(e.number, 2);
    assert_eq!(e.installation_id, Some(1));
    assert_eq!(e.labels, vec!["bug".to_owned()]);
    assert_eq!(e.label.as_deref(), Some("bug"));
    assert_eq!(e.facts(), PrFacts::Open { draft: false });
}

#[tokio::test]
async fn fixture_pull_request_unlabeled() {
    let e = deliver_fixture("webhook-pull_request-unlabeled.json").await;
    assert_eq!(e.action, "unlabeled");
    assert_eq!(
        e.repository,
        "codinasion/codinasion-bot-try"
            .parse::<Repository>()
            .unwrap()
    );
    assert_eq!(e.number, 8);
    assert_eq!(e.labels, vec!["team".to_owned()]);
    assert_eq!(e.label.as_deref(), Some("triage"));
    assert_eq!(e.facts(), PrFacts::Open { draft: false });
}

#[tokio::test]
async fn fixture_pull_request_closed_merged() {
    let e = deliver_fixture("webhook-pull_request-closed-merged.json").await;
    assert_eq!(e.action, "closed");
    assert_eq!(e.number, 14);
    assert_eq!(e.state, PullRequestState::Closed);
    assert!(e.merged);
    assert_eq!(e.facts(), PrFacts::Merged);
    assert_eq!(
        e.merge_commit_sha.as_deref(),
        Some("bcb954310e04baa5a7974eb201a433be35488351")
    );
    assert_eq!(e.labels, vec!["triage".to_owned(), "team".to_owned()]);
}

#[tokio::test]
async fn fixture_pull_request_closed_unmerged() {
    let e = deliver_fixture("webhook-pull_request-closed-unmerged.json").await;
    assert_eq!(e.action, "closed");
    assert_eq!(e.number, 2);
    assert_eq!(e.state, PullRequestState::Closed);
    assert!(!e.merged);
    assert_eq!(e.facts(), PrFacts::Closed);
    assert_eq!(e.merge_commit_sha, None);
}

// ---------------------------------------------------------------------------------------------
// End to end with the simulator

/// Serves the router on loopback, as the operator does.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}/webhook")
}

async fn recv(events: &mut mpsc::Receiver<WebhookEvent>) -> PullRequestEvent {
    match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(WebhookEvent::PullRequest(e))) => e,
        other => panic!("no event from the simulator: {other:?}"),
    }
}

#[tokio::test]
async fn deliveries_signed_by_the_simulator_are_accepted_end_to_end() {
    let sim = Simulator::start().await.unwrap();
    let mut ep = endpoint();
    let url = serve(ep.app.clone()).await;
    sim.create_repo("acme/app").unwrap();
    sim.set_webhook(&url, Some(std::str::from_utf8(SECRET).unwrap()));
    let n = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "Add x".into(),
                labels: vec!["state/open".into()],
                ..Default::default()
            },
        )
        .unwrap();
    sim.merge_pull("acme/app", n, "octocat").unwrap();

    let opened = recv(&mut ep.events).await;
    assert_eq!((opened.action.as_str(), opened.number), ("opened", n));
    assert_eq!(opened.repository, acme_app());
    assert!(opened.is_open());
    let labeled = recv(&mut ep.events).await;
    assert_eq!(labeled.action, "labeled");
    assert_eq!(labeled.label.as_deref(), Some("state/open"));
    assert_eq!(labeled.labels, vec!["state/open".to_owned()]);
    let closed = recv(&mut ep.events).await;
    assert_eq!(closed.action, "closed");
    assert_eq!(closed.facts(), PrFacts::Merged);
    assert!(closed.merge_commit_sha.is_some());

    // ping, opened, labeled, closed: every one answered as GitHub would log it.
    let deliveries = sim.wait_for_deliveries(4, Duration::from_secs(10)).await;
    let answered: Vec<(String, Option<u16>)> = deliveries
        .iter()
        .map(|d| (d.event.clone(), d.status))
        .collect();
    assert_eq!(answered[0], ("ping".to_owned(), Some(200)), "{answered:?}");
    for (event, status) in &answered[1..] {
        assert_eq!(
            (event.as_str(), *status),
            ("pull_request", Some(202)),
            "{answered:?}"
        );
    }
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Accepted), 3);
    assert_eq!(ep.metrics.webhook_deliveries(WebhookResult::Ping), 1);
}

#[tokio::test]
async fn deliveries_of_a_simulator_with_another_secret_are_refused() {
    let sim = Simulator::start().await.unwrap();
    let mut ep = endpoint();
    let url = serve(ep.app.clone()).await;
    sim.create_repo("acme/app").unwrap();
    sim.set_webhook(&url, Some("not-our-secret"));
    sim.create_pull(
        "acme/app",
        NewPull {
            title: "Add x".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let deliveries = sim.wait_for_deliveries(2, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries.iter().all(|d| d.status == Some(401)),
        "{deliveries:?}"
    );
    assert_nothing_sent(&mut ep.events);
}
