//! The watches of target clusters (issue #17): how many are open, how many objects they follow,
//! and how often one failed (a cluster that cannot be watched is still checked at each interval).

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

use super::github::signed;

pub(super) struct WatchMetrics {
    watches: Gauge,
    objects: Gauge,
    failures: Counter,
    /// The failures already counted, since the source gives a running total.
    counted: AtomicU64,
}

impl WatchMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            watches: Gauge::default(),
            objects: Gauge::default(),
            failures: Counter::default(),
            counted: AtomicU64::new(0),
        };
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
            "prtracker_cluster_watch_failures",
            "Times a watch of a target cluster failed and was retried (interval checks go on)",
            metrics.failures.clone(),
        );
        metrics
    }

    /// Watches open, objects followed, and the running total of failures.
    pub(super) fn set(&self, (watches, objects, failures): (usize, usize, u64)) {
        self.watches.set(signed(watches as u64));
        self.objects.set(signed(objects as u64));
        let before = self.counted.swap(failures, Ordering::Relaxed);
        self.failures.inc_by(failures.saturating_sub(before));
    }
}
