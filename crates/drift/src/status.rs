//! The status of a `DriftMonitor` that follows from a check (pure), and the mark of a first check
//! under way. Rules:
//! - a check made gives phase `InSync` or `Drifted`, the counts, the drifted objects, the commit
//!   checked, and `Ready=True` with reason `InSync` or `Drifted`;
//! - a check that could not be made gives phase `Error` and `Ready=False` with the error's reason
//!   and message; the counts and objects of the last check made are kept;
//! - the status is written only when something other than the time of the check changed
//!   (`prtracker_api::status::write_status`): a monitor that stays in sync costs no write.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::Client;
use prtracker_api::{
    DriftMonitor, DriftMonitorStatus, DriftPhase,
    conditions::{ConditionUpdate, READY, set_condition},
    status::{StatusWriteError, replace_status},
};

use crate::{compare::DriftReport, error::DriftError};

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
) -> Result<DriftMonitor, StatusWriteError> {
    if monitor.status.as_ref().and_then(|s| s.phase).is_some() {
        return Ok(monitor);
    }
    let status = pending_status(&monitor);
    replace_status(client, &monitor, status).await
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use prtracker_api::{
        DriftMonitorSpec, DriftedResource, ManifestSource, Repository, status::needs_write,
    };

    use super::*;
    use crate::error::ClusterError;

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
        assert!(
            needs_write(&monitor, &first),
            "a monitor without status needs one"
        );
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
        assert!(!needs_write(&monitor, &again));
        let in_sync = next_status(
            &monitor,
            &Ok(DriftReport {
                checked: 4,
                ..DriftReport::default()
            }),
        );
        assert!(needs_write(&monitor, &in_sync));
        let mut counted = drifted();
        counted.checked = 5;
        assert!(needs_write(&monitor, &next_status(&monitor, &Ok(counted))));
    }
}
