//! One check of a `DriftMonitor`: its manifests read from GitHub at the source commit, its cluster
//! resolved, the two compared; and the status that follows from the verdict.
//!
//! Status rules:
//! - a check made gives phase `InSync` or `Drifted`, the counts, the drifted objects, the commit
//!   checked, and `Ready=True` with reason `InSync` or `Drifted`;
//! - a check that could not be made gives phase `Error` and `Ready=False` with the error's reason
//!   and message; the counts and objects of the last check made are kept;
//! - the status is written only when something other than the time of the check changed
//!   ([`needs_write`]): a monitor that stays in sync costs no write.

use std::sync::Arc;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{Api, Client, ResourceExt, api::PostParams};
use prtracker_api::{
    DriftMonitor, DriftMonitorStatus, DriftPhase, ManifestSource,
    conditions::{ConditionUpdate, READY, set_condition},
};
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

/// The status that follows a check of `monitor` with `result`.
pub fn next_status(
    monitor: &DriftMonitor,
    result: &Result<DriftReport, DriftError>,
) -> DriftMonitorStatus {
    let mut status = monitor.status.clone().unwrap_or_default();
    let generation = monitor.metadata.generation;
    status.observed_generation = generation;
    status.last_check_time = Some(Time(Timestamp::now()));
    let update = match result {
        Ok(report) => {
            let commit = &monitor.spec.source.commit;
            status.checked_commit = Some(commit.clone());
            status.resources_checked = report.checked;
            status.resources_drifted = report.drifted;
            status.resources_missing = report.missing;
            status.drifted_resources = report.resources.clone();
            if report.in_sync() {
                status.phase = Some(DriftPhase::InSync);
                ConditionUpdate::new(
                    READY,
                    true,
                    "InSync",
                    format!(
                        "all {} objects match the manifests at {}",
                        report.checked,
                        short(commit)
                    ),
                )
            } else {
                status.phase = Some(DriftPhase::Drifted);
                ConditionUpdate::new(
                    READY,
                    true,
                    "Drifted",
                    format!(
                        "{} of {} objects differ from the manifests at {}, {} missing",
                        report.drifted + report.missing,
                        report.checked,
                        short(commit),
                        report.missing
                    ),
                )
            }
        }
        Err(error) => {
            status.phase = Some(DriftPhase::Error);
            ConditionUpdate::new(READY, false, error.reason(), error.to_string())
        }
    };
    set_condition(&mut status.conditions, update, generation);
    status
}

/// The status of a monitor whose first check is under way: phase `Pending`, `Ready=False`. A check
/// may take long (a slow cluster, GitHub's rate limit), and an empty phase says nothing.
pub fn pending_status(monitor: &DriftMonitor) -> DriftMonitorStatus {
    let mut status = monitor.status.clone().unwrap_or_default();
    let generation = monitor.metadata.generation;
    // observedGeneration stays unset: tools read it as "this generation was acted on", and no
    // check has finished yet.
    status.phase = Some(DriftPhase::Pending);
    let update = ConditionUpdate::new(
        READY,
        false,
        "Pending",
        format!(
            "the first check of cluster {} is under way",
            monitor.spec.cluster
        ),
    );
    set_condition(&mut status.conditions, update, generation);
    status
}

/// Marks a monitor that has never been checked `Pending`, and returns it as written (so the check's
/// own write that follows carries the new resourceVersion). A monitor with a phase is returned as is.
pub async fn mark_pending(
    client: &Client,
    monitor: DriftMonitor,
) -> Result<DriftMonitor, DriftError> {
    if monitor.status.as_ref().and_then(|s| s.phase).is_some() {
        return Ok(monitor);
    }
    let status = pending_status(&monitor);
    replace_status(client, &monitor, status).await
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Whether `next` says anything `current` does not, the time of the check aside.
pub fn needs_write(current: Option<&DriftMonitorStatus>, next: &DriftMonitorStatus) -> bool {
    let Some(current) = current else {
        return true;
    };
    comparable(current) != comparable(next)
}

fn comparable(status: &DriftMonitorStatus) -> DriftMonitorStatus {
    let mut status = status.clone();
    status.last_check_time = None;
    for condition in &mut status.conditions {
        condition.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
    status
}

/// Writes `status` through the status subresource, guarded by the monitor's resourceVersion, if
/// [`needs_write`] says so. Returns whether it wrote.
pub async fn write_status(
    client: &Client,
    monitor: &DriftMonitor,
    status: DriftMonitorStatus,
) -> Result<bool, DriftError> {
    if !needs_write(monitor.status.as_ref(), &status) {
        return Ok(false);
    }
    replace_status(client, monitor, status).await.map(|_| true)
}

/// Replaces the monitor's status, guarded by its resourceVersion; the monitor as written.
async fn replace_status(
    client: &Client,
    monitor: &DriftMonitor,
    status: DriftMonitorStatus,
) -> Result<DriftMonitor, DriftError> {
    let name = monitor.name_any();
    let namespace = monitor
        .namespace()
        .ok_or(DriftError::MissingField("metadata.namespace"))?;
    let api: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let mut updated = monitor.clone();
    updated.status = Some(status);
    match api
        .replace_status(&name, &PostParams::default(), &updated)
        .await
    {
        Ok(written) => Ok(written),
        Err(kube::Error::Api(status)) if status.code == 409 => Err(DriftError::Conflict(name)),
        Err(source) => Err(DriftError::WriteStatus {
            name,
            source: Box::new(source),
        }),
    }
}

#[cfg(test)]
mod tests {
    use prtracker_api::{DriftMonitorSpec, DriftedResource, Repository};

    use super::*;

    #[test]
    fn a_monitor_never_checked_is_pending_and_not_ready() {
        let status = pending_status(&monitor());
        assert_eq!(status.phase, Some(DriftPhase::Pending));
        let ready = &status.conditions[0];
        assert_eq!(
            (ready.type_.as_str(), ready.status.as_str()),
            (READY, "False")
        );
        assert_eq!(ready.reason, "Pending");
        assert!(ready.message.contains("primary"), "{}", ready.message);
        assert!(status.last_check_time.is_none(), "no check was made yet");
        assert!(
            status.observed_generation.is_none(),
            "nor acted on this generation"
        );
    }

    fn monitor() -> DriftMonitor {
        let mut monitor = DriftMonitor::new(
            "app-primary",
            DriftMonitorSpec {
                tracker: "app".into(),
                cluster: "primary".into(),
                source: ManifestSource {
                    repository: Repository::new("octo", "app").expect("repository"),
                    commit: "a".repeat(40),
                    path: "deploy".into(),
                },
                interval: "5m".into(),
            },
        );
        monitor.metadata.generation = Some(3);
        monitor
    }

    fn drifted() -> DriftReport {
        DriftReport {
            checked: 4,
            drifted: 1,
            missing: 0,
            resources: vec![DriftedResource {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("default".into()),
                name: "settings".into(),
                missing: false,
                fields: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_check_in_sync_is_ready_and_in_sync() {
        let report = DriftReport {
            checked: 4,
            ..DriftReport::default()
        };
        let status = next_status(&monitor(), &Ok(report));
        assert_eq!(status.phase, Some(DriftPhase::InSync));
        assert_eq!(
            status.checked_commit.as_deref(),
            Some("a".repeat(40).as_str())
        );
        assert_eq!(status.resources_checked, 4);
        assert_eq!(status.observed_generation, Some(3));
        let ready = &status.conditions[0];
        assert_eq!(
            (
                ready.type_.as_str(),
                ready.status.as_str(),
                ready.reason.as_str()
            ),
            (READY, "True", "InSync")
        );
    }

    #[test]
    fn a_drifted_check_lists_the_objects() {
        let status = next_status(&monitor(), &Ok(drifted()));
        assert_eq!(status.phase, Some(DriftPhase::Drifted));
        assert_eq!(status.resources_drifted, 1);
        assert_eq!(status.drifted_resources.len(), 1);
        assert_eq!(status.conditions[0].reason, "Drifted");
    }

    #[test]
    fn an_error_keeps_the_last_verdicts_counts_and_says_why() {
        let mut monitor = monitor();
        monitor.status = Some(next_status(&monitor, &Ok(drifted())));
        let error = DriftError::Cluster(ClusterError::NoSecret {
            cluster: "primary".into(),
            namespace: "prtracker-system".into(),
            label: crate::CLUSTER_LABEL,
            key: crate::KUBECONFIG_KEY,
        });
        let status = next_status(&monitor, &Err(error));
        assert_eq!(status.phase, Some(DriftPhase::Error));
        assert_eq!(status.resources_drifted, 1);
        let ready = &status.conditions[0];
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason, "ClusterSecretMissing");
        assert!(
            ready.message.contains("prtracker.io/cluster=primary"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn the_time_of_a_check_alone_is_no_reason_to_write() {
        let mut monitor = monitor();
        let first = next_status(&monitor, &Ok(drifted()));
        assert!(needs_write(None, &first));
        monitor.status = Some(first);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let again = next_status(&monitor, &Ok(drifted()));
        assert_ne!(
            again.last_check_time,
            monitor
                .status
                .as_ref()
                .and_then(|s| s.last_check_time.clone())
        );
        assert!(!needs_write(monitor.status.as_ref(), &again));
        let in_sync = next_status(
            &monitor,
            &Ok(DriftReport {
                checked: 4,
                ..DriftReport::default()
            }),
        );
        assert!(needs_write(monitor.status.as_ref(), &in_sync));
        let mut counted = drifted();
        counted.checked = 5;
        assert!(needs_write(
            monitor.status.as_ref(),
            &next_status(&monitor, &Ok(counted))
        ));
    }
}
