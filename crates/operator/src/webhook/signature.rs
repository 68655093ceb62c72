//! `X-Hub-Signature-256`: HMAC-SHA256 of the body, checked against every configured secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`) of `body` against each secret, in constant time
/// per secret, without stopping at the first match. Empty secrets never match.
pub fn verify_signature(secrets: &[Vec<u8>], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut ok = false;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            continue;
        };
        mac.update(body);
        ok |= mac.verify_slice(&sig).is_ok();
    }
    ok
}
