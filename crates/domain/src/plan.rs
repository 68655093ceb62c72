//! One reconcile of a tracker as a plan: from what was read once (the PR's labels and facts, what
//! the tracker recorded, its monitors) to everything to write (the PR's labels, the monitors, the
//! status), computed before anything is written.
//!
//! The rules, one function each, in the order a reconcile applies them:
//! 1. [`state_from_github`]: GitHub wins where it shows a state label (of several, the one added
//!    last, when a webhook said which, else the most advanced); where it shows none, the label
//!    added last, else the recorded state, goes back on the PR if the facts allow it (recovery),
//!    else the facts' state;
//! 2. [`verdict_step`]: a change of the monitors' combined verdict moves Merged → Deployed and
//!    Deployed ↔ Drifted (edge-triggered: an unchanged verdict moves nothing); a drift counts once
//!    it has held for the settle window;
//! 3. [`monitor_step`]: a merged PR has one monitor per cluster its change reaches; monitors of
//!    other clusters retire;
//! 4. the label diff that puts the final state on the PR, and the conditions that follow.
//!
//! The seed's entry points are plans of their own: [`Plan::follow_github`] (GitHub → tracker,
//! nothing written on GitHub), [`Plan::push_recorded`] (tracker → GitHub),
//! [`Plan::ensure_consistency`] (rules 1 and 4) and [`Plan::reconcile`] (all four).

use std::time::Duration;

use crate::{
    condition::{self, ConditionUpdate},
    diff::{LabelDiff, apply_diff, label_diff},
    facts::PrFacts,
    label::LabelPrefix,
    reading::{StateReading, current_state, current_state_preferring},
    state::PrState,
    verdict::{ClusterVerdict, DriftPhase, settled_verdict, state_after_verdict},
};

/// How long a person who just added a state label is left to remove the old one themselves.
pub const PERSON_GRACE: Duration = Duration::from_secs(2);

/// What the tracker recorded at its last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Record {
    /// The state the tracker holds.
    pub state: Option<PrState>,
    /// The monitors' combined verdict at the last change of it.
    pub verdict: Option<DriftPhase>,
}

/// One DriftMonitor of the tracker, as the reconcile found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSeen {
    /// The cluster it checks.
    pub cluster: String,
    /// Whether its spec is what the tracker asks for now (commit, path, interval). An outdated
    /// monitor is applied again, and its phase, about something else, does not count.
    pub up_to_date: bool,
    /// Its phase, if it has one.
    pub phase: Option<DriftPhase>,
    /// For a `Drifted` monitor: how long its drift has held.
    pub drifted_for: Option<Duration>,
}

/// Everything a plan is made from, read once.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The PR's labels, as GitHub returned them.
    pub labels: &'a [&'a str],
    /// The PR's facts.
    pub facts: PrFacts,
    /// Whether GitHub named the merge commit (monitors check it; none can be made without it).
    pub merge_commit_known: bool,
    pub record: Record,
    /// The clusters of the tracker's spec; once merged, those the PR's change reaches (a target
    /// whose rendered objects the merge left as they were has nothing to watch).
    pub clusters: &'a [String],
    /// The tracker's monitors.
    pub monitors: &'a [MonitorSeen],
    pub prefix: &'a LabelPrefix,
    /// How long a drift must hold before it moves the PR's state.
    pub settle: Duration,
    /// The label last added to the PR, as its `labeled` webhook said, if one came recently: where
    /// someone is moving the PR. It wins among several state labels, and is what a PR left with
    /// none gets back ([`state_from_github`]).
    pub last_added: Option<&'a str>,
    /// The state labels the operator last left on the PR (the tracker's `stateLabels`). A PR that
    /// still carries exactly those, several of them, is read as the tracker's record says: no one
    /// has touched them since, so they are the operator's own move cut short (or a conflict it
    /// already judged), not a person's choice for rule 4 or `last_added` to decide.
    pub left: &'a [String],
}

/// Why the plan's state is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A state label on the PR says so (GitHub wins).
    GitHubLabel,
    /// The PR had no counting state label; the tracker's recorded state goes back on it.
    Recovered,
    /// The PR had no counting state label and no recorded state fits: its facts say so.
    Facts,
    /// The monitors' combined verdict changed to this.
    Verdict(DriftPhase),
    /// The tracker's recorded state is put on the PR (tracker → GitHub).
    Recorded,
}

/// What to do with the tracker's monitors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorPlan {
    /// Clusters that should have a monitor: the spec's, once the PR is merged.
    pub wanted: Vec<String>,
    /// Clusters whose monitor is to be created or brought up to date.
    pub apply: Vec<String>,
    /// Clusters whose monitor is to go: no longer in the spec.
    pub retire: Vec<String>,
}

impl MonitorPlan {
    pub fn is_empty(&self) -> bool {
        self.apply.is_empty() && self.retire.is_empty()
    }
}

/// A plan: the state the PR ends in, and everything to write to get there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The PR's labels as read.
    pub before: StateReading,
    /// The state the tracker held before (or GitHub's, for a tracker never synced).
    pub initial: PrState,
    /// The state after the plan: on the PR and in the tracker.
    pub target: PrState,
    pub cause: Cause,
    /// The label change that puts `target` on the PR (empty when GitHub is only followed).
    pub labels: LabelDiff,
    /// The PR's labels as they will read once `labels` is applied.
    pub after: StateReading,
    /// The verdict the tracker records after the plan.
    pub verdict: Option<DriftPhase>,
    /// What to do with the monitors; `None` when this plan leaves them alone.
    pub monitors: Option<MonitorPlan>,
    /// When to look again: a drift that has not yet held for the settle window settles then.
    pub review_after: Option<Duration>,
}

/// The tracker's recorded state cannot go on the PR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot put {state:?} on the PR: its facts are {facts:?}")]
pub struct NotApplicable {
    pub state: Option<PrState>,
    pub facts: PrFacts,
}

/// Rule 1: the state GitHub gives, with recovery of a missing label: the state label added last,
/// when a recent `labeled` webhook names one the facts allow (GitHub's own latest word), else the
/// recorded state if the facts allow it, else the facts' state.
pub fn state_from_github(
    reading: &StateReading,
    record: Record,
    facts: PrFacts,
    last_added: Option<PrState>,
) -> (PrState, Cause) {
    if !reading.missing {
        return (reading.state, Cause::GitHubLabel);
    }
    let recovered = last_added
        .into_iter()
        .chain(record.state)
        .find(|state| state.is_consistent_with(facts));
    match recovered {
        Some(state) => (state, Cause::Recovered),
        None => (reading.state, Cause::Facts),
    }
}

/// The PR's labels as read for a plan: rules 1–5, the label added last winning among several.
fn read_labels(observed: &Observation<'_>) -> StateReading {
    let recorded = observed
        .record
        .state
        .filter(|_| left_as_they_were(observed))
        .map(|state| observed.prefix.label_for(state));
    current_state_preferring(
        observed.labels,
        observed.facts,
        observed.prefix,
        recorded.as_deref().or(observed.last_added),
    )
}

/// Whether the PR carries the state labels the operator left, and no other (case aside).
fn left_as_they_were(observed: &Observation<'_>) -> bool {
    let states = |labels: &[&str]| -> Vec<PrState> {
        observed
            .prefix
            .state_labels(labels)
            .into_iter()
            .map(|(state, _)| state)
            .collect()
    };
    let left: Vec<&str> = observed.left.iter().map(String::as_str).collect();
    let on_pr = states(observed.labels);
    !on_pr.is_empty() && on_pr == states(&left)
}

/// The state of the label added last, if it is a state label.
fn last_added_state(observed: &Observation<'_>) -> Option<PrState> {
    observed.last_added.and_then(|l| observed.prefix.parse(l))
}

/// What rule 2 decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictStep {
    /// The verdict to record.
    pub verdict: Option<DriftPhase>,
    /// The state it moves the PR to, when it changed and moves it.
    pub moved: Option<PrState>,
    /// When an unsettled drift settles.
    pub review_after: Option<Duration>,
}

/// Rule 2: the settled verdict of the monitors of the spec's clusters (an outdated or absent
/// monitor has none; one with nothing left to judge does not vote), and the state it moves to
/// when it changed.
pub fn verdict_step(
    state: PrState,
    record: Record,
    clusters: &[String],
    monitors: &[MonitorSeen],
    settle: Duration,
) -> VerdictStep {
    let seen: Vec<ClusterVerdict> = clusters
        .iter()
        .map(|cluster| {
            let monitor = monitors
                .iter()
                .find(|m| &m.cluster == cluster && m.up_to_date);
            ClusterVerdict {
                phase: monitor.and_then(|m| m.phase),
                drifted_for: monitor.and_then(|m| m.drifted_for),
            }
        })
        .collect();
    let (verdict, review_after) = settled_verdict(&seen, settle);
    match verdict {
        Some(verdict) if Some(verdict) != record.verdict => VerdictStep {
            verdict: Some(verdict),
            moved: state_after_verdict(state, record.verdict, Some(verdict)),
            review_after,
        },
        _ => VerdictStep {
            verdict: record.verdict,
            moved: None,
            review_after,
        },
    }
}

/// Rule 3: the monitors a merged PR needs, and those that go.
pub fn monitor_step(
    facts: PrFacts,
    merge_commit_known: bool,
    clusters: &[String],
    monitors: &[MonitorSeen],
) -> MonitorPlan {
    let wanted: Vec<String> = if facts.is_merged() && merge_commit_known {
        clusters.to_vec()
    } else {
        Vec::new()
    };
    let apply = wanted
        .iter()
        .filter(|cluster| {
            !monitors
                .iter()
                .any(|m| &&m.cluster == cluster && m.up_to_date)
        })
        .cloned()
        .collect();
    let retire = monitors
        .iter()
        .filter(|m| !clusters.contains(&m.cluster))
        .map(|m| m.cluster.clone())
        .collect();
    MonitorPlan {
        wanted,
        apply,
        retire,
    }
}

impl Plan {
    /// GitHub → tracker: the tracker takes GitHub's state; nothing is written on GitHub, so a
    /// missing or conflicting label stays (and `Consistent` says so).
    pub fn follow_github(observed: &Observation<'_>) -> Plan {
        let before = read_labels(observed);
        let target = before.state;
        Plan::finish(
            observed,
            before,
            target,
            Cause::GitHubLabel,
            false,
            observed.record.verdict,
            None,
        )
    }

    /// Tracker → GitHub: the recorded state goes on the PR; refused when the facts contradict it.
    pub fn push_recorded(observed: &Observation<'_>) -> Result<Plan, NotApplicable> {
        let before = read_labels(observed);
        match observed.record.state {
            Some(state) if state.is_consistent_with(observed.facts) => Ok(Plan::finish(
                observed,
                before,
                state,
                Cause::Recorded,
                true,
                observed.record.verdict,
                None,
            )),
            state => Err(NotApplicable {
                state,
                facts: observed.facts,
            }),
        }
    }

    /// The seed's consistency check: rule 1, and the labels that put its state on the PR.
    pub fn ensure_consistency(observed: &Observation<'_>) -> Plan {
        let before = read_labels(observed);
        let (target, cause) = state_from_github(
            &before,
            observed.record,
            observed.facts,
            last_added_state(observed),
        );
        Plan::finish(
            observed,
            before,
            target,
            cause,
            true,
            observed.record.verdict,
            None,
        )
    }

    /// A whole reconcile: rules 1 to 4.
    pub fn reconcile(observed: &Observation<'_>) -> Plan {
        let before = read_labels(observed);
        let (state, cause) = state_from_github(
            &before,
            observed.record,
            observed.facts,
            last_added_state(observed),
        );
        let step = verdict_step(
            state,
            observed.record,
            observed.clusters,
            observed.monitors,
            observed.settle,
        );
        let (target, cause) = match (step.moved, step.verdict) {
            (Some(moved), Some(verdict)) => (moved, Cause::Verdict(verdict)),
            _ => (state, cause),
        };
        let verdict = step.verdict;
        let monitors = monitor_step(
            observed.facts,
            observed.merge_commit_known,
            observed.clusters,
            observed.monitors,
        );
        let mut plan = Plan::finish(
            observed,
            before,
            target,
            cause,
            true,
            verdict,
            Some(monitors),
        );
        plan.review_after = step.review_after;
        plan
    }

    fn finish(
        observed: &Observation<'_>,
        before: StateReading,
        target: PrState,
        cause: Cause,
        write_labels: bool,
        verdict: Option<DriftPhase>,
        monitors: Option<MonitorPlan>,
    ) -> Plan {
        let (labels, after) = if write_labels {
            let diff = label_diff(observed.labels, target, observed.prefix);
            let after_labels = apply_diff(observed.labels, &diff);
            let after = current_state(&after_labels, observed.facts, observed.prefix);
            (diff, after)
        } else {
            (LabelDiff::default(), before.clone())
        };
        Plan {
            initial: observed.record.state.unwrap_or(before.state),
            before,
            target,
            cause,
            labels,
            after,
            verdict,
            monitors,
            review_after: None,
        }
    }

    /// Someone added a state label `age` ago and the PR still carries another: they are most
    /// likely half-way through moving it (add the new label, then remove the old one), so the
    /// removal is theirs to make. A plan that would only remove losing labels writes nothing yet
    /// and looks again when [`PERSON_GRACE`] has passed; one that must add a label, or remove one
    /// the facts contradict, goes ahead.
    pub fn waiting_for_the_person(mut self, age: Duration) -> Plan {
        let only_removes_losers = self.labels.add.is_empty()
            && !self.labels.remove.is_empty()
            && self.before.contradicting.is_empty()
            && !self.before.conflicts.is_empty();
        if !only_removes_losers || age >= PERSON_GRACE {
            return self;
        }
        let wait = PERSON_GRACE - age;
        self.labels = LabelDiff::default();
        self.after = self.before.clone();
        self.review_after = Some(self.review_after.map_or(wait, |r| r.min(wait)));
        self
    }

    /// Whether the plan writes labels on GitHub.
    pub fn changes_labels(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Whether the tracker's state moves.
    pub fn changes_state(&self) -> bool {
        self.initial != self.target
    }

    /// What the tracker records when this plan's label write stopped part-way, or its status
    /// write was refused, having made `added` and `removed`. Adds go first, so once any write was
    /// made the target's label is on the PR, and the PR, left as it is, reads as the record says
    /// ([`Observation::left`]): the plan's state and verdict are then the record. Judged against
    /// the old verdict, a verdict that changed back meanwhile (a drift repaired before the retry)
    /// would look unchanged and leave the PR on a label no monitor holds. Until a write is made
    /// the old record stands: the verdict's change is still to be made.
    pub fn record_once_written(
        &self,
        added: &[String],
        removed: &[String],
        record: Record,
    ) -> Record {
        if added.is_empty() && removed.is_empty() {
            record
        } else {
            Record {
                state: Some(self.target),
                verdict: self.verdict,
            }
        }
    }

    /// The state labels on the PR once a write of this plan stopped having made `added` and
    /// `removed`: what the tracker records as left (see [`Observation::left`]).
    pub fn state_labels_left(&self, added: &[String], removed: &[String]) -> Vec<String> {
        let mut left: Vec<String> = condition::state_labels(&self.before)
            .into_iter()
            .filter(|label| !removed.iter().any(|r| r.eq_ignore_ascii_case(label)))
            .collect();
        for label in added {
            if !left.iter().any(|l| l.eq_ignore_ascii_case(label)) {
                left.push(label.clone());
            }
        }
        left
    }

    /// The tracker's conditions once the plan is carried out: `Synced`, `Consistent`, `Ready`.
    pub fn conditions(&self) -> [ConditionUpdate; 3] {
        let synced = ConditionUpdate::new(
            condition::SYNCED,
            true,
            "Synced",
            format!("the tracker follows GitHub: {}", self.target),
        );
        let consistent = condition::consistency(&self.after);
        let ready = condition::tracker_ready(true, consistent.holds);
        [synced, consistent, ready]
    }
}

#[cfg(test)]
mod tests;
