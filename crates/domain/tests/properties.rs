//! Properties of reading states from labels and of label diffs, over arbitrary label sets,
//! facts and prefixes.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::HashSet;

use proptest::prelude::*;
use prtracker_domain::{
    LabelPrefix, PrFacts, PrState, apply_diff, current_state, label_diff, label_key,
};

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

fn any_prefix() -> impl Strategy<Value = LabelPrefix> {
    prop_oneof![
        Just(LabelPrefix::default()),
        proptest::sample::select(vec!["pr:", "State/", "ΑΣ/", "Zustand ß/", "x"])
            .prop_map(|p| LabelPrefix::new(p).unwrap()),
        "[a-zA-Z][a-zA-Z0-9/:._ -]{0,12}[a-zA-Z/:]"
            .prop_filter_map("invalid prefix", |p| { LabelPrefix::new(p).ok() }),
    ]
}

/// `s` with the case of some characters flipped, chosen by `bits`; only flips that keep
/// the label the same GitHub label (same `label_key`).
fn mix_case(s: &str, bits: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if bits >> (i % 64) & 1 == 0 {
                return c;
            }
            let mut flipped: Vec<char> = if c.is_lowercase() {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            match flipped.pop() {
                Some(f)
                    if flipped.is_empty()
                        && label_key(&f.to_string()) == label_key(&c.to_string()) =>
                {
                    f
                }
                _ => c,
            }
        })
        .collect()
}

/// One label of a PR, to be written under a given prefix.
#[derive(Debug, Clone)]
enum LabelKind {
    /// The label of a state, in some mix of case.
    State(PrState, u64),
    /// The prefix followed by a word that is not a state name (`state/xyz`).
    UnknownState(String),
    /// A state name behind a prefix changed by one character, or a bare state name.
    NearMiss(PrState, usize),
    /// Anything else: `bug`, `help wanted`, emoji, ...
    Other(String),
}

fn any_label_kind() -> impl Strategy<Value = LabelKind> {
    prop_oneof![
        4 => (any_state(), any::<u64>()).prop_map(|(s, bits)| LabelKind::State(s, bits)),
        1 => "[a-z]{1,9}".prop_map(LabelKind::UnknownState),
        1 => (any_state(), 0usize..4).prop_map(|(s, i)| LabelKind::NearMiss(s, i)),
        2 => "\\PC{0,16}".prop_map(LabelKind::Other),
    ]
}

fn write(kind: &LabelKind, prefix: &LabelPrefix) -> String {
    match kind {
        LabelKind::State(state, bits) => mix_case(&prefix.label_for(*state), *bits),
        LabelKind::UnknownState(word) => format!("{prefix}{word}"),
        LabelKind::NearMiss(state, 0) => state.name().to_owned(),
        LabelKind::NearMiss(state, 1) => format!("{prefix}x{}", state.name()),
        LabelKind::NearMiss(state, 2) => format!("x{prefix}{}", state.name()),
        LabelKind::NearMiss(state, _) => format!("{prefix}{} ", state.name()),
        LabelKind::Other(text) => text.clone(),
    }
}

/// A PR: its prefix, labels (possibly several spellings of one label, which GitHub would
/// never return) and facts.
fn any_pr() -> impl Strategy<Value = (LabelPrefix, Vec<String>, PrFacts)> {
    (
        any_prefix(),
        proptest::collection::vec(any_label_kind(), 0..12),
        any_facts(),
    )
        .prop_map(|(prefix, kinds, facts)| {
            let labels = kinds.iter().map(|k| write(k, &prefix)).collect();
            (prefix, labels, facts)
        })
}

/// Keeps the first of the labels that GitHub would see as one, as GitHub returns them.
fn github_labels(labels: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    labels
        .iter()
        .filter(|label| seen.insert(label_key(label)))
        .cloned()
        .collect()
}

fn non_state_labels(labels: &[String], prefix: &LabelPrefix) -> Vec<String> {
    labels
        .iter()
        .filter(|label| !prefix.is_state_label(label))
        .cloned()
        .collect()
}

fn keys(labels: &[String]) -> HashSet<String> {
    labels.iter().map(|l| label_key(l)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reading_does_not_depend_on_label_order(
        (prefix, labels, facts) in any_pr(),
        seed in any::<u64>(),
    ) {
        let reading = current_state(&labels, facts, &prefix);
        let mut shuffled = labels.clone();
        // A deterministic permutation driven by `seed` (Fisher-Yates).
        let mut rng = seed;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from((rng >> 33) % (i as u64 + 1)).unwrap();
            shuffled.swap(i, j);
        }
        prop_assert_eq!(current_state(&shuffled, facts, &prefix), reading.clone());
        let mut reversed = labels.clone();
        reversed.reverse();
        prop_assert_eq!(current_state(&reversed, facts, &prefix), reading);
    }

    #[test]
    fn reading_is_consistent_with_facts_and_accounts_for_every_state_label(
        (prefix, labels, facts) in any_pr(),
    ) {
        let reading = current_state(&labels, facts, &prefix);
        prop_assert!(reading.state.is_consistent_with(facts), "{reading:?} on {facts:?}");
        prop_assert_eq!(reading.missing, reading.label.is_none());
        if reading.missing {
            prop_assert_eq!(reading.state, PrState::from_facts(facts));
            prop_assert!(reading.conflicts.is_empty());
        }
        if let Some(label) = &reading.label {
            prop_assert_eq!(prefix.parse(label), Some(reading.state));
            prop_assert!(labels.contains(label), "reported as written");
        }
        for conflict in &reading.conflicts {
            let state = prefix.parse(conflict).unwrap();
            prop_assert!(state.is_consistent_with(facts));
            prop_assert!(state.advancement_rank() < reading.state.advancement_rank());
            prop_assert!(labels.contains(conflict));
        }
        for ignored in &reading.contradicting {
            prop_assert!(!prefix.parse(ignored).unwrap().is_consistent_with(facts));
            prop_assert!(labels.contains(ignored));
        }
        // The label, conflicts and contradicting labels are the state labels, each once.
        let mut reported: Vec<String> = reading.label.iter().cloned().collect();
        reported.extend(reading.to_remove());
        let reported_keys = keys(&reported);
        prop_assert_eq!(reported_keys.len(), reported.len(), "no label twice: {:?}", reported);
        let state_labels: Vec<String> =
            labels.iter().filter(|l| prefix.is_state_label(l)).cloned().collect();
        prop_assert_eq!(reported_keys, keys(&state_labels));
    }

    #[test]
    fn the_diff_for_the_read_state_removes_what_the_reading_reports(
        (prefix, labels, facts) in any_pr(),
    ) {
        let reading = current_state(&labels, facts, &prefix);
        let diff = label_diff(&labels, reading.state, &prefix);
        prop_assert_eq!(keys(&diff.remove), keys(&reading.to_remove()));
        prop_assert_eq!(diff.remove.len(), reading.to_remove().len());
        if reading.missing {
            prop_assert_eq!(&diff.add, &vec![prefix.label_for(reading.state)]);
        } else {
            prop_assert!(diff.add.is_empty());
        }
        prop_assert_eq!(diff.is_empty(), reading.is_clean());
    }

    #[test]
    fn applying_the_diff_leaves_exactly_the_target_label_and_other_labels_untouched(
        (prefix, labels, facts) in any_pr(),
        target in any_state(),
    ) {
        let labels = github_labels(&labels);
        let diff = label_diff(&labels, target, &prefix);
        for removed in &diff.remove {
            prop_assert!(labels.contains(removed), "removed as written: {removed}");
        }
        let after = apply_diff(&labels, &diff);

        let states: Vec<Option<PrState>> = after
            .iter()
            .map(|l| prefix.parse(l))
            .filter(Option::is_some)
            .collect();
        prop_assert_eq!(states, vec![Some(target)], "{:?}", after);
        prop_assert_eq!(non_state_labels(&after, &prefix), non_state_labels(&labels, &prefix));

        // The change is complete: nothing left to do, and applying it again changes nothing.
        prop_assert!(label_diff(&after, target, &prefix).is_empty());
        prop_assert_eq!(apply_diff(&after, &diff), after.clone());

        let reading = current_state(&after, facts, &prefix);
        if target.is_consistent_with(facts) {
            prop_assert_eq!(reading.state, target);
            prop_assert!(reading.is_clean(), "{reading:?}");
            prop_assert!(reading.conflicts.is_empty() && !reading.missing);
        } else {
            prop_assert_eq!(reading.state, PrState::from_facts(facts));
            prop_assert!(reading.missing);
            prop_assert_eq!(reading.contradicting.len(), 1);
        }
    }

    #[test]
    fn state_labels_in_any_case_stay_when_they_are_the_target(
        (prefix, labels, _facts) in any_pr(),
        target in any_state(),
        bits in any::<u64>(),
    ) {
        let mut labels = non_state_labels(&github_labels(&labels), &prefix);
        let own = mix_case(&prefix.label_for(target), bits);
        labels.retain(|l| label_key(l) != label_key(&own));
        let position = labels.len() / 2;
        labels.insert(position, own);
        let diff = label_diff(&labels, target, &prefix);
        prop_assert!(diff.is_empty(), "{diff:?} for {labels:?}");
        prop_assert_eq!(apply_diff(&labels, &diff), labels);
    }

    #[test]
    fn diffs_keep_non_state_labels_even_with_duplicate_spellings(
        (prefix, labels, _facts) in any_pr(),
        target in any_state(),
    ) {
        let after = apply_diff(&labels, &label_diff(&labels, target, &prefix));
        prop_assert_eq!(non_state_labels(&after, &prefix), non_state_labels(&labels, &prefix));
        let states: HashSet<Option<PrState>> = after
            .iter()
            .map(|l| prefix.parse(l))
            .filter(Option::is_some)
            .collect();
        prop_assert_eq!(states, HashSet::from([Some(target)]));
    }

    #[test]
    fn labels_of_states_parse_back_in_any_case(
        prefix in any_prefix(),
        state in any_state(),
        bits in any::<u64>(),
    ) {
        let label = prefix.label_for(state);
        prop_assert!(label.chars().count() <= prtracker_domain::MAX_LABEL_CHARS);
        prop_assert_eq!(prefix.parse(&label), Some(state));
        prop_assert_eq!(prefix.parse(&mix_case(&label, bits)), Some(state));
        prop_assert_eq!(prefix.parse(&format!("{label}x")), None);
    }
}
