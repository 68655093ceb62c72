//! The watches of target clusters (issue #17): how many are open, how many objects they follow,
//! and how often one failed (a cluster that cannot be watched is still checked at each interval);
//! and the drift checks by where they read the cluster's objects from.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use prtracker_drift::{Reads, WatchSizes};

use super::github::signed;

pub(super) struct WatchMetrics {
    watches: Gauge,
    failing: Gauge,
    objects: Gauge,
    kept_bytes: Gauge,
    failures: Counter,
    /// The failures already counted, since the source gives a running total.
    counted: AtomicU64,
    checks: Family<ReadsLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadsLabels {
    reads: String,
}

impl WatchMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            watches: Gauge::default(),
            failing: Gauge::default(),
            objects: Gauge::default(),
            kept_bytes: Gauge::default(),
            failures: Counter::default(),
            counted: AtomicU64::new(0),
            checks: Family::default(),
        };
        registry.register(
            "prtracker_drift_checks",
            "Drift checks of monitors, by where they read the cluster's objects from: cluster (the first, the interval's safety net, a person's request) or cache (one a watch started)",
            metrics.checks.clone(),
        );
        registry.register(
            "prtracker_cluster_watches",
            "Watches open on target clusters (one per cluster, resource type and namespace followed)",
            metrics.watches.clone(),
        );
        registry.register(
            "prtracker_cluster_watched_objects",
            "Objects of live monitors' changes the watches follow",
            metrics.objects.clone(),
        );
        registry.register(
            "prtracker_cluster_watches_failing",
            "Watches of target clusters failing now: their monitors are checked at their intervals",
            metrics.failing.clone(),
        );
        registry.register(
            "prtracker_cluster_watch_cache_bytes",
            "Bytes (of JSON, roughly) of the followed objects the watches keep for checks",
            metrics.kept_bytes.clone(),
        );
        registry.register(
            "prtracker_cluster_watch_failures",
            "Times a watch of a target cluster failed and was retried (interval checks go on)",
            metrics.failures.clone(),
        );
        metrics
    }

    /// What the watches hold now, and the running total of failures.
    pub(super) fn set(&self, sizes: WatchSizes) {
        self.watches.set(signed(sizes.watches as u64));
        self.failing.set(signed(sizes.failing as u64));
        self.objects.set(signed(sizes.objects as u64));
        self.kept_bytes.set(signed(sizes.kept_bytes as u64));
        let before = self.counted.swap(sizes.failures, Ordering::Relaxed);
        self.failures.inc_by(sizes.failures.saturating_sub(before));
    }

    /// A drift check made, reading from `reads`.
    pub(super) fn check(&self, reads: Reads) {
        let reads = match reads {
            Reads::Cluster => "cluster",
            Reads::Cache => "cache",
        };
        self.checks
            .get_or_create(&ReadsLabels {
                reads: reads.to_owned(),
            })
            .inc();
    }
}
