//! Clusters watched, not only polled (issue #17): one watch per cluster, resource type and
//! namespace that some live monitor's change holds an object of, started when the first monitor
//! follows such an object and stopped when the last one stops. A watch keeps each followed object
//! as a check compares it (and a digest of every object it sees); when a followed one changes in
//! what a manifest can set, the monitors following it are named on a channel, to be checked at
//! once, from what the watch keeps ([`ObjectCache`]), rather than at their next interval (which
//! stays, reading the cluster, as a safety net).
//!
//! Rules:
//! - an object's `status` and the server's bookkeeping (resourceVersion, managedFields,
//!   generation, uid, timestamps) never name anyone: a rollout's status updates would otherwise
//!   check its monitors for nothing;
//! - a monitor starts following an object with how its check saw it, and is named when the watch
//!   (at once, or at the end of its listing) has it otherwise: an edit between a check and the
//!   watch is not missed; a listing after the watch broke (an apiserver restart, an expired
//!   resource version) names the followers of every object that changed, appeared or went
//!   meanwhile;
//! - a watch that fails (an unreachable cluster, a refused credential) is started again with a
//!   fresh client after 1 s, doubling up to a minute; one the cluster forbids (no `watch`
//!   permission) after five minutes; each failure is counted; what it keeps is not served until
//!   it lists again, and after 30 s of failing its followers are named, to be checked from the
//!   cluster and to say they are not watched.

mod index;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Api, ResourceExt,
    api::DynamicObject,
    runtime::watcher::{self, Event},
};
use serde_json::Value;
use tokio::{sync::mpsc, task::AbortHandle};
use tracing::{debug, warn};

pub use index::{Changes, Index, MonitorKey, WatchKey, Watched};

use crate::{
    clusters::ClusterRegistry,
    compare::{LiveRef, ObjectCache, Seen, digest},
    normalize,
};

/// The first wait after a watch failed; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);
/// The wait after the cluster refused the watch (no `watch` permission): that does not heal by
/// itself soon, and the monitors' interval checks go on meanwhile.
const FORBIDDEN_RETRY: Duration = Duration::from_secs(300);
/// How long a watch fails before its followers are told (checked, from the cluster, and marked
/// not watched): the first retries heal a blip sooner.
const TELL_BROKEN_AFTER: Duration = Duration::from_secs(30);

/// The index and the running watches, changed together under one lock: a watch runs exactly when
/// the index has followers for it.
#[derive(Default)]
struct Shared {
    index: Index,
    tasks: HashMap<WatchKey, AbortHandle>,
}

/// What the watches hold, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchSizes {
    /// Watches open.
    pub watches: usize,
    /// Of those, the ones failing (retried; their monitors are checked at their intervals).
    pub failing: usize,
    /// Objects followed.
    pub objects: usize,
    /// The followed objects kept for checks, in bytes of JSON, roughly.
    pub kept_bytes: usize,
    /// Watch failures so far.
    pub failures: u64,
}

/// The watches of every target cluster, and the channel on which they name monitors to check.
pub struct LiveWatches {
    clusters: ClusterRegistry,
    shared: Arc<Mutex<Shared>>,
    notify: mpsc::UnboundedSender<MonitorKey>,
    failures: Arc<AtomicU64>,
}

impl LiveWatches {
    /// Watches made with `clusters`' clients; monitors to check arrive on the receiver.
    pub fn new(clusters: ClusterRegistry) -> (Self, mpsc::UnboundedReceiver<MonitorKey>) {
        let (notify, checks) = mpsc::unbounded_channel();
        let watches = Self {
            clusters,
            shared: Arc::default(),
            notify,
            failures: Arc::default(),
        };
        (watches, checks)
    }

    /// `monitor` (of `cluster`) follows `objects` from now on, in place of what it followed. An
    /// object a watch has seen otherwise than the monitor's check did names the monitor.
    pub fn follow(&self, monitor: MonitorKey, cluster: &str, objects: &[LiveRef]) {
        let wanted: HashMap<(WatchKey, String), Seen> = objects
            .iter()
            .map(|object| {
                (
                    (watch_key(cluster, object), object.name.clone()),
                    object.seen.clone(),
                )
            })
            .collect();
        let mut shared = self.lock();
        let changes = shared.index.set(monitor, wanted);
        self.apply(&mut shared, changes);
    }

    /// `monitor` follows nothing any more (its change is superseded, or cannot be judged).
    pub fn forget(&self, monitor: &MonitorKey) {
        let mut shared = self.lock();
        let changes = shared.index.forget(monitor);
        self.apply(&mut shared, changes);
    }

    /// Forgets the monitors `keep` refuses: those deleted.
    pub fn retain(&self, keep: impl Fn(&MonitorKey) -> bool) {
        let mut shared = self.lock();
        let changes = shared.index.retain(keep);
        self.apply(&mut shared, changes);
    }

    /// Watches that have listed their objects once: from then on, a change names its followers.
    pub fn listed(&self) -> usize {
        self.lock().index.listed_watches()
    }

    /// Whether the objects `monitor` follows are watched.
    pub fn watched(&self, monitor: &MonitorKey) -> Watched {
        self.lock().index.watched(monitor)
    }

    /// How many watches, objects and bytes, and how many failures so far.
    pub fn size(&self) -> WatchSizes {
        let shared = self.lock();
        WatchSizes {
            watches: shared.tasks.len(),
            failing: shared.index.failing_watches(),
            objects: shared.index.objects(),
            kept_bytes: shared.index.kept_bytes(),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// Stops the watches left without a follower and starts the new ones, under the same lock as
    /// the index changed (spawning does not wait).
    fn apply(&self, shared: &mut Shared, changes: Changes) {
        // Nobody listening any more only happens at shutdown.
        let _ = send(&self.notify, changes.check);
        for key in changes.stop {
            if let Some(task) = shared.tasks.remove(&key) {
                debug!(cluster = %key.cluster, kind = %key.resource.kind, namespace = ?key.namespace, "no longer watching");
                task.abort();
            }
        }
        for key in changes.start {
            debug!(cluster = %key.cluster, kind = %key.resource.kind, namespace = ?key.namespace, "watching");
            let task = tokio::spawn(run(
                self.clusters.clone(),
                key.clone(),
                self.shared.clone(),
                self.notify.clone(),
                self.failures.clone(),
            ));
            if let Some(old) = shared.tasks.insert(key, task.abort_handle()) {
                old.abort();
            }
        }
    }
}

fn watch_key(cluster: &str, object: &LiveRef) -> WatchKey {
    WatchKey {
        cluster: cluster.to_owned(),
        resource: object.resource.clone(),
        namespace: object.namespace.clone(),
    }
}

/// Checks the watches start are served from what they keep.
impl ObjectCache for LiveWatches {
    fn cached(&self, cluster: &str, object: &LiveRef) -> Option<Option<Arc<Value>>> {
        self.lock()
            .index
            .cached(&watch_key(cluster, object), &object.name)
    }

    fn offer(&self, cluster: &str, object: &LiveRef, found: Option<&Value>) {
        let found = found.map(|value| keep(value.clone()));
        self.lock()
            .index
            .offer(&watch_key(cluster, object), &object.name, found);
    }
}

impl Drop for LiveWatches {
    fn drop(&mut self) {
        for (_, task) in lock(&self.shared).tasks.drain() {
            task.abort();
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a watch stopped.
enum Stopped {
    /// Nobody listens for monitors to check any more.
    Closed,
    /// The cluster refused it, or could not be reached: retried with a fresh client.
    Failed { forbidden: bool, why: String },
}

/// One watch, until it is stopped: a client asked from the registry at each (re)start, so a
/// rotated kubeconfig or a moved cluster is picked up; failures wait, doubling, before the next.
async fn run(
    clusters: ClusterRegistry,
    key: WatchKey,
    shared: Arc<Mutex<Shared>>,
    notify: mpsc::UnboundedSender<MonitorKey>,
    failures: Arc<AtomicU64>,
) {
    let mut state = WatchRun {
        first_listing: true,
        retry: FIRST_RETRY,
        broken_since: None,
        told: false,
    };
    loop {
        let stopped = match clusters.client(&key.cluster).await {
            Ok(client) => {
                let api: Api<DynamicObject> = match &key.namespace {
                    Some(namespace) => Api::namespaced_with(client, namespace, &key.resource),
                    None => Api::all_with(client, &key.resource),
                };
                watch(api, &key, &shared, &notify, &mut state).await
            }
            Err(error) => Stopped::Failed {
                forbidden: false,
                why: error.to_string(),
            },
        };
        let Stopped::Failed { forbidden, why } = stopped else {
            return;
        };
        failures.fetch_add(1, Ordering::Relaxed);
        lock(&shared).index.broken(&key, &why);
        let since = *state.broken_since.get_or_insert_with(Instant::now);
        let wait = if forbidden {
            FORBIDDEN_RETRY
        } else {
            state.retry
        };
        state.retry = (state.retry * 2).min(MAX_RETRY);
        warn!(cluster = %key.cluster, kind = %key.resource.kind, namespace = ?key.namespace, error = %why, ?wait, "cannot watch; retrying, and the monitors' interval checks go on meanwhile");
        let retry_at = Instant::now() + wait;
        // A blip heals within the first retries; a watch broken longer is told to its followers
        // (even while it waits to retry), whose next checks read the cluster and say they are not
        // watched.
        let tell_at = since + TELL_BROKEN_AFTER;
        if !state.told && tell_at < retry_at {
            tokio::time::sleep_until(tell_at.into()).await;
            state.told = true;
            let followers = lock(&shared).index.followers(&key);
            if send(&notify, followers).is_err() {
                return;
            }
        }
        tokio::time::sleep_until(retry_at.into()).await;
    }
}

/// Where one watch stands across its restarts.
struct WatchRun {
    /// Its first listing names no one: its followers were just checked.
    first_listing: bool,
    /// The wait after the next failure.
    retry: Duration,
    /// Since when it has been failing, until it lists again.
    broken_since: Option<Instant>,
    /// Whether its followers were told it is broken (then they are told when it is back).
    told: bool,
}

fn send(
    notify: &mpsc::UnboundedSender<MonitorKey>,
    monitors: Vec<MonitorKey>,
) -> Result<(), mpsc::error::SendError<MonitorKey>> {
    monitors.into_iter().try_for_each(|m| notify.send(m))
}

/// Follows one watch stream until it fails: what changed goes to the index, who follows it to
/// `notify`.
async fn watch(
    api: Api<DynamicObject>,
    key: &WatchKey,
    shared: &Mutex<Shared>,
    notify: &mpsc::UnboundedSender<MonitorKey>,
    state: &mut WatchRun,
) -> Stopped {
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    // Every name a listing gives, followed or not (see Index::listed); dropped when it ends.
    let mut listing: HashSet<String> = HashSet::new();
    while let Some(event) = events.next().await {
        let to_check = match event {
            Ok(Event::Init) => {
                listing.clear();
                lock(shared).index.listing(key);
                Vec::new()
            }
            Ok(Event::InitApply(object)) => {
                let name = object.name_any();
                listing.insert(name.clone());
                seen(shared, key, &name, &object, !state.first_listing)
            }
            Ok(Event::InitDone) => {
                let mut shared = lock(shared);
                let mut to_check = shared.index.listed(key, &listing, state.first_listing);
                listing = HashSet::new();
                if state.told {
                    // Told they were not watched: checked again, from the cache, to say they are.
                    to_check = shared.index.followers(key);
                }
                state.first_listing = false;
                state.retry = FIRST_RETRY;
                state.broken_since = None;
                state.told = false;
                to_check
            }
            Ok(Event::Apply(object)) => seen(shared, key, &object.name_any(), &object, true),
            Ok(Event::Delete(object)) => lock(shared).index.gone(key, &object.name_any()),
            // An expired resource version: the watcher lists again by itself (a relisting).
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                debug!(cluster = %key.cluster, kind = %key.resource.kind, "watch expired; listing again");
                continue;
            }
            Err(error) => {
                return Stopped::Failed {
                    forbidden: status_code(&error) == Some(403),
                    why: error.to_string(),
                };
            }
        };
        if send(notify, to_check).is_err() {
            return Stopped::Closed;
        }
    }
    Stopped::Failed {
        forbidden: false,
        why: "the watch ended".to_owned(),
    }
}

/// An object seen by the watch: its digest noted, kept as a check compares it when followed, its
/// followers returned when it changed (and `notify`).
fn seen(
    shared: &Mutex<Shared>,
    key: &WatchKey,
    name: &str,
    object: &DynamicObject,
    notify: bool,
) -> Vec<MonitorKey> {
    let Ok(value) = serde_json::to_value(object) else {
        return Vec::new();
    };
    let (digest, kept) = keep(value);
    lock(shared).index.seen(key, name, digest, kept, notify)
}

/// An object as the cache keeps it (without status, managedFields and the rest of the server's
/// bookkeeping, the last-applied annotation), and its digest: what a manifest can set of it.
fn keep(object: Value) -> (u64, Arc<Value>) {
    let served = normalize::served(object);
    (digest(&served), Arc::new(served))
}

/// The HTTP status of a refusal, where the apiserver gave one.
fn status_code(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => Some(status.code),
        watcher::Error::WatchError(status) => Some(status.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_digest_follows_what_a_manifest_sets_and_not_status_or_bookkeeping() {
        let base = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "1",
                "generation": 1, "labels": {"app": "web"}},
            "spec": {"replicas": 3},
            "status": {"readyReplicas": 1},
        });
        let digest = |object: &Value| keep(object.clone()).0;
        let mut bookkeeping = base.clone();
        bookkeeping["metadata"]["resourceVersion"] = json!("2");
        bookkeeping["metadata"]["managedFields"] = json!([{"manager": "kubectl"}]);
        bookkeeping["status"]["readyReplicas"] = json!(3);
        assert_eq!(digest(&base), digest(&bookkeeping));

        let mut scaled = base.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert_ne!(digest(&base), digest(&scaled));
        let mut relabelled = base.clone();
        relabelled["metadata"]["labels"]["app"] = json!("api");
        assert_ne!(digest(&base), digest(&relabelled));
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"mode": "a"}});
        let mut edited = config.clone();
        edited["data"]["mode"] = json!("b");
        assert_ne!(digest(&config), digest(&edited));
        // What the cache keeps has neither status nor bookkeeping.
        let (_, kept) = keep(base);
        assert!(kept.get("status").is_none());
        assert!(kept["metadata"].get("resourceVersion").is_none());
    }
}
