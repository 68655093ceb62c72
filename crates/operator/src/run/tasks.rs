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

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};
    use prtracker_api::PullRequestTrackerSpec;

    use super::*;

    fn workload(trackers: usize) -> Workload {
        let (tracker_store, mut writer) = reflector::store();
        for i in 0..trackers {
            let mut tracker = PullRequestTracker::new(
                &format!("t-{i}"),
                PullRequestTrackerSpec {
                    repository: "o/r".parse().expect("repository"),
                    number: 1,
                    clusters: Vec::new(),
                    manifests_path: ".".into(),
                    targets: Vec::new(),
                    settle_window: None,
                    ignore_differences: Vec::new(),
                },
            );
            tracker.metadata.namespace = Some("ns".into());
            writer.apply_watcher_event(&watcher::Event::Apply(tracker));
        }
        let (monitors, _) = reflector::store();
        Workload {
            trackers: tracker_store,
            monitors,
        }
    }

    /// Whether `vouch` recorded progress: the time since the last progress shrinks only then
    /// (without progress it can only grow), so no clock window is assumed.
    fn vouched(vouch: impl FnOnce(&Health)) -> bool {
        let health = Health::new(Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(5));
        let before = health.since_progress();
        vouch(&health);
        health.since_progress() < before
    }

    #[test]
    fn the_idle_timer_does_not_vouch_for_a_leader_with_work() {
        assert!(
            !vouched(|health| vouch_if_idle(health, Some(&workload(1)))),
            "a leader with trackers is live only through its reconciles"
        );
    }

    #[test]
    fn the_idle_timer_vouches_for_a_follower_and_an_idle_leader() {
        assert!(
            vouched(|health| vouch_if_idle(health, None)),
            "a follower runs no controller that could stall"
        );
        assert!(
            vouched(|health| vouch_if_idle(health, Some(&workload(0)))),
            "a leader with nothing to do cannot stall"
        );
    }
}
