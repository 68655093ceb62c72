//! What the operator has heard of each PR: a count that grows with every change to it that reaches
//! the operator (a webhook delivery, a follower's hand-over). The coordinator reads it before it
//! reads a PR and again before each write: once it has grown, the read is stale and nothing is
//! written on its strength, so a person's last change is never undone by an older read.
//!
//! The operator's own label writes come back as webhooks too. Each write the coordinator is about
//! to make is noted as an expected echo; the first delivery of that very change within
//! [`ECHO_HORIZON`] is taken as the echo and changes nothing here. Else the delivery of a verdict's
//! first label would make the rest of that write stale: the old label left beside the new one
//! until a retry. A delivery that does not match (another label, a removal of what was added, one
//! late or never noted) is a change, as any other.

use std::{
    num::NonZeroUsize,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use lru::LruCache;
use prtracker_domain::{Repository, same_label};
use prtracker_sync::{Freshness, LabelWrite};

/// How long a `labeled` webhook is taken as someone's current intent: long past the few seconds a
/// person takes to move a PR between labels, short enough that an old one never overrides the
/// deterministic rules.
const INTENT_HORIZON: Duration = Duration::from_secs(120);

/// How long after a write its webhook is taken as its echo. GitHub delivers in seconds; a delivery
/// later than this is taken as a change, which costs only a read again.
pub const ECHO_HORIZON: Duration = Duration::from_secs(60);

/// Echoes awaited per PR at most; a sync writes two labels, or three when it puts one back.
const ECHOES_PER_PR: usize = 8;

/// PRs remembered. A PR forgotten reads as never heard of, which only matters to a reconcile in
/// flight at that moment: it then sees its read as stale, and reads again.
const CAPACITY: usize = 65_536;

/// A PR: owner and name in lower case, and number.
pub(crate) type PrKey = (String, String, u64);

/// Changes heard of, per PR.
pub struct ChangeLedger {
    next: AtomicU64,
    heard: Mutex<LruCache<PrKey, u64>>,
    /// The label last added to each PR, by a `labeled` webhook, and when it was heard.
    added: Mutex<LruCache<PrKey, (String, Instant)>>,
    /// The operator's own label writes whose webhooks have not come back yet, and when each left.
    echoes: Mutex<LruCache<PrKey, Vec<(LabelWrite, Instant)>>>,
}

impl Default for ChangeLedger {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Self {
            next: AtomicU64::new(1),
            heard: Mutex::new(LruCache::new(capacity)),
            added: Mutex::new(LruCache::new(capacity)),
            echoes: Mutex::new(LruCache::new(capacity)),
        }
    }
}

/// GitHub's names are case-insensitive: one PR, one key.
pub(crate) fn key(repo: &Repository, number: u64) -> PrKey {
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

    /// Records that `label` was added to PR `number` of `repo` (a `labeled` webhook), and that
    /// the PR changed.
    pub fn tell_added(&self, repo: &Repository, number: u64, label: &str) {
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key(repo, number), (label.to_owned(), Instant::now()));
        self.tell(repo, number);
    }

    /// Hears a delivery about PR `number`, with the label it added or removed, if any (a
    /// `labeled` or `unlabeled` webhook): the operator's own write coming back changes nothing;
    /// anything else is a change, and an addition someone's intent. Says whether it was a change.
    pub fn tell_delivery(
        &self,
        repo: &Repository,
        number: u64,
        change: Option<&LabelWrite>,
    ) -> bool {
        match change {
            Some(change) if self.own_echo(repo, number, change) => return false,
            Some(LabelWrite::Add(label)) => self.tell_added(repo, number, label),
            Some(LabelWrite::Remove(_)) | None => self.tell(repo, number),
        }
        true
    }

    /// Whether `change` is the echo of a write the operator noted; if so, it is awaited no more.
    fn own_echo(&self, repo: &Repository, number: u64, change: &LabelWrite) -> bool {
        let mut echoes = self.echoes.lock().unwrap_or_else(|e| e.into_inner());
        let Some(awaited) = echoes.get_mut(&key(repo, number)) else {
            return false;
        };
        awaited.retain(|(_, at)| at.elapsed() < ECHO_HORIZON);
        let matching = awaited
            .iter()
            .position(|(write, _)| same_write(write, change));
        matching.map(|at| awaited.remove(at)).is_some()
    }

    /// Notes `write`, made at `at`, as awaited back.
    fn await_echo(&self, repo: &Repository, number: u64, write: &LabelWrite, at: Instant) {
        let mut echoes = self.echoes.lock().unwrap_or_else(|e| e.into_inner());
        let awaited = echoes.get_or_insert_mut(key(repo, number), Vec::new);
        awaited.retain(|(_, at)| at.elapsed() < ECHO_HORIZON);
        if awaited.len() >= ECHOES_PER_PR {
            awaited.remove(0);
        }
        awaited.push((write.clone(), at));
    }
}

fn same_write(a: &LabelWrite, b: &LabelWrite) -> bool {
    match (a, b) {
        (LabelWrite::Add(a), LabelWrite::Add(b))
        | (LabelWrite::Remove(a), LabelWrite::Remove(b)) => same_label(a, b),
        _ => false,
    }
}

impl Freshness for ChangeLedger {
    fn expect_echo(&self, repo: &Repository, number: u64, write: &LabelWrite) {
        self.await_echo(repo, number, write, Instant::now());
    }

    fn forget_echo(&self, repo: &Repository, number: u64, write: &LabelWrite) {
        self.own_echo(repo, number, write);
    }

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
    fn the_operators_own_label_write_coming_back_is_no_change() {
        let ledger = ChangeLedger::default();
        let shop: Repository = "octo-org/shop".parse().expect("repository");
        let add = |label: &str| LabelWrite::Add(label.to_owned());
        let remove = |label: &str| LabelWrite::Remove(label.to_owned());
        ledger.expect_echo(&shop, 7, &add("state/drifted"));
        ledger.expect_echo(&shop, 7, &remove("state/deployed"));
        let read_at = ledger.heard(&shop, 7);

        // Both writes come back, spelt as GitHub may: nothing changed, and no one's intent.
        assert!(!ledger.tell_delivery(&shop, 7, Some(&add("State/Drifted"))));
        assert!(!ledger.tell_delivery(
            &"OCTO-ORG/shop".parse().expect("repo"),
            7,
            Some(&remove("state/deployed"))
        ));
        assert_eq!(ledger.heard(&shop, 7), read_at);
        assert_eq!(ledger.last_added(&shop, 7), None);

        // Each echo is taken once: the same change again is someone's.
        assert!(ledger.tell_delivery(&shop, 7, Some(&add("state/drifted"))));
        assert!(ledger.heard(&shop, 7) > read_at);
        assert_eq!(
            ledger
                .last_added(&shop, 7)
                .map(|(label, _)| label)
                .as_deref(),
            Some("state/drifted")
        );

        // Not what was written: another label, the opposite change, another PR.
        ledger.expect_echo(&shop, 7, &add("state/deployed"));
        for (number, change) in [
            (7, add("state/merged")),
            (7, remove("state/deployed")),
            (8, add("state/deployed")),
        ] {
            let before = ledger.heard(&shop, number);
            assert!(
                ledger.tell_delivery(&shop, number, Some(&change)),
                "{change:?}"
            );
            assert!(ledger.heard(&shop, number) > before, "{change:?}");
        }
    }

    #[test]
    fn an_echo_withdrawn_is_a_change_when_it_comes() {
        let ledger = ChangeLedger::default();
        let shop: Repository = "octo-org/shop".parse().expect("repository");
        let write = LabelWrite::Remove("state/deployed".to_owned());
        ledger.expect_echo(&shop, 7, &write);
        ledger.forget_echo(&shop, 7, &write);
        let read_at = ledger.heard(&shop, 7);
        assert!(ledger.tell_delivery(&shop, 7, Some(&write)));
        assert!(ledger.heard(&shop, 7) > read_at);
    }

    #[test]
    fn an_echo_later_than_its_horizon_is_a_change() {
        let ledger = ChangeLedger::default();
        let shop: Repository = "octo-org/shop".parse().expect("repository");
        let write = LabelWrite::Add("state/deployed".to_owned());
        let long_ago = Instant::now()
            .checked_sub(ECHO_HORIZON + Duration::from_secs(1))
            .expect("an instant a minute ago");
        ledger.await_echo(&shop, 7, &write, long_ago);
        let read_at = ledger.heard(&shop, 7);
        assert!(ledger.tell_delivery(&shop, 7, Some(&write)));
        assert!(ledger.heard(&shop, 7) > read_at);
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
