//! What the operator has heard of each PR: a count that grows with every change to it that reaches
//! the operator (a webhook delivery, a follower's hand-over). The coordinator reads it before it
//! reads a PR and again before each write: once it has grown, the read is stale and nothing is
//! written on its strength, so a person's last change is never undone by an older read.

use std::{
    num::NonZeroUsize,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use lru::LruCache;
use prtracker_domain::Repository;
use prtracker_sync::Freshness;

/// PRs remembered. A PR forgotten reads as never heard of, which only matters to a reconcile in
/// flight at that moment: it then sees its read as stale, and reads again.
const CAPACITY: usize = 65_536;

/// Changes heard of, per PR.
pub struct ChangeLedger {
    next: AtomicU64,
    heard: Mutex<LruCache<(String, String, u64), u64>>,
}

impl Default for ChangeLedger {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(1),
            heard: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

/// GitHub's names are case-insensitive: one PR, one key.
fn key(repo: &Repository, number: u64) -> (String, String, u64) {
    (
        repo.owner().to_ascii_lowercase(),
        repo.name().to_ascii_lowercase(),
        number,
    )
}

impl ChangeLedger {
    /// Records that PR `number` of `repo` changed.
    pub fn tell(&self, repo: &Repository, number: u64) {
        let stamp = self.next.fetch_add(1, Ordering::SeqCst);
        self.heard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key(repo, number), stamp);
    }
}

impl Freshness for ChangeLedger {
    fn heard(&self, repo: &Repository, number: u64) -> u64 {
        self.heard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .peek(&key(repo, number))
            .copied()
            .unwrap_or(0)
    }

    fn latest(&self) -> u64 {
        self.next.load(Ordering::SeqCst).saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_heard_of_makes_earlier_reads_stale_for_that_pr_only() {
        let ledger = ChangeLedger::default();
        let shop: Repository = "octo-org/shop".parse().expect("repository");
        let other: Repository = "octo-org/other".parse().expect("repository");
        let read_at = ledger.heard(&shop, 7);
        let other_at = ledger.heard(&other, 7);
        ledger.tell(&"Octo-Org/Shop".parse().expect("repository"), 7);
        assert_ne!(
            ledger.heard(&shop, 7),
            read_at,
            "the same PR, spelt otherwise"
        );
        assert_eq!(ledger.heard(&other, 7), other_at);
        assert_eq!(ledger.heard(&shop, 8), 0);
        let again = ledger.heard(&shop, 7);
        ledger.tell(&shop, 7);
        assert!(ledger.heard(&shop, 7) > again, "it only grows");
    }
}
