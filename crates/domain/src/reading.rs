//! Reading a PR's state from its labels and facts: SPEC rules 1–5 (the seed's
//! `GetCurrentState`), as a pure function.

use crate::facts::PrFacts;
use crate::label::LabelPrefix;
use crate::state::PrState;

/// What [`current_state`] read from a PR: its state, and what is wrong with its labels.
///
/// Labels are reported as written on the PR, so that removing them by that name works;
/// case variants of one label are reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReading {
    /// The PR's state.
    pub state: PrState,
    /// The state label that gave the state (rule 3 or 4), as written on the PR; `None` when
    /// the state follows from the facts (rule 5).
    pub label: Option<String>,
    /// Counting state labels that lost to a more advanced one (rule 4), in advancement
    /// order.
    pub conflicts: Vec<String>,
    /// State labels ignored because they contradict the facts (rule 2), in advancement
    /// order.
    pub contradicting: Vec<String>,
    /// No state label counts: the state follows from the facts (rule 5) and the PR needs
    /// its state label. Always equal to `label.is_none()`.
    pub missing: bool,
}

impl StateReading {
    /// Every state label to remove on the next write: the conflicts, then the
    /// contradicting labels.
    pub fn to_remove(&self) -> Vec<String> {
        self.conflicts
            .iter()
            .chain(&self.contradicting)
            .cloned()
            .collect()
    }

    /// Whether the PR is at rest: it carries exactly one state label and it counts.
    pub fn is_clean(&self) -> bool {
        !self.missing && self.conflicts.is_empty() && self.contradicting.is_empty()
    }
}

/// The state of a PR from its labels and GitHub facts (SPEC rules 1–5):
///
/// 1. only labels with the prefix and a known state name are state labels, in any case;
/// 2. a state label inconsistent with the facts does not count;
/// 3. one counting state label gives the state;
/// 4. of several, the most advanced ([`PrState::advancement_rank`]) wins and the others
///    are conflicts;
/// 5. with none, the state follows from the facts ([`PrState::from_facts`]) and the label
///    is missing.
///
/// The result does not depend on the order of `labels`, and its state is always
/// consistent with `facts`.
pub fn current_state<S: AsRef<str>>(
    labels: &[S],
    facts: PrFacts,
    prefix: &LabelPrefix,
) -> StateReading {
    let (counting, contradicting): (Vec<_>, Vec<_>) = prefix
        .state_labels(labels)
        .into_iter()
        .partition(|(state, _)| state.is_consistent_with(facts));
    let contradicting = contradicting
        .into_iter()
        .map(|(_, label)| label.to_owned())
        .collect();

    // `state_labels` lists states in advancement order: the last counting one wins.
    match counting.split_last() {
        Some(((state, label), losers)) => StateReading {
            state: *state,
            label: Some((*label).to_owned()),
            conflicts: losers
                .iter()
                .map(|(_, label)| (*label).to_owned())
                .collect(),
            contradicting,
            missing: false,
        },
        None => StateReading {
            state: PrState::from_facts(facts),
            label: None,
            conflicts: Vec::new(),
            contradicting,
            missing: true,
        },
    }
}

/// [`current_state`], except that among several counting state labels the one a person (or bot)
/// added last wins when it is known (`last_added`, from the `labeled` webhook): a PR caught between
/// two state labels while someone moves it is read as where they are moving it, not by rule 4,
/// so no write takes their new label away. Without `last_added`, or when it names no counting
/// state label, rule 4 decides as ever.
pub fn current_state_preferring<S: AsRef<str>>(
    labels: &[S],
    facts: PrFacts,
    prefix: &LabelPrefix,
    last_added: Option<&str>,
) -> StateReading {
    let reading = current_state(labels, facts, prefix);
    let Some(preferred) = last_added.and_then(|label| {
        reading
            .conflicts
            .iter()
            .find(|conflict| conflict.eq_ignore_ascii_case(label))
    }) else {
        return reading;
    };
    let Some(state) = prefix.parse(preferred) else {
        return reading;
    };
    let preferred = preferred.clone();
    let mut conflicts: Vec<String> = reading
        .conflicts
        .iter()
        .filter(|c| **c != preferred)
        .cloned()
        .collect();
    conflicts.extend(reading.label);
    StateReading {
        state,
        label: Some(preferred),
        conflicts,
        contradicting: reading.contradicting,
        missing: false,
    }
}

#[cfg(test)]
mod tests;
