//! Clusters watched, not only polled (issue #17): one watch per cluster, resource type and
//! namespace that some live monitor's change holds an object of, started when the first monitor
//! follows such an object and stopped when the last one stops. A watch keeps a digest of each
//! followed object, never the object; when one changes in what a manifest can set, the monitors
//! following it are named on a channel, to be checked at once rather than at their next interval
//! (which stays, as a safety net).
//!
//! Rules:
//! - an object's `status` and the server's bookkeeping (resourceVersion, managedFields,
//!   generation, uid, timestamps) never name anyone: a rollout's status updates would otherwise
//!   check its monitors for nothing;
//! - a watch's first listing names no one (its followers were just checked); a listing after the
//!   watch broke (an apiserver restart, an expired resource version) names the followers of every
//!   object that changed, appeared or went meanwhile;
//! - a watch that fails (no `watch` permission, an unreachable cluster) is retried with backoff,
//!   and counted; the monitors' interval checks go on meanwhile.

mod index;

use std::{
    collections::{HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use futures::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    api::DynamicObject,
    runtime::{WatchStreamExt, watcher},
};
use tokio::{sync::mpsc, task::AbortHandle};
use tracing::{debug, warn};

pub use index::{Changes, Index, MonitorKey, WatchKey};

use crate::{clusters::ClusterRegistry, compare::LiveRef, error::ClusterError};

/// The watches of every target cluster, and the channel on which they name monitors to check.
pub struct LiveWatches {
    clusters: ClusterRegistry,
    index: Arc<Mutex<Index>>,
    tasks: Mutex<HashMap<WatchKey, AbortHandle>>,
    notify: mpsc::UnboundedSender<MonitorKey>,
    failures: Arc<AtomicU64>,
}

impl LiveWatches {
    /// Watches made with `clusters`' clients; monitors to check arrive on the receiver.
    pub fn new(clusters: ClusterRegistry) -> (Self, mpsc::UnboundedReceiver<MonitorKey>) {
        let (notify, checks) = mpsc::unbounded_channel();
        let watches = Self {
            clusters,
            index: Arc::default(),
            tasks: Mutex::default(),
            notify,
            failures: Arc::default(),
        };
        (watches, checks)
    }

    /// `monitor` (of `cluster`) follows `objects` from now on, in place of what it followed.
    pub async fn follow(
        &self,
        monitor: MonitorKey,
        cluster: &str,
        objects: &[LiveRef],
    ) -> Result<(), ClusterError> {
        let wanted: HashSet<(WatchKey, String)> = objects
            .iter()
            .map(|object| {
                let key = WatchKey {
                    cluster: cluster.to_owned(),
                    resource: object.resource.clone(),
                    namespace: object.namespace.clone(),
                };
                (key, object.name.clone())
            })
            .collect();
        let changes = self.lock().set(monitor.clone(), wanted);
        self.stop(&changes.stop);
        if changes.start.is_empty() {
            return Ok(());
        }
        match self.clusters.client(cluster).await {
            Ok(client) => {
                for key in changes.start {
                    self.start(client.clone(), key);
                }
                Ok(())
            }
            Err(error) => {
                // Followed again after the monitor's next check.
                let changes = self.lock().forget(&monitor);
                self.stop(&changes.stop);
                Err(error)
            }
        }
    }

    /// `monitor` follows nothing any more (its change is superseded, or cannot be judged).
    pub fn forget(&self, monitor: &MonitorKey) {
        let changes = self.lock().forget(monitor);
        self.stop(&changes.stop);
    }

    /// Forgets the monitors `keep` refuses: those deleted.
    pub fn retain(&self, keep: impl Fn(&MonitorKey) -> bool) {
        let changes = self.lock().retain(keep);
        self.stop(&changes.stop);
    }

    /// Watches open, objects followed, and watch failures so far.
    pub fn size(&self) -> (usize, usize, u64) {
        let index = self.lock();
        (
            index.watches(),
            index.objects(),
            self.failures.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, client: Client, key: WatchKey) {
        let api: Api<DynamicObject> = match &key.namespace {
            Some(namespace) => Api::namespaced_with(client, namespace, &key.resource),
            None => Api::all_with(client, &key.resource),
        };
        debug!(cluster = %key.cluster, kind = %key.resource.kind, namespace = ?key.namespace, "watching");
        let task = tokio::spawn(run(
            api,
            key.clone(),
            self.index.clone(),
            self.notify.clone(),
            self.failures.clone(),
        ));
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = tasks.insert(key, task.abort_handle()) {
            old.abort();
        }
    }

    fn stop(&self, keys: &[WatchKey]) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(task) = tasks.remove(key) {
                debug!(cluster = %key.cluster, kind = %key.resource.kind, namespace = ?key.namespace, "no longer watching");
                task.abort();
            }
        }
    }
}

impl Drop for LiveWatches {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, task) in tasks.drain() {
            task.abort();
        }
    }
}

/// One watch, until it is stopped: what changed goes to the index, who follows it to `notify`.
async fn run(
    api: Api<DynamicObject>,
    key: WatchKey,
    index: Arc<Mutex<Index>>,
    notify: mpsc::UnboundedSender<MonitorKey>,
    failures: Arc<AtomicU64>,
) {
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut first_listing = true;
    let mut listed: HashSet<String> = HashSet::new();
    while let Some(event) = events.next().await {
        let lock = || index.lock().unwrap_or_else(|e| e.into_inner());
        let to_check = match event {
            Ok(watcher::Event::Init) => {
                listed.clear();
                Vec::new()
            }
            Ok(watcher::Event::InitApply(object)) => {
                let name = object.name_any();
                let digest = digest(&object);
                listed.insert(name.clone());
                lock().seen(&key, &name, digest, !first_listing)
            }
            Ok(watcher::Event::InitDone) => {
                let went = if first_listing {
                    Vec::new()
                } else {
                    lock().relisted(&key, &listed)
                };
                first_listing = false;
                went
            }
            Ok(watcher::Event::Apply(object)) => {
                lock().seen(&key, &object.name_any(), digest(&object), true)
            }
            Ok(watcher::Event::Delete(object)) => lock().gone(&key, &object.name_any()),
            Err(error) => {
                failures.fetch_add(1, Ordering::Relaxed);
                warn!(cluster = %key.cluster, kind = %key.resource.kind, namespace = ?key.namespace, %error, "watch failed; retrying, interval checks go on meanwhile");
                Vec::new()
            }
        };
        for monitor in to_check {
            if notify.send(monitor).is_err() {
                return;
            }
        }
    }
}

/// What a manifest can set of an object: everything but its status and the server's bookkeeping.
fn digest(object: &DynamicObject) -> u64 {
    let mut hasher = DefaultHasher::new();
    object.metadata.labels.hash(&mut hasher);
    object.metadata.annotations.hash(&mut hasher);
    object.metadata.finalizers.hash(&mut hasher);
    object.metadata.owner_references.is_some().hash(&mut hasher);
    object
        .metadata
        .deletion_timestamp
        .is_some()
        .hash(&mut hasher);
    if let Some(fields) = object.data.as_object() {
        for (field, value) in fields {
            if field != "status" {
                field.hash(&mut hasher);
                value.to_string().hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).expect("an object")
    }

    #[test]
    fn the_digest_follows_what_a_manifest_sets_and_not_status_or_bookkeeping() {
        let base = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "1",
                "generation": 1, "labels": {"app": "web"}},
            "spec": {"replicas": 3},
            "status": {"readyReplicas": 1},
        });
        let mut bookkeeping = base.clone();
        bookkeeping["metadata"]["resourceVersion"] = json!("2");
        bookkeeping["metadata"]["managedFields"] = json!([{"manager": "kubectl"}]);
        bookkeeping["status"]["readyReplicas"] = json!(3);
        assert_eq!(digest(&object(base.clone())), digest(&object(bookkeeping)));

        let mut scaled = base.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert_ne!(digest(&object(base.clone())), digest(&object(scaled)));
        let mut relabelled = base.clone();
        relabelled["metadata"]["labels"]["app"] = json!("api");
        assert_ne!(digest(&object(base.clone())), digest(&object(relabelled)));
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"mode": "a"}});
        let mut edited = config.clone();
        edited["data"]["mode"] = json!("b");
        assert_ne!(digest(&object(config)), digest(&object(edited)));
    }
}
