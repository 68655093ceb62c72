//! The parents of commits already asked for. A commit never changes, so its parents are asked of
//! GitHub once: no conditional request, no ETag, and nothing PR bodies could evict from the ETag
//! cache. Bounded, least recently used first out.

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;
use prtracker_domain::Repository;

/// About 250 bytes an entry (a repository name, a sha and two parents): 10,000 merge commits,
/// a few megabytes.
pub(crate) const MAX_COMMITS: usize = 10_000;

pub(crate) struct ParentsCache {
    inner: Mutex<LruCache<(String, String), Vec<String>>>,
}

/// GitHub's repository names and hex shas compare case-insensitively.
fn key(repo: &Repository, sha: &str) -> (String, String) {
    (
        repo.to_string().to_ascii_lowercase(),
        sha.to_ascii_lowercase(),
    )
}

impl ParentsCache {
    pub fn new(max_commits: usize) -> Self {
        Self {
            inner: Mutex::new(LruCache::new(
                NonZeroUsize::new(max_commits).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(String, String), Vec<String>>> {
        // Entries are replaced whole, so a poisoned map is still a valid one.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, repo: &Repository, sha: &str) -> Option<Vec<String>> {
        self.lock().get(&key(repo, sha)).cloned()
    }

    /// Keeps the parents of commit `sha` (the full sha GitHub answered with, never a branch name,
    /// whose commit changes).
    pub fn insert(&self, repo: &Repository, sha: &str, parents: Vec<String>) {
        self.lock().put(key(repo, sha), parents);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_commits_and_ignores_case() {
        let repo: Repository = "Acme/App".parse().unwrap();
        let cache = ParentsCache::new(2);
        cache.insert(&repo, "AAA", vec!["b".into(), "h".into()]);
        assert_eq!(
            cache.get(&"acme/app".parse().unwrap(), "aaa"),
            Some(vec!["b".to_owned(), "h".to_owned()])
        );
        cache.insert(&repo, "bbb", vec![]);
        cache.insert(&repo, "ccc", vec!["bbb".into()]);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&repo, "aaa"), None, "the oldest went first");
        assert_eq!(cache.get(&repo, "bbb"), Some(vec![]));
    }
}
