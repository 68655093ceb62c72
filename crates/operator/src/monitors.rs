//! The DriftMonitor controller: each monitor checks its cluster against its commit's manifests
//! when an object of its change changes in the cluster (the cluster's watches name it, and the
//! check reads what the watch keeps) and every `spec.interval` as a safety net (reading the
//! cluster itself), and writes its status only when the verdict or what it found changed. A
//! monitor whose objects cannot be watched says so in its `Watched` condition and is checked at
//! least every [`UNWATCHED_INTERVAL`].
//! A check that cannot be made is retried sooner, backing off from 5 s to the interval. Its status
//! changes wake the tracker controller, which folds the verdicts into the PR's state.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{Stream, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Client, ResourceExt,
    runtime::{
        Controller,
        controller::Action,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use prtracker_api::{
    DriftMonitor,
    interval::parse_interval,
    status::{StatusWriteError, write_status},
};
use prtracker_drift::{
    CHECK_REQUESTED_ANNOTATION, DriftChecker, LiveWatches, MonitorKey, Outcome, Reads, Watched,
    mark_pending, next_status, set_watched,
};
use tracing::{debug, warn};

use crate::{
    backoff::{Failures, MAX_BACKOFF, backoff},
    trackers::{RECONCILE_CONCURRENCY, ReconcileObserver, after_store_ready},
};

/// What every monitor check shares.
pub struct MonitorContext {
    pub client: Client,
    pub checker: DriftChecker,
    /// Consecutive failed checks per monitor.
    pub failures: Failures<DriftMonitor>,
    pub observer: ReconcileObserver,
    /// The watches of the target clusters, which name a monitor to check when an object of its
    /// change changes; `None`: checked at its interval only.
    pub live: Option<Arc<LiveWatches>>,
    /// When each monitor last read its cluster rather than the watch's cache.
    pub cluster_reads: ClusterReads,
    /// Told of each check, with where it reads from (for the metrics).
    pub on_check: Box<dyn Fn(Reads) + Send + Sync>,
}

/// When each monitor's check last read the cluster itself.
#[derive(Default)]
pub struct ClusterReads(Mutex<HashMap<MonitorKey, Instant>>);

impl ClusterReads {
    /// Where `monitor`'s check reads from: the cluster when its last read of the cluster is about
    /// an `interval` old (the safety net) or a person asked for the check, else the watch's cache
    /// (which falls back to the cluster for what it does not keep current).
    fn reads(&self, monitor: &DriftMonitor, key: &MonitorKey, interval: Duration) -> Reads {
        let requested = monitor
            .annotations()
            .get(CHECK_REQUESTED_ANNOTATION)
            .is_some_and(|asked| {
                monitor
                    .status
                    .as_ref()
                    .and_then(|s| s.answered_check_request.as_ref())
                    != Some(asked)
            });
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match last.get(key) {
            Some(at) if !requested && at.elapsed() < interval.mul_f32(0.9) => Reads::Cache,
            _ => {
                last.insert(key.clone(), Instant::now());
                Reads::Cluster
            }
        }
    }

    /// Forgets the monitors no longer in `store`.
    pub fn forget_gone(&self, store: &Store<DriftMonitor>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(namespace, name), _| {
                store.get(&ObjectRef::new(name).within(namespace)).is_some()
            });
    }
}

impl MonitorContext {
    pub fn new(client: Client, checker: DriftChecker) -> Self {
        Self {
            client,
            checker,
            failures: Failures::default(),
            observer: Box::new(|_, _, _| {}),
            live: None,
            cluster_reads: ClusterReads::default(),
            on_check: Box::new(|_| {}),
        }
    }
}

/// A failed write of a monitor's status (a failed check is a verdict, Error, not a failure).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MonitorError(#[from] StatusWriteError);

/// After a conflict (the monitor changed meanwhile), check again soon with the newer object.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// The interval of a monitor whose own cannot be read (the CRD's schema should not let that be).
const FALLBACK_INTERVAL: Duration = Duration::from_secs(300);
/// A monitor whose objects are not watched (the watch fails, or watching is off) is checked at
/// least this often: the former default interval, when every check read the cluster.
pub const UNWATCHED_INTERVAL: Duration = Duration::from_secs(300);

pub async fn reconcile(
    monitor: Arc<DriftMonitor>,
    ctx: Arc<MonitorContext>,
) -> Result<Action, MonitorError> {
    let started = Instant::now();
    // A monitor never checked says so while its first check runs.
    let monitor = match mark_pending(&ctx.client, (*monitor).clone()).await {
        Ok(monitor) => monitor,
        Err(StatusWriteError::Conflict { .. }) => return Ok(Action::requeue(CONFLICT_RETRY)),
        Err(error) => {
            (ctx.observer)("monitor", started.elapsed(), Some("StatusWriteFailed"));
            return Err(error.into());
        }
    };
    let key = (monitor.namespace().unwrap_or_default(), monitor.name_any());
    let spec_interval = parse_interval(&monitor.spec.interval).unwrap_or(FALLBACK_INTERVAL);
    let reads = ctx.cluster_reads.reads(&monitor, &key, spec_interval);
    (ctx.on_check)(reads);
    let result = ctx.checker.check_from(&monitor, reads).await;
    if let Some(live) = &ctx.live {
        follow_live(live, &monitor, &result);
    }
    let watched = ctx.live.as_ref().map(|live| live.watched(&key));
    let interval = match &watched {
        Some(Watched::Yes | Watched::Starting) => spec_interval,
        _ => spec_interval.min(UNWATCHED_INTERVAL),
    };
    let next = match &result {
        // Nothing of the PR's left to judge: no more checks until the spec changes.
        Ok(checked)
            if matches!(
                checked.outcome,
                Outcome::NothingToDeploy | Outcome::Superseded { .. }
            ) =>
        {
            ctx.failures.succeeded(&monitor);
            None
        }
        Ok(_) => {
            ctx.failures.succeeded(&monitor);
            Some(interval)
        }
        // A commit that cannot be judged will not change: reported once, not retried.
        Err(error) if error.is_final() => {
            warn!(monitor = %monitor.name_any(), %error, "drift check cannot be made at this commit; not retrying until the spec changes");
            None
        }
        Err(error) => {
            let failures = ctx.failures.failed(&monitor);
            warn!(monitor = %monitor.name_any(), %error, failures, "drift check failed");
            Some(backoff(failures, interval.min(MAX_BACKOFF)))
        }
    };
    let mut status = next_status(&monitor, &result, Timestamp::now());
    set_watched(&mut status, watched.as_ref(), &every(interval));
    let written = write_status(&ctx.client, &monitor, status).await;
    let failure = match (&result, &written) {
        (Err(error), _) => Some(error.reason()),
        (Ok(_), Err(StatusWriteError::Conflict { .. })) | (Ok(_), Ok(_)) => None,
        (Ok(_), Err(_)) => Some("StatusWriteFailed"),
    };
    (ctx.observer)("monitor", started.elapsed(), failure);
    match written {
        Ok(written) => {
            debug!(monitor = %monitor.name_any(), changed = written.is_some(), "checked");
            Ok(next.map_or_else(Action::await_change, Action::requeue))
        }
        Err(StatusWriteError::Conflict { .. }) => Ok(Action::requeue(CONFLICT_RETRY)),
        Err(error) => Err(error.into()),
    }
}

/// `interval` as a reader would write it: 30m, 5m, 90s.
fn every(interval: Duration) -> String {
    let seconds = interval.as_secs();
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// After a check, what the cluster's watches follow for `monitor`: the objects of its change
/// while it has some to judge, nothing once it has none (superseded, nothing to deploy, or a
/// commit that cannot be judged). A check that failed for now changes nothing.
fn follow_live(
    live: &LiveWatches,
    monitor: &DriftMonitor,
    result: &Result<prtracker_drift::Checked, prtracker_drift::DriftError>,
) {
    let key = (monitor.namespace().unwrap_or_default(), monitor.name_any());
    match result {
        Ok(checked) if matches!(checked.outcome, Outcome::Holds | Outcome::DoesNotHold) => {
            live.follow(key, &monitor.spec.cluster, &checked.report.watched);
        }
        Ok(_) => live.forget(&key),
        Err(error) if error.is_final() => live.forget(&key),
        Err(_) => {}
    }
}

pub fn error_policy(
    monitor: Arc<DriftMonitor>,
    error: &MonitorError,
    ctx: Arc<MonitorContext>,
) -> Action {
    let failures = ctx.failures.failed(&monitor);
    warn!(monitor = %monitor.name_any(), %error, failures, "could not record a drift check");
    Action::requeue(backoff(failures, MAX_BACKOFF))
}

/// The monitor controller over the shared monitor watch: checks on creation, spec changes and
/// requests (not on its own status writes), then every interval.
pub fn monitor_controller(
    checks: impl Stream<Item = Result<DriftMonitor, watcher::Error>> + Send + 'static,
    changed_in_clusters: impl Stream<Item = ObjectRef<DriftMonitor>> + Send + 'static,
    store: Store<DriftMonitor>,
    ctx: Arc<MonitorContext>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> impl std::future::Future<Output = ()> {
    let shutdown = after_store_ready(shutdown, store.clone());
    Controller::for_stream(checks, store)
        .reconcile_on(changed_in_clusters)
        .with_config(
            kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "monitor controller event");
            }
        })
}
