//! The tracker controller. One reconcile is one plan (see `prtracker_domain::plan`): the PR read
//! once, its state decided (GitHub wins; a missing label recovered; conflicts removed; a change of
//! the monitors' verdict moves Merged → Deployed ↔ Drifted), then the labels, the monitors and the
//! status written, the status once.
//!
//! A tracker is reconciled when its spec changes, when a webhook or a follower asks (the
//! [`REFRESH_ANNOTATION`]), when one of its monitors changes, and every resync interval; never on
//! its own status writes, so a reconcile does not feed itself.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use kube::{
    Api, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::Recorder,
        predicates,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use prtracker_api::{DriftMonitor, PullRequestTracker, names::monitor_name};
use prtracker_domain::PrState;
use prtracker_github::GitHubError;
use prtracker_sync::{Coordinator, SyncError, Synced};
use tracing::{debug, info, warn};

use crate::{
    backoff::{Failures, MAX_BACKOFF, backoff},
    events,
    handover::HandOvers,
    ledger::ChangeLedger,
    watches::forget_managed_fields,
};

pub use crate::handover::REFRESH_ANNOTATION;

/// Reconciles running at once. Unbounded, a start with 10,000 trackers sends 10,000 GitHub requests
/// together and holds all their buffers; bounded, they stream through at GitHub's pace.
pub const RECONCILE_CONCURRENCY: u16 = 16;

/// After a conflict (someone wrote the tracker meanwhile), try again soon with the newer object.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// After a read overtaken by a newer change, read again at once (the change's own trigger usually
/// comes first).
const STALE_RETRY: Duration = Duration::from_millis(20);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl ReconcileError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Sync(error) => error.reason(),
        }
    }
}

/// Told of every reconcile: the controller's name, how long it took, and the reason of its failure.
pub type ReconcileObserver = Box<dyn Fn(&str, Duration, Option<&'static str>) + Send + Sync>;

/// What every reconcile shares.
pub struct TrackerContext {
    pub coordinator: Coordinator,
    pub recorder: Recorder,
    pub monitors: Store<DriftMonitor>,
    pub resync_interval: Duration,
    pub failures: Failures<PullRequestTracker>,
    /// Reports reconcile outcomes (metrics, liveness); the runtime plugs its own in.
    pub observer: ReconcileObserver,
    /// Trackers of PRs closed longer ago than this are deleted (`--forget-after`).
    pub forget_after: Option<Duration>,
    /// Where forgotten trackers are deleted.
    pub client: Option<kube::Client>,
}

impl TrackerContext {
    pub fn new(
        coordinator: Coordinator,
        recorder: Recorder,
        monitors: Store<DriftMonitor>,
        resync_interval: Duration,
    ) -> Self {
        Self {
            coordinator,
            recorder,
            monitors,
            resync_interval,
            failures: Failures::default(),
            observer: Box::new(|_, _, _| {}),
            forget_after: None,
            client: None,
        }
    }
}

pub async fn reconcile(
    tracker: Arc<PullRequestTracker>,
    ctx: Arc<TrackerContext>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let result = reconcile_tracker(&tracker, &ctx).await;
    // Someone else's newer write is no failure of ours: read again, that is all.
    let failure = match &result {
        Err(ReconcileError::Sync(SyncError::Conflict(_) | SyncError::StaleRead(_))) | Ok(_) => None,
        Err(error) => Some(error.reason()),
    };
    (ctx.observer)("tracker", started.elapsed(), failure);
    match result {
        Ok(action) => {
            ctx.failures.succeeded(&tracker);
            Ok(action)
        }
        Err(ReconcileError::Sync(SyncError::Conflict(_))) => Ok(Action::requeue(CONFLICT_RETRY)),
        // A newer change arrived: it has queued a reconcile of its own; this one reads again soon.
        Err(ReconcileError::Sync(SyncError::StaleRead(_))) => {
            info!(tracker = %tracker.name_any(), retry = ?STALE_RETRY, "the PR changed after it was read: reading it again");
            Ok(Action::requeue(STALE_RETRY))
        }
        Err(error) => Err(error),
    }
}

async fn reconcile_tracker(
    tracker: &PullRequestTracker,
    ctx: &TrackerContext,
) -> Result<Action, ReconcileError> {
    let monitors = monitors_of(&ctx.monitors, tracker);
    let synced = ctx.coordinator.reconcile(tracker, &monitors).await?;
    events::publish(&ctx.recorder, &synced.tracker, &synced).await;
    // Retention: a done PR closed long enough ago is forgotten; until then, looked at again then.
    // A merged PR whose change is still live is never done, so never forgotten: its monitors are
    // what tells a hand edit.
    let forget_in = match (ctx.forget_after, closed_for(&synced)) {
        (Some(after), Some(closed_for)) if is_done(&synced.tracker) => {
            if closed_for >= after {
                forget(ctx, &synced.tracker, closed_for).await?;
                return Ok(Action::await_change());
            }
            Some(after - closed_for + Duration::from_secs(1))
        }
        _ => None,
    };
    match (synced.incomplete, synced.plan.review_after) {
        (Some(error), _) => Err(error.into()),
        // The change feed (every resync, per repository), webhooks, the spec and the monitors
        // wake a tracker when something changed: no timer per tracker, whose queue would cost
        // memory and a reconcile per tracker per interval for nothing.
        (None, None) => Ok(forget_in.map_or_else(Action::await_change, Action::requeue)),
        // A drift still inside its settle window is looked at again when the window ends.
        (None, Some(settles)) => {
            let next = ctx.resync_interval.min(settles + Duration::from_secs(1));
            debug!(tracker = %tracker.name_any(), ?settles, ?next, "a drift within its settle window: looking again then");
            Ok(Action::requeue(forget_in.map_or(next, |f| f.min(next))))
        }
    }
}

/// How long ago the PR was closed (or merged), if it is.
fn closed_for(synced: &Synced) -> Option<Duration> {
    let closed: Timestamp = synced.closed_at.as_deref()?.parse().ok()?;
    let age = Timestamp::now().duration_since(closed);
    Some(Duration::try_from(age).unwrap_or(Duration::ZERO))
}

/// Deletes a tracker whose PR closed longer ago than the retention, with an Event saying so.
async fn forget(
    ctx: &TrackerContext,
    tracker: &PullRequestTracker,
    closed_for: Duration,
) -> Result<(), ReconcileError> {
    let Some(client) = &ctx.client else {
        return Ok(());
    };
    let note = format!(
        "the PR was closed {} ago, longer than --forget-after: the tracker and its monitors are deleted",
        humanize(closed_for)
    );
    events::publish_one(&ctx.recorder, tracker, EventType::Normal, "Forgotten", note).await;
    let api: Api<PullRequestTracker> =
        Api::namespaced(client.clone(), &tracker.namespace().unwrap_or_default());
    match api.delete(&tracker.name_any(), &Default::default()).await {
        Ok(_) => {
            info!(tracker = %tracker.name_any(), ?closed_for, "forgotten: the PR closed longer ago than the retention");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(ReconcileError::Sync(SyncError::Kube(error))),
    }
}

/// A duration in its largest whole unit: `3d`, `5h`, `12m`, `40s`.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A tracker with nothing left to watch, which `--forget-after` may delete: its PR closed
/// unmerged, or every field of its merged change since changed through the repository.
fn is_done(tracker: &PullRequestTracker) -> bool {
    let Some(status) = &tracker.status else {
        return false;
    };
    status.state == Some(PrState::Closed)
        || (matches!(
            status.state,
            Some(PrState::Merged | PrState::Deployed | PrState::Drifted)
        ) && status.superseded_by.is_some())
}

/// The tracker's monitors in the cache: those its spec's clusters and its status name.
fn monitors_of(store: &Store<DriftMonitor>, tracker: &PullRequestTracker) -> Vec<DriftMonitor> {
    let name = tracker.name_any();
    let namespace = tracker.namespace().unwrap_or_default();
    let mut names: Vec<String> = tracker
        .spec
        .clusters
        .iter()
        .map(|cluster| monitor_name(&name, cluster))
        .collect();
    if let Some(status) = &tracker.status {
        names.extend(status.drift_monitors.iter().cloned());
    }
    names.sort();
    names.dedup();
    names
        .iter()
        .filter_map(|monitor| store.get(&ObjectRef::new(monitor).within(&namespace)))
        .filter(|monitor| monitor.spec.tracker == name)
        .map(|monitor| DriftMonitor::clone(&monitor))
        .collect()
}

/// Per-tracker backoff: 5 s doubling to 5 min, reset by a success; a rate limit waits for its reset.
pub fn error_policy(
    tracker: Arc<PullRequestTracker>,
    error: &ReconcileError,
    ctx: Arc<TrackerContext>,
) -> Action {
    let failures = ctx.failures.failed(&tracker);
    warn!(tracker = %tracker.name_any(), %error, failures, "reconcile failed");
    if let ReconcileError::Sync(SyncError::GitHub(GitHubError::RateLimited { until, .. })) = error
        && let Ok(wait) = until.duration_since(std::time::SystemTime::now())
    {
        return Action::requeue(wait.min(MAX_BACKOFF * 12));
    }
    Action::requeue(backoff(failures, MAX_BACKOFF))
}

/// A controller holds its reconcilers until its store is ready, and a graceful shutdown cuts the
/// watch that would make it ready: asked to stop that early, it would wait for ever. So the stop
/// is passed on once the store is ready, or after a few seconds if it never gets there.
pub(crate) async fn after_store_ready<K>(
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    store: Store<K>,
) where
    K: kube::Resource + Clone + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Send + Sync,
{
    shutdown.await;
    let _ = tokio::time::timeout(Duration::from_secs(5), store.wait_until_ready()).await;
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

/// The trackers' watch and store, made before the controller so that webhooks can be routed
/// through the store as soon as it fills.
pub struct TrackerWatch<S> {
    pub store: Store<PullRequestTracker>,
    stream: S,
}

/// Watches `trackers`: the store keeps every tracker, the stream yields those whose spec or
/// refresh annotation changed. A changed annotation is a delivery a follower passed on: the
/// `ledger` hears of it, as the leader's own endpoint would have.
pub fn tracker_watch(
    trackers: Api<PullRequestTracker>,
    ledger: Arc<ChangeLedger>,
) -> TrackerWatch<impl Stream<Item = Result<PullRequestTracker, watcher::Error>> + Send + 'static> {
    let (store, writer) = reflector::store();
    let stream = watcher(trackers, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(writer)
        .touched_objects()
        .predicate_filter(generation_or_refresh, Default::default())
        .map_ok({
            let handovers = HandOvers::default();
            move |tracker| {
                handovers.tell(&ledger, &tracker);
                tracker
            }
        });
    TrackerWatch { store, stream }
}

/// The tracker controller over `watch`, reconciling also on `triggers` (webhooks, and trackers whose
/// monitors changed); runs until `shutdown`.
pub fn tracker_controller<S>(
    watch: TrackerWatch<S>,
    ctx: Arc<TrackerContext>,
    triggers: impl Stream<Item = ObjectRef<PullRequestTracker>> + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> impl std::future::Future<Output = ()>
where
    S: Stream<Item = Result<PullRequestTracker, watcher::Error>> + Send + 'static,
{
    let shutdown = after_store_ready(shutdown, watch.store.clone());
    Controller::for_stream(watch.stream, watch.store)
        .with_config(
            kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY),
        )
        .reconcile_on(triggers)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "controller event");
            }
        })
}
