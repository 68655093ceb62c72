//! The tracker status a sync arrives at, computed from what GitHub said and what the sync did;
//! and the rule that decides whether that status is worth a write.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use prtracker_api::{
    PullRequestTracker, PullRequestTrackerStatus,
    conditions::{self, ConditionUpdate, is_true, set_condition},
};
use prtracker_domain::{PrState, StateReading};
use prtracker_github::PullRequest;

use crate::result::SyncResult;

/// The state labels a reading saw on the PR, as written: the counting one, then the rest.
pub fn state_labels(reading: &StateReading) -> Vec<String> {
    reading
        .label
        .iter()
        .chain(&reading.conflicts)
        .chain(&reading.contradicting)
        .cloned()
        .collect()
}

/// Why the PR's labels are, or are not, at rest.
pub fn consistency(reading: &StateReading) -> ConditionUpdate {
    let labels = state_labels(reading);
    if reading.is_clean() {
        ConditionUpdate::new(
            conditions::CONSISTENT,
            true,
            "OneStateLabel",
            format!(
                "the PR carries exactly one state label, {}",
                labels.join("")
            ),
        )
    } else if reading.missing {
        ConditionUpdate::new(
            conditions::CONSISTENT,
            false,
            "MissingStateLabel",
            format!(
                "no state label on the PR counts (ignored: {:?}); its facts say {}",
                reading.contradicting, reading.state
            ),
        )
    } else if !reading.conflicts.is_empty() {
        ConditionUpdate::new(
            conditions::CONSISTENT,
            false,
            "ConflictingStateLabels",
            format!(
                "several state labels on the PR: {labels:?}; {} wins",
                reading.state
            ),
        )
    } else {
        ConditionUpdate::new(
            conditions::CONSISTENT,
            false,
            "LabelsContradictFacts",
            format!(
                "state labels that contradict the PR's facts: {:?}",
                reading.contradicting
            ),
        )
    }
}

/// The status after a successful sync: the PR's facts, its state and labels, the sync's result.
pub fn synced_status(
    tracker: &PullRequestTracker,
    pr: &PullRequest,
    state: PrState,
    after: &StateReading,
    result: &SyncResult,
) -> PullRequestTrackerStatus {
    let mut status = tracker.status.clone().unwrap_or_default();
    let generation = tracker.metadata.generation;
    status.state = Some(state);
    status.head_sha = Some(pr.head.sha.clone()).filter(|s| !s.is_empty());
    status.merge_commit_sha = pr.merge_commit_sha.clone().filter(|_| pr.is_merged());
    status.title = Some(pr.title.clone());
    status.author = Some(pr.author().to_owned()).filter(|a| !a.is_empty());
    status.url = Some(pr.html_url.clone()).filter(|u| !u.is_empty());
    status.state_labels = state_labels(after);
    status.observed_generation = generation;
    // A no-op sync keeps the last result that did something, so it writes nothing.
    if result.changed_labels() || !result.errors.is_empty() || status.last_sync_result.is_none() {
        status.last_sync_result = Some(result.to_status());
    }
    set_condition(
        &mut status.conditions,
        ConditionUpdate::new(
            conditions::SYNCED,
            true,
            "Synced",
            format!("the tracker follows GitHub: {state}"),
        ),
        generation,
    );
    set_condition(&mut status.conditions, consistency(after), generation);
    set_ready(&mut status, generation);
    status
}

/// The status after a failed sync: everything known is kept, `Synced` says why it failed.
pub fn failed_status(
    tracker: &PullRequestTracker,
    reason: &'static str,
    message: String,
) -> PullRequestTrackerStatus {
    let mut status = tracker.status.clone().unwrap_or_default();
    let generation = tracker.metadata.generation;
    set_condition(
        &mut status.conditions,
        ConditionUpdate::new(conditions::SYNCED, false, reason, message),
        generation,
    );
    set_ready(&mut status, generation);
    status
}

fn set_ready(status: &mut PullRequestTrackerStatus, generation: Option<i64>) {
    let synced = is_true(&status.conditions, conditions::SYNCED);
    let consistent = is_true(&status.conditions, conditions::CONSISTENT);
    let update = match (synced, consistent) {
        (true, true) => ConditionUpdate::new(
            conditions::READY,
            true,
            "Ready",
            "synced with GitHub, one state label",
        ),
        (false, _) => ConditionUpdate::new(
            conditions::READY,
            false,
            "NotSynced",
            "the last sync with GitHub failed",
        ),
        (true, false) => ConditionUpdate::new(
            conditions::READY,
            false,
            "Inconsistent",
            "the PR's state labels need repair",
        ),
    };
    set_condition(&mut status.conditions, update, generation);
}

/// Whether `new` differs from the tracker's status in anything but timestamps. Only then is it
/// written: a sync that finds nothing new costs no Kubernetes write.
pub fn needs_write(tracker: &PullRequestTracker, new: &PullRequestTrackerStatus) -> bool {
    let Some(old) = &tracker.status else {
        return true;
    };
    without_times(old) != without_times(new)
}

fn without_times(status: &PullRequestTrackerStatus) -> PullRequestTrackerStatus {
    let mut status = status.clone();
    status.last_sync_time = None;
    if let Some(result) = status.last_sync_result.as_mut() {
        result.sync_time = None;
    }
    for condition in &mut status.conditions {
        condition.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
    status
}
