//! The GitHub webhook endpoint: `POST /webhook`, built to face the internet (the connection-level
//! limits, header timeout and connection cap, are the server's: see `crate::server`).
//!
//! Order of checks, each one final, the first ones on the headers alone, before any body is read:
//! 1. `Content-Length` over [`WebhookConfig::max_body_bytes`] (413);
//! 2. `X-Hub-Signature-256` present and well-formed, with a secret configured (401; without any
//!    secret every delivery is refused);
//! 3. the body read within [`WebhookConfig::body_read_timeout`] (408) and the size limit (413),
//!    the signature fed as it streams in. Only a `pull_request` or `check_run` body is kept in
//!    memory, inside a
//!    budget shared by every delivery in flight ([`WebhookConfig::bodies_in_flight_bytes`]):
//!    beyond it, 503 with `Retry-After`, before the body is buffered;
//! 4. the signature against every configured secret, in constant time (401);
//! 5. `X-GitHub-Delivery` seen before (200, duplicate); header values are bounded (72 bytes, a
//!    longer one kept as its start and a digest) before they are logged or remembered;
//! 6. the event: `ping` → 200; `pull_request` with an action that can move a tracker, or
//!    `check_run` `rerequested` (a person's "Re-run") → parsed (400 if unreadable) and handed to
//!    the operator on a channel (202; 503 when the channel stays full, so GitHub records a failed
//!    delivery); anything else → 202, ignored.
//!
//! Only a delivery that was handed over (or answered as ping or ignored) stays recorded as seen:
//! a delivery refused with 401, 400 or 503 can be redelivered and will be processed.
//!
//! Payloads are read as GitHub sends them with content type `application/json`, and also as
//! `application/x-www-form-urlencoded` (`payload=<json>`), GitHub's other content type.

mod body;
mod dedup;
mod handler;
mod payload;
mod signature;

use std::{fmt, sync::Arc, time::Duration};

use crate::ledger::ChangeLedger;

pub use handler::router;
pub use payload::{
    CHECK_RUN_ACTIONS, CheckRunEvent, PULL_REQUEST_ACTIONS, PullRequestEvent, PullRequestState,
    WebhookEvent, json_payload, parse_check_run, parse_pull_request,
};
pub use signature::{SignatureCheck, verify_signature};

/// GitHub caps webhook payloads at 25 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// Delivery ids remembered for deduplication: at most 10,000 × 72 bytes of ids.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;
/// How long a delivery's body may take to arrive once its headers have.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The bytes of `pull_request` and `check_run` bodies held at once by all deliveries in flight: one body of
/// GitHub's largest fits, with room for the usual ones (a few KB to a few hundred) beside it.
pub const DEFAULT_BODIES_IN_FLIGHT_BYTES: usize = 32 * 1024 * 1024;
/// How long a delivery waits for room on a full event channel before it is answered 503.
pub const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// How long a body may take to arrive (default 30 s); slower is 408.
    pub body_read_timeout: Duration,
    /// The bytes of bodies kept in memory at once by all deliveries in flight (default 32 MiB);
    /// a delivery that would go beyond it is answered 503 with `Retry-After`.
    pub bodies_in_flight_bytes: usize,
    /// Told of every PR a delivery says changed, as the delivery is accepted (before it queues),
    /// so that no label write follows a read older than it.
    pub ledger: Option<Arc<ChangeLedger>>,
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
    /// No secret (refuses everything until one is set), 25 MiB, 10,000 ids, 30 s, 32 MiB.
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            bodies_in_flight_bytes: DEFAULT_BODIES_IN_FLIGHT_BYTES,
            ledger: None,
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
            .field("body_read_timeout", &self.body_read_timeout)
            .field("bodies_in_flight_bytes", &self.bodies_in_flight_bytes)
            .field("ledger", &self.ledger.is_some())
            .finish()
    }
}
