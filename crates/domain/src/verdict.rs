//! Drift verdicts: where one cluster's check stands, what a tracker's clusters say together, and
//! how a change of that verdict moves the PR's state (SPEC: edge-triggered, so a person's label
//! stands until the clusters change again).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::PrState;

/// Where one cluster's check of a merged change stands (a DriftMonitor's phase).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum DriftPhase {
    /// Not checked yet.
    Pending,
    /// Every desired object is live as the manifests say.
    InSync,
    /// At least one object differs from its manifest, or is missing.
    Drifted,
    /// The check could not be made; the Ready condition says why.
    Error,
}

/// The verdict of a tracker's clusters together: Drifted when any is, InSync when every one is (and
/// there is at least one), otherwise none yet (some are pending, cannot check, or have no monitor).
pub fn combined_verdict(phases: &[Option<DriftPhase>]) -> Option<DriftPhase> {
    if phases.contains(&Some(DriftPhase::Drifted)) {
        Some(DriftPhase::Drifted)
    } else if !phases.is_empty() && phases.iter().all(|p| *p == Some(DriftPhase::InSync)) {
        Some(DriftPhase::InSync)
    } else {
        None
    }
}

/// What a change of verdict does to the PR's state: Merged → Deployed and Drifted → Deployed when
/// everything is in sync; Deployed → Drifted when anything drifted. A merged PR whose change is not
/// live yet stays Merged: it was never deployed, so it cannot have drifted.
///
/// `None` when the verdict did not change (edge-triggered) or the change moves nothing.
pub fn state_after_verdict(
    state: PrState,
    last_verdict: Option<DriftPhase>,
    verdict: Option<DriftPhase>,
) -> Option<PrState> {
    let verdict = verdict?;
    if last_verdict == Some(verdict) {
        return None;
    }
    match (verdict, state) {
        (DriftPhase::InSync, PrState::Merged | PrState::Drifted) => Some(PrState::Deployed),
        (DriftPhase::Drifted, PrState::Deployed) => Some(PrState::Drifted),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DriftPhase::{Drifted, Error, InSync, Pending};

    #[test]
    fn combined_verdict_needs_every_monitor_in_sync() {
        assert_eq!(combined_verdict(&[]), None);
        assert_eq!(
            combined_verdict(&[Some(InSync), Some(InSync)]),
            Some(InSync)
        );
        assert_eq!(combined_verdict(&[Some(InSync), Some(Pending)]), None);
        assert_eq!(combined_verdict(&[Some(InSync), None]), None);
        assert_eq!(combined_verdict(&[Some(InSync), Some(Error)]), None);
        assert_eq!(
            combined_verdict(&[Some(Error), Some(Drifted)]),
            Some(Drifted)
        );
    }

    #[test]
    fn verdicts_move_the_state_as_spec_says() {
        use PrState::*;
        assert_eq!(
            state_after_verdict(Merged, None, Some(InSync)),
            Some(Deployed)
        );
        assert_eq!(
            state_after_verdict(Deployed, Some(InSync), Some(DriftPhase::Drifted)),
            Some(PrState::Drifted)
        );
        assert_eq!(
            state_after_verdict(PrState::Drifted, Some(DriftPhase::Drifted), Some(InSync)),
            Some(Deployed)
        );
        // Not deployed yet: drift does not apply.
        assert_eq!(
            state_after_verdict(Merged, None, Some(DriftPhase::Drifted)),
            None
        );
        // States before merge are untouched.
        assert_eq!(state_after_verdict(Open, None, Some(InSync)), None);
    }

    #[test]
    fn an_unchanged_verdict_leaves_a_persons_label_alone() {
        use PrState::*;
        // A person put state/merged back on a deployed PR; the clusters are still in sync.
        assert_eq!(
            state_after_verdict(Merged, Some(InSync), Some(InSync)),
            None
        );
        // No verdict (monitors pending) moves nothing either.
        assert_eq!(state_after_verdict(Merged, Some(InSync), None), None);
    }
}
