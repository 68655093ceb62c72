//! Counters of the client's traffic, for the operator's Prometheus metrics.
//!
//! The client only counts; exposing is the runtime's job. Labels have bounded cardinality:
//! endpoint templates, never URLs.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::{circuit::Circuit, endpoint::Endpoint, pacing::Pacer};

/// Live counters, shared by every request of one client.
#[derive(Debug, Default)]
pub struct GitHubMetrics {
    /// (endpoint, status) → requests; status `None` when no answer came (timeout, transport).
    requests: Mutex<BTreeMap<(Endpoint, Option<u16>), u64>>,
    not_modified: AtomicU64,
    retries: AtomicU64,
    rate_limit_waits: AtomicU64,
    rate_limit_wait_millis: AtomicU64,
    rate_limited_errors: AtomicU64,
    write_delay_millis: AtomicU64,
    /// -1 until a response says.
    rate_limit_remaining: AtomicI64,
    rate_limit_limit: AtomicI64,
    /// Epoch seconds, 0 until a response says.
    rate_limit_reset: AtomicU64,
    pacing_waits: AtomicU64,
    pacing_wait_millis: AtomicU64,
    outage_refusals: AtomicU64,
    /// The client's outage circuit, whose state is read at each snapshot.
    circuit: Mutex<Option<std::sync::Arc<Circuit>>>,
    /// The client's pacer, whose window the points figures are read from.
    pacer: Mutex<Option<std::sync::Arc<Pacer>>>,
}

/// Requests of one endpoint that ended with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCount {
    /// Method and path template, e.g. `GET /repos/{owner}/{repo}/pulls/{number}`.
    pub endpoint: &'static str,
    /// `None` when no HTTP answer came (timeout, connection error).
    pub status: Option<u16>,
    pub count: u64,
}

/// The counters at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsSnapshot {
    pub requests: Vec<RequestCount>,
    /// 304 answers: served from the ETag cache, not counted by GitHub against the limit.
    pub not_modified: u64,
    /// Attempts repeated after a 5xx, a timeout or a transport error.
    pub retries: u64,
    /// Times a request waited for a rate limit (before sending, or after a limit answer).
    pub rate_limit_waits: u64,
    pub rate_limit_wait_seconds: f64,
    /// Calls that failed with `RateLimited` instead of waiting longer.
    pub rate_limited_errors: u64,
    /// Time writes waited for their spacing.
    pub write_delay_seconds: f64,
    pub rate_limit_remaining: Option<u64>,
    pub rate_limit_limit: Option<u64>,
    /// Epoch seconds.
    pub rate_limit_reset: Option<u64>,
    /// Entries and approximate bytes of the ETag cache.
    pub cache_entries: usize,
    pub cache_bytes: usize,
    /// Points (GET 1, write 5) sent since the start, in the pacing window ending now, and the
    /// most any window has held.
    pub points_total: u64,
    pub points_in_window: u64,
    pub peak_points_in_window: u64,
    /// Requests answered or awaited now.
    pub in_flight: u64,
    /// Times, and time, requests waited for their place in the pacing budget.
    pub pacing_waits: u64,
    pub pacing_wait_seconds: f64,
    /// Whether the outage circuit is open: GitHub fails broadly, one probe at a time is sent.
    pub circuit_open: bool,
    /// Calls failed at once, without a request, while the circuit was open.
    pub outage_refusals: u64,
}

impl MetricsSnapshot {
    /// Requests of an endpoint with a status, 0 if none.
    pub fn count(&self, endpoint: &str, status: Option<u16>) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.endpoint == endpoint && r.status == status)
            .map(|r| r.count)
            .sum()
    }

    /// Requests sent in all.
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl GitHubMetrics {
    pub fn new() -> Self {
        Self {
            rate_limit_remaining: AtomicI64::new(-1),
            rate_limit_limit: AtomicI64::new(-1),
            ..Self::default()
        }
    }

    pub(crate) fn request(&self, endpoint: Endpoint, status: Option<u16>) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry((endpoint, status)).or_default() += 1;
        if status == Some(304) {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limit_wait(&self, waited: Duration) {
        self.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
        self.rate_limit_wait_millis
            .fetch_add(millis(waited), Ordering::Relaxed);
    }

    pub(crate) fn rate_limited_error(&self) {
        self.rate_limited_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn watch_pacer(&self, pacer: std::sync::Arc<Pacer>) {
        *self.pacer.lock().unwrap_or_else(|e| e.into_inner()) = Some(pacer);
    }

    pub(crate) fn watch_circuit(&self, circuit: std::sync::Arc<Circuit>) {
        *self.circuit.lock().unwrap_or_else(|e| e.into_inner()) = Some(circuit);
    }

    pub(crate) fn outage_refusal(&self) {
        self.outage_refusals.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn paced(&self, waited: Duration) {
        self.pacing_waits.fetch_add(1, Ordering::Relaxed);
        self.pacing_wait_millis
            .fetch_add(millis(waited), Ordering::Relaxed);
    }

    pub(crate) fn write_delay(&self, waited: Duration) {
        self.write_delay_millis
            .fetch_add(millis(waited), Ordering::Relaxed);
    }

    pub(crate) fn rate_limit(
        &self,
        remaining: Option<u64>,
        limit: Option<u64>,
        reset: Option<u64>,
    ) {
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if let Some(remaining) = remaining {
            self.rate_limit_remaining
                .store(signed(remaining), Ordering::Relaxed);
        }
        if let Some(limit) = limit {
            self.rate_limit_limit
                .store(signed(limit), Ordering::Relaxed);
        }
        if let Some(reset) = reset {
            self.rate_limit_reset.store(reset, Ordering::Relaxed);
        }
    }

    /// The counters now (cache figures are filled in by the client).
    pub fn snapshot(&self) -> MetricsSnapshot {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((endpoint, status), count)| RequestCount {
                endpoint: endpoint.template(),
                status: *status,
                count: *count,
            })
            .collect();
        let known = |v: i64| u64::try_from(v).ok();
        let pacer = self.pacer.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (points_total, points_in_window, peak_points_in_window, in_flight) =
            pacer.map_or((0, 0, 0, 0), |p| {
                (
                    p.spent(),
                    p.spent_in_window(),
                    p.peak(),
                    p.in_flight() as u64,
                )
            });
        let circuit_open = self
            .circuit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|c| c.is_open());
        MetricsSnapshot {
            circuit_open,
            outage_refusals: self.outage_refusals.load(Ordering::Relaxed),
            points_total,
            points_in_window,
            peak_points_in_window,
            in_flight,
            pacing_waits: self.pacing_waits.load(Ordering::Relaxed),
            pacing_wait_seconds: self.pacing_wait_millis.load(Ordering::Relaxed) as f64 / 1000.0,
            requests,
            not_modified: self.not_modified.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limit_waits: self.rate_limit_waits.load(Ordering::Relaxed),
            rate_limit_wait_seconds: self.rate_limit_wait_millis.load(Ordering::Relaxed) as f64
                / 1000.0,
            rate_limited_errors: self.rate_limited_errors.load(Ordering::Relaxed),
            write_delay_seconds: self.write_delay_millis.load(Ordering::Relaxed) as f64 / 1000.0,
            rate_limit_remaining: known(self.rate_limit_remaining.load(Ordering::Relaxed)),
            rate_limit_limit: known(self.rate_limit_limit.load(Ordering::Relaxed)),
            rate_limit_reset: Some(self.rate_limit_reset.load(Ordering::Relaxed))
                .filter(|r| *r > 0),
            cache_entries: 0,
            cache_bytes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_endpoint_template_and_status() {
        let m = GitHubMetrics::new();
        m.request(Endpoint::GetPull, Some(200));
        m.request(Endpoint::GetPull, Some(304));
        m.request(Endpoint::GetPull, Some(304));
        m.request(Endpoint::GetPull, None);
        m.request(Endpoint::RemoveIssueLabel, Some(404));
        m.retry();
        m.rate_limit_wait(Duration::from_millis(1500));
        let s = m.snapshot();
        let get = "GET /repos/{owner}/{repo}/pulls/{number}";
        assert_eq!(s.count(get, Some(200)), 1);
        assert_eq!(s.count(get, Some(304)), 2);
        assert_eq!(s.count(get, None), 1);
        assert_eq!(
            s.count(
                "DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}",
                Some(404)
            ),
            1
        );
        assert_eq!((s.not_modified, s.retries, s.rate_limit_waits), (2, 1, 1));
        assert_eq!(s.rate_limit_wait_seconds, 1.5);
        assert_eq!(s.total_requests(), 5);
    }

    #[test]
    fn rate_limit_gauges_are_unknown_until_seen() {
        let m = GitHubMetrics::new();
        let s = m.snapshot();
        assert_eq!((s.rate_limit_remaining, s.rate_limit_reset), (None, None));
        m.rate_limit(Some(4990), Some(5000), Some(1_658_208_999));
        m.rate_limit(None, None, None);
        let s = m.snapshot();
        assert_eq!(s.rate_limit_remaining, Some(4990));
        assert_eq!(s.rate_limit_limit, Some(5000));
        assert_eq!(s.rate_limit_reset, Some(1_658_208_999));
    }
}
