//! The delivery ids seen recently, so a delivery GitHub sends twice is acted on once. A delivery
//! that was refused is forgotten again, so its redelivery is processed.

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;

/// The longest delivery id kept or logged as it is. GitHub's are UUIDs (36 characters); a longer
/// one comes from someone else, and is kept as its start and a digest of the whole, so neither the
/// log nor this memory grows with what a sender chooses to put in a header.
pub(super) const MAX_ID_BYTES: usize = 72;

/// `header` bounded to [`MAX_ID_BYTES`]: as it is when short enough, else its first characters,
/// `…`, and 16 hex digits of its SHA-256 (so two long ids still differ).
pub(super) fn bounded(header: &str) -> String {
    if header.len() <= MAX_ID_BYTES {
        return header.to_owned();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(header.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let start: String = header.chars().take(40).collect();
    let mut id = format!("{start}…{hex}");
    while id.len() > MAX_ID_BYTES {
        id.remove(0);
    }
    id
}

/// Recently seen `X-GitHub-Delivery` ids (each [`bounded`]); with a capacity of 0, nothing is
/// remembered. At most `capacity` × [`MAX_ID_BYTES`] bytes of ids.
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

    /// Bytes of ids held now.
    #[cfg(test)]
    fn id_bytes(&self) -> usize {
        self.seen.as_ref().map_or(0, |seen| {
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(id, ())| id.len())
                .sum()
        })
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

    #[test]
    fn long_ids_are_bounded_and_still_told_apart() {
        let uuid = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
        assert_eq!(bounded(uuid), uuid);
        let a = format!("{}a", "x".repeat(65_536));
        let b = format!("{}b", "x".repeat(65_536));
        assert!(bounded(&a).len() <= MAX_ID_BYTES);
        assert_ne!(bounded(&a), bounded(&b));
        assert_eq!(bounded(&a), bounded(&a));
        // Multi-byte characters are cut on a boundary.
        assert!(bounded(&"é".repeat(1_000)).len() <= MAX_ID_BYTES);
    }

    #[test]
    fn ten_thousand_long_ids_stay_under_the_byte_bound() {
        let capacity = 10_000;
        let deliveries = Deliveries::new(capacity);
        let long = "y".repeat(65_536);
        for n in 0..capacity {
            assert!(deliveries.first_sight(&bounded(&format!("{long}{n}"))));
        }
        assert!(deliveries.id_bytes() <= capacity * MAX_ID_BYTES);
        assert!(deliveries.id_bytes() > 0);
    }
}
