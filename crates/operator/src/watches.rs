//! The watches the controllers share. DriftMonitors are watched once: one reflector feeds the
//! monitor controller (creations, spec changes and check requests; never its own status writes) and
//! tells the tracker controller which trackers' monitors changed (every change, status included: a
//! new verdict is what moves a tracker).

use std::{collections::HashMap, hash::Hasher, pin::pin};

use futures::{Stream, StreamExt};
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use prtracker_api::{DriftMonitor, PullRequestTracker};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::debug;

pub use prtracker_drift::CHECK_REQUESTED_ANNOTATION;

/// Changes buffered for a controller that is busy; beyond it, the watch waits.
const BUFFER: usize = 1024;

/// The caches keep every tracker and monitor for the life of the process; their managedFields
/// (often the larger part of an object) are never read, so they are not kept.
pub fn forget_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// One watch of DriftMonitors, and what it feeds.
pub struct MonitorFeed {
    /// Every monitor, as last seen.
    pub store: Store<DriftMonitor>,
    /// Monitors to check: new ones, spec changes, check requests.
    pub checks: ReceiverStream<Result<DriftMonitor, watcher::Error>>,
    /// Trackers whose monitors changed (status included), or went.
    pub owners: ReceiverStream<ObjectRef<PullRequestTracker>>,
    /// Runs the watch; it ends when both consumers are gone.
    pub driver: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

/// Watches `monitors` once for both controllers.
pub fn monitor_feed(monitors: Api<DriftMonitor>) -> MonitorFeed {
    let (store, writer) = reflector::store();
    let (checks_tx, checks) = mpsc::channel(BUFFER);
    let (owners_tx, owners) = mpsc::channel(BUFFER);
    let events = watcher(monitors, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(writer);
    let driver = Box::pin(fan_out(events, checks_tx, owners_tx));
    MonitorFeed {
        store,
        checks: ReceiverStream::new(checks),
        owners: ReceiverStream::new(owners),
        driver,
    }
}

async fn fan_out(
    events: impl Stream<Item = Result<watcher::Event<DriftMonitor>, watcher::Error>> + Send,
    checks: mpsc::Sender<Result<DriftMonitor, watcher::Error>>,
    owners: mpsc::Sender<ObjectRef<PullRequestTracker>>,
) {
    let mut events = pin!(events);
    // What the check controller last saw of each monitor: its generation and check request.
    let mut seen: HashMap<ObjectRef<DriftMonitor>, u64> = HashMap::new();
    while let Some(event) = events.next().await {
        let (monitor, deleted) = match event {
            Ok(watcher::Event::Apply(monitor) | watcher::Event::InitApply(monitor)) => {
                (monitor, false)
            }
            Ok(watcher::Event::Delete(monitor)) => (monitor, true),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
            Err(error) => {
                debug!(%error, "DriftMonitor watch");
                continue;
            }
        };
        for owner in owning_trackers(&monitor) {
            if owners.send(owner).await.is_err() {
                return;
            }
        }
        let key = ObjectRef::from_obj(&monitor);
        if deleted {
            seen.remove(&key);
            continue;
        }
        let fingerprint = generation_or_request(&monitor);
        if seen.insert(key, fingerprint) != Some(fingerprint)
            && checks.send(Ok(monitor)).await.is_err()
        {
            return;
        }
    }
}

/// The trackers that own a monitor (its controller owner, in practice one).
fn owning_trackers(monitor: &DriftMonitor) -> Vec<ObjectRef<PullRequestTracker>> {
    let namespace = monitor.namespace().unwrap_or_default();
    monitor
        .owner_references()
        .iter()
        .filter(|owner| owner.kind == PullRequestTracker::kind(&()))
        .map(|owner| ObjectRef::new(&owner.name).within(&namespace))
        .collect()
}

/// A check is due on a spec change or a request, never on the monitor's own status writes.
fn generation_or_request(monitor: &DriftMonitor) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&monitor.metadata.generation, &mut hasher);
    std::hash::Hash::hash(
        &monitor.annotations().get(CHECK_REQUESTED_ANNOTATION),
        &mut hasher,
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use futures::stream;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use prtracker_api::{DriftMonitorSpec, DriftMonitorStatus, DriftPhase, ManifestSource};

    use super::*;

    fn monitor(generation: i64, phase: Option<DriftPhase>) -> DriftMonitor {
        let mut monitor = DriftMonitor::new(
            "t-a",
            DriftMonitorSpec {
                tracker: "t".into(),
                cluster: "a".into(),
                source: ManifestSource {
                    repository: "o/r".parse().expect("repository"),
                    commit: "a".repeat(40),
                    path: ".".into(),
                    base_branch: None,
                    values: Vec::new(),
                },
                interval: "5m".into(),
                ignore_differences: Vec::new(),
            },
        );
        monitor.metadata.namespace = Some("ns".into());
        monitor.metadata.generation = Some(generation);
        monitor.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "prtracker.io/v1alpha1".into(),
            kind: "PullRequestTracker".into(),
            name: "t".into(),
            uid: "u".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        monitor.status = phase.map(|phase| DriftMonitorStatus {
            phase: Some(phase),
            ..Default::default()
        });
        monitor
    }

    #[tokio::test]
    async fn one_watch_feeds_checks_on_spec_changes_and_owners_on_every_change() {
        let mut requested = monitor(2, Some(DriftPhase::InSync));
        requested
            .annotations_mut()
            .insert(CHECK_REQUESTED_ANNOTATION.into(), "1".into());
        let events = stream::iter([
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(monitor(1, None))),
            Ok(watcher::Event::InitDone),
            // Its own status write: the owner hears of it, the check controller does not.
            Ok(watcher::Event::Apply(monitor(1, Some(DriftPhase::InSync)))),
            // A spec change, then a check request.
            Ok(watcher::Event::Apply(monitor(2, Some(DriftPhase::InSync)))),
            Ok(watcher::Event::Apply(requested)),
            Ok(watcher::Event::Delete(monitor(2, None))),
        ]);
        let (checks_tx, mut checks) = mpsc::channel(16);
        let (owners_tx, mut owners) = mpsc::channel(16);
        fan_out(events, checks_tx, owners_tx).await;
        let mut checked = Vec::new();
        while let Ok(Ok(monitor)) = checks.try_recv() {
            checked.push(monitor.metadata.generation);
        }
        assert_eq!(checked, [Some(1), Some(2), Some(2)]);
        let mut told = 0;
        while let Ok(owner) = owners.try_recv() {
            assert_eq!(owner, ObjectRef::new("t").within("ns"));
            told += 1;
        }
        assert_eq!(told, 5, "every change and the deletion reach the tracker");
    }
}
