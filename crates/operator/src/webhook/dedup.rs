//! The delivery ids seen recently, so a delivery GitHub sends twice is acted on once. A delivery
//! that was refused is forgotten again, so its redelivery is processed.

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;

/// Recently seen `X-GitHub-Delivery` ids; with a capacity of 0, nothing is remembered.
pub(super) struct Deliveries {
    seen: Option<Mutex<LruCache<String, ()>>>,
}

impl Deliveries {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            seen: NonZeroUsize::new(capacity).map(|n| Mutex::new(LruCache::new(n))),
        }
    }

    /// Records `delivery` as seen; false if it was already. An empty id is never a duplicate.
    pub(super) fn first_sight(&self, delivery: &str) -> bool {
        let Some(seen) = &self.seen else {
            return true;
        };
        if delivery.is_empty() {
            return true;
        }
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(delivery).is_some() {
            return false;
        }
        seen.put(delivery.to_owned(), ());
        true
    }

    /// Forgets `delivery`, so a redelivery of a refused delivery is processed.
    pub(super) fn forget(&self, delivery: &str) {
        if let Some(seen) = &self.seen {
            seen.lock().unwrap_or_else(|e| e.into_inner()).pop(delivery);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_seen_once_until_forgotten() {
        let deliveries = Deliveries::new(2);
        assert!(deliveries.first_sight("a"));
        assert!(!deliveries.first_sight("a"));
        deliveries.forget("a");
        assert!(deliveries.first_sight("a"));
        assert!(deliveries.first_sight(""), "no id, no duplicate");
        assert!(deliveries.first_sight(""));
        let none = Deliveries::new(0);
        assert!(none.first_sight("a") && none.first_sight("a"));
    }
}
