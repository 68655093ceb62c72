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

use std::{
    collections::BTreeSet,
    fmt,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        MetricType,
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};
use prtracker_domain::PrState;
use prtracker_github::{GitHubMetrics, MetricsSnapshot};

/// The OpenMetrics text content type, served when the scraper asks for it (Prometheus does).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text content type, served otherwise (curl, older scrapers).
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Label value of `prtracker_github_requests_total{status}` when no HTTP answer came (timeout,
/// connection error).
pub const NO_HTTP_STATUS: &str = "error";

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
}

impl WebhookResult {
    pub const ALL: [WebhookResult; 8] = [
        WebhookResult::Accepted,
        WebhookResult::Duplicate,
        WebhookResult::BadSignature,
        WebhookResult::TooLarge,
        WebhookResult::Malformed,
        WebhookResult::Ping,
        WebhookResult::Ignored,
        WebhookResult::Unavailable,
    ];

    /// The label value: `accepted`, `duplicate`, `bad_signature`, `too_large`, `malformed`,
    /// `ping`, `ignored`, `unavailable`.
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

/// Where the GitHub client's counters are read at scrape time.
#[derive(Clone)]
enum GitHubSource {
    Handle(Arc<GitHubMetrics>),
    Snapshots(Arc<dyn Fn() -> MetricsSnapshot + Send + Sync>),
}

/// A collector that reads the GitHub client's counters on each scrape.
#[derive(Clone, Default)]
struct GitHubCollector {
    source: Arc<RwLock<Option<GitHubSource>>>,
}

impl fmt::Debug for GitHubCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubCollector").finish_non_exhaustive()
    }
}

impl GitHubCollector {
    fn snapshot(&self) -> Option<MetricsSnapshot> {
        let source = self
            .source
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        Some(match source {
            GitHubSource::Handle(m) => m.snapshot(),
            GitHubSource::Snapshots(f) => f(),
        })
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl prometheus_client::encoding::EncodeCounterValue,
) -> Result<(), fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Collector for GitHubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(s) = self.snapshot() else {
            return Ok(());
        };
        {
            let mut family = encoder.encode_descriptor(
                "prtracker_github_requests",
                "Requests sent to the GitHub API, by endpoint template and HTTP status (\"error\": no answer).",
                None,
                MetricType::Counter,
            )?;
            for r in &s.requests {
                let status = r
                    .status
                    .map_or_else(|| NO_HTTP_STATUS.to_owned(), |s| s.to_string());
                let labels = [("endpoint", r.endpoint.to_owned()), ("status", status)];
                ConstCounter::new(r.count).encode(family.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut encoder,
            "prtracker_github_not_modified",
            "GitHub answers 304 Not Modified (ETag cache hits; not counted against the rate limit).",
            s.not_modified,
        )?;
        counter(
            &mut encoder,
            "prtracker_github_retries",
            "GitHub requests repeated after a 5xx, a timeout or a transport error.",
            s.retries,
        )?;
        counter(
            &mut encoder,
            "prtracker_github_rate_limit_waits",
            "Times a GitHub request waited for a rate limit.",
            s.rate_limit_waits,
        )?;
        counter(
            &mut encoder,
            "prtracker_github_rate_limit_wait_seconds",
            "Time spent waiting for GitHub rate limits.",
            s.rate_limit_wait_seconds,
        )?;
        counter(
            &mut encoder,
            "prtracker_github_rate_limited_errors",
            "GitHub calls that failed as rate limited instead of waiting longer.",
            s.rate_limited_errors,
        )?;
        counter(
            &mut encoder,
            "prtracker_github_write_delay_seconds",
            "Time GitHub writes waited for their spacing.",
            s.write_delay_seconds,
        )?;
        if let Some(remaining) = s.rate_limit_remaining {
            gauge(
                &mut encoder,
                "prtracker_github_rate_limit_remaining",
                "Requests left in the current GitHub rate-limit window, as last reported by GitHub.",
                signed(remaining),
            )?;
        }
        if let Some(limit) = s.rate_limit_limit {
            gauge(
                &mut encoder,
                "prtracker_github_rate_limit_limit",
                "Requests allowed per GitHub rate-limit window, as last reported by GitHub.",
                signed(limit),
            )?;
        }
        if let Some(reset) = s.rate_limit_reset {
            gauge(
                &mut encoder,
                "prtracker_github_rate_limit_reset_timestamp_seconds",
                "When the current GitHub rate-limit window resets, in Unix seconds.",
                signed(reset),
            )?;
        }
        gauge(
            &mut encoder,
            "prtracker_github_cache_entries",
            "Entries in the GitHub client's ETag cache.",
            signed(s.cache_entries as u64),
        )?;
        gauge(
            &mut encoder,
            "prtracker_github_cache_bytes",
            "Approximate bytes held by the GitHub client's ETag cache.",
            signed(s.cache_bytes as u64),
        )?;
        Ok(())
    }
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
    github: GitHubCollector,
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
                github,
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

/// How long the controller loop may go without progress before `/healthz` fails, by default.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(300);

struct HealthInner {
    ready: AtomicBool,
    started: Instant,
    /// Milliseconds since `started` at the last progress.
    last_progress_ms: AtomicU64,
    stall_after: Duration,
}

/// Readiness and liveness, shared by the runtime (which updates them) and the probe routes.
///
/// - Ready: set by the runtime once the CRDs are found and the controllers run ([`Health::set_ready`]).
/// - Live: the controller loop calls [`Health::progress`] whenever it makes progress, and at least
///   on a timer shorter than the stall time (its resync tick, also on a standby replica); the
///   process is live unless that has not happened for `stall_after`. Live from the start.
#[derive(Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("ready", &self.is_ready())
            .field("since_progress", &self.since_progress())
            .field("stall_after", &self.inner.stall_after)
            .finish()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new(DEFAULT_STALL_AFTER)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Health {
    /// Not ready, live; dead once no progress is recorded for `stall_after`.
    pub fn new(stall_after: Duration) -> Self {
        Self {
            inner: Arc::new(HealthInner {
                ready: AtomicBool::new(false),
                started: Instant::now(),
                last_progress_ms: AtomicU64::new(0),
                stall_after,
            }),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Records progress of the controller loop now.
    pub fn progress(&self) {
        let now = millis(self.inner.started.elapsed());
        self.inner
            .last_progress_ms
            .fetch_max(now, Ordering::Relaxed);
    }

    /// Time since the last progress (or since start).
    pub fn since_progress(&self) -> Duration {
        let last = Duration::from_millis(self.inner.last_progress_ms.load(Ordering::Relaxed));
        self.inner.started.elapsed().saturating_sub(last)
    }

    pub fn stall_after(&self) -> Duration {
        self.inner.stall_after
    }

    /// Live unless the loop has not progressed for `stall_after`.
    pub fn is_live(&self) -> bool {
        self.since_progress() <= self.inner.stall_after
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    health: Health,
}

/// `GET /metrics` (OpenMetrics text when the `Accept` header asks for it, as Prometheus does;
/// Prometheus text 0.0.4 otherwise), `GET /healthz` (200 `ok`, 503 when stalled), `GET /readyz`
/// (200 `ok` when ready, else 503).
pub fn router(metrics: Metrics, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

async fn serve_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (state.metrics.encode_openmetrics(), OPENMETRICS_CONTENT_TYPE)
    } else {
        (
            state.metrics.encode_prometheus_text(),
            PROMETHEUS_TEXT_CONTENT_TYPE,
        )
    };
    match body {
        Ok(body) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response(),
        Err(_) => {
            tracing::error!("encoding the metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding the metrics failed\n",
            )
                .into_response()
        }
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.health.is_live() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let since = state.health.since_progress();
        tracing::warn!(
            since_progress_secs = since.as_secs(),
            "liveness probe failing: the controller loop has not progressed"
        );
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "stalled: no controller progress for {}s (limit {}s)\n",
                since.as_secs(),
                state.health.stall_after().as_secs()
            ),
        )
            .into_response()
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.health.is_ready() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}
