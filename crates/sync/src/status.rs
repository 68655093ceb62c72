//! The tracker status a plan arrives at, and the one a failed sync leaves: pure functions of what was
//! read and what was done. Whether it is worth a write is [`prtracker_api::status::needs_write`]'s
//! call.

use prtracker_api::{
    DriftMonitor, DriftPhase, PullRequestTracker, PullRequestTrackerStatus, Reach, SupersededBy,
    conditions::{self, ConditionUpdate, is_true, set_condition},
};
use prtracker_domain::{Plan, condition};
use prtracker_github::PullRequest;

use crate::result::SyncResult;

/// What a sync knows of the tracker's monitors, for its status.
pub struct MonitorsAfter<'a> {
    /// The names of the tracker's DriftMonitors as they stand after the sync.
    pub names: Vec<String>,
    /// The monitors as read (their verdicts and what they found), when the sync judged them.
    pub judged: Option<&'a [DriftMonitor]>,
    /// The tracked PR that merged the commit superseding this PR's change, where known.
    pub superseding_pr: Option<u64>,
    /// Which targets the merge commit's change reaches, when decided in this sync.
    pub reach: Option<Reach>,
}

/// The status after a sync that read the PR: its facts, the plan's state and labels, the result,
/// and what the monitors say of the PR's change.
pub fn synced_status(
    tracker: &PullRequestTracker,
    pr: &PullRequest,
    plan: &Plan,
    result: &SyncResult,
    monitors: MonitorsAfter<'_>,
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
    status.drift_monitors = monitors.names;
    status.base_ref = Some(pr.base.branch.clone()).filter(|b| !b.is_empty());
    status.observed_generation = generation;
    // A no-op sync keeps the last result that did something, so it writes nothing.
    if result.changed_labels() || !result.errors.is_empty() || status.last_sync_result.is_none() {
        status.last_sync_result = Some(result.to_status());
    }
    for update in plan.conditions() {
        set_condition(&mut status.conditions, update, generation);
    }
    if let Some(reach) = monitors.reach {
        status.reach = Some(reach);
    }
    if let Some(judged) = monitors.judged.filter(|m| !m.is_empty()) {
        status.superseded_by = superseded_by(judged, monitors.superseding_pr);
        let live = live_condition(judged, plan.verdict, status.superseded_by.as_ref());
        set_condition(&mut status.conditions, live, generation);
    } else if let Some(reach) = status.reach.as_ref().filter(|r| reaches_no_target(r)) {
        let live = ConditionUpdate::new(
            conditions::LIVE,
            false,
            "NothingToDeploy",
            format!(
                "the merge changed nothing any target renders ({}): there is nothing to deploy",
                reach
                    .targets
                    .iter()
                    .map(|t| format!("{}: {}", t.cluster, t.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        set_condition(&mut status.conditions, live, generation);
    }
    status
}

/// Whether a decided merge commit reaches none of the targets it was decided for.
fn reaches_no_target(reach: &Reach) -> bool {
    !reach.targets.is_empty() && reach.targets.iter().all(|t| !t.reached)
}

/// The PR's change is superseded once every monitor with something to judge has found it so.
fn superseded_by(monitors: &[DriftMonitor], pull_request: Option<u64>) -> Option<SupersededBy> {
    let phases: Vec<Option<DriftPhase>> = monitors.iter().map(phase).collect();
    let superseded = phases.contains(&Some(DriftPhase::Superseded))
        && phases.iter().all(|p| {
            matches!(
                p,
                Some(DriftPhase::Superseded | DriftPhase::NothingToDeploy)
            )
        });
    if !superseded {
        return None;
    }
    let commit = monitors
        .iter()
        .find_map(|m| m.status.as_ref()?.superseded_by.clone())?;
    Some(SupersededBy {
        commit,
        pull_request,
    })
}

fn phase(monitor: &DriftMonitor) -> Option<DriftPhase> {
    monitor.status.as_ref().and_then(|s| s.phase)
}

/// The first thing a monitor found wrong, in words: `Deployment shop/web spec.replicas: 3 -> 5`.
fn first_finding(monitor: &DriftMonitor) -> Option<String> {
    let resource = monitor.status.as_ref()?.drifted_resources.first()?;
    let object = match &resource.namespace {
        Some(ns) => format!("{} {ns}/{}", resource.kind, resource.name),
        None => format!("{} {}", resource.kind, resource.name),
    };
    if resource.missing {
        return Some(format!("{object} is not there"));
    }
    let field = resource.fields.first()?;
    Some(format!(
        "{object} {}: {} -> {}",
        field.path,
        field.desired.as_deref().unwrap_or("(none)"),
        field.live.as_deref().unwrap_or("(none)")
    ))
}

fn clusters_in(monitors: &[DriftMonitor], wanted: DriftPhase) -> Vec<&DriftMonitor> {
    monitors
        .iter()
        .filter(|m| phase(m) == Some(wanted))
        .collect()
}

fn described(monitors: &[&DriftMonitor]) -> String {
    monitors
        .iter()
        .map(|m| match first_finding(m) {
            Some(finding) => format!("{} ({finding})", m.spec.cluster),
            None => m.spec.cluster.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Live`: whether the PR's change runs in every cluster, and if not, why, in a reviewer's words.
fn live_condition(
    monitors: &[DriftMonitor],
    verdict: Option<DriftPhase>,
    superseded: Option<&SupersededBy>,
) -> ConditionUpdate {
    let live = |holds, reason, message: String| {
        ConditionUpdate::new(conditions::LIVE, holds, reason, message)
    };
    if let Some(by) = superseded {
        let short = by.commit.get(..12).unwrap_or(&by.commit);
        let pr = by
            .pull_request
            .map(|n| format!(" (#{n})"))
            .unwrap_or_default();
        let was_live = verdict == Some(DriftPhase::InSync);
        return live(
            was_live,
            "Superseded",
            format!(
                "{} then superseded by {short}{pr}: the repository has since changed every field                  of this PR, so its clusters are no longer watched for it",
                if was_live {
                    "was live,"
                } else {
                    "never went live,"
                }
            ),
        );
    }
    let drifted = clusters_in(monitors, DriftPhase::Drifted);
    if !drifted.is_empty() {
        return live(
            false,
            "Drifted",
            format!(
                "changed by hand since it went live: {} (the label moves once the drift has held for                  the settle window)",
                described(&drifted)
            ),
        );
    }
    let failing = clusters_in(monitors, DriftPhase::Error);
    if !failing.is_empty() {
        let why = failing
            .iter()
            .map(|m| {
                let ready = m.status.as_ref().and_then(|s| {
                    s.conditions
                        .iter()
                        .find(|c| c.type_ == conditions::READY)
                        .map(|c| c.message.clone())
                });
                format!("{}: {}", m.spec.cluster, ready.unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join("; ");
        return live(false, "CheckFailed", format!("cannot check {why}"));
    }
    let waiting = clusters_in(monitors, DriftPhase::Waiting);
    if !waiting.is_empty() {
        return live(
            false,
            "Waiting",
            format!("merged, not live yet in {}", described(&waiting)),
        );
    }
    if monitors
        .iter()
        .all(|m| phase(m) == Some(DriftPhase::NothingToDeploy))
    {
        return live(
            false,
            "NothingToDeploy",
            "the merge changed no manifest under the path: there is nothing to deploy".to_owned(),
        );
    }
    let in_sync = clusters_in(monitors, DriftPhase::InSync);
    if !in_sync.is_empty()
        && monitors.iter().all(|m| {
            matches!(
                phase(m),
                Some(DriftPhase::InSync | DriftPhase::NothingToDeploy)
            )
        })
    {
        let names: Vec<&str> = in_sync.iter().map(|m| m.spec.cluster.as_str()).collect();
        return live(
            true,
            "Live",
            format!("every field of the change holds in {}", names.join(", ")),
        );
    }
    live(
        false,
        "Checking",
        "the clusters have not all been checked yet".to_owned(),
    )
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
