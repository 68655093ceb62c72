//! The tracker controller: each reconcile is the state machine of one PR.
//!
//! 1. Consistency with GitHub (GitHub wins; missing labels recovered; conflicts removed).
//! 2. Once merged: one DriftMonitor per cluster.
//! 3. The monitors' combined verdict, edge-triggered, into Deployed / Drifted, on the PR too.
//!
//! Status writes do not trigger reconciles (the watch passes only generation changes), so a
//! reconcile never feeds itself; monitor changes and webhooks do trigger one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Event, EventType, Recorder},
        predicates,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use prtracker_api::{DriftMonitor, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github::GitHubError;
use prtracker_sync::{Coordinator, SyncError, monitor_name};
use tracing::{info, warn};

use crate::verdict::{combined_verdict, state_after_verdict};

/// A follower replica sets this annotation (to the delivery id) to pass a webhook on to the leader:
/// the leader's watch reconciles a tracker whose generation or this annotation changed.
pub const REFRESH_ANNOTATION: &str = "prtracker.io/webhook-delivery";

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("reading the tracker: {0}")]
    Kube(#[from] kube::Error),
    #[error("the tracker has no namespace")]
    NoNamespace,
}

impl ReconcileError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Sync(error) => error.reason(),
            Self::Kube(_) => "KubernetesError",
            Self::NoNamespace => "InvalidTracker",
        }
    }
}

/// Told of every reconcile: the controller's name, how long it took, and its error if it failed.
pub type ReconcileObserver = Box<dyn Fn(&str, Duration, Option<&ReconcileError>) + Send + Sync>;

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub coordinator: Coordinator,
    pub recorder: Recorder,
    pub monitors: Store<DriftMonitor>,
    pub resync_interval: Duration,
    /// Consecutive failures per tracker, for a backoff that resets on success.
    failures: Mutex<HashMap<ObjectRef<PullRequestTracker>, u32>>,
    /// Reports reconcile outcomes (metrics); the runtime plugs its own in.
    pub observer: ReconcileObserver,
}

impl Context {
    pub fn new(
        client: Client,
        coordinator: Coordinator,
        recorder: Recorder,
        monitors: Store<DriftMonitor>,
        resync_interval: Duration,
    ) -> Self {
        Self {
            client,
            coordinator,
            recorder,
            monitors,
            resync_interval,
            failures: Mutex::new(HashMap::new()),
            observer: Box::new(|_, _, _| {}),
        }
    }
}

/// Reconciles running at once. Unbounded, a start with 10,000 trackers sends 10,000 GitHub requests
/// together and holds all their buffers; bounded, they stream through at GitHub's pace.
pub const RECONCILE_CONCURRENCY: u16 = 16;

/// The longest wait between retries of a failing tracker.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// After a conflict (someone wrote the tracker meanwhile), try again soon with the newer object.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

pub async fn reconcile(
    tracker: Arc<PullRequestTracker>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let result = reconcile_inner(&tracker, &ctx).await;
    (ctx.observer)("tracker", started.elapsed(), result.as_ref().err());
    if result.is_ok()
        && let Ok(mut failures) = ctx.failures.lock()
    {
        failures.remove(&ObjectRef::from_obj(tracker.as_ref()));
    }
    match result {
        Err(ReconcileError::Sync(SyncError::Conflict(_))) => Ok(Action::requeue(CONFLICT_RETRY)),
        other => other,
    }
}

async fn reconcile_inner(
    tracker: &PullRequestTracker,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let namespace = tracker.namespace().ok_or(ReconcileError::NoNamespace)?;
    let api: Api<PullRequestTracker> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = tracker.name_any();
    let before = tracker.status.as_ref().and_then(|s| s.state);

    // 1. GitHub and the tracker agree.
    let consistent = ctx.coordinator.ensure_consistency(tracker).await?;
    let mut tracker = api.get_status(&name).await?;
    let status = tracker.status.clone().unwrap_or_default();
    if !consistent {
        note_sync(ctx, &tracker, before, &status).await;
    }

    // 2. Merged: a monitor per cluster.
    let Some(state) = status.state else {
        return Ok(Action::requeue(ctx.resync_interval));
    };
    let merged = matches!(
        state,
        PrState::Merged | PrState::Deployed | PrState::Drifted
    );
    if !merged || tracker.spec.clusters.is_empty() {
        return Ok(Action::requeue(ctx.resync_interval));
    }
    let mut expected: Vec<String> = tracker
        .spec
        .clusters
        .iter()
        .map(|c| monitor_name(&name, c))
        .collect();
    expected.sort();
    let mut recorded = status.drift_monitors.clone();
    recorded.sort();
    if recorded != expected {
        let monitors = ctx
            .coordinator
            .create_drift_monitors_for_prt(&tracker, &tracker.spec.clusters)
            .await?;
        publish(
            ctx,
            &tracker,
            EventType::Normal,
            "MonitorsCreated",
            format!(
                "monitoring the merge commit in {} cluster(s): {}",
                monitors.len(),
                tracker.spec.clusters.join(", ")
            ),
        )
        .await;
        tracker = api.get_status(&name).await?;
    }

    // 3. The monitors' verdict, edge-triggered.
    let phases: Vec<_> = expected
        .iter()
        .map(|monitor| {
            ctx.monitors
                .get(&ObjectRef::new(monitor).within(&namespace))
                .and_then(|m| m.status.as_ref().and_then(|s| s.phase))
        })
        .collect();
    let last = tracker.status.as_ref().and_then(|s| s.drift_verdict);
    if let Some(verdict) = combined_verdict(&phases)
        && Some(verdict) != last
    {
        let new_state = state_after_verdict(state, last, Some(verdict));
        ctx.coordinator
            .apply_drift_verdict(&tracker, verdict, new_state)
            .await?;
        if let Some(new_state) = new_state {
            info!(tracker = %name, from = %state, to = %new_state, ?verdict, "drift verdict moved the state");
            publish(
                ctx,
                &tracker,
                EventType::Normal,
                "StateChanged",
                format!("{state} → {new_state}: the monitors' verdict is now {verdict:?}"),
            )
            .await;
        }
    }
    Ok(Action::requeue(ctx.resync_interval))
}

/// Events for what a sync changed: the state, a recovered label, removed conflicts.
async fn note_sync(
    ctx: &Context,
    tracker: &PullRequestTracker,
    before: Option<PrState>,
    status: &prtracker_api::PullRequestTrackerStatus,
) {
    if status.state != before
        && let Some(after) = status.state
    {
        let from = before.map_or_else(|| "none".to_owned(), |s| s.to_string());
        publish(
            ctx,
            tracker,
            EventType::Normal,
            "StateChanged",
            format!("{from} → {after}"),
        )
        .await;
    }
    if let Some(result) = &status.last_sync_result {
        if !result.labels_added.is_empty() {
            publish(
                ctx,
                tracker,
                EventType::Normal,
                "LabelsRepaired",
                format!("added {:?} on GitHub", result.labels_added),
            )
            .await;
        }
        if !result.labels_removed.is_empty() {
            publish(
                ctx,
                tracker,
                EventType::Warning,
                "ConflictingLabelsRemoved",
                format!("removed {:?} from the PR", result.labels_removed),
            )
            .await;
        }
    }
}

async fn publish(
    ctx: &Context,
    tracker: &PullRequestTracker,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &tracker.object_ref(&())).await {
        warn!(%error, "could not publish an event");
    }
}

/// Per-tracker backoff: 5 s doubling to 5 min, reset by a success; a rate limit waits for its reset.
pub fn error_policy(
    tracker: Arc<PullRequestTracker>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let failures = ctx
        .failures
        .lock()
        .map(|mut failures| {
            let count = failures
                .entry(ObjectRef::from_obj(tracker.as_ref()))
                .or_insert(0);
            *count = count.saturating_add(1);
            *count
        })
        .unwrap_or(1);
    warn!(tracker = %tracker.name_any(), %error, failures, "reconcile failed");
    if let ReconcileError::Sync(SyncError::GitHub(GitHubError::RateLimited { until, .. })) = error
        && let Ok(wait) = until.duration_since(std::time::SystemTime::now())
    {
        return Action::requeue(wait.min(MAX_BACKOFF * 12));
    }
    Action::requeue(backoff(failures))
}

/// The wait after `failures` consecutive failures.
pub fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(10);
    (Duration::from_secs(5) * 2u32.pow(exponent)).min(MAX_BACKOFF)
}

/// A controller holds its reconcilers until its store is ready, and a graceful shutdown cuts the
/// watch that would make it ready: asked to stop that early, it would wait for ever. So the stop
/// is passed on once the store is ready, or after a few seconds if it never gets there.
pub(crate) async fn after_store_ready<K>(
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    store: Store<K>,
) where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Send + Sync,
{
    shutdown.await;
    let _ = tokio::time::timeout(Duration::from_secs(5), store.wait_until_ready()).await;
}

/// The caches keep every tracker and monitor for the life of the process; their managedFields
/// (often the larger part of an object) are never read, so they are not kept.
pub(crate) fn forget_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Reconcile on a spec change or a passed-on webhook, never on a status write.
fn generation_or_refresh(tracker: &PullRequestTracker) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    predicates::generation(tracker).hash(&mut hasher);
    tracker
        .annotations()
        .get(REFRESH_ANNOTATION)
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// Builds the controller: trackers (generation changes only), their monitors, and extra triggers
/// (webhooks). Returns the future that runs it until `shutdown`, and the trackers' store.
pub fn tracker_controller(
    trackers: Api<PullRequestTracker>,
    monitors: Api<DriftMonitor>,
    ctx_builder: impl FnOnce(Store<DriftMonitor>) -> Context,
    triggers: impl futures::Stream<Item = ObjectRef<PullRequestTracker>> + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> (
    impl std::future::Future<Output = ()>,
    Store<PullRequestTracker>,
) {
    let (tracker_store, tracker_writer) = reflector::store();
    let tracker_stream = watcher(trackers, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(tracker_writer)
        .touched_objects()
        .predicate_filter(generation_or_refresh, Default::default());
    let (monitor_store, monitor_writer) = reflector::store();
    let monitor_stream = watcher(monitors, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(monitor_writer)
        .touched_objects();
    let ctx = Arc::new(ctx_builder(monitor_store));
    let shutdown = after_store_ready(shutdown, tracker_store.clone());
    let controller = Controller::for_stream(tracker_stream, tracker_store.clone())
        .with_config(
            kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY),
        )
        .owns_stream(monitor_stream)
        .reconcile_on(triggers)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller event");
            }
        });
    (controller, tracker_store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
