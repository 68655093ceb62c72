//! The states a tracked pull request can be in, their order and their label definitions.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The state of a pull request as prtracker sees it; on GitHub it is one state label.
///
/// Serialized as `"Draft"`, `"Open"`, ... (the Kubernetes convention for enum values in
/// CRDs); [`PrState::name`] gives the lowercase name used as the label suffix.
///
/// The lifecycle runs Draft < Open < Approved < Merged < Deployed < Drifted; Closed is
/// terminal and apart (see [`PrState::lifecycle_rank`] and [`PrState::advancement_rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[schemars(
    description = "State of the pull request: Draft, Open, Approved, Merged, Deployed, Drifted or Closed."
)]
pub enum PrState {
    /// Open and marked as a draft on GitHub.
    Draft,
    /// Open and ready for review.
    Open,
    /// Open and approved; set by a person or another bot, by label.
    Approved,
    /// Merged; deployment not verified yet.
    Merged,
    /// Merged, and every target cluster matches the merged manifests.
    Deployed,
    /// Merged, and a target cluster diverges from the merged manifests.
    Drifted,
    /// Closed without being merged.
    Closed,
}

impl PrState {
    /// Every state, in advancement order (the order of [`PrState::advancement_rank`]).
    pub const ALL: [PrState; 7] = [
        PrState::Draft,
        PrState::Open,
        PrState::Approved,
        PrState::Merged,
        PrState::Deployed,
        PrState::Drifted,
        PrState::Closed,
    ];

    /// The lowercase name of the state: the suffix of its label (`state/merged`).
    pub const fn name(self) -> &'static str {
        match self {
            PrState::Draft => "draft",
            PrState::Open => "open",
            PrState::Approved => "approved",
            PrState::Merged => "merged",
            PrState::Deployed => "deployed",
            PrState::Drifted => "drifted",
            PrState::Closed => "closed",
        }
    }

    /// Position in the lifecycle Draft < Open < Approved < Merged < Deployed < Drifted
    /// (0 to 5); `None` for Closed, which is terminal and not part of that order.
    pub const fn lifecycle_rank(self) -> Option<u8> {
        match self {
            PrState::Closed => None,
            other => Some(other.advancement_rank()),
        }
    }

    /// A total order used to pick the winner among several counting state labels
    /// (SPEC rule 4): the higher rank wins.
    ///
    /// It is the lifecycle order with Closed placed last (rank 6). Closed only counts on a
    /// PR closed without merging, where no other state is consistent with the facts, so it
    /// never actually competes with another state; its place only has to be fixed so that
    /// the order is total and deterministic.
    pub const fn advancement_rank(self) -> u8 {
        match self {
            PrState::Draft => 0,
            PrState::Open => 1,
            PrState::Approved => 2,
            PrState::Merged => 3,
            PrState::Deployed => 4,
            PrState::Drifted => 5,
            PrState::Closed => 6,
        }
    }

    /// Whether the state is terminal: nothing follows Closed.
    pub const fn is_terminal(self) -> bool {
        matches!(self, PrState::Closed)
    }

    /// Colour of the state's label definition in a repository: six hex digits, no `#`,
    /// as GitHub's label API expects.
    pub const fn color(self) -> &'static str {
        match self {
            PrState::Draft => "6e7781",    // grey, like GitHub's draft icon
            PrState::Open => "2da44e",     // green, like GitHub's open icon
            PrState::Approved => "0969da", // blue
            PrState::Merged => "8250df",   // purple, like GitHub's merged icon
            PrState::Deployed => "006b75", // teal: live and verified
            PrState::Drifted => "d93f0b",  // orange: needs attention
            PrState::Closed => "cf222e",   // red, like GitHub's closed icon
        }
    }

    /// Description of the state's label definition (GitHub allows at most 100 characters).
    pub const fn description(self) -> &'static str {
        match self {
            PrState::Draft => "prtracker: draft pull request",
            PrState::Open => "prtracker: open, waiting for review",
            PrState::Approved => "prtracker: approved, waiting to be merged",
            PrState::Merged => "prtracker: merged, deployment not verified yet",
            PrState::Deployed => "prtracker: merged and live, every target cluster in sync",
            PrState::Drifted => {
                "prtracker: merged, but a target cluster drifted from the merged manifests"
            }
            PrState::Closed => "prtracker: closed without merging",
        }
    }
}

impl fmt::Display for PrState {
    /// Writes [`PrState::name`], so that `FromStr` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that is not the name of a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown pull request state {0:?} (expected one of draft, open, approved, merged, deployed, drifted, closed)"
)]
pub struct UnknownState(pub String);

impl FromStr for PrState {
    type Err = UnknownState;

    /// Parses a state name, ignoring case (`merged`, `Merged` and `MERGED` are all Merged).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PrState::ALL
            .into_iter()
            .find(|state| state.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests;
