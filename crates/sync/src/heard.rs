//! What the coordinator knows beyond its own read of a PR: the changes heard of since (so nothing
//! is written on a stale read), and which tracked PR merged a commit.

use std::time::Duration;

use prtracker_domain::Repository;

use crate::labels::LabelWrite;

/// How recent the operator's knowledge of a PR is: a number that grows with every change to the
/// PR it hears of (a webhook delivery, a follower's hand-over). A read made while it stood at one
/// value is stale once it has grown: nothing is written on its strength.
pub trait Freshness: Send + Sync {
    fn heard(&self, repo: &Repository, number: u64) -> u64;

    /// The newest change heard of, of any PR: a read sent now is fresh for a PR until
    /// [`Freshness::heard`] of it passes this.
    fn latest(&self) -> u64 {
        0
    }

    /// The label someone added to the PR last, if a `labeled` webhook said so recently, and how
    /// long ago: where they are moving it (see `prtracker_domain::Observation::last_added`).
    fn last_added(&self, _repo: &Repository, _number: u64) -> Option<(String, Duration)> {
        None
    }

    /// The operator is about to make `write` to the PR, on a read still fresh: its webhook, when
    /// it comes back, is the operator's own echo, not a change that makes the read stale.
    fn expect_echo(&self, _repo: &Repository, _number: u64, _write: &LabelWrite) {}

    /// `write`, noted by [`Freshness::expect_echo`], was not made after all: no echo will come.
    fn forget_echo(&self, _repo: &Repository, _number: u64, _write: &LabelWrite) {}
}

/// Hears of nothing: every read stays fresh (a coordinator used alone, without webhooks).
pub(crate) struct HearsNothing;

impl Freshness for HearsNothing {
    fn heard(&self, _: &Repository, _: u64) -> u64 {
        0
    }
}

/// Which tracked PR merged a commit, where the operator knows (its trackers' merge commits).
pub trait MergedBy: Send + Sync {
    fn pull_request(&self, repo: &Repository, commit: &str) -> Option<u64>;
}

/// Knows no merge: a superseding commit is named without its PR.
pub(crate) struct KnowsNoMerge;

impl MergedBy for KnowsNoMerge {
    fn pull_request(&self, _: &Repository, _: &str) -> Option<u64> {
        None
    }
}
