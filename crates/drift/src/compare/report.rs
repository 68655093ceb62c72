//! What a comparison is asked to do, and what it reports.

use std::sync::Arc;

use kube::discovery::ApiResource;
use prtracker_api::DriftedResource;
use serde_json::Value;

use super::FIELD_MANAGER;

/// How a comparison is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareOptions {
    /// Where namespaced objects without a namespace go.
    pub default_namespace: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// From this many objects of one type in one namespace, read them with one LIST.
    pub list_threshold: usize,
    /// Skip the dry run of an object whose live state already holds its manifest's values.
    pub skip_held: bool,
    pub field_manager: String,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            default_namespace: "default".to_owned(),
            concurrency: 16,
            list_threshold: 4,
            skip_held: true,
            field_manager: FIELD_MANAGER.to_owned(),
        }
    }
}

/// The verdict of one comparison. `drifted` counts objects that differ, `missing` those that are
/// not there; `resources` lists both (at most [`MAX_DRIFTED_RESOURCES`], in manifest order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftReport {
    pub checked: u32,
    pub drifted: u32,
    pub missing: u32,
    pub resources: Vec<DriftedResource>,
    /// Every object compared, as the cluster's API names it: what a watch of the cluster follows.
    pub watched: Vec<LiveRef>,
}

/// One object in a cluster, as its API names it, and as a check saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRef {
    pub resource: ApiResource,
    /// `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    pub name: String,
    pub seen: Seen,
}

/// How a check saw an object: a watch that starts following it afterwards compares what it
/// finds with this, so an edit made between the check and the watch is not missed, and keeps
/// the object when it is what the watch has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Seen {
    /// Not said: nothing to compare.
    #[default]
    Unknown,
    Absent,
    /// Present: as a check compares it ([`crate::normalize::served`]), and its digest
    /// ([`super::cache::digest`]).
    As {
        digest: u64,
        object: Arc<Value>,
    },
}

impl Seen {
    /// How a check saw `live` (`None`: absent).
    pub fn of(live: Option<&Value>) -> Self {
        match live {
            Some(live) => {
                let object = crate::normalize::served(live.clone());
                Seen::As {
                    digest: super::cache::digest(&object),
                    object: Arc::new(object),
                }
            }
            None => Seen::Absent,
        }
    }

    /// Whether an object now `present` with that digest (or absent) is not what was seen.
    pub fn differs_from(&self, present: Option<u64>) -> bool {
        match (self, present) {
            (Seen::Unknown, _) | (Seen::Absent, None) => false,
            (Seen::As { digest, .. }, Some(now)) => *digest != now,
            (Seen::Absent, Some(_)) | (Seen::As { .. }, None) => true,
        }
    }
}

impl DriftReport {
    pub fn in_sync(&self) -> bool {
        self.drifted == 0 && self.missing == 0
    }
}
