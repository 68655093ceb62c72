//! The operator's periodic chores: gauges, forgetting the failures of deleted objects, and the
//! liveness of a replica that has nothing to reconcile.

use std::time::Duration;

use kube::runtime::reflector::Store;
use prtracker_api::{DriftMonitor, PullRequestTracker};
use prtracker_domain::PrState;
use tokio::sync::watch;

use super::signals::until_shutdown;
use crate::metrics::Health;

/// Runs `tick` every `interval` (first at once) until shutdown.
pub async fn periodic<F, Fut>(interval: Duration, shutdown: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut + Send,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = until_shutdown(shutdown);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = timer.tick() => tick().await,
            () = &mut stop => return,
        }
    }
}

/// Trackers per state, every state present (zero included) so a gauge drops when a state empties.
pub fn count_by_state(store: &Store<PullRequestTracker>) -> Vec<(PrState, u64)> {
    let trackers = store.state();
    PrState::ALL
        .iter()
        .map(|state| {
            let count = trackers
                .iter()
                .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(*state))
                .count();
            (*state, count as u64)
        })
        .collect()
}

/// What the controllers have to do, as far as liveness is concerned.
pub struct Workload {
    pub trackers: Store<PullRequestTracker>,
    pub monitors: Store<DriftMonitor>,
}

impl Workload {
    /// Whether there is anything whose reconciles could stall: with no tracker and no monitor, the
    /// controllers have nothing to do and their silence is no sign of a stall.
    fn is_idle(&self) -> bool {
        self.trackers.is_empty() && self.monitors.is_empty()
    }
}

/// Vouches for liveness where reconciles cannot: on a follower (no controllers run), or on a
/// leader with nothing to reconcile. A leader with work is live only through its reconciles (every
/// tracker and monitor is requeued at least every interval), so a stalled controller fails the
/// probe.
pub fn vouch_if_idle(health: &Health, workload: Option<&Workload>) {
    if workload.is_none_or(Workload::is_idle) {
        health.progress();
    }
}
