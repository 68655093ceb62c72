//! The status of a `DriftMonitor` that follows from a check (pure), and the mark of a first check
//! under way. Rules, for a check of the PR's change:
//! - nothing under the path changed: `NothingToDeploy`, for good;
//! - every field of the change superseded by a later commit of the base branch: `Superseded`,
//!   naming that commit, for good;
//! - every field judged holds: `InSync`, and the first time, `liveSince`;
//! - some field does not hold: `Waiting` while the change has never been live (merged, not
//!   deployed yet), `Drifted` once it has (then `driftedSince` says since when);
//! - a check that could not be made gives phase `Error` and `Ready=False` with the error's reason
//!   and message; what the last check found is kept;
//! - a new commit (the spec changed) starts afresh: never live, never drifted;
//! - the status is written only when something other than the time of the check changed
//!   (`prtracker_api::status::write_status`): a monitor that stays in sync costs no write.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::Client;
use prtracker_api::{
    DriftMonitor, DriftMonitorStatus, DriftPhase,
    conditions::{ConditionUpdate, READY, WATCHED, set_condition},
    status::{StatusWriteError, replace_status},
};

use crate::{
    checker::{Checked, Outcome},
    error::DriftError,
    live::Watched,
};

pub use prtracker_api::CHECK_REQUESTED_ANNOTATION;

/// The status that follows a check of `monitor` with `result`, made at `now`.
pub fn next_status(
    monitor: &DriftMonitor,
    result: &Result<Checked, DriftError>,
    now: Timestamp,
) -> DriftMonitorStatus {
    let mut status = monitor.status.clone().unwrap_or_default();
    let generation = monitor.metadata.generation;
    let commit = monitor.spec.source.commit.clone();
    if status.checked_commit.as_ref() != Some(&commit) {
        status.live_since = None;
        status.drifted_since = None;
        status.superseded_by = None;
    }
    status.observed_generation = generation;
    status.last_check_time = Some(Time(now));
    status.answered_check_request = monitor
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CHECK_REQUESTED_ANNOTATION))
        .cloned();
    let update = match result {
        Ok(checked) => {
            status.checked_commit = Some(commit.clone());
            status.parent_commit = checked.parent.clone();
            status.change = checked.change.clone();
            status.fields_watched = checked.watched;
            status.fields_drifted = checked.drifted;
            status.fields_superseded = checked.superseded;
            status.resources_checked = checked.report.checked;
            status.resources_drifted = checked.report.drifted;
            status.resources_missing = checked.report.missing;
            status.drifted_resources = checked.report.resources.clone();
            verdict(&mut status, checked, &commit, now)
        }
        Err(error) => {
            status.phase = Some(DriftPhase::Error);
            ConditionUpdate::new(READY, false, error.reason(), error.to_string())
        }
    };
    set_condition(&mut status.conditions, update, generation);
    status
}

/// The phase a check's outcome gives, and the `Ready` condition saying why.
fn verdict(
    status: &mut DriftMonitorStatus,
    checked: &Checked,
    commit: &str,
    now: Timestamp,
) -> ConditionUpdate {
    let ready = |reason, message: String| ConditionUpdate::new(READY, true, reason, message);
    match &checked.outcome {
        Outcome::NothingToDeploy => {
            status.phase = Some(DriftPhase::NothingToDeploy);
            status.drifted_since = None;
            ready(
                "NothingToDeploy",
                format!(
                    "the merge {} changed no manifest under the path: nothing to deploy",
                    short(commit)
                ),
            )
        }
        Outcome::Superseded { by } => {
            status.phase = Some(DriftPhase::Superseded);
            status.drifted_since = None;
            status.superseded_by = Some(by.clone());
            ready(
                "Superseded",
                format!(
                    "every field of the change has been changed through the repository since, from \
                     {} on: no longer this PR's to watch",
                    short(by)
                ),
            )
        }
        Outcome::Holds => {
            status.phase = Some(DriftPhase::InSync);
            status.drifted_since = None;
            if status.live_since.is_none() {
                status.live_since = Some(Time(now));
            }
            ready(
                "InSync",
                format!(
                    "all {} fields of the change at {} hold ({} superseded since)",
                    checked.watched,
                    short(commit),
                    checked.superseded
                ),
            )
        }
        Outcome::DoesNotHold if status.live_since.is_none() => {
            status.phase = Some(DriftPhase::Waiting);
            ready(
                "Waiting",
                format!(
                    "merged, not live yet: {} of {} fields of the change at {} do not hold",
                    checked.drifted,
                    checked.watched,
                    short(commit)
                ),
            )
        }
        Outcome::DoesNotHold => {
            if status.phase != Some(DriftPhase::Drifted) || status.drifted_since.is_none() {
                status.drifted_since = Some(Time(now));
            }
            status.phase = Some(DriftPhase::Drifted);
            ready(
                "Drifted",
                format!(
                    "{} of {} fields of the change at {} no longer hold since it went live",
                    checked.drifted,
                    checked.watched,
                    short(commit)
                ),
            )
        }
    }
}

/// Sets the `Watched` condition: whether an edit of the monitor's change is checked at once, and
/// how often it is checked otherwise (`every`). `None`: the operator watches no cluster. A monitor
/// that follows nothing (nothing left to judge) has no such condition.
pub fn set_watched(status: &mut DriftMonitorStatus, watched: Option<&Watched>, every: &str) {
    let update = match watched {
        None => ConditionUpdate::new(
            WATCHED,
            false,
            "NotWatched",
            format!(
                "the operator watches no cluster (--watch-clusters=false): checked every {every}"
            ),
        ),
        Some(Watched::Yes | Watched::Starting) => ConditionUpdate::new(
            WATCHED,
            true,
            "Watching",
            format!(
                "a watch of the cluster follows the objects of the change: an edit is checked at once, and every {every} besides"
            ),
        ),
        Some(Watched::Failing(why)) => ConditionUpdate::new(
            WATCHED,
            false,
            "WatchFailing",
            format!("the cluster cannot be watched ({why}): checked every {every} until it can"),
        ),
        Some(Watched::No) => {
            status.conditions.retain(|c| c.type_ != WATCHED);
            return;
        }
    };
    let generation = status.observed_generation;
    set_condition(&mut status.conditions, update, generation);
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
    use crate::{compare::DriftReport, error::ClusterError};

    #[test]
    fn the_watched_condition_says_how_soon_an_edit_is_seen() {
        let mut status = DriftMonitorStatus::default();
        set_watched(&mut status, Some(&Watched::Yes), "30m");
        assert_eq!(status.conditions[0].type_, WATCHED);
        assert_eq!(status.conditions[0].status, "True");
        set_watched(
            &mut status,
            Some(&Watched::Failing("forbidden".into())),
            "5m",
        );
        assert_eq!(status.conditions.len(), 1);
        assert_eq!(status.conditions[0].reason, "WatchFailing");
        assert!(status.conditions[0].message.contains("forbidden"));
        assert!(status.conditions[0].message.contains("every 5m"));
        set_watched(&mut status, None, "5m");
        assert_eq!(status.conditions[0].reason, "NotWatched");
        set_watched(&mut status, Some(&Watched::No), "5m");
        assert!(status.conditions.is_empty());
    }

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
                    base_branch: None,
                    values: Vec::new(),
                },
                interval: "5m".into(),
                ignore_differences: Vec::new(),
            },
        );
        monitor.metadata.generation = Some(3);
        monitor
    }

    fn checked(outcome: Outcome, drifted: u32) -> Checked {
        Checked {
            parent: Some("b".repeat(40)),
            change: vec!["ConfigMap default/settings: data.a".into()],
            watched: 4,
            superseded: 0,
            drifted,
            report: DriftReport {
                checked: 1,
                drifted: u32::from(drifted > 0),
                missing: 0,
                resources: if drifted > 0 {
                    vec![DriftedResource {
                        api_version: "v1".into(),
                        kind: "ConfigMap".into(),
                        namespace: Some("default".into()),
                        name: "settings".into(),
                        missing: false,
                        fields: Vec::new(),
                        ..DriftedResource::default()
                    }]
                } else {
                    Vec::new()
                },
                watched: Vec::new(),
            },
            outcome,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("a time")
    }

    /// The monitor after checks with these outcomes, a minute apart.
    fn after(outcomes: &[(Outcome, u32)]) -> DriftMonitor {
        let mut monitor = monitor();
        for (minute, (outcome, drifted)) in outcomes.iter().enumerate() {
            let status = next_status(
                &monitor,
                &Ok(checked(outcome.clone(), *drifted)),
                at(60 * minute as i64),
            );
            monitor.status = Some(status);
        }
        monitor
    }

    fn phase(monitor: &DriftMonitor) -> Option<DriftPhase> {
        monitor.status.as_ref().and_then(|s| s.phase)
    }

    #[test]
    fn merged_and_not_live_yet_is_waiting_never_drifted() {
        let monitor = after(&[(Outcome::DoesNotHold, 2), (Outcome::DoesNotHold, 2)]);
        assert_eq!(phase(&monitor), Some(DriftPhase::Waiting));
        let status = monitor.status.expect("status");
        assert_eq!(status.live_since, None);
        assert_eq!(status.drifted_since, None);
        assert_eq!(status.conditions[0].reason, "Waiting");
    }

    #[test]
    fn live_then_changed_by_hand_is_drifted_since_the_first_check_that_saw_it() {
        let monitor = after(&[
            (Outcome::DoesNotHold, 2),
            (Outcome::Holds, 0),
            (Outcome::DoesNotHold, 1),
            (Outcome::DoesNotHold, 1),
        ]);
        assert_eq!(phase(&monitor), Some(DriftPhase::Drifted));
        let status = monitor.status.expect("status");
        assert_eq!(
            status.live_since,
            Some(Time(at(60))),
            "live at the second check"
        );
        assert_eq!(
            status.drifted_since,
            Some(Time(at(120))),
            "drifted since the third check, not the fourth"
        );
        assert_eq!(status.fields_drifted, 1);
        assert_eq!(status.change, ["ConfigMap default/settings: data.a"]);
        let repaired = after(&[
            (Outcome::Holds, 0),
            (Outcome::DoesNotHold, 1),
            (Outcome::Holds, 0),
        ]);
        assert_eq!(phase(&repaired), Some(DriftPhase::InSync));
        assert_eq!(
            repaired.status.and_then(|s| s.drifted_since),
            None,
            "repaired: no longer drifted"
        );
    }

    #[test]
    fn nothing_to_deploy_and_superseded_say_so() {
        let nothing = after(&[(Outcome::NothingToDeploy, 0)]);
        assert_eq!(phase(&nothing), Some(DriftPhase::NothingToDeploy));
        let superseded = after(&[
            (Outcome::Holds, 0),
            (Outcome::Superseded { by: "c".repeat(40) }, 0),
        ]);
        assert_eq!(phase(&superseded), Some(DriftPhase::Superseded));
        let status = superseded.status.expect("status");
        assert_eq!(status.superseded_by, Some("c".repeat(40)));
        assert!(status.live_since.is_some(), "it was live before");
        assert!(status.conditions[0].message.contains("cccccccccccc"));
    }

    #[test]
    fn a_new_commit_starts_afresh() {
        let mut monitor = after(&[(Outcome::Holds, 0), (Outcome::DoesNotHold, 1)]);
        assert_eq!(phase(&monitor), Some(DriftPhase::Drifted));
        monitor.spec.source.commit = "d".repeat(40);
        let status = next_status(&monitor, &Ok(checked(Outcome::DoesNotHold, 1)), at(600));
        assert_eq!(
            status.phase,
            Some(DriftPhase::Waiting),
            "never live at this commit"
        );
        assert_eq!(status.live_since, None);
    }

    #[test]
    fn an_error_keeps_what_the_last_check_found_and_says_why() {
        let mut monitor = after(&[(Outcome::Holds, 0), (Outcome::DoesNotHold, 1)]);
        let error = DriftError::Cluster(ClusterError::NoSecret {
            cluster: "primary".into(),
            namespace: "prtracker-system".into(),
            label: crate::CLUSTER_LABEL,
            key: crate::KUBECONFIG_KEY,
        });
        let status = next_status(&monitor, &Err(error), at(600));
        assert_eq!(status.phase, Some(DriftPhase::Error));
        assert_eq!(status.resources_drifted, 1);
        assert!(status.live_since.is_some());
        let ready = &status.conditions[0];
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason, "ClusterSecretMissing");
        assert!(
            ready.message.contains("prtracker.io/cluster=primary"),
            "{}",
            ready.message
        );
        monitor.status = Some(status);
    }

    #[test]
    fn the_time_of_a_check_alone_is_no_reason_to_write() {
        let monitor = after(&[(Outcome::Holds, 0)]);
        let again = next_status(&monitor, &Ok(checked(Outcome::Holds, 0)), at(3600));
        assert_ne!(
            again.last_check_time,
            monitor
                .status
                .as_ref()
                .and_then(|s| s.last_check_time.clone())
        );
        assert!(!needs_write(&monitor, &again));
        let drifted = next_status(&monitor, &Ok(checked(Outcome::DoesNotHold, 1)), at(3600));
        assert!(needs_write(&monitor, &drifted));
    }
}
