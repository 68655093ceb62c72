//! Kubernetes Events on a tracker for what a sync changed: its state, the labels it repaired, the
//! monitors it made or retired. A sync that changed nothing publishes nothing.

use kube::{
    Resource,
    runtime::events::{Event, EventType, Recorder},
};
use prtracker_api::PullRequestTracker;
use prtracker_domain::Cause;
use prtracker_sync::Synced;
use tracing::warn;

/// The Events a sync calls for: `(type, reason, note)`.
pub fn events_for(synced: &Synced) -> Vec<(EventType, &'static str, String)> {
    let mut events = Vec::new();
    let plan = &synced.plan;
    if plan.changes_state() {
        let why = match plan.cause {
            Cause::GitHubLabel => "the PR's state label says so".to_owned(),
            Cause::Recovered => {
                "the PR had no state label; the tracker's state was put back".to_owned()
            }
            Cause::Facts => "the PR's facts say so".to_owned(),
            Cause::Verdict(verdict) => format!("the monitors' verdict is now {verdict:?}"),
            Cause::Recorded => "the tracker's state was put on the PR".to_owned(),
        };
        events.push((
            EventType::Normal,
            "StateChanged",
            format!("{} → {}: {why}", plan.initial, plan.target),
        ));
    }
    let result = &synced.result;
    if !result.labels_added.is_empty() {
        events.push((
            EventType::Normal,
            "LabelsRepaired",
            format!("added {:?} on GitHub", result.labels_added),
        ));
    }
    if !result.labels_removed.is_empty() {
        events.push((
            EventType::Normal,
            "StateLabelsRemoved",
            format!("removed {:?} from the PR", result.labels_removed),
        ));
    }
    if !synced.monitors_applied.is_empty() {
        events.push((
            EventType::Normal,
            "MonitorsCreated",
            format!(
                "monitoring the merge commit in {} cluster(s): {}",
                synced.monitors_applied.len(),
                synced.monitors_applied.join(", ")
            ),
        ));
    }
    if !synced.monitors_retired.is_empty() {
        events.push((
            EventType::Normal,
            "MonitorsRetired",
            format!(
                "no longer monitoring {}: not in the spec",
                synced.monitors_retired.join(", ")
            ),
        ));
    }
    for error in &result.errors {
        events.push((EventType::Warning, "SyncIncomplete", error.clone()));
    }
    events
}

/// Publishes the Events of a sync, best effort.
pub async fn publish(recorder: &Recorder, tracker: &PullRequestTracker, synced: &Synced) {
    for (type_, reason, note) in events_for(synced) {
        publish_one(recorder, tracker, type_, reason, note).await;
    }
}

/// Publishes one Event on a tracker, best effort.
pub async fn publish_one(
    recorder: &Recorder,
    tracker: &PullRequestTracker,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, &tracker.object_ref(&())).await {
        warn!(%error, "could not publish an event");
    }
}
