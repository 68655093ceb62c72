//! prtracker's Kubernetes API (group `prtracker.io`, version `v1alpha1`): the `PullRequestTracker`
//! and `DriftMonitor` custom resources, and their CRDs as generated from these types.
//!
//! This layer knows the domain and nothing above it.

pub mod conditions;
pub mod ignore;
pub mod interval;
pub mod monitor;
pub mod names;
pub mod status;
pub mod tracker;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use ignore::IgnoreRule;
pub use monitor::{
    CHECK_REQUESTED_ANNOTATION, DriftMonitor, DriftMonitorSpec, DriftMonitorStatus,
    DriftedResource, FieldDrift, ManifestSource,
};
/// A monitor's phase is the domain's verdict type, carried as is.
pub use prtracker_domain::DriftPhase;
/// The repository type is the domain's; the CRDs carry it as is.
pub use prtracker_domain::{Repository, RepositoryError};
pub use tracker::{
    CLUSTER_NAME_PATTERN, CheckRunRecord, CommitStatusRecord, DeploymentRecord, PrCommentStatus,
    PullRequestTracker, PullRequestTrackerSpec, PullRequestTrackerStatus, Reach, SupersededBy,
    SyncResultStatus, Target, TargetReached, is_cluster_name,
};

/// Every CRD of prtracker, in the order they are installed.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![PullRequestTracker::crd(), DriftMonitor::crd()]
}

/// The file name under `deploy/crds/` that holds a CRD: its own name, as `kubectl` users expect.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// One CRD as YAML, the form checked into `deploy/crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(crd)
}

/// Every CRD as one multi-document YAML stream, what `prtracker crds` prints.
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let documents: Result<Vec<String>, _> = crds().iter().map(crd_yaml).collect();
    Ok(documents?
        .iter()
        .map(|doc| format!("---\n{doc}"))
        .collect::<String>())
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, path::PathBuf};

    use super::*;

    fn deploy_crds_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds")
    }

    /// The checked-in CRDs are what the types generate; a change to the types must regenerate them.
    #[test]
    fn deploy_crds_are_up_to_date() {
        let regenerate =
            "regenerate them with `cargo run -p prtracker -- crds --out-dir deploy/crds`";
        let dir = deploy_crds_dir();
        let mut expected_files = BTreeSet::new();
        for crd in crds() {
            let file = crd_file_name(&crd);
            let generated = crd_yaml(&crd).expect("CRDs render as YAML");
            let checked_in = std::fs::read_to_string(dir.join(&file)).unwrap_or_else(|e| {
                panic!("deploy/crds/{file} cannot be read ({e}); {regenerate}")
            });
            assert!(
                checked_in == generated,
                "deploy/crds/{file} differs from what the Rust types generate; {regenerate}"
            );
            expected_files.insert(file);
        }
        let present: BTreeSet<String> = std::fs::read_dir(&dir)
            .expect("deploy/crds exists")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        assert_eq!(
            present, expected_files,
            "deploy/crds holds a CRD the types no longer generate"
        );
    }

    #[test]
    fn both_crds_have_status_subresources_and_short_names() {
        for (crd, short) in crds().iter().zip(["prt", "dm"]) {
            let version = &crd.spec.versions[0];
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                "{:?} has no status subresource",
                crd.metadata.name
            );
            assert_eq!(
                crd.spec.names.short_names.as_deref(),
                Some(&[short.to_owned()][..])
            );
            assert_eq!(crd.spec.scope, "Namespaced");
        }
    }

    #[test]
    fn crds_yaml_is_two_documents() {
        let yaml = crds_yaml().expect("renders");
        assert_eq!(
            yaml.matches("\n---\n").count() + usize::from(yaml.starts_with("---\n")),
            2
        );
    }
}
