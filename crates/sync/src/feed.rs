//! The change feed: what GitHub says changed in a repository, read as one conditional listing of
//! its PRs by update time, so the cost of knowing stays flat in the number of PRs tracked.
//!
//! - A poll asks for the first page of `GET /pulls?state=all&sort=updated&direction=desc`. An
//!   unchanged repository answers 304: one request, no quota, whatever the number of trackers.
//!   A changed one is read page by page until the PRs are older than the newest seen last time.
//! - The first poll of a repository reads until every tracked PR has been seen, or until reading
//!   on would cost more pages than reading the PRs not yet seen one by one.
//! - Every PR seen is kept as a snapshot; a reconcile reads the snapshot, not GitHub, while it is
//!   fresh: nothing was heard of the PR since it was read (a webhook, a follower's hand-over), and
//!   the operator has not changed the PR since. Otherwise the PR is read once and kept again.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use prtracker_domain::Repository;
use prtracker_github::{GitHubApi, GitHubError, PullRequest};
use tracing::{debug, warn};

use crate::coordinator::Freshness;

/// Where the coordinator reads a PR.
#[async_trait]
pub trait PullRequests: Send + Sync {
    /// The PR as the operator knows it now.
    async fn read(&self, repo: &Repository, number: u64) -> Result<PullRequest, GitHubError>;

    /// The operator has just changed the PR (its labels): what was read of it is out of date.
    fn changed(&self, repo: &Repository, number: u64);
}

/// Every read is a GET (the seed's behaviour; a coordinator used without a feed).
pub struct ReadEachTime(pub Arc<dyn GitHubApi>);

#[async_trait]
impl PullRequests for ReadEachTime {
    async fn read(&self, repo: &Repository, number: u64) -> Result<PullRequest, GitHubError> {
        self.0.get_pr(repo, number).await
    }

    fn changed(&self, _: &Repository, _: u64) {}
}

/// Which PRs of a repository are tracked now.
pub type Tracked = dyn Fn(&Repository) -> HashSet<u64> + Send + Sync;

/// What one poll found.
#[derive(Debug, Default)]
pub struct Polled {
    /// The repository's first page was unchanged: nothing happened since the last poll.
    pub unchanged: bool,
    /// PRs updated since the last poll, newest first. On the first poll at start, only the open
    /// PRs nobody tracks (for auto-tracking): the tracked ones are kept, not listed.
    pub changed: Vec<PullRequest>,
    /// Requests the poll sent.
    pub requests: u32,
}

/// Where a repository's feed stands.
#[derive(Debug, Default)]
struct Cursor {
    /// `updated_at` of the newest PR seen by the last complete poll.
    newest: Option<String>,
    /// A poll completed: later ones read only what changed.
    polled: bool,
    /// A poll was tried (it may have failed): reads no longer wait for one.
    tried: bool,
}

/// A PR as read, and when; or, without a PR, when the operator changed it last, so that a read
/// sent before that change and answered after it is not kept.
struct Snapshot {
    pr: Option<Arc<PullRequest>>,
    /// The newest change heard of anywhere when the read was sent: news of this PR after that
    /// makes the snapshot stale.
    heard: u64,
    /// The order reads were sent in: an older read never replaces a newer one.
    read: u64,
}

/// GitHub's names are case-insensitive: one repository, one key.
fn repo_key(repo: &Repository) -> String {
    repo.to_string().to_ascii_lowercase()
}

/// The change feed of every repository the operator tracks, and the PRs it has read.
pub struct ChangeFeed {
    github: Arc<dyn GitHubApi>,
    freshness: Arc<dyn Freshness>,
    tracked: Arc<Tracked>,
    cursors: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Cursor>>>>,
    snapshots: Mutex<HashMap<(String, u64), Snapshot>>,
    reads: AtomicU64,
}

impl ChangeFeed {
    pub fn new(
        github: Arc<dyn GitHubApi>,
        freshness: Arc<dyn Freshness>,
        tracked: Arc<Tracked>,
    ) -> Self {
        Self {
            github,
            freshness,
            tracked,
            cursors: Mutex::default(),
            snapshots: Mutex::default(),
            reads: AtomicU64::new(1),
        }
    }

    fn cursor(&self, repo: &Repository) -> Arc<tokio::sync::Mutex<Cursor>> {
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(cursors.entry(repo_key(repo)).or_default())
    }

    /// Stamps a read about to be sent.
    fn stamp(&self) -> (u64, u64) {
        (
            self.freshness.latest(),
            self.reads.fetch_add(1, Ordering::SeqCst),
        )
    }

    fn keep(&self, repo: &Repository, pr: PullRequest, (heard, read): (u64, u64)) {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        let key = (repo_key(repo), pr.number);
        if snapshots.get(&key).is_some_and(|s| s.read > read) {
            return;
        }
        snapshots.insert(
            key,
            Snapshot {
                pr: Some(Arc::new(pr)),
                heard,
                read,
            },
        );
    }

    /// The PR as last read, if nothing was heard of it since.
    fn fresh(&self, repo: &Repository, number: u64) -> Option<PullRequest> {
        let snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = snapshots.get(&(repo_key(repo), number))?;
        let pr = snapshot.pr.as_ref()?;
        (self.freshness.heard(repo, number) <= snapshot.heard).then(|| PullRequest::clone(pr))
    }

    /// PRs kept as snapshots.
    pub fn snapshots(&self) -> usize {
        self.snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|s| s.pr.is_some())
            .count()
    }

    /// Reads what changed in `repo` since the last poll.
    pub async fn poll(&self, repo: &Repository) -> Result<Polled, GitHubError> {
        let cursor = self.cursor(repo);
        let mut cursor = cursor.lock().await;
        self.poll_locked(repo, &mut cursor).await
    }

    async fn poll_locked(
        &self,
        repo: &Repository,
        cursor: &mut Cursor,
    ) -> Result<Polled, GitHubError> {
        let tried_before = std::mem::replace(&mut cursor.tried, true);
        let tracked = (self.tracked)(repo);
        let stamp = self.stamp();
        let mut page = self.github.pulls_by_update(repo, None).await?;
        let mut polled = Polled {
            requests: 1,
            ..Polled::default()
        };
        if page.unchanged && cursor.polled {
            polled.unchanged = true;
            return Ok(polled);
        }
        let watermark = cursor.newest.clone().filter(|_| cursor.polled);
        let newest = page.prs.first().and_then(|pr| pr.updated_at.clone());
        // On the first poll, the tracked PRs not seen yet.
        let first = watermark.is_none();
        let mut unseen: HashSet<u64> = if first {
            tracked.clone()
        } else {
            HashSet::new()
        };
        // The first poll at start tells nothing new of tracked PRs (their trackers are reconciled
        // at their first sight anyway) nor of closed PRs nobody tracks: they are kept as
        // snapshots, not listed as changed, which spares a second copy of every PR. A first poll
        // after a failed one lists them all: a change may have been missed meanwhile.
        let quiet_start = first && !tried_before;
        let mut page_number = 1u32;
        loop {
            let mut reached_older = false;
            for pr in std::mem::take(&mut page.prs) {
                let older = is_older(&pr, watermark.as_deref());
                reached_older |= older;
                unseen.remove(&pr.number);
                if older {
                    continue;
                }
                let is_tracked = tracked.contains(&pr.number);
                if quiet_start && is_tracked {
                    self.keep(repo, pr, stamp);
                    continue;
                }
                if quiet_start && pr.is_closed() {
                    continue;
                }
                if is_tracked {
                    self.keep(repo, pr.clone(), stamp);
                }
                polled.changed.push(pr);
            }
            let Some(next) = page.next.take() else { break };
            if watermark.is_some() && reached_older {
                break;
            }
            if watermark.is_none() {
                if unseen.is_empty() {
                    break;
                }
                // Reading on costs the pages left; reading the PRs not seen costs one each.
                let pages_left = page
                    .last_page
                    .map_or(u32::MAX, |last| last.saturating_sub(page_number));
                if u64::from(pages_left) > unseen.len() as u64 {
                    debug!(%repo, pages_left, unseen = unseen.len(), "the rest are read one by one");
                    break;
                }
            }
            page = self.github.pulls_by_update(repo, Some(&next)).await?;
            polled.requests += 1;
            page_number += 1;
        }
        if newest.is_some() {
            cursor.newest = newest;
        }
        cursor.polled = true;
        self.forget_untracked(repo, &tracked);
        Ok(polled)
    }

    /// Drops the snapshots of `repo`'s PRs no longer tracked.
    fn forget_untracked(&self, repo: &Repository, tracked: &HashSet<u64>) {
        let key = repo_key(repo);
        self.snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(r, number), _| *r != key || tracked.contains(number));
    }
}

/// Whether `pr` was last updated before `watermark` (so unchanged since the poll that set it).
/// GitHub writes every time as `YYYY-MM-DDTHH:MM:SSZ`, which sorts as text; a PR without a time is
/// taken as changed.
fn is_older(pr: &PullRequest, watermark: Option<&str>) -> bool {
    match (pr.updated_at.as_deref(), watermark) {
        (Some(updated), Some(watermark)) => updated < watermark,
        _ => false,
    }
}

#[async_trait]
impl PullRequests for ChangeFeed {
    async fn read(&self, repo: &Repository, number: u64) -> Result<PullRequest, GitHubError> {
        if let Some(pr) = self.fresh(repo, number) {
            return Ok(pr);
        }
        // The first read of a repository waits for its first poll, which reads its tracked PRs
        // a hundred at a time, instead of each being read alone.
        // Behind a poll in progress, which may bring this PR.
        let cursor = self.cursor(repo);
        let mut cursor = cursor.lock().await;
        if !cursor.tried
            && let Err(error) = self.poll_locked(repo, &mut cursor).await
        {
            warn!(%repo, %error, "could not read the repository's change feed; reading PRs one by one");
        }
        drop(cursor);
        if let Some(pr) = self.fresh(repo, number) {
            return Ok(pr);
        }
        let stamp = self.stamp();
        let pr = self.github.get_pr(repo, number).await?;
        self.keep(repo, pr.clone(), stamp);
        Ok(pr)
    }

    fn changed(&self, repo: &Repository, number: u64) {
        // The operator's own writes are not news to the ledger (their webhooks are its echoes), so
        // a poll sent before the write must not be kept when it is answered after it.
        let changed_at = self.reads.fetch_add(1, Ordering::SeqCst);
        self.snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (repo_key(repo), number),
                Snapshot {
                    pr: None,
                    heard: 0,
                    read: changed_at,
                },
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(updated_at: Option<&str>) -> PullRequest {
        let mut json = serde_json::json!({"number": 1});
        if let Some(at) = updated_at {
            json["updated_at"] = at.into();
        }
        serde_json::from_value(json).expect("a PR")
    }

    /// Hears nothing: only the operator's own writes change what the feed keeps.
    struct HearsNothingNew;

    impl Freshness for HearsNothingNew {
        fn heard(&self, _: &Repository, _: u64) -> u64 {
            0
        }
    }

    #[tokio::test]
    async fn a_read_sent_before_the_operators_own_write_is_not_kept_after_it() {
        let config = prtracker_github::GitHubConfig::for_local_tests("http://127.0.0.1:9");
        let github =
            Arc::new(prtracker_github::OctocrabGitHub::new(config).expect("a client, unused"));
        let feed = ChangeFeed::new(
            github,
            Arc::new(HearsNothingNew),
            Arc::new(|_| HashSet::new()),
        );
        let repo: Repository = "octo-org/shop".parse().expect("repository");

        // A poll is sent; the operator writes the PR's labels; the poll's answer comes back.
        let sent = feed.stamp();
        feed.changed(&repo, 1);
        feed.keep(&repo, pr(None), sent);
        assert!(
            feed.fresh(&repo, 1).is_none(),
            "the read from before the write"
        );
        assert_eq!(feed.snapshots(), 0);

        // A read sent after the write is kept.
        let sent = feed.stamp();
        feed.keep(&repo, pr(None), sent);
        assert!(feed.fresh(&repo, 1).is_some());
        assert_eq!(feed.snapshots(), 1);
    }

    #[test]
    fn older_is_strictly_before_the_watermark() {
        let mark = Some("2026-01-02T03:04:05Z");
        assert!(is_older(&pr(Some("2026-01-02T03:04:04Z")), mark));
        assert!(
            !is_older(&pr(Some("2026-01-02T03:04:05Z")), mark),
            "the same second may hold a change made after the last poll read it"
        );
        assert!(!is_older(&pr(Some("2026-01-02T03:04:06Z")), mark));
        assert!(!is_older(&pr(None), mark), "no time: taken as changed");
        assert!(!is_older(&pr(Some("2026-01-02T03:04:04Z")), None));
    }
}
