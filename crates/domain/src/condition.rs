//! The conditions a tracker reports, as data: which type, whether it holds, a CamelCase reason and
//! a sentence. Writing them into a Kubernetes object (with transition times) is the API layer's.

use crate::reading::StateReading;

/// The tracker's status follows GitHub (its last sync succeeded).
pub const SYNCED: &str = "Synced";
/// GitHub's labels and the tracker agree, with exactly one state label on the PR.
pub const CONSISTENT: &str = "Consistent";
/// The resource is in the state it should be: synced and consistent, or for a monitor, checked.
pub const READY: &str = "Ready";
/// A merged PR's change runs in every cluster; its reason says why not, in a reviewer's words.
pub const LIVE: &str = "Live";
/// A monitor's objects are followed by a watch of its cluster: an edit is checked at once.
pub const WATCHED: &str = "Watched";

/// A condition to set: its type, whether it holds, a CamelCase reason and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: &'static str,
    pub holds: bool,
    pub reason: &'static str,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(
        type_: &'static str,
        holds: bool,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            holds,
            reason,
            message: message.into(),
        }
    }
}

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

/// `Consistent`: why the PR's labels are, or are not, at rest.
pub fn consistency(reading: &StateReading) -> ConditionUpdate {
    let labels = state_labels(reading);
    if reading.is_clean() {
        ConditionUpdate::new(
            CONSISTENT,
            true,
            "OneStateLabel",
            format!(
                "the PR carries exactly one state label, {}",
                labels.join("")
            ),
        )
    } else if reading.missing {
        ConditionUpdate::new(
            CONSISTENT,
            false,
            "MissingStateLabel",
            format!(
                "no state label on the PR counts (ignored: {:?}); its facts say {}",
                reading.contradicting, reading.state
            ),
        )
    } else if !reading.conflicts.is_empty() {
        ConditionUpdate::new(
            CONSISTENT,
            false,
            "ConflictingStateLabels",
            format!(
                "several state labels on the PR: {labels:?}; {} wins",
                reading.state
            ),
        )
    } else {
        ConditionUpdate::new(
            CONSISTENT,
            false,
            "LabelsContradictFacts",
            format!(
                "state labels that contradict the PR's facts: {:?}",
                reading.contradicting
            ),
        )
    }
}

/// `Ready` of a tracker: synced with GitHub and consistent.
pub fn tracker_ready(synced: bool, consistent: bool) -> ConditionUpdate {
    match (synced, consistent) {
        (true, true) => {
            ConditionUpdate::new(READY, true, "Ready", "synced with GitHub, one state label")
        }
        (false, _) => ConditionUpdate::new(
            READY,
            false,
            "NotSynced",
            "the last sync with GitHub failed",
        ),
        (true, false) => ConditionUpdate::new(
            READY,
            false,
            "Inconsistent",
            "the PR's state labels need repair",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LabelPrefix, PrFacts, current_state};

    fn reading(labels: &[&str], facts: PrFacts) -> StateReading {
        current_state(labels, facts, &LabelPrefix::default())
    }

    #[test]
    fn each_way_of_being_inconsistent_has_its_reason() {
        let open = PrFacts::Open { draft: false };
        let cases = [
            (reading(&["state/open", "bug"], open), true, "OneStateLabel"),
            (reading(&["bug"], open), false, "MissingStateLabel"),
            (
                reading(&["state/open", "state/approved"], open),
                false,
                "ConflictingStateLabels",
            ),
            (
                reading(&["state/approved", "state/merged"], open),
                false,
                "LabelsContradictFacts",
            ),
        ];
        for (reading, holds, reason) in cases {
            let condition = consistency(&reading);
            assert_eq!(
                (condition.holds, condition.reason),
                (holds, reason),
                "{reading:?}"
            );
        }
    }

    #[test]
    fn ready_needs_both() {
        assert!(tracker_ready(true, true).holds);
        assert_eq!(tracker_ready(false, true).reason, "NotSynced");
        assert_eq!(tracker_ready(true, false).reason, "Inconsistent");
    }
}
