//! The label writes of one sync, noted as their webhooks' echoes are awaited: once per write,
//! however often the client asks before its attempts (retries, rate limits, redirects), and
//! withdrawn for the writes that were not made, whose echo will not come. An echo awaited in vain
//! could otherwise be taken for a person's same change later.

use std::sync::Mutex;

use prtracker_domain::Repository;

use crate::{
    heard::Freshness,
    labels::{LabelWrite, Written},
    result::SyncResult,
};

pub(super) struct NotedWrites<'a> {
    freshness: &'a dyn Freshness,
    repo: &'a Repository,
    number: u64,
    noted: Mutex<Vec<LabelWrite>>,
}

impl<'a> NotedWrites<'a> {
    pub(super) fn new(freshness: &'a dyn Freshness, repo: &'a Repository, number: u64) -> Self {
        Self {
            freshness,
            repo,
            number,
            noted: Mutex::default(),
        }
    }

    /// `write` leaves now: its echo is awaited, once.
    pub(super) fn note(&self, write: &LabelWrite) {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        if !noted.contains(write) {
            self.freshness.expect_echo(self.repo, self.number, write);
            noted.push(write.clone());
        }
    }

    /// The sync's writes are over: the echoes of those not made are awaited no more.
    pub(super) fn settle<E>(self, written: &Result<Written, E>) {
        let made = match written {
            Ok(
                Written::Done(result) | Written::Interrupted(result) | Written::Failed(result, _),
            ) => Some(result),
            Err(_) => None,
        };
        let noted = self.noted.into_inner().unwrap_or_else(|e| e.into_inner());
        for write in noted {
            if !made.is_some_and(|result| was_made(result, &write)) {
                self.freshness.forget_echo(self.repo, self.number, &write);
            }
        }
    }
}

fn was_made(result: &SyncResult, write: &LabelWrite) -> bool {
    match write {
        LabelWrite::Add(label) => result.labels_added.contains(label),
        LabelWrite::Remove(label) => result.labels_removed.contains(label),
    }
}

#[cfg(test)]
mod tests {
    use prtracker_domain::PrState;

    use super::*;

    /// Records what it is told of echoes.
    #[derive(Default)]
    struct Told {
        expected: Mutex<Vec<LabelWrite>>,
        forgotten: Mutex<Vec<LabelWrite>>,
    }

    impl Freshness for Told {
        fn heard(&self, _: &Repository, _: u64) -> u64 {
            0
        }

        fn expect_echo(&self, _: &Repository, _: u64, write: &LabelWrite) {
            self.expected.lock().expect("lock").push(write.clone());
        }

        fn forget_echo(&self, _: &Repository, _: u64, write: &LabelWrite) {
            self.forgotten.lock().expect("lock").push(write.clone());
        }
    }

    #[test]
    fn a_write_asked_about_again_before_a_retry_is_awaited_once_and_one_not_made_is_withdrawn() {
        let told = Told::default();
        let repo: Repository = "octo-org/shop".parse().expect("repository");
        let add = LabelWrite::Add("state/drifted".into());
        let remove = LabelWrite::Remove("state/deployed".into());
        let noted = NotedWrites::new(&told, &repo, 7);
        // The add was retried (a 502, a rate limit): the client asked before each attempt.
        noted.note(&add);
        noted.note(&add);
        noted.note(&remove);
        // The add went on; GitHub refused the removal.
        let mut made = SyncResult::unchanged(PrState::Deployed);
        made.labels_added.push("state/drifted".into());
        noted.settle(&Ok::<_, ()>(Written::Failed(
            made,
            prtracker_github::GitHubError::Config("refused".into()),
        )));
        assert_eq!(
            *told.expected.lock().expect("lock"),
            [add.clone(), remove.clone()]
        );
        assert_eq!(*told.forgotten.lock().expect("lock"), [remove]);

        // Nothing written at all: every echo is withdrawn.
        let told = Told::default();
        let noted = NotedWrites::new(&told, &repo, 7);
        noted.note(&add);
        noted.settle(&Err::<Written, _>(()));
        assert_eq!(*told.forgotten.lock().expect("lock"), [add]);
    }
}
