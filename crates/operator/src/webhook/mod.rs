//! The GitHub webhook endpoint: `POST /webhook`.
//!
//! Order of checks, each one final:
//! 1. body size (413 past [`WebhookConfig::max_body_bytes`], never buffered past it);
//! 2. `X-Hub-Signature-256` against every configured secret, in constant time (401; without any
//!    secret every delivery is refused);
//! 3. `X-GitHub-Delivery` seen before (200, duplicate); header values are bounded (72 bytes, a
//!    longer one kept as its start and a digest) before they are logged or remembered;
//! 4. the event: `ping` → 200; `pull_request` with an action that can move a tracker → parsed (400
//!    if unreadable) and handed to the operator on a channel (202; 503 when the channel stays full,
//!    so GitHub records a failed delivery); anything else → 202, ignored.
//!
//! Only a delivery that was handed over (or answered as ping or ignored) stays recorded as seen:
//! a delivery refused with 401, 400 or 503 can be redelivered and will be processed.
//!
//! Payloads are read as GitHub sends them with content type `application/json`, and also as
//! `application/x-www-form-urlencoded` (`payload=<json>`), GitHub's other content type.

mod dedup;
mod handler;
mod payload;
mod signature;

use std::{fmt, sync::Arc, time::Duration};

use crate::ledger::ChangeLedger;

pub use handler::router;
pub use payload::{
    PULL_REQUEST_ACTIONS, PullRequestEvent, PullRequestState, WebhookEvent, json_payload,
    parse_pull_request,
};
pub use signature::verify_signature;

/// GitHub caps webhook payloads at 25 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// Delivery ids remembered for deduplication.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;
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
    /// No secret (refuses everything until one is set), 25 MiB, 10,000 ids.
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
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
            .field("ledger", &self.ledger.is_some())
            .finish()
    }
}
