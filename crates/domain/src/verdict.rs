//! Drift verdicts: where one cluster's check of a PR's change stands, what a tracker's clusters say
//! together, and how a change of that verdict moves the PR's state (SPEC: edge-triggered, so a
//! person's label stands until the clusters change again).
//!
//! Rules:
//! - a cluster that has nothing to judge (the merge changed no manifest for it, or every field of
//!   the change has since been changed through the repository) does not vote;
//! - the clusters that vote are `Drifted` together when any is, and has been for the settle window
//!   (an edit undone sooner never reaches the PR); `InSync` when every one is;
//! - anything else (a cluster not checked yet, waiting for the change, unable to check) gives no
//!   verdict, and the state stays where it is.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::PrState;

/// Where one cluster's check of a merged change stands (a DriftMonitor's phase).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum DriftPhase {
    /// Not checked yet.
    Pending,
    /// Merged, not live yet: some field of the PR's change has never held in the cluster.
    Waiting,
    /// Every field of the PR's change holds in the cluster (a removed object is absent).
    InSync,
    /// A field of the change that was live, that the base branch still holds at the PR's value, no
    /// longer holds in the cluster.
    Drifted,
    /// Every field of the change has since been changed through the repository (a later PR, a
    /// revert, a direct push): it is no longer this PR's to watch, and checks have stopped.
    Superseded,
    /// The merge changed no manifest under the path: there is nothing to deploy or watch.
    NothingToDeploy,
    /// The check could not be made; the Ready condition says why.
    Error,
}

impl DriftPhase {
    /// Whether the cluster has a say in the PR's verdict: not when it has nothing of the PR's
    /// left to judge.
    pub const fn votes(self) -> bool {
        !matches!(self, DriftPhase::Superseded | DriftPhase::NothingToDeploy)
    }

    /// Whether the monitor has stopped checking for good (until its spec changes).
    pub const fn is_final(self) -> bool {
        matches!(self, DriftPhase::Superseded | DriftPhase::NothingToDeploy)
    }
}

/// How long a monitor's drift has held, for the settle window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterVerdict {
    pub phase: Option<DriftPhase>,
    /// For a `Drifted` monitor: how long since it first saw the drift.
    pub drifted_for: Option<std::time::Duration>,
}

/// The verdict of the voting clusters once the settle window is applied: a drift younger than
/// `settle` is not yet a drift (the cluster was live before it, so it still counts as in sync).
/// Also returns how long until the youngest unsettled drift settles, when there is one.
pub fn settled_verdict(
    clusters: &[ClusterVerdict],
    settle: std::time::Duration,
) -> (Option<DriftPhase>, Option<std::time::Duration>) {
    let mut review = None;
    let phases: Vec<Option<DriftPhase>> = clusters
        .iter()
        .filter(|c| c.phase.is_none_or(DriftPhase::votes))
        .map(|c| match (c.phase, c.drifted_for) {
            (Some(DriftPhase::Drifted), Some(held)) if held < settle => {
                let left = settle - held;
                review = Some(review.map_or(left, |r: std::time::Duration| r.min(left)));
                Some(DriftPhase::InSync)
            }
            (phase, _) => phase,
        })
        .collect();
    (combined_verdict(&phases), review)
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
    use DriftPhase::{Drifted, Error, InSync, NothingToDeploy, Pending, Superseded, Waiting};

    fn cluster(phase: DriftPhase, drifted_for: Option<u64>) -> ClusterVerdict {
        ClusterVerdict {
            phase: Some(phase),
            drifted_for: drifted_for.map(std::time::Duration::from_secs),
        }
    }

    #[test]
    fn a_drift_younger_than_the_settle_window_is_not_yet_a_drift() {
        let settle = std::time::Duration::from_secs(120);
        let young = [cluster(InSync, None), cluster(Drifted, Some(30))];
        assert_eq!(
            settled_verdict(&young, settle),
            (Some(InSync), Some(std::time::Duration::from_secs(90)))
        );
        let settled = [cluster(InSync, None), cluster(Drifted, Some(120))];
        assert_eq!(settled_verdict(&settled, settle), (Some(Drifted), None));
        let none = [cluster(Drifted, Some(5))];
        assert_eq!(
            settled_verdict(&none, std::time::Duration::ZERO),
            (Some(Drifted), None),
            "without a window, drift counts at once"
        );
    }

    #[test]
    fn clusters_with_nothing_left_to_judge_do_not_vote() {
        let settle = std::time::Duration::ZERO;
        let one_superseded = [cluster(Superseded, None), cluster(InSync, None)];
        assert_eq!(settled_verdict(&one_superseded, settle).0, Some(InSync));
        let all_superseded = [cluster(Superseded, None), cluster(Superseded, None)];
        assert_eq!(settled_verdict(&all_superseded, settle).0, None);
        let nothing = [cluster(NothingToDeploy, None)];
        assert_eq!(settled_verdict(&nothing, settle).0, None);
        let waiting = [cluster(Waiting, None), cluster(InSync, None)];
        assert_eq!(
            settled_verdict(&waiting, settle).0,
            None,
            "not live everywhere yet"
        );
    }

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
