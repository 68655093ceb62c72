//! The label change that puts a PR in a state: add its label if absent, remove every other
//! state label, and touch nothing else.

use crate::label::{LabelPrefix, same_label};
use crate::state::PrState;

/// Labels to add to and remove from a PR.
///
/// Removals name labels as written on the PR, so a GitHub `DELETE` by that name works.
/// The change is not atomic on GitHub; in which order to send it is the caller's choice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelDiff {
    /// Labels to add.
    pub add: Vec<String>,
    /// Labels to remove.
    pub remove: Vec<String>,
}

impl LabelDiff {
    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The change that takes a PR from `labels` to carrying exactly one state label, the
/// label of `target`.
///
/// The target's label is kept if present in any case, otherwise added as
/// [`LabelPrefix::label_for`] writes it; every other state label is removed (in
/// advancement order, once per label whatever its case variants); non-state labels are
/// never touched.
pub fn label_diff<S: AsRef<str>>(labels: &[S], target: PrState, prefix: &LabelPrefix) -> LabelDiff {
    let present = prefix.state_labels(labels);
    let add = if present.iter().any(|(state, _)| *state == target) {
        Vec::new()
    } else {
        vec![prefix.label_for(target)]
    };
    let remove = present
        .into_iter()
        .filter(|(state, _)| *state != target)
        .map(|(_, label)| label.to_owned())
        .collect();
    LabelDiff { add, remove }
}

/// The labels of a PR after applying `diff`, as GitHub would: removals first, each taking
/// away the label in any case (removing an absent label changes nothing), then additions,
/// each appended unless the label is already there in some case. Order and case of the
/// remaining labels are kept.
pub fn apply_diff<S: AsRef<str>>(labels: &[S], diff: &LabelDiff) -> Vec<String> {
    let mut result: Vec<String> = labels
        .iter()
        .map(AsRef::as_ref)
        .filter(|label| !diff.remove.iter().any(|removed| same_label(label, removed)))
        .map(str::to_owned)
        .collect();
    for added in &diff.add {
        if !result.iter().any(|label| same_label(label, added)) {
            result.push(added.clone());
        }
    }
    result
}

#[cfg(test)]
mod tests;
