//! The ETag cache: per URL, the last ETag and the *parsed lean model* of that response.
//!
//! Parsed models, not bodies: a PR's JSON is 20–30 kB, its lean model a few hundred bytes, which
//! is what keeps 10,000 tracked PRs within the operator's memory budget. The cache is a least
//! recently used map bounded both in entries and in approximate bytes.

use std::{
    any::Any,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use lru::LruCache;

/// A cached value, of whatever model type the URL returns.
pub type CachedValue = Arc<dyn Any + Send + Sync>;

struct Entry {
    etag: String,
    value: CachedValue,
    weight: usize,
}

struct Inner {
    lru: LruCache<String, Entry>,
    bytes: usize,
}

/// A bounded map from URL to (ETag, parsed response).
pub struct EtagCache {
    inner: Option<Mutex<Inner>>,
    max_bytes: usize,
}

/// Bookkeeping per entry beyond key, ETag and value (LRU links, hashes, `Arc` headers).
const ENTRY_OVERHEAD: usize = 96;

impl EtagCache {
    /// A cache of at most `max_entries` entries and about `max_bytes` bytes; 0 entries disables it.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            inner: NonZeroUsize::new(max_entries).map(|cap| {
                Mutex::new(Inner {
                    lru: LruCache::new(cap),
                    bytes: 0,
                })
            }),
            max_bytes,
        }
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Inner>> {
        // A poisoned cache is still a valid cache: entries are replaced whole.
        self.inner
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The ETag and value for `key`, marking it recently used.
    pub fn get(&self, key: &str) -> Option<(String, CachedValue)> {
        let mut inner = self.lock()?;
        inner
            .lru
            .get(key)
            .map(|e| (e.etag.clone(), Arc::clone(&e.value)))
    }

    /// Just the ETag, for the `If-None-Match` header.
    pub fn etag(&self, key: &str) -> Option<String> {
        let mut inner = self.lock()?;
        inner.lru.get(key).map(|e| e.etag.clone())
    }

    /// Stores a value; `weight` is its approximate heap size. A value larger than the whole
    /// budget is not stored.
    pub fn insert(&self, key: String, etag: String, value: CachedValue, weight: usize) {
        let Some(mut inner) = self.lock() else {
            return;
        };
        let weight = weight + key.len() + etag.len() + ENTRY_OVERHEAD;
        if weight > self.max_bytes {
            if let Some(old) = inner.lru.pop(&key) {
                inner.bytes -= old.weight;
            }
            return;
        }
        let entry = Entry {
            etag,
            value,
            weight,
        };
        // `push` returns the replaced entry or the one evicted for room.
        if let Some((_, old)) = inner.lru.push(key, entry) {
            inner.bytes -= old.weight;
        }
        inner.bytes += weight;
        while inner.bytes > self.max_bytes {
            match inner.lru.pop_lru() {
                Some((_, old)) => inner.bytes -= old.weight,
                None => break,
            }
        }
    }

    pub fn remove(&self, key: &str) {
        if let Some(mut inner) = self.lock()
            && let Some(old) = inner.lru.pop(key)
        {
            inner.bytes -= old.weight;
        }
    }

    pub fn len(&self) -> usize {
        self.lock().map_or(0, |i| i.lru.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().map_or(0, |i| i.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(n: u64) -> CachedValue {
        Arc::new(n)
    }

    fn read(cache: &EtagCache, key: &str) -> Option<(String, u64)> {
        cache
            .get(key)
            .map(|(etag, v)| (etag, *v.downcast_ref::<u64>().unwrap()))
    }

    #[test]
    fn stores_and_replaces() {
        let cache = EtagCache::new(10, 1 << 20);
        cache.insert("/a".into(), "\"1\"".into(), value(1), 8);
        assert_eq!(read(&cache, "/a"), Some(("\"1\"".into(), 1)));
        cache.insert("/a".into(), "\"2\"".into(), value(2), 8);
        assert_eq!(read(&cache, "/a"), Some(("\"2\"".into(), 2)));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), 8 + 2 + 3 + ENTRY_OVERHEAD);
        cache.remove("/a");
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn entry_bound_evicts_the_least_recently_used() {
        let cache = EtagCache::new(3, 1 << 20);
        for n in 0..3 {
            cache.insert(format!("/{n}"), "e".into(), value(n), 8);
        }
        assert!(cache.get("/0").is_some()); // /0 is now the most recent
        cache.insert("/3".into(), "e".into(), value(3), 8);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("/1").is_none(), "/1 was the least recently used");
        assert!(cache.get("/0").is_some() && cache.get("/3").is_some());
        assert_eq!(cache.bytes(), 3 * (8 + 2 + 1 + ENTRY_OVERHEAD));
    }

    #[test]
    fn byte_bound_evicts_until_under_budget() {
        let per_entry = 100 + 3 + 1 + ENTRY_OVERHEAD;
        let cache = EtagCache::new(1000, per_entry * 5);
        for n in 0..50 {
            cache.insert(format!("/{n:02}"), "e".into(), value(n), 100);
            assert!(cache.bytes() <= per_entry * 5);
        }
        assert_eq!(cache.len(), 5);
        assert!(cache.get("/49").is_some() && cache.get("/44").is_none());
        assert!(cache.get("/45").is_some());
        // Too big for the whole budget: not stored, and an older value of that key goes.
        cache.insert("/49".into(), "e".into(), value(0), per_entry * 10);
        assert!(cache.get("/49").is_none());
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn zero_entries_disables_the_cache() {
        let cache = EtagCache::new(0, 1 << 20);
        cache.insert("/a".into(), "e".into(), value(1), 8);
        assert!(cache.get("/a").is_none() && cache.etag("/a").is_none());
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[test]
    fn twenty_thousand_pull_requests_fit_in_a_few_megabytes() {
        // The operator's budget: 10,000 tracked PRs, 150 MB for everything.
        let pr: crate::models::PullRequest = serde_json::from_str(
            r#"{"number":1347,"title":"Bump the deploy image to 1.2.3 for the payments service","state":"open",
                "head":{"sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","ref":"bump"},
                "merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6",
                "user":{"login":"octocat"},"html_url":"https://github.com/octo-org/hello-world/pull/1347",
                "labels":[{"name":"state/open","color":"0e8a16","description":"Open pull request"},
                          {"name":"team/payments","color":"ededed","description":null}]}"#,
        )
        .unwrap();
        use crate::models::Weigh;
        let cache = EtagCache::new(20_000, 64 << 20);
        for n in 0..20_000u64 {
            let key = format!("/repos/octo-org/hello-world/pulls/{n}");
            let etag = "W/\"ba0dcfc4d5bf4480dca3c388f8d4e7e3bf5c25133d1bbaf719551b436d85d764\"";
            cache.insert(key, etag.into(), Arc::new(pr.clone()), pr.weight());
        }
        assert_eq!(cache.len(), 20_000);
        assert!(cache.bytes() < 20 << 20, "{} bytes", cache.bytes());
    }
}
