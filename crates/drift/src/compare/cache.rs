//! What a comparison may take from memory rather than ask the apiserver: the API of a cluster
//! (discovery), and live objects a watch keeps current ([`ObjectCache`]).
//!
//! Discovery is kept per cluster and group-version for as long as it answers: it is asked again
//! when a kind is not found in what was kept (a CRD installed since; at most once per
//! [`MISS_REFRESH`]) and after a comparison failed (a group-version removed, a cluster moved).

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kube::discovery::{ApiCapabilities, ApiResource};
use serde_json::Value;

use super::LiveRef;

/// A kind not found in a group-version kept for longer than this asks the cluster again.
pub const MISS_REFRESH: Duration = Duration::from_secs(5);

/// The resources of one group-version (none: not served).
pub type Resources = Arc<Vec<(ApiResource, ApiCapabilities)>>;

/// A digest of a live object as a comparison reads it ([`crate::normalize::served`]: no status,
/// no server bookkeeping): what a manifest can set of it. A watch and a check that saw the same
/// object compute the same digest.
pub fn digest(served: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    served.to_string().hash(&mut hasher);
    hasher.finish()
}

/// Live objects kept current by watches.
pub trait ObjectCache: Send + Sync {
    /// The live object (`Some(None)`: it is not there), when what is kept of it is current;
    /// `None`: ask the apiserver. Kept objects have no status and no server bookkeeping.
    fn cached(&self, cluster: &str, object: &LiveRef) -> Option<Option<Arc<Value>>>;

    /// What a read of the apiserver found of `object` (`None`: not there), kept where it is what
    /// the watch has.
    fn offer(&self, cluster: &str, object: &LiveRef, found: Option<&Value>);
}

/// Discovery kept per cluster and group-version.
#[derive(Default)]
pub struct DiscoveryCache {
    kept: Mutex<HashMap<(String, String), (Resources, Instant)>>,
}

impl DiscoveryCache {
    /// What was kept of `api_version` in `cluster`, and since when.
    pub fn get(&self, cluster: &str, api_version: &str) -> Option<(Resources, Instant)> {
        self.lock()
            .get(&(cluster.to_owned(), api_version.to_owned()))
            .cloned()
    }

    pub fn put(&self, cluster: &str, api_version: &str, resources: Resources) {
        self.lock().insert(
            (cluster.to_owned(), api_version.to_owned()),
            (resources, Instant::now()),
        );
    }

    /// Forgets all that was kept of `cluster`.
    pub fn forget(&self, cluster: &str) {
        self.lock().retain(|(kept, _), _| kept != cluster);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Resources, Instant)>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}
