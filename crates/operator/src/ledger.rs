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
    time::{Duration, Instant},
};

use lru::LruCache;
use prtracker_domain::Repository;
use prtracker_sync::Freshness;

/// How long a `labeled` webhook is taken as someone's current intent: long past the few seconds a
/// person takes to move a PR between labels, short enough that an old one never overrides the
/// deterministic rules.
const INTENT_HORIZON: Duration = Duration::from_secs(120);

/// PRs remembered. A PR forgotten reads as never heard of, which only matters to a reconcile in
/// flight at that moment: it then sees its read as stale, and reads again.
const CAPACITY: usize = 65_536;

/// A PR: owner and name in lower case, and number.
type PrKey = (String, String, u64);

/// Changes heard of, per PR.
pub struct ChangeLedger {
    next: AtomicU64,
    heard: Mutex<LruCache<PrKey, u64>>,
    /// The label last added to each PR, by a `labeled` webhook, and when it was heard.
    added: Mutex<LruCache<PrKey, (String, Instant)>>,
}

impl Default for ChangeLedger {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(1),
            heard: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
            added: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

/// GitHub's names are case-insensitive: one PR, one key.
fn key(repo: &Repository, number: u64) -> PrKey {
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

impl ChangeLedger {
    /// Records that `label` was added to PR `number` of `repo` (a `labeled` webhook), and that
    /// the PR changed.
    pub fn tell_added(&self, repo: &Repository, number: u64, label: &str) {
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key(repo, number), (label.to_owned(), Instant::now()));
        self.tell(repo, number);
    }
}

impl Freshness for ChangeLedger {
    fn last_added(&self, repo: &Repository, number: u64) -> Option<(String, Duration)> {
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .peek(&key(repo, number))
            .map(|(label, at)| (label.clone(), at.elapsed()))
            .filter(|(_, age)| *age < INTENT_HORIZON)
    }

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

    #[test]
    fn the_label_added_last_is_remembered_per_pr() {
        let ledger = ChangeLedger::default();
        let shop: Repository = "octo-org/shop".parse().expect("repository");
        assert_eq!(ledger.last_added(&shop, 7), None);
        let before = ledger.heard(&shop, 7);
        ledger.tell_added(&shop, 7, "state/approved");
        ledger.tell_added(
            &"OCTO-ORG/shop".parse().expect("repository"),
            7,
            "state/open",
        );
        assert_eq!(
            ledger
                .last_added(&shop, 7)
                .map(|(label, _)| label)
                .as_deref(),
            Some("state/open")
        );
        assert!(ledger.heard(&shop, 7) > before, "an addition is a change");
        assert_eq!(ledger.last_added(&shop, 8), None);
    }
}
