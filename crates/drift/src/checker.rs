//! One check of a `DriftMonitor`: its manifests read from GitHub at the source commit, its cluster
//! resolved, the two compared.

use std::sync::Arc;

use kube::ResourceExt;
use prtracker_api::{DriftMonitor, ManifestSource};
use prtracker_github::GitHubApi;
use tracing::{debug, instrument};

use crate::{
    clusters::ClusterRegistry,
    compare::{CompareOptions, Comparer, DriftReport},
    error::{ClusterError, DriftError, ManifestError},
    manifests::{DesiredObject, ParseLimits, parse_manifests},
};

/// Checks monitors: reads their manifests, resolves their clusters, compares.
#[derive(Clone)]
pub struct DriftChecker {
    github: Arc<dyn GitHubApi>,
    clusters: ClusterRegistry,
    limits: ParseLimits,
    options: CompareOptions,
}

impl DriftChecker {
    pub fn new(github: Arc<dyn GitHubApi>, clusters: ClusterRegistry) -> Self {
        Self {
            github,
            clusters,
            limits: ParseLimits::default(),
            options: CompareOptions::default(),
        }
    }

    pub fn with_options(mut self, options: CompareOptions) -> Self {
        self.options = options;
        self
    }

    pub fn with_limits(mut self, limits: ParseLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn clusters(&self) -> &ClusterRegistry {
        &self.clusters
    }

    /// The desired objects of `source`.
    pub async fn desired(&self, source: &ManifestSource) -> Result<Vec<DesiredObject>, DriftError> {
        let files = self
            .github
            .read_files(&source.repository, &source.path, &source.commit)
            .await?;
        let objects = parse_manifests(&files, self.limits)?;
        if objects.is_empty() {
            return Err(ManifestError::Empty {
                path: source.path.clone(),
            }
            .into());
        }
        Ok(objects)
    }

    /// One check of `monitor`.
    #[instrument(skip_all, fields(monitor = %monitor.name_any(), cluster = %monitor.spec.cluster))]
    pub async fn check(&self, monitor: &DriftMonitor) -> Result<DriftReport, DriftError> {
        let desired = self.desired(&monitor.spec.source).await?;
        let cluster = monitor.spec.cluster.as_str();
        let client = self.clusters.client(cluster).await?;
        let result = Comparer::new(client, cluster, self.options.clone())
            .compare(&desired)
            .await;
        if let Err(DriftError::Cluster(ClusterError::Unreachable { .. })) = &result {
            // Built afresh next time, in case the address or credentials behind it changed.
            self.clusters.forget(cluster);
        }
        let report = result?;
        debug!(
            checked = report.checked,
            drifted = report.drifted,
            missing = report.missing,
            "checked"
        );
        Ok(report)
    }
}
