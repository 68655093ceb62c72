//! Properties of reading states from labels, of label diffs and of plans, over arbitrary label
//! sets, facts, prefixes, records and monitors.
//!
//! Every generated label keeps how it was made (the label of a state, or not a state label), and
//! that is the oracle: no property asks the parser or `label_key` which labels are state labels.
//! Where a property needs what the rules give, a model written from the SPEC rules, apart from
//! the code under test, says it.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::BTreeSet;

use proptest::prelude::*;
use prtracker_domain::{
    Cause, DriftPhase, LabelPrefix, MonitorSeen, Observation, Plan, PrFacts, PrState, Record,
    apply_diff, current_state, label_diff,
};

// The model: the SPEC rules written again, so that the code is not graded by itself.

/// Every state, the most advanced last (SPEC rule 4), written out so that the model does not
/// lean on `PrState::advancement_rank`.
const ADVANCEMENT: [PrState; 7] = [
    PrState::Draft,
    PrState::Open,
    PrState::Approved,
    PrState::Merged,
    PrState::Deployed,
    PrState::Drifted,
    PrState::Closed,
];

fn rank(state: PrState) -> usize {
    ADVANCEMENT.iter().position(|s| *s == state).unwrap()
}

/// Whether a PR with these facts can be in this state (the SPEC table).
fn allows(facts: PrFacts, state: PrState) -> bool {
    match (state, facts) {
        (PrState::Draft, PrFacts::Open { draft }) => draft,
        (PrState::Open | PrState::Approved, PrFacts::Open { .. })
        | (PrState::Merged | PrState::Deployed | PrState::Drifted, PrFacts::Merged)
        | (PrState::Closed, PrFacts::Closed) => true,
        _ => false,
    }
}

/// The state the facts alone give (SPEC rule 5).
fn state_of_facts(facts: PrFacts) -> PrState {
    match facts {
        PrFacts::Open { draft: true } => PrState::Draft,
        PrFacts::Open { draft: false } => PrState::Open,
        PrFacts::Merged => PrState::Merged,
        PrFacts::Closed => PrState::Closed,
    }
}

/// The state GitHub's labels give (rules 1 to 4): the most advanced state label the facts
/// allow; `None` when no state label counts.
fn counting_state(states: &[PrState], facts: PrFacts) -> Option<PrState> {
    states
        .iter()
        .copied()
        .filter(|state| allows(facts, *state))
        .max_by_key(|state| rank(*state))
}

/// The monitors' combined verdict: Drifted when any monitor of a spec cluster is, InSync when
/// every spec cluster has an up-to-date monitor in sync; an outdated monitor has no phase; a
/// monitor with nothing left to judge (Superseded, NothingToDeploy) has no vote. (The settle
/// window is zero in these properties: a drift counts at once.)
fn combined(clusters: &[String], monitors: &[MonitorSeen]) -> Option<DriftPhase> {
    let phases: Vec<Option<DriftPhase>> = clusters
        .iter()
        .map(|cluster| {
            monitors
                .iter()
                .find(|m| &m.cluster == cluster && m.up_to_date)
                .and_then(|m| m.phase)
        })
        .filter(|phase| {
            !matches!(
                phase,
                Some(DriftPhase::Superseded | DriftPhase::NothingToDeploy)
            )
        })
        .collect();
    if phases.contains(&Some(DriftPhase::Drifted)) {
        Some(DriftPhase::Drifted)
    } else if !phases.is_empty() && phases.iter().all(|p| *p == Some(DriftPhase::InSync)) {
        Some(DriftPhase::InSync)
    } else {
        None
    }
}

// Generators.

fn any_state() -> impl Strategy<Value = PrState> {
    proptest::sample::select(PrState::ALL.to_vec())
}

fn any_facts() -> impl Strategy<Value = PrFacts> {
    prop_oneof![
        any::<bool>().prop_map(|draft| PrFacts::Open { draft }),
        Just(PrFacts::Merged),
        Just(PrFacts::Closed),
    ]
}

/// Facts that allow `state`, `draft` choosing where the SPEC leaves a choice.
fn facts_allowing(state: PrState, draft: bool) -> PrFacts {
    match state {
        PrState::Draft => PrFacts::Open { draft: true },
        PrState::Open | PrState::Approved => PrFacts::Open { draft },
        PrState::Merged | PrState::Deployed | PrState::Drifted => PrFacts::Merged,
        PrState::Closed => PrFacts::Closed,
    }
}

fn any_prefix() -> impl Strategy<Value = LabelPrefix> {
    prop_oneof![
        Just(LabelPrefix::default()),
        proptest::sample::select(vec!["pr:", "State/", "ΑΣ/", "Zustand ß/", "x", "ας:"])
            .prop_map(|p| LabelPrefix::new(p).unwrap()),
        "[a-zA-Z][a-zA-Z0-9/:._ -]{0,12}[a-zA-Z/:]"
            .prop_filter_map("invalid prefix", |p| LabelPrefix::new(p).ok()),
        "[αβσςΑΒΣßẞa-z][αβσςΑΒΣßẞa-z/: -]{0,6}[αβσςΑΒΣßẞ/:]"
            .prop_filter_map("invalid prefix", |p| LabelPrefix::new(p).ok()),
    ]
}

/// The spellings of a character that simple case folding (Unicode's CaseFolding.txt, statuses
/// C and S) takes to one, for the letters that prefixes and state names are generated from;
/// any other character has only itself.
fn case_variants(c: char) -> Vec<char> {
    const NON_ASCII: [&[char]; 4] = [&['α', 'Α'], &['β', 'Β'], &['σ', 'ς', 'Σ'], &['ß', 'ẞ']];
    if c.is_ascii_alphabetic() {
        return vec![c.to_ascii_lowercase(), c.to_ascii_uppercase()];
    }
    NON_ASCII
        .iter()
        .find(|class| class.contains(&c))
        .map_or_else(|| vec![c], |class| class.to_vec())
}

/// `s` with some characters respelt in another case, chosen by `bits`: the same GitHub label.
fn mix_case(s: &str, bits: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            let variants = case_variants(c);
            let pick = usize::try_from((bits >> ((2 * i) % 64)) & 3).unwrap();
            variants[pick % variants.len()]
        })
        .collect()
}

/// Whether `text` ends with a state name in some ASCII case. Every state label does: its key
/// ends with the name, and the only characters whose lowercase ends in an ASCII letter are
/// ASCII letters and the Kelvin sign (to `k`, in no state name). A text that does not is no
/// state label, whatever the prefix.
fn ends_with_state_name(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    PrState::ALL
        .into_iter()
        .any(|state| lower.ends_with(state.name()))
}

/// One label of a PR, to be written under a given prefix.
#[derive(Debug, Clone)]
enum LabelKind {
    /// The label of a state, in some mix of case.
    State(PrState, u64),
    /// The prefix followed by a word that is not a state name (`state/xyz`).
    UnknownState(String),
    /// Close to a state label but not one: a bare state name, the prefix alone, a state name
    /// behind the prefix with a character added or taken away, or a trailing space. (No state
    /// name starts with `x`, ends with a space, or is another with a letter in front.)
    NearMiss(PrState, usize),
    /// Anything else: `bug`, `help wanted`, emoji, ...
    Other(String),
}

impl LabelKind {
    /// The state this label is the label of, `None` for a label that is not a state label.
    fn state(&self) -> Option<PrState> {
        match self {
            LabelKind::State(state, _) => Some(*state),
            _ => None,
        }
    }
}

/// Labels that are not state labels, by construction.
fn any_non_state_kind() -> impl Strategy<Value = LabelKind> {
    prop_oneof![
        1 => "[a-z]{1,9}"
            .prop_filter("a state name", |w| PrState::ALL.iter().all(|s| s.name() != w))
            .prop_map(LabelKind::UnknownState),
        1 => (any_state(), 0usize..6).prop_map(|(s, i)| LabelKind::NearMiss(s, i)),
        2 => "\\PC{0,16}"
            .prop_filter("a state label", |t| !ends_with_state_name(t))
            .prop_map(LabelKind::Other),
    ]
}

fn any_label_kind() -> impl Strategy<Value = LabelKind> {
    prop_oneof![
        1 => (any_state(), any::<u64>()).prop_map(|(s, bits)| LabelKind::State(s, bits)),
        1 => any_non_state_kind(),
    ]
}

fn write(kind: &LabelKind, prefix: &LabelPrefix) -> String {
    let prefix = prefix.as_str();
    match kind {
        LabelKind::State(state, bits) => mix_case(&format!("{prefix}{}", state.name()), *bits),
        LabelKind::UnknownState(word) => format!("{prefix}{word}"),
        LabelKind::NearMiss(state, 0) => state.name().to_owned(),
        LabelKind::NearMiss(state, 1) => format!("{prefix}x{}", state.name()),
        LabelKind::NearMiss(state, 2) => format!("x{prefix}{}", state.name()),
        LabelKind::NearMiss(state, 3) => format!("{prefix}{} ", state.name()),
        LabelKind::NearMiss(_, 4) => prefix.to_owned(),
        LabelKind::NearMiss(state, _) => {
            let mut shorter = prefix.to_owned();
            shorter.pop();
            format!("{shorter}{}", state.name())
        }
        LabelKind::Other(text) => text.clone(),
    }
}

/// A label as generated: its text and how it was made.
#[derive(Debug, Clone)]
struct Label {
    text: String,
    kind: LabelKind,
}

/// A PR: its prefix, labels (possibly several spellings of one label, which GitHub would never
/// return) and facts.
#[derive(Debug, Clone)]
struct Pr {
    prefix: LabelPrefix,
    labels: Vec<Label>,
    facts: PrFacts,
}

impl Pr {
    fn new(prefix: LabelPrefix, kinds: Vec<LabelKind>, facts: PrFacts) -> Self {
        let labels = kinds
            .into_iter()
            .map(|kind| Label {
                text: write(&kind, &prefix),
                kind,
            })
            .collect();
        Pr {
            prefix,
            labels,
            facts,
        }
    }

    fn texts(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.text.clone()).collect()
    }

    /// The state a label of this PR stands for: a generated label by its kind; a label the code
    /// wrote is a state label only if spelt exactly as prtracker writes one.
    fn state_of(&self, text: &str) -> Option<PrState> {
        match self.labels.iter().find(|l| l.text == text) {
            Some(label) => label.kind.state(),
            None => ADVANCEMENT
                .into_iter()
                .find(|s| text == format!("{}{}", self.prefix.as_str(), s.name())),
        }
    }

    /// The states of the state labels among `labels`, in order, once per label.
    fn states_in(&self, labels: &[String]) -> Vec<PrState> {
        labels.iter().filter_map(|l| self.state_of(l)).collect()
    }

    /// The labels among `labels` that are not state labels, in order.
    fn non_state(&self, labels: &[String]) -> Vec<String> {
        labels
            .iter()
            .filter(|l| self.state_of(l).is_none())
            .cloned()
            .collect()
    }

    /// The PR as GitHub returns it: one spelling of each state label, the first. (Other labels
    /// are never touched, so their spellings do not matter here.)
    fn returned_by_github(mut self) -> Self {
        let mut seen = BTreeSet::new();
        self.labels
            .retain(|l| l.kind.state().is_none_or(|state| seen.insert(rank(state))));
        self
    }
}

fn any_pr() -> impl Strategy<Value = Pr> {
    (
        any_prefix(),
        proptest::collection::vec(any_label_kind(), 0..12),
        any_facts(),
    )
        .prop_map(|(prefix, kinds, facts)| Pr::new(prefix, kinds, facts))
}

fn any_phase() -> impl Strategy<Value = DriftPhase> {
    prop_oneof![
        3 => Just(DriftPhase::InSync),
        2 => Just(DriftPhase::Drifted),
        1 => Just(DriftPhase::Pending),
        1 => Just(DriftPhase::Waiting),
        1 => Just(DriftPhase::Superseded),
        1 => Just(DriftPhase::NothingToDeploy),
        1 => Just(DriftPhase::Error),
    ]
}

/// A recorded verdict: only a combined verdict is ever recorded.
fn any_recorded_verdict() -> impl Strategy<Value = Option<DriftPhase>> {
    proptest::option::of(prop_oneof![
        Just(DriftPhase::InSync),
        Just(DriftPhase::Drifted)
    ])
}

const CLUSTERS: [&str; 3] = ["eu", "us", "ap"];

/// The spec's clusters, and at most one monitor per cluster, of the spec's or of a cluster that
/// left it.
fn any_fleet() -> impl Strategy<Value = (Vec<String>, Vec<MonitorSeen>)> {
    let monitor = proptest::option::weighted(
        0.8,
        (
            proptest::bool::weighted(0.8),
            proptest::option::weighted(0.8, any_phase()),
        ),
    );
    (
        proptest::sample::subsequence(CLUSTERS.to_vec(), 0..=CLUSTERS.len()),
        proptest::collection::vec(monitor, CLUSTERS.len()),
    )
        .prop_map(|(clusters, monitors)| {
            let monitors = CLUSTERS
                .iter()
                .zip(monitors)
                .filter_map(|(cluster, monitor)| {
                    monitor.map(|(up_to_date, phase)| MonitorSeen {
                        cluster: (*cluster).to_owned(),
                        up_to_date,
                        phase,
                        drifted_for: None,
                    })
                })
                .collect();
            (clusters.into_iter().map(str::to_owned).collect(), monitors)
        })
}

/// A tracker as a reconcile finds it.
#[derive(Debug, Clone)]
struct Tracker {
    pr: Pr,
    merge_commit_known: bool,
    record: Record,
    clusters: Vec<String>,
    monitors: Vec<MonitorSeen>,
}

impl Tracker {
    /// Runs `make` on the tracker with the PR carrying `labels` and the tracker `record`.
    fn observe<T>(
        &self,
        labels: &[String],
        record: Record,
        make: impl FnOnce(&Observation<'_>) -> T,
    ) -> T {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        make(&Observation {
            labels: &labels,
            facts: self.pr.facts,
            merge_commit_known: self.merge_commit_known,
            record,
            clusters: &self.clusters,
            monitors: &self.monitors,
            prefix: &self.pr.prefix,
            settle: std::time::Duration::ZERO,
            last_added: None,
            left: &[],
        })
    }

    fn plan<T>(&self, make: impl FnOnce(&Observation<'_>) -> T) -> T {
        self.observe(&self.pr.texts(), self.record, make)
    }

    /// The model of a reconcile (the module docs of `plan.rs`): the target, why, and the verdict
    /// recorded after it.
    fn model(&self) -> (PrState, Cause, Option<DriftPhase>) {
        let facts = self.pr.facts;
        let present: Vec<PrState> = self
            .pr
            .labels
            .iter()
            .filter_map(|l| l.kind.state())
            .collect();
        let (state, cause) = match (counting_state(&present, facts), self.record.state) {
            (Some(state), _) => (state, Cause::GitHubLabel),
            (None, Some(recorded)) if allows(facts, recorded) => (recorded, Cause::Recovered),
            (None, _) => (state_of_facts(facts), Cause::Facts),
        };
        match combined(&self.clusters, &self.monitors) {
            Some(verdict) if Some(verdict) != self.record.verdict => {
                let moved = match (verdict, state) {
                    (DriftPhase::InSync, PrState::Merged | PrState::Drifted) => {
                        Some(PrState::Deployed)
                    }
                    (DriftPhase::Drifted, PrState::Deployed) => Some(PrState::Drifted),
                    _ => None,
                };
                match moved {
                    Some(moved) => (moved, Cause::Verdict(verdict), Some(verdict)),
                    None => (state, cause, Some(verdict)),
                }
            }
            _ => (state, cause, self.record.verdict),
        }
    }
}

fn any_tracker() -> impl Strategy<Value = Tracker> {
    (
        any_pr(),
        // Mostly merged, where the verdict rules and the monitors apply.
        prop_oneof![any_facts(), Just(PrFacts::Merged)],
        any::<bool>(),
        proptest::option::weighted(0.8, any_state()),
        any_recorded_verdict(),
        any_fleet(),
    )
        .prop_map(
            |(pr, facts, merge_commit_known, state, verdict, (clusters, monitors))| Tracker {
                pr: Pr {
                    facts,
                    ..pr.returned_by_github()
                },
                merge_commit_known,
                record: Record { state, verdict },
                clusters,
                monitors,
            },
        )
}

/// A tracker at rest: the PR carries one state label, which its facts allow, and the tracker
/// recorded that state and the monitors' current verdict.
fn any_tracker_at_rest() -> impl Strategy<Value = Tracker> {
    (
        any_prefix(),
        proptest::collection::vec(any_non_state_kind(), 0..8),
        (
            any_state(),
            any::<u64>(),
            any::<bool>(),
            any::<prop::sample::Index>(),
        ),
        any_recorded_verdict(),
        any_fleet(),
    )
        .prop_map(
            |(prefix, mut kinds, (state, bits, draft, at), verdict, (clusters, monitors))| {
                kinds.insert(at.index(kinds.len() + 1), LabelKind::State(state, bits));
                let facts = facts_allowing(state, draft);
                Tracker {
                    pr: Pr::new(prefix, kinds, facts),
                    merge_commit_known: facts == PrFacts::Merged,
                    record: Record {
                        state: Some(state),
                        // With no verdict now, any recorded one agrees: none can move the state.
                        verdict: combined(&clusters, &monitors).or(verdict),
                    },
                    clusters,
                    monitors,
                }
            },
        )
}

/// Properties (a) to (c) of a plan that writes labels: once applied, the PR carries exactly
/// one state label, the target's, which the facts allow; every other label stays, in order.
/// Returns the labels after the plan.
fn check_labels_after(pr: &Pr, plan: &Plan) -> Result<Vec<String>, TestCaseError> {
    let before = pr.texts();
    for removed in &plan.labels.remove {
        prop_assert!(before.contains(removed), "removed as written: {removed}");
    }
    let after = apply_diff(&before, &plan.labels);
    prop_assert_eq!(pr.states_in(&after), vec![plan.target], "{:?}", after);
    prop_assert!(allows(pr.facts, plan.target), "{:?}", plan.target);
    prop_assert_eq!(pr.non_state(&after), pr.non_state(&before));
    prop_assert!(plan.after.is_clean(), "{:?}", plan.after);
    prop_assert_eq!(plan.after.state, plan.target);
    Ok(after)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_knows_every_label_for_what_it_was_made(pr in any_pr()) {
        for label in &pr.labels {
            prop_assert_eq!(pr.prefix.parse(&label.text), label.kind.state(), "{:?}", label);
        }
    }

    #[test]
    fn reading_does_not_depend_on_label_order(pr in any_pr(), seed in any::<u64>()) {
        let labels = pr.texts();
        let reading = current_state(&labels, pr.facts, &pr.prefix);
        let mut shuffled = labels.clone();
        // A deterministic permutation driven by `seed` (Fisher-Yates).
        let mut rng = seed;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from((rng >> 33) % (i as u64 + 1)).unwrap();
            shuffled.swap(i, j);
        }
        prop_assert_eq!(current_state(&shuffled, pr.facts, &pr.prefix), reading.clone());
        let mut reversed = labels;
        reversed.reverse();
        prop_assert_eq!(current_state(&reversed, pr.facts, &pr.prefix), reading);
    }

    #[test]
    fn reading_follows_the_rules_and_accounts_for_every_state_label(pr in any_pr()) {
        let labels = pr.texts();
        let facts = pr.facts;
        let reading = current_state(&labels, facts, &pr.prefix);
        let present = pr.states_in(&labels);
        let counting = counting_state(&present, facts);
        prop_assert_eq!(reading.state, counting.unwrap_or(state_of_facts(facts)));
        prop_assert_eq!(reading.missing, counting.is_none());
        prop_assert_eq!(reading.missing, reading.label.is_none());
        if let Some(label) = &reading.label {
            prop_assert_eq!(pr.state_of(label), Some(reading.state));
            prop_assert!(labels.contains(label), "reported as written");
        }
        let conflicts = pr.states_in(&reading.conflicts);
        prop_assert_eq!(conflicts.len(), reading.conflicts.len());
        for conflict in &conflicts {
            prop_assert!(allows(facts, *conflict));
            prop_assert!(rank(*conflict) < rank(reading.state));
        }
        prop_assert!(conflicts.is_sorted_by_key(|s| rank(*s)), "{:?}", conflicts);
        let contradicting = pr.states_in(&reading.contradicting);
        prop_assert_eq!(contradicting.len(), reading.contradicting.len());
        prop_assert!(contradicting.iter().all(|s| !allows(facts, *s)));
        prop_assert!(contradicting.is_sorted_by_key(|s| rank(*s)), "{:?}", contradicting);
        // The label, conflicts and contradicting labels are the state labels, each state once,
        // each label as written.
        let mut reported: Vec<String> = reading.label.iter().cloned().collect();
        reported.extend(reading.to_remove());
        for label in &reported {
            prop_assert!(labels.contains(label), "reported as written: {label}");
        }
        let reported_states: BTreeSet<usize> =
            pr.states_in(&reported).into_iter().map(rank).collect();
        prop_assert_eq!(reported_states.len(), reported.len(), "no state twice: {:?}", reported);
        let present_states: BTreeSet<usize> = present.into_iter().map(rank).collect();
        prop_assert_eq!(reported_states, present_states);
    }

    #[test]
    fn the_diff_for_the_read_state_removes_what_the_reading_reports(pr in any_pr()) {
        let labels = pr.texts();
        let reading = current_state(&labels, pr.facts, &pr.prefix);
        let diff = label_diff(&labels, reading.state, &pr.prefix);
        // The same labels, removed in advancement order.
        let removed = pr.states_in(&diff.remove);
        prop_assert!(removed.is_sorted_by_key(|s| rank(*s)), "{:?}", removed);
        let mut reported = pr.states_in(&reading.to_remove());
        reported.sort_by_key(|s| rank(*s));
        prop_assert_eq!(removed, reported);
        prop_assert_eq!(diff.remove.len(), reading.to_remove().len());
        if reading.missing {
            prop_assert_eq!(&diff.add, &vec![pr.prefix.label_for(reading.state)]);
        } else {
            prop_assert!(diff.add.is_empty());
        }
        prop_assert_eq!(diff.is_empty(), reading.is_clean());
    }

    #[test]
    fn applying_the_diff_leaves_exactly_the_target_label_and_other_labels_untouched(
        pr in any_pr(),
        target in any_state(),
    ) {
        let pr = pr.returned_by_github();
        let (prefix, facts, labels) = (&pr.prefix, pr.facts, pr.texts());
        let diff = label_diff(&labels, target, prefix);
        for removed in &diff.remove {
            prop_assert!(labels.contains(removed), "removed as written: {removed}");
        }
        let after = apply_diff(&labels, &diff);
        prop_assert_eq!(pr.states_in(&after), vec![target], "{:?}", after);
        prop_assert_eq!(pr.non_state(&after), pr.non_state(&labels));

        // The change is complete: nothing left to do, and applying it again changes nothing.
        prop_assert!(label_diff(&after, target, prefix).is_empty());
        prop_assert_eq!(apply_diff(&after, &diff), after.clone());

        let reading = current_state(&after, facts, prefix);
        if allows(facts, target) {
            prop_assert_eq!(reading.state, target);
            prop_assert!(reading.is_clean(), "{reading:?}");
        } else {
            prop_assert_eq!(reading.state, state_of_facts(facts));
            prop_assert!(reading.missing);
            prop_assert_eq!(reading.contradicting.len(), 1);
        }
    }

    #[test]
    fn state_labels_in_any_case_stay_when_they_are_the_target(
        pr in any_pr(),
        target in any_state(),
        bits in any::<u64>(),
        at in any::<prop::sample::Index>(),
    ) {
        let mut labels = pr.non_state(&pr.texts());
        let own = mix_case(&pr.prefix.label_for(target), bits);
        labels.insert(at.index(labels.len() + 1), own);
        let diff = label_diff(&labels, target, &pr.prefix);
        prop_assert!(diff.is_empty(), "{diff:?} for {labels:?}");
        prop_assert_eq!(apply_diff(&labels, &diff), labels);
    }

    #[test]
    fn diffs_keep_non_state_labels_even_with_duplicate_spellings(
        pr in any_pr(),
        target in any_state(),
    ) {
        let labels = pr.texts();
        let after = apply_diff(&labels, &label_diff(&labels, target, &pr.prefix));
        prop_assert_eq!(pr.non_state(&after), pr.non_state(&labels));
        let states: BTreeSet<usize> = pr.states_in(&after).into_iter().map(rank).collect();
        prop_assert_eq!(states, BTreeSet::from([rank(target)]));
    }

    #[test]
    fn labels_of_states_parse_back_in_any_case(
        prefix in any_prefix(),
        state in any_state(),
        bits in any::<u64>(),
    ) {
        let label = prefix.label_for(state);
        prop_assert_eq!(&label, &format!("{}{}", prefix.as_str(), state.name()));
        prop_assert!(label.chars().count() <= prtracker_domain::MAX_LABEL_CHARS);
        prop_assert_eq!(prefix.parse(&label), Some(state));
        prop_assert_eq!(prefix.parse(&mix_case(&label, bits)), Some(state));
        prop_assert_eq!(prefix.parse(&format!("{label}x")), None);
    }

    #[test]
    fn reconcile_gives_the_state_and_verdict_the_rules_give(tracker in any_tracker()) {
        let plan = tracker.plan(Plan::reconcile);
        prop_assert_eq!((plan.target, plan.cause, plan.verdict), tracker.model());
    }

    #[test]
    fn plans_that_write_labels_leave_exactly_the_target_and_keep_other_labels(
        tracker in any_tracker(),
    ) {
        check_labels_after(&tracker.pr, &tracker.plan(Plan::reconcile))?;
        check_labels_after(&tracker.pr, &tracker.plan(Plan::ensure_consistency))?;
        let pushed = tracker.plan(Plan::push_recorded);
        let recorded = tracker.record.state.filter(|s| allows(tracker.pr.facts, *s));
        prop_assert_eq!(pushed.as_ref().ok().map(|plan| plan.target), recorded, "{:?}", pushed);
        if let Ok(plan) = &pushed {
            check_labels_after(&tracker.pr, plan)?;
        }
    }

    #[test]
    fn reconciling_again_changes_nothing(tracker in any_tracker()) {
        let plan = tracker.plan(Plan::reconcile);
        let after = check_labels_after(&tracker.pr, &plan)?;
        let record = Record { state: Some(plan.target), verdict: plan.verdict };
        let again = tracker.observe(&after, record, Plan::reconcile);
        prop_assert!(!again.changes_labels(), "{:?}", again.labels);
        prop_assert_eq!(again.target, plan.target);
        prop_assert_eq!(again.verdict, plan.verdict);
        prop_assert!(!again.changes_state());
    }

    #[test]
    fn a_pr_at_rest_plans_nothing(tracker in any_tracker_at_rest()) {
        let state = tracker.record.state.unwrap();
        for plan in [
            tracker.plan(Plan::reconcile),
            tracker.plan(Plan::ensure_consistency),
            tracker.plan(Plan::push_recorded).unwrap(),
        ] {
            prop_assert!(!plan.changes_labels(), "{:?}", plan.labels);
            prop_assert_eq!(plan.target, state);
            prop_assert!(!plan.changes_state());
            prop_assert_eq!(plan.verdict, tracker.record.verdict);
            prop_assert!(plan.before.is_clean(), "{:?}", plan.before);
            prop_assert_eq!(&plan.after, &plan.before);
        }
    }

    #[test]
    fn following_github_never_changes_labels(tracker in any_tracker(), pr in any_pr()) {
        // With duplicate spellings too: following writes nothing, whatever GitHub returns.
        for tracker in [tracker.clone(), Tracker { pr, ..tracker }] {
            let plan = tracker.plan(Plan::follow_github);
            prop_assert!(!plan.changes_labels(), "{:?}", plan.labels);
            prop_assert_eq!(&plan.after, &plan.before);
            prop_assert_eq!(plan.monitors, None);
            prop_assert_eq!(plan.verdict, tracker.record.verdict);
            let present: Vec<PrState> =
                tracker.pr.labels.iter().filter_map(|l| l.kind.state()).collect();
            let github = counting_state(&present, tracker.pr.facts)
                .unwrap_or(state_of_facts(tracker.pr.facts));
            prop_assert_eq!(plan.target, github);
        }
    }
}

/// One reconcile of a verdict run: whether the monitor is drifted, how far its writes got (that
/// many label requests, adds first; one past them all, every label but not the status; beyond, the
/// status too), and whether the `labeled` webhook of the operator's own add was heard.
type Step = (bool, usize, bool);

/// Plays `steps` on a deployed PR, each reconcile's writes cut where its step says, and the record
/// kept as the coordinator keeps it (the plan's whole when the status was written, else
/// [`Plan::record_once_written`], and the labels left once any was written). Returns the PR's
/// labels and the tracker's record.
fn play(steps: &[Step]) -> (Vec<String>, Record) {
    let prefix = LabelPrefix::default();
    let clusters = vec!["a".to_owned()];
    let mut labels = vec!["state/deployed".to_owned()];
    let mut record = Record {
        state: Some(PrState::Deployed),
        verdict: Some(DriftPhase::InSync),
    };
    let mut last_added: Option<String> = None;
    let mut left = labels.clone();
    for &(drifted, cut, heard) in steps {
        let monitors = [MonitorSeen {
            cluster: "a".into(),
            up_to_date: true,
            phase: Some(if drifted {
                DriftPhase::Drifted
            } else {
                DriftPhase::InSync
            }),
            drifted_for: None,
        }];
        let seen: Vec<&str> = labels.iter().map(String::as_str).collect();
        let plan = Plan::reconcile(&Observation {
            labels: &seen,
            facts: PrFacts::Merged,
            merge_commit_known: true,
            record,
            clusters: &clusters,
            monitors: &monitors,
            prefix: &prefix,
            settle: std::time::Duration::ZERO,
            last_added: last_added.as_deref(),
            left: &left,
        });
        let requests = plan.labels.add.len() + plan.labels.remove.len();
        let made = cut.min(requests);
        let mut added = Vec::new();
        for label in plan.labels.add.iter().take(made) {
            if !labels.contains(label) {
                labels.push(label.clone());
            }
            added.push(label.clone());
            if heard {
                last_added = Some(label.clone());
            }
        }
        let removed: Vec<String> = plan
            .labels
            .remove
            .iter()
            .take(made.saturating_sub(plan.labels.add.len()))
            .cloned()
            .collect();
        labels.retain(|l| !removed.contains(l));
        if made > 0 || cut > requests {
            let mut recorded = plan.state_labels_left(&added, &removed);
            let mut on_pr = labels.clone();
            recorded.sort();
            on_pr.sort();
            assert_eq!(
                recorded, on_pr,
                "the labels recorded as left are not those on the PR"
            );
            left = labels.clone();
        }
        record = if cut > requests {
            Record {
                state: Some(plan.target),
                verdict: plan.verdict,
            }
        } else {
            plan.record_once_written(&added, &removed, record)
        };
    }
    (labels, record)
}

proptest! {
    /// However the label writes of a run of verdicts were cut short, once the verdict holds still
    /// and the writes go through, the PR carries the last verdict's label alone. (A CI run once
    /// left a PR drifted: the drift's label went on, the write stopped at our own webhook, the
    /// drift was repaired before the retry, and the old record made the repair look like no
    /// change.)
    #[test]
    fn a_verdict_run_with_writes_cut_short_ends_on_the_last_verdicts_label(
        steps in proptest::collection::vec((any::<bool>(), 0usize..5, any::<bool>()), 1..8),
        heard_at_the_end in any::<bool>(),
    ) {
        let last = steps.last().map(|s| s.0).unwrap_or(false);
        let settle = [(last, usize::MAX, heard_at_the_end); 2];
        let (labels, _) = play(&[steps.clone(), settle.to_vec()].concat());
        let expected = if last { "state/drifted" } else { "state/deployed" };
        prop_assert_eq!(labels, vec![expected.to_owned()], "{:?}", steps);
    }
}
