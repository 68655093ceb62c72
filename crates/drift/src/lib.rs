//! prtracker's drift detection: whether the manifests of a merged commit are what a cluster runs.
//!
//! - [`manifests`]: the desired objects, parsed from the manifest files read at a commit;
//! - [`clusters`]: named clusters, their clients built from kubeconfig Secrets;
//! - [`normalize`] and [`diff`]: what is compared, and how, one rule a function;
//! - [`compare`]: each desired object against the live one, by server-side dry-run apply;
//! - [`monitor`]: one check of a `DriftMonitor`, and its next status.

pub mod clusters;
pub mod compare;
pub mod diff;
mod error;
pub mod manifests;
pub mod monitor;
pub mod normalize;

pub use clusters::{CLUSTER_LABEL, ClusterRegistry, IN_CLUSTER, KUBECONFIG_KEY};
pub use compare::{CompareOptions, Comparer, DriftReport, FIELD_MANAGER};
pub use error::{ClusterError, DriftError, ManifestError};
pub use manifests::{DesiredObject, ParseLimits, parse_manifests};
pub use monitor::{
    DriftChecker, mark_pending, needs_write, next_status, pending_status, write_status,
};
