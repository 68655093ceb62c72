//! The tracker status a plan arrives at, and the one a failed sync leaves: pure functions of what was
//! read and what was done. Whether it is worth a write is [`prtracker_api::status::needs_write`]'s
//! call.

use prtracker_api::{
    PullRequestTracker, PullRequestTrackerStatus,
    conditions::{self, ConditionUpdate, is_true, set_condition},
};
use prtracker_domain::{Plan, condition};
use prtracker_github::PullRequest;

use crate::result::SyncResult;

/// The status after a sync that read the PR: its facts, the plan's state and labels, the result.
/// `monitors` names the tracker's DriftMonitors as they stand after the sync.
pub fn synced_status(
    tracker: &PullRequestTracker,
    pr: &PullRequest,
    plan: &Plan,
    result: &SyncResult,
    monitors: Vec<String>,
) -> PullRequestTrackerStatus {
    let mut status = tracker.status.clone().unwrap_or_default();
    let generation = tracker.metadata.generation;
    status.state = Some(plan.target);
    status.head_sha = Some(pr.head.sha.clone()).filter(|s| !s.is_empty());
    status.merge_commit_sha = pr.merge_commit_sha.clone().filter(|_| pr.is_merged());
    status.title = Some(pr.title.clone());
    status.author = Some(pr.author().to_owned()).filter(|a| !a.is_empty());
    status.url = Some(pr.html_url.clone()).filter(|u| !u.is_empty());
    status.state_labels = condition::state_labels(&plan.after);
    status.drift_verdict = plan.verdict;
    status.drift_monitors = monitors;
    status.observed_generation = generation;
    // A no-op sync keeps the last result that did something, so it writes nothing.
    if result.changed_labels() || !result.errors.is_empty() || status.last_sync_result.is_none() {
        status.last_sync_result = Some(result.to_status());
    }
    for update in plan.conditions() {
        set_condition(&mut status.conditions, update, generation);
    }
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
    let consistent = is_true(&status.conditions, conditions::CONSISTENT);
    set_condition(
        &mut status.conditions,
        condition::tracker_ready(false, consistent),
        generation,
    );
    status
}
