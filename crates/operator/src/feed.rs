//! The change feed's poller: every resync interval, each repository's feed is read once (a 304 when
//! nothing changed); the trackers of PRs that changed are reconciled, and auto-tracking makes
//! trackers for open PRs it has not seen. A repository whose feed fails backs off on its own.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use kube::{
    Client,
    runtime::reflector::{ObjectRef, Store},
};
use prtracker_api::PullRequestTracker;
use prtracker_domain::Repository;
use prtracker_sync::ChangeFeed;
use tokio::{sync::mpsc, time::Instant};
use tracing::{debug, info, warn};

use crate::{
    autotrack::{AutoTrack, same_repository},
    backoff::backoff,
    metrics::{FeedResult, Metrics},
};

/// The PR numbers of `repo` that trackers in `store` follow.
pub fn tracked_in(store: &Store<PullRequestTracker>, repo: &Repository) -> HashSet<u64> {
    store
        .state()
        .iter()
        .filter(|t| same_repository(&t.spec.repository, repo))
        .map(|t| t.spec.number)
        .collect()
}

/// Every repository some tracker follows, and those auto-tracked, each once.
fn repositories(
    store: &Store<PullRequestTracker>,
    autotrack: Option<&AutoTrack>,
) -> Vec<Repository> {
    let mut repos: Vec<Repository> = autotrack.map(|a| a.repos.clone()).unwrap_or_default();
    for tracker in store.state() {
        let repo = &tracker.spec.repository;
        if !repos.iter().any(|r| same_repository(r, repo)) {
            repos.push(repo.clone());
        }
    }
    repos
}

/// Polls the feeds.
pub struct FeedPoller {
    pub feed: Arc<ChangeFeed>,
    pub trackers: Store<PullRequestTracker>,
    pub autotrack: Option<AutoTrack>,
    pub client: Client,
    pub triggers: mpsc::Sender<ObjectRef<PullRequestTracker>>,
    /// The longest a failing repository waits before its feed is read again.
    pub max_backoff: Duration,
    pub metrics: Metrics,
    /// Consecutive failures per repository, and when to try again.
    failing: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FeedPoller {
    pub fn new(
        feed: Arc<ChangeFeed>,
        trackers: Store<PullRequestTracker>,
        autotrack: Option<AutoTrack>,
        client: Client,
        triggers: mpsc::Sender<ObjectRef<PullRequestTracker>>,
        max_backoff: Duration,
        metrics: Metrics,
    ) -> Self {
        Self {
            feed,
            trackers,
            autotrack,
            client,
            triggers,
            max_backoff,
            metrics,
            failing: Mutex::default(),
        }
    }

    /// GitHub answers again after an outage: no repository waits out its backoff any longer.
    pub fn end_backoffs(&self) {
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// One round: every repository's feed read once (but those backing off).
    pub async fn poll_all(&self) {
        for repo in repositories(&self.trackers, self.autotrack.as_ref()) {
            let key = repo.to_string().to_ascii_lowercase();
            let waiting = self
                .failing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .is_some_and(|(_, retry_at)| Instant::now() < *retry_at);
            if waiting {
                continue;
            }
            match self.feed.poll(&repo).await {
                Ok(polled) => {
                    self.failing
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key);
                    if polled.unchanged {
                        self.metrics.feed_poll(FeedResult::Unchanged);
                        continue;
                    }
                    self.metrics.feed_poll(FeedResult::Changed);
                    debug!(%repo, changed = polled.changed.len(), requests = polled.requests, "the feed says");
                    let trackers = trackers_by_number(&self.trackers, &repo);
                    for pr in &polled.changed {
                        let of_pr = trackers.get(&pr.number).map_or(&[][..], Vec::as_slice);
                        if !self.changed(&repo, pr, of_pr).await {
                            return;
                        }
                    }
                }
                Err(error) => {
                    self.metrics.feed_poll(FeedResult::Error);
                    let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
                    let failures = failing.get(&key).map_or(1, |(n, _)| n.saturating_add(1));
                    let wait = backoff(failures, self.max_backoff);
                    warn!(%repo, %error, failures, ?wait, "could not read the repository's change feed");
                    failing.insert(key, (failures, Instant::now() + wait));
                }
            }
        }
    }

    /// A PR changed: its trackers are reconciled; an open one nobody tracks is auto-tracked.
    /// False once the controller has stopped listening.
    async fn changed(
        &self,
        repo: &Repository,
        pr: &prtracker_github::PullRequest,
        trackers: &[ObjectRef<PullRequestTracker>],
    ) -> bool {
        if trackers.is_empty() {
            if let Some(autotrack) = self.autotrack.as_ref().filter(|a| a.tracks(repo))
                && !pr.is_closed()
            {
                match autotrack
                    .ensure_tracker(&self.client, repo, pr.number)
                    .await
                {
                    Ok(true) => {
                        info!(%repo, number = pr.number, "auto-tracking: the feed shows an untracked open PR")
                    }
                    Ok(false) => {}
                    Err(error) => {
                        warn!(%repo, number = pr.number, %error, "could not create a tracker")
                    }
                }
            }
            return true;
        }
        for tracker in trackers {
            // Waits when the controller is behind: the feed must not outrun it.
            if self.triggers.send(tracker.clone()).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// The trackers of `repo`'s PRs, by number: one pass over the cache for a whole poll.
fn trackers_by_number(
    store: &Store<PullRequestTracker>,
    repo: &Repository,
) -> HashMap<u64, Vec<ObjectRef<PullRequestTracker>>> {
    let mut by_number: HashMap<u64, Vec<ObjectRef<PullRequestTracker>>> = HashMap::new();
    for tracker in store.state() {
        if same_repository(&tracker.spec.repository, repo) {
            by_number
                .entry(tracker.spec.number)
                .or_default()
                .push(ObjectRef::from_obj(tracker.as_ref()));
        }
    }
    by_number
}
