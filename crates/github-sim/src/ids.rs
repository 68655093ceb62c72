//! Identifiers: numeric ids, GraphQL node ids, commit-like shas, delivery UUIDs, and a small
//! seeded PRNG so that injected faults are reproducible.

use base64::Engine;
use sha2::{Digest, Sha256};

/// GitHub's legacy node id: base64 of `0<len(type)>:<Type><id>` (e.g. `MDU6TGFiZWwx...` = `05:Label1...`).
pub fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{}{}", kind.len(), kind, id))
}

/// A 40-hex-digit id shaped like a git SHA-1, derived from `seed` (sha256, truncated).
pub fn sha40(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    hex::encode(digest)[..40].to_string()
}

/// Hex sha256 of bytes (ETags).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SplitMix64: tiny, seedable, good enough for fault probabilities and UUIDs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random (version 4) UUID, as GitHub uses for `X-GitHub-Delivery`.
    pub fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_matches_githubs_legacy_form() {
        // From webhook-pull_request-labeled.json: label 1362934389.
        assert_eq!(node_id("Label", 1_362_934_389), "MDU6TGFiZWwxMzYyOTM0Mzg5");
    }

    #[test]
    fn uuid_is_version_4() {
        let u = Rng::new(7).uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
