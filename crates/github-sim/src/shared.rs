//! The state shared by the HTTP handlers and the library handle: the world, budgets and faults,
//! tokens, the request log, webhook configuration and the deliveries log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::{AppConfig, SimConfig};
use crate::ids::Rng;
use crate::limits::Limits;
use crate::model::World;
use crate::webhook::{self, Delivery, DeliveryLog, Outgoing, WebhookConfig};

/// One API request, as the request log shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query, as requested.
    pub path: String,
    pub status: u16,
    /// Whether it was counted against the token's primary budget (a 304 is not).
    pub counted: bool,
    /// The token presented, if any (for a JWT: `app`).
    pub token: Option<String>,
    /// When the request arrived, since the simulator started (a monotonic clock, not the
    /// simulated one that `advance_time` moves).
    #[serde(default)]
    pub at: Duration,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub login: String,
    /// Installation tokens expire (epoch seconds); personal tokens do not.
    pub expires_at: Option<i64>,
}

#[derive(Debug)]
pub struct Inner {
    pub world: World,
    pub limits: Limits,
    pub log: Vec<RequestRecord>,
    pub tokens: HashMap<String, TokenInfo>,
    pub require_auth: bool,
    pub app: Option<AppConfig>,
    pub webhook: Option<WebhookConfig>,
    pub hook_id: u64,
    pub rng: Rng,
}

#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    pub deliveries: DeliveryLog,
    sender: mpsc::UnboundedSender<Outgoing>,
    /// The origin of [`RequestRecord::at`].
    pub started: Instant,
    /// API requests between arrival and answer, and the most there have been at once. Atomics,
    /// not the state mutex: a request waiting out injected latency holds no lock.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// One API request in flight; dropping it (answered, or abandoned by the client) ends it.
pub struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// Must run inside a Tokio runtime (it starts the webhook sender).
    pub fn new(base: String, config: SimConfig) -> Arc<Self> {
        let mut world = World::new(base);
        world.installation_id = config.app.as_ref().map(|a| a.installation_id);
        let tokens = config
            .tokens
            .iter()
            .map(|(t, login)| {
                world.account(login);
                (
                    t.clone(),
                    TokenInfo {
                        login: login.clone(),
                        expires_at: None,
                    },
                )
            })
            .collect();
        let deliveries: DeliveryLog = Arc::new(Mutex::new(Vec::new()));
        let sender = webhook::spawn_sender(deliveries.clone());
        let shared = Arc::new(Self {
            inner: Mutex::new(Inner {
                world,
                limits: Limits::new(config.rate_limit),
                log: Vec::new(),
                tokens,
                require_auth: config.require_auth,
                app: config.app.clone(),
                webhook: None,
                hook_id: 1,
                rng: Rng::new(config.seed),
            }),
            deliveries,
            sender,
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        if let Some(hook) = config.webhook {
            shared.set_webhook(Some(hook));
        }
        shared
    }

    /// Locks the state; a panic elsewhere must not wedge the simulator, so poison is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Runs `f` on the world, then hands any webhook events it queued to the sender.
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut g = self.lock();
        let out = f(&mut g.world);
        self.flush(&mut g);
        out
    }

    /// Counts an API request in until the guard is dropped.
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Starts the maximum again from the requests in flight now.
    pub fn reset_max_in_flight(&self) {
        let now = self.in_flight.load(Ordering::SeqCst);
        self.max_in_flight.store(now, Ordering::SeqCst);
    }

    pub fn set_webhook(&self, hook: Option<WebhookConfig>) {
        let mut g = self.lock();
        g.webhook = hook.clone();
        if let Some(h) = hook {
            g.hook_id += 1;
            let id = g.hook_id;
            g.world.emit_ping(id, &h.url);
        }
        self.flush(&mut g);
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        match self.deliveries.lock() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn flush(&self, g: &mut Inner) {
        let events = std::mem::take(&mut g.world.outbox);
        let Some(hook) = g.webhook.clone() else {
            return;
        };
        for ev in events {
            let body = serde_json::to_vec(&ev.payload).unwrap_or_default();
            let id = g.rng.uuid();
            let dropped = g.limits.take_drop();
            let target = ev
                .payload
                .pointer("/repository/id")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let mut headers = vec![
                ("X-GitHub-Event".to_string(), ev.event.clone()),
                ("X-GitHub-Delivery".to_string(), id.clone()),
                ("X-GitHub-Hook-ID".to_string(), g.hook_id.to_string()),
                (
                    "X-GitHub-Hook-Installation-Target-ID".to_string(),
                    target.to_string(),
                ),
                (
                    "X-GitHub-Hook-Installation-Target-Type".to_string(),
                    "repository".to_string(),
                ),
                ("User-Agent".to_string(), "GitHub-Hookshot/sim".to_string()),
                ("Content-Type".to_string(), "application/json".to_string()),
            ];
            if let Some(secret) = &hook.secret {
                headers.push((
                    "X-Hub-Signature-256".to_string(),
                    webhook::signature_256(secret.as_bytes(), &body),
                ));
            }
            {
                let mut log = match self.deliveries.lock() {
                    Ok(l) => l,
                    Err(p) => p.into_inner(),
                };
                log.push(Delivery {
                    id: id.clone(),
                    event: ev.event,
                    action: ev.action,
                    status: None,
                    error: None,
                    dropped,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
            }
            if !dropped {
                let _ = self.sender.send(Outgoing {
                    id,
                    url: hook.url.clone(),
                    headers,
                    body,
                });
            }
        }
    }
}
