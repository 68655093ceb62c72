//! The DriftMonitor controller: each monitor checks its cluster against its commit's manifests
//! every `spec.interval`, and writes its status only when the verdict or what it found changed.
//! Its status changes wake the tracker controller, which folds the verdicts into the PR's state.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    runtime::{Controller, WatchStreamExt, controller::Action, predicates, watcher},
};
use prtracker_api::{DriftMonitor, interval::parse_interval};
use prtracker_drift::{DriftChecker, DriftError, mark_pending, next_status, write_status};
use tracing::{debug, warn};

use crate::controller::{
    RECONCILE_CONCURRENCY, ReconcileObserver, after_store_ready, backoff, forget_managed_fields,
};

/// What every monitor check shares.
pub struct MonitorContext {
    pub client: Client,
    pub checker: DriftChecker,
    pub observer: ReconcileObserver,
}

/// Set (to any new value, e.g. a time) to ask for a check now rather than at the next interval:
/// `kubectl annotate dm NAME prtracker.io/check-requested="$(date +%s)" --overwrite`.
pub const CHECK_REQUESTED_ANNOTATION: &str = "prtracker.io/check-requested";

/// A failed write of a monitor's status (a failed check is a verdict, Error, not a failure).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MonitorError(#[from] DriftError);

/// After a conflict (the monitor changed meanwhile), check again soon with the newer object.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

pub async fn reconcile(
    monitor: Arc<DriftMonitor>,
    ctx: Arc<MonitorContext>,
) -> Result<Action, MonitorError> {
    let started = Instant::now();
    // A monitor never checked says so while its first check runs.
    let monitor = match mark_pending(&ctx.client, (*monitor).clone()).await {
        Ok(monitor) => monitor,
        Err(DriftError::Conflict(_)) => return Ok(Action::requeue(CONFLICT_RETRY)),
        Err(error) => return Err(error.into()),
    };
    let result = ctx.checker.check(&monitor).await;
    let interval = parse_interval(&monitor.spec.interval).unwrap_or(Duration::from_secs(300));
    // A check that could not be made is retried sooner than the interval, with backoff.
    let next = match &result {
        Ok(_) => interval,
        Err(error) => {
            warn!(monitor = %monitor.name_any(), %error, "drift check failed");
            backoff(1).min(interval)
        }
    };
    let status = next_status(&monitor, &result);
    let written = write_status(&ctx.client, &monitor, status).await;
    (ctx.observer)("monitor", started.elapsed(), None);
    match written {
        Ok(changed) => {
            debug!(monitor = %monitor.name_any(), changed, "checked");
            Ok(Action::requeue(next))
        }
        Err(DriftError::Conflict(_)) => Ok(Action::requeue(CONFLICT_RETRY)),
        Err(error) => Err(error.into()),
    }
}

pub fn error_policy(
    monitor: Arc<DriftMonitor>,
    error: &MonitorError,
    _ctx: Arc<MonitorContext>,
) -> Action {
    warn!(monitor = %monitor.name_any(), %error, "could not record a drift check");
    Action::requeue(backoff(2))
}

/// Check on a spec change or a request, never on the monitor's own status writes.
fn generation_or_request(monitor: &DriftMonitor) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    predicates::generation(monitor).hash(&mut hasher);
    monitor
        .annotations()
        .get(CHECK_REQUESTED_ANNOTATION)
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// The monitor controller: checks on creation, spec changes and requests (not on its own status
/// writes), then every interval.
pub fn monitor_controller(
    monitors: Api<DriftMonitor>,
    ctx: MonitorContext,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> impl std::future::Future<Output = ()> {
    let (store, writer) = kube::runtime::reflector::store();
    let stream = watcher(monitors, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(writer)
        .touched_objects()
        .predicate_filter(generation_or_request, Default::default());
    let shutdown = after_store_ready(shutdown, store.clone());
    Controller::for_stream(stream, store)
        .with_config(
            kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::new(ctx))
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "monitor controller event");
            }
        })
}
