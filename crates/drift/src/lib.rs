//! prtracker's drift detection: whether the manifests of a merged commit are what a cluster runs.
//!
//! - [`manifests`]: the desired objects, parsed from the manifest files read at a commit;
//! - [`render`]: a target holding a kustomization built with kustomize first;
//! - [`change`]: the PR's change, what its merge changed under the path, field by field;
//! - [`clusters`]: named clusters, their clients built from kubeconfig Secrets;
//! - [`normalize`] and [`diff`]: what is compared, and how, one rule a function;
//! - [`compare`]: each desired object against the live one, by server-side dry-run apply;
//! - [`checker`]: one check of a `DriftMonitor`;
//! - [`live`]: watches of the objects live monitors follow, naming the monitors to check when one
//!   changes;
//! - [`status`]: the monitor's status that follows from a check.

pub mod change;
pub mod checker;
pub mod clusters;
pub mod compare;
pub mod diff;
mod error;
pub mod live;
pub mod managed;
pub mod manifests;
pub mod normalize;
pub mod render;
mod sources;
pub mod status;

pub use checker::{Checked, DriftChecker, Outcome, Reads};
pub use clusters::{CLUSTER_LABEL, ClusterRegistry, IN_CLUSTER, KUBECONFIG_KEY};
pub use compare::{
    CompareOptions, Comparer, DiscoveryCache, DriftReport, FIELD_MANAGER, LiveRef, ObjectCache,
    Seen,
};
pub use error::{ClusterError, DriftError, ManifestError};
pub use live::{LiveWatches, MonitorKey, WatchSizes, Watched};
pub use manifests::{DesiredObject, ParseLimits, parse_manifests};
pub use render::{DEFAULT_RENDER_CONCURRENCY, Renderer};
pub use status::{
    CHECK_REQUESTED_ANNOTATION, mark_pending, next_status, pending_status, set_watched,
};
