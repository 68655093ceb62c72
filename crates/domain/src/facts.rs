//! The GitHub facts of a pull request, and which states they allow.
//!
//! Facts are what GitHub itself says about a PR (open or closed, merged, draft),
//! as opposed to labels, which anyone can set. A state label that contradicts the
//! facts does not count (SPEC rule 2).

use crate::state::PrState;

/// What GitHub says about a pull request, without impossible combinations
/// (a merged draft, a merged PR that is still open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrFacts {
    /// The PR is open; `draft` is GitHub's draft flag.
    Open {
        /// Whether the PR is marked as a draft.
        draft: bool,
    },
    /// The PR was merged (GitHub reports merged PRs as closed).
    Merged,
    /// The PR was closed without being merged.
    Closed,
}

impl PrFacts {
    /// Builds the facts from the fields of GitHub's pull request object: `state_closed` is
    /// `state == "closed"`, then `merged` and `draft`.
    ///
    /// Never fails: merged wins over closed (a merged PR is always closed on GitHub, and a
    /// merge cannot be undone), and the draft flag only matters while the PR is open.
    pub const fn from_github(state_closed: bool, merged: bool, draft: bool) -> Self {
        if merged {
            PrFacts::Merged
        } else if state_closed {
            PrFacts::Closed
        } else {
            PrFacts::Open { draft }
        }
    }

    /// Whether the PR is open (draft or not).
    pub const fn is_open(self) -> bool {
        matches!(self, PrFacts::Open { .. })
    }

    /// Whether the PR is open and a draft.
    pub const fn is_draft(self) -> bool {
        matches!(self, PrFacts::Open { draft: true })
    }

    /// Whether the PR was merged.
    pub const fn is_merged(self) -> bool {
        matches!(self, PrFacts::Merged)
    }

    /// Whether the PR was closed without being merged.
    pub const fn is_closed_unmerged(self) -> bool {
        matches!(self, PrFacts::Closed)
    }

    /// The states consistent with these facts, in advancement order.
    pub fn consistent_states(self) -> impl Iterator<Item = PrState> {
        PrState::ALL
            .into_iter()
            .filter(move |state| state.is_consistent_with(self))
    }
}

impl PrState {
    /// Whether a PR with these facts can be in this state (SPEC table): Draft needs an open
    /// draft; Open and Approved an open PR, draft or not; Merged, Deployed and Drifted a
    /// merged PR; Closed a PR closed without merging.
    pub const fn is_consistent_with(self, facts: PrFacts) -> bool {
        match self {
            PrState::Draft => facts.is_draft(),
            PrState::Open | PrState::Approved => facts.is_open(),
            PrState::Merged | PrState::Deployed | PrState::Drifted => facts.is_merged(),
            PrState::Closed => facts.is_closed_unmerged(),
        }
    }

    /// The state the facts alone give, used when a PR has no counting state label
    /// (SPEC rule 5): merged → Merged, closed → Closed, draft → Draft, else Open.
    pub const fn from_facts(facts: PrFacts) -> Self {
        match facts {
            PrFacts::Merged => PrState::Merged,
            PrFacts::Closed => PrState::Closed,
            PrFacts::Open { draft: true } => PrState::Draft,
            PrFacts::Open { draft: false } => PrState::Open,
        }
    }
}

#[cfg(test)]
mod tests;
