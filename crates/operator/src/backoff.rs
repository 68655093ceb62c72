//! Retries that back off: each failing object waits 5 s, then twice as long after each further
//! failure, up to a cap; a success resets it. The counts are per object and forgotten when the
//! object is (so a map of failures does not outlive the objects it counts).

use std::{collections::HashMap, hash::Hash, sync::Mutex, time::Duration};

use kube::{
    Resource,
    runtime::reflector::{ObjectRef, Store},
};

/// The first wait after a failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The wait after `failures` consecutive failures: 5 s doubling, at most `cap`.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(cap)
}

/// Consecutive failures per object.
pub struct Failures<K: Resource>
where
    K::DynamicType: Hash + Eq,
{
    counts: Mutex<HashMap<ObjectRef<K>, u32>>,
}

impl<K: Resource> Default for Failures<K>
where
    K::DynamicType: Hash + Eq,
{
    fn default() -> Self {
        Self {
            counts: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> Failures<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    /// Counts one more failure of `object`; returns how many in a row.
    pub fn failed(&self, object: &K) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ObjectRef::from_obj(object)).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// Forgets the failures of `object`: it succeeded.
    pub fn succeeded(&self, object: &K) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ObjectRef::from_obj(object));
    }

    /// Forgets the failures of objects no longer in `store` (deleted while failing: no reconcile
    /// will come to reset them).
    pub fn forget_gone(&self, store: &Store<K>) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|object, _| store.get(object).is_some());
    }

    /// The objects whose last reconcile failed.
    pub fn failing(&self) -> Vec<ObjectRef<K>> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Objects with failures on record.
    pub fn len(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};
    use prtracker_api::{PullRequestTracker, PullRequestTrackerSpec};

    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1, MAX_BACKOFF), Duration::from_secs(5));
        assert_eq!(backoff(2, MAX_BACKOFF), Duration::from_secs(10));
        assert_eq!(backoff(4, MAX_BACKOFF), Duration::from_secs(40));
        assert_eq!(backoff(30, MAX_BACKOFF), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, MAX_BACKOFF), MAX_BACKOFF);
        assert_eq!(backoff(3, Duration::from_secs(12)), Duration::from_secs(12));
    }

    fn tracker(name: &str) -> PullRequestTracker {
        let mut tracker = PullRequestTracker::new(
            name,
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
        tracker
    }

    #[test]
    fn failures_count_up_reset_on_success_and_are_forgotten_with_their_object() {
        let failures = Failures::<PullRequestTracker>::default();
        let (kept, gone) = (tracker("kept"), tracker("gone"));
        assert_eq!(failures.failed(&kept), 1);
        assert_eq!(failures.failed(&kept), 2);
        failures.failed(&gone);
        assert_eq!(failures.len(), 2);

        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(kept.clone()));
        failures.forget_gone(&store);
        assert_eq!(
            failures.len(),
            1,
            "the deleted tracker's count is forgotten"
        );
        assert_eq!(failures.failed(&kept), 3, "the live one's is kept");
        failures.succeeded(&kept);
        assert!(failures.is_empty());
    }
}
