//! The GitHub client's counters, read at scrape time (from its metrics handle or from a snapshot
//! function, so nothing has to be copied on each request).

use std::{
    fmt,
    sync::{Arc, RwLock},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
};
use prtracker_github::{GitHubMetrics, MetricsSnapshot};

/// Label value of `prtracker_github_requests_total{status}` when no HTTP answer came (timeout,
/// connection error).
pub const NO_HTTP_STATUS: &str = "error";

/// Where the GitHub client's counters are read at scrape time.
#[derive(Clone)]
pub(super) enum GitHubSource {
    Handle(Arc<GitHubMetrics>),
    Snapshots(Arc<dyn Fn() -> MetricsSnapshot + Send + Sync>),
}

/// A collector that reads the GitHub client's counters on each scrape.
#[derive(Clone, Default)]
pub(super) struct GitHubCollector {
    pub(super) source: Arc<RwLock<Option<GitHubSource>>>,
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

pub(super) fn signed(v: u64) -> i64 {
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
        counter(
            &mut encoder,
            "prtracker_github_points",
            "Points sent to GitHub (GET 1, write 5), against its secondary limit of 900 a minute.",
            s.points_total,
        )?;
        gauge(
            &mut encoder,
            "prtracker_github_points_per_minute",
            "Points sent in the pacing window (a minute) ending now.",
            signed(s.points_in_window),
        )?;
        gauge(
            &mut encoder,
            "prtracker_github_peak_points_per_minute",
            "The most points any pacing window (a minute) has held since the start.",
            signed(s.peak_points_in_window),
        )?;
        gauge(
            &mut encoder,
            "prtracker_github_in_flight",
            "GitHub requests sent and not yet answered.",
            signed(s.in_flight),
        )?;
        counter(
            &mut encoder,
            "prtracker_github_pacing_waits",
            "GitHub requests that waited for their place in the pacing budget.",
            s.pacing_waits,
        )?;
        counter(
            &mut encoder,
            "prtracker_github_pacing_wait_seconds",
            "Time GitHub requests waited for their place in the pacing budget.",
            s.pacing_wait_seconds,
        )?;
        gauge(
            &mut encoder,
            "prtracker_github_outage",
            "1 while GitHub fails broadly and the client's outage circuit is open (one probe at a time), else 0.",
            i64::from(s.circuit_open),
        )?;
        counter(
            &mut encoder,
            "prtracker_github_outage_refusals",
            "GitHub calls failed at once, without a request, while the outage circuit was open.",
            s.outage_refusals,
        )?;
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
