//! Prometheus metrics and health probes of the operator.
//!
//! [`Metrics`] holds one registry with the operator's own families (reconciles, errors, durations,
//! trackers by state, webhook deliveries) and exposes the GitHub client's counters at scrape time
//! (read from [`GitHubMetrics`] or from a snapshot function, so nothing has to be copied on each
//! request). [`Health`] holds readiness (set by the runtime) and liveness (the controller loop's
//! last progress). [`router`] serves `GET /metrics`, `GET /healthz` and `GET /readyz`.
//!
//! Every label has bounded cardinality: controller names, result and reason codes, states, and the
//! GitHub client's endpoint templates, never URLs, names or numbers.

mod github;
mod health;
mod routes;
mod watches;

use std::{
    collections::BTreeSet,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};
use prtracker_domain::PrState;
use prtracker_github::{GitHubMetrics, MetricsSnapshot};

pub use github::NO_HTTP_STATUS;
use github::{GitHubCollector, GitHubSource, signed};
pub use health::{DEFAULT_STALL_AFTER, Health};
pub use routes::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE, router};

/// The outcome of one webhook delivery: the `result` label of `prtracker_webhook_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookResult {
    /// A `pull_request` event handed to the operator (202).
    Accepted,
    /// A delivery id seen before (200, nothing sent).
    Duplicate,
    /// Signature missing, malformed or matching no secret, or no secret configured (401).
    BadSignature,
    /// Body over the limit (413).
    TooLarge,
    /// Signed, but not a payload we can read (400).
    Malformed,
    /// `ping` (200).
    Ping,
    /// Another event, or a `pull_request` action that changes nothing we track (202).
    Ignored,
    /// The operator could not take the event in time (503); GitHub records a failed delivery.
    Unavailable,
    /// The bodies in flight filled their budget (503 with `Retry-After`), before this one was read.
    Busy,
    /// The body did not arrive within the read timeout (408).
    TimedOut,
}

impl WebhookResult {
    pub const ALL: [WebhookResult; 10] = [
        WebhookResult::Accepted,
        WebhookResult::Duplicate,
        WebhookResult::BadSignature,
        WebhookResult::TooLarge,
        WebhookResult::Malformed,
        WebhookResult::Ping,
        WebhookResult::Ignored,
        WebhookResult::Unavailable,
        WebhookResult::Busy,
        WebhookResult::TimedOut,
    ];

    /// The label value: `accepted`, `duplicate`, `bad_signature`, `too_large`, `malformed`,
    /// `ping`, `ignored`, `unavailable`, `busy`, `timeout`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookResult::Accepted => "accepted",
            WebhookResult::Duplicate => "duplicate",
            WebhookResult::BadSignature => "bad_signature",
            WebhookResult::TooLarge => "too_large",
            WebhookResult::Malformed => "malformed",
            WebhookResult::Ping => "ping",
            WebhookResult::Ignored => "ignored",
            WebhookResult::Unavailable => "unavailable",
            WebhookResult::Busy => "busy",
            WebhookResult::TimedOut => "timeout",
        }
    }
}

impl fmt::Display for WebhookResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: String,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: String,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

type HistogramFamily = Family<ControllerLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 5 ms .. ~41 s: a reconcile is a few GitHub and apiserver round trips, or a wait on a rate limit.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

struct Inner {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: HistogramFamily,
    trackers: Family<StateLabels, Gauge>,
    /// Every state label ever set, so a state missing from the next map drops to 0.
    tracker_states: Mutex<BTreeSet<String>>,
    webhook_deliveries: Family<ResultLabels, Counter>,
    feed_polls: Family<ResultLabels, Counter>,
    http_connections: Gauge,
    http_connections_refused: Counter,
    github: GitHubCollector,
    watches: watches::WatchMetrics,
}

/// The outcome of one read of a repository's change feed: the `result` label of
/// `prtracker_feed_polls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedResult {
    /// GitHub answered 304: nothing changed in the repository.
    Unchanged,
    /// Some PRs changed; their trackers were reconciled.
    Changed,
    /// The feed could not be read; the repository backs off.
    Error,
}

impl FeedResult {
    pub const ALL: [FeedResult; 3] = [
        FeedResult::Unchanged,
        FeedResult::Changed,
        FeedResult::Error,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FeedResult::Unchanged => "unchanged",
            FeedResult::Changed => "changed",
            FeedResult::Error => "error",
        }
    }
}

/// Holds one open connection in `prtracker_http_connections`.
#[derive(Debug)]
pub struct ConnectionGuard {
    gauge: Gauge,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The operator's metrics. Cheap to clone: every clone shares one registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `result` label of `prtracker_reconciles_total` for a reconcile that succeeded.
pub const RESULT_SUCCESS: &str = "success";
/// `result` label of `prtracker_reconciles_total` for a reconcile that failed.
pub const RESULT_ERROR: &str = "error";

impl Metrics {
    /// A registry with every family of the operator; the GitHub families appear once a source is
    /// set ([`Metrics::set_github`], [`Metrics::set_github_snapshots`]).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "prtracker_reconciles",
            "Reconciles run, by controller and result (success, error)",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "prtracker_reconcile_errors",
            "Reconciles that failed, by controller and reason",
            reconcile_errors.clone(),
        );
        let reconcile_duration: HistogramFamily =
            Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "prtracker_reconcile_duration",
            "Time one reconcile took, by controller",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        let trackers = Family::<StateLabels, Gauge>::default();
        registry.register(
            "prtracker_trackers",
            "PullRequestTrackers by state",
            trackers.clone(),
        );
        let webhook_deliveries = Family::<ResultLabels, Counter>::default();
        registry.register(
            "prtracker_webhook_deliveries",
            "GitHub webhook deliveries received, by result",
            webhook_deliveries.clone(),
        );
        let feed_polls = Family::<ResultLabels, Counter>::default();
        registry.register(
            "prtracker_feed_polls",
            "Reads of a repository's change feed, by result (unchanged, changed, error)",
            feed_polls.clone(),
        );
        let http_connections = Gauge::default();
        registry.register(
            "prtracker_http_connections",
            "Connections open to the HTTP server (webhook, metrics, probes)",
            http_connections.clone(),
        );
        let http_connections_refused = Counter::default();
        registry.register(
            "prtracker_http_connections_refused",
            "Connections closed as soon as accepted because the server held its maximum",
            http_connections_refused.clone(),
        );
        for result in FeedResult::ALL {
            feed_polls
                .get_or_create(&ResultLabels {
                    result: result.as_str(),
                })
                .inc_by(0);
        }
        // Every result and state from the start at 0, so rates and alerts work before the first one.
        for result in WebhookResult::ALL {
            webhook_deliveries
                .get_or_create(&ResultLabels {
                    result: result.as_str(),
                })
                .inc_by(0);
        }
        let mut tracker_states = BTreeSet::new();
        for state in PrState::ALL {
            trackers
                .get_or_create(&StateLabels {
                    state: state.name().to_owned(),
                })
                .set(0);
            tracker_states.insert(state.name().to_owned());
        }
        let watches = watches::WatchMetrics::register(&mut registry);
        let github = GitHubCollector::default();
        registry.register_collector(Box::new(github.clone()));
        Self {
            inner: Arc::new(Inner {
                registry,
                reconciles,
                reconcile_errors,
                reconcile_duration,
                trackers,
                tracker_states: Mutex::new(tracker_states),
                webhook_deliveries,
                feed_polls,
                http_connections,
                http_connections_refused,
                github,
                watches,
            }),
        }
    }

    /// [`Metrics::new`] exposing the counters of one GitHub client.
    pub fn with_github(github: Arc<GitHubMetrics>) -> Self {
        let metrics = Self::new();
        metrics.set_github(github);
        metrics
    }

    /// Exposes the GitHub client's live counters (`OctocrabGitHub::metrics_handle`), read at
    /// each scrape. Replaces an earlier source.
    pub fn set_github(&self, github: Arc<GitHubMetrics>) {
        *self
            .inner
            .github
            .source
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(GitHubSource::Handle(github));
    }

    /// Exposes the GitHub counters returned by `snapshot`, called at each scrape: e.g.
    /// `move || client.metrics()`, which adds the ETag cache's size. Replaces an earlier source.
    pub fn set_github_snapshots(
        &self,
        snapshot: impl Fn() -> MetricsSnapshot + Send + Sync + 'static,
    ) {
        *self
            .inner
            .github
            .source
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(GitHubSource::Snapshots(Arc::new(snapshot)));
    }

    /// Records one reconcile: `result` is [`RESULT_SUCCESS`] or [`RESULT_ERROR`] (or another
    /// short, fixed word).
    pub fn reconcile(&self, controller: &str, result: &str, duration: Duration) {
        self.inner
            .reconciles
            .get_or_create(&ReconcileLabels {
                controller: controller.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        self.inner
            .reconcile_duration
            .get_or_create(&ControllerLabels {
                controller: controller.to_owned(),
            })
            .observe(duration.as_secs_f64());
    }

    /// A reconcile that succeeded.
    pub fn reconcile_ok(&self, controller: &str, duration: Duration) {
        self.reconcile(controller, RESULT_SUCCESS, duration);
    }

    /// A reconcile that failed: counted in `prtracker_reconciles_total{result="error"}` and in
    /// `prtracker_reconcile_errors_total{reason}`. `reason` must be a short, fixed code (an error
    /// kind such as `github_rate_limited`, `kube_api`), never a message.
    pub fn reconcile_error(&self, controller: &str, reason: &str, duration: Duration) {
        self.reconcile(controller, RESULT_ERROR, duration);
        self.inner
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Sets `prtracker_trackers{state}` from a full count: every state seen before and missing
    /// from `counts` (and every [`PrState`]) is set to 0. Keys are label values: use
    /// [`PrState::name`] for states (`draft`, `open`, ...), and e.g. `unknown` for trackers not
    /// synced yet. Repeated keys add up.
    pub fn set_trackers<K, I>(&self, counts: I)
    where
        K: AsRef<str>,
        I: IntoIterator<Item = (K, u64)>,
    {
        let mut totals = std::collections::BTreeMap::<String, u64>::new();
        for (state, count) in counts {
            *totals.entry(state.as_ref().to_owned()).or_default() += count;
        }
        let mut states = self
            .inner
            .tracker_states
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        states.extend(totals.keys().cloned());
        for state in states.iter() {
            let value = totals.get(state).copied().unwrap_or(0);
            self.inner
                .trackers
                .get_or_create(&StateLabels {
                    state: state.clone(),
                })
                .set(signed(value));
        }
    }

    /// Sets the target clusters' watch metrics: watches open, objects followed, failures so far.
    pub fn set_cluster_watches(&self, size: prtracker_drift::WatchSizes) {
        self.inner.watches.set(size);
    }

    /// Counts a drift check, by where it reads the cluster's objects from.
    pub fn drift_check(&self, reads: prtracker_drift::Reads) {
        self.inner.watches.check(reads);
    }

    /// [`Metrics::set_trackers`] keyed by [`PrState`].
    pub fn set_trackers_by_state(&self, counts: impl IntoIterator<Item = (PrState, u64)>) {
        self.set_trackers(counts.into_iter().map(|(s, n)| (s.name(), n)));
    }

    /// Counts one webhook delivery.
    pub fn webhook_delivery(&self, result: WebhookResult) {
        self.inner
            .webhook_deliveries
            .get_or_create(&ResultLabels {
                result: result.as_str(),
            })
            .inc();
    }

    /// Counts one read of a repository's change feed.
    pub fn feed_poll(&self, result: FeedResult) {
        self.inner
            .feed_polls
            .get_or_create(&ResultLabels {
                result: result.as_str(),
            })
            .inc();
    }

    /// A connection accepted and served: counted in `prtracker_http_connections` until the
    /// returned guard is dropped.
    pub fn http_connection(&self) -> ConnectionGuard {
        self.inner.http_connections.inc();
        ConnectionGuard {
            gauge: self.inner.http_connections.clone(),
        }
    }

    /// A connection closed unserved, the server being full.
    pub fn http_connection_refused(&self) {
        self.inner.http_connections_refused.inc();
    }

    /// The deliveries counted with `result` so far.
    pub fn webhook_deliveries(&self, result: WebhookResult) -> u64 {
        self.inner
            .webhook_deliveries
            .get(&ResultLabels {
                result: result.as_str(),
            })
            .map_or(0, |c| c.get())
    }

    /// The registry in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode_openmetrics(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }

    /// The registry in the Prometheus text format 0.0.4.
    pub fn encode_prometheus_text(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }
}
