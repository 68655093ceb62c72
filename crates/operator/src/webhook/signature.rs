//! `X-Hub-Signature-256`: HMAC-SHA256 of the body, checked against every configured secret. The
//! MACs are fed as the body streams in, so a body that is not kept (an event we ignore) is never
//! held whole, and a kept one is not read twice.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A signature check in progress: [`SignatureCheck::update`] with each chunk of the body, then
/// [`SignatureCheck::matches`].
pub struct SignatureCheck {
    expected: Vec<u8>,
    macs: Vec<Hmac<Sha256>>,
}

impl SignatureCheck {
    /// Starts checking `header` (`sha256=<hex>`) against each non-empty secret; `None` when the
    /// header is not of that form, so the body need not be read at all.
    pub fn new(secrets: &[Vec<u8>], header: &str) -> Option<Self> {
        let hex_sig = header.trim().strip_prefix("sha256=")?;
        let expected = hex::decode(hex_sig).ok()?;
        // SHA-256 MACs are 32 bytes: anything else can match no secret.
        if expected.len() != 32 {
            return None;
        }
        let macs = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|secret| Hmac::<Sha256>::new_from_slice(secret).ok())
            .collect();
        Some(Self { expected, macs })
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        for mac in &mut self.macs {
            mac.update(chunk);
        }
    }

    /// Whether the body fed so far is signed by any secret; each secret is compared in constant
    /// time, and every one is compared (no early stop tells which matched).
    pub fn matches(self) -> bool {
        let mut ok = false;
        for mac in self.macs {
            ok |= mac.verify_slice(&self.expected).is_ok();
        }
        ok
    }
}

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`) of a whole `body` against each secret, in
/// constant time per secret, without stopping at the first match. Empty secrets never match.
pub fn verify_signature(secrets: &[Vec<u8>], body: &[u8], header: &str) -> bool {
    let Some(mut check) = SignatureCheck::new(secrets, header) else {
        return false;
    };
    check.update(body);
    check.matches()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn a_body_fed_in_chunks_checks_as_the_whole() {
        let secrets = vec![b"old".to_vec(), b"new".to_vec()];
        let body = b"{\"action\":\"opened\"}".repeat(100);
        let header = sign(b"new", &body);
        let mut check = SignatureCheck::new(&secrets, &header).expect("well-formed header");
        for chunk in body.chunks(7) {
            check.update(chunk);
        }
        assert!(check.matches());
        assert!(verify_signature(&secrets, &body, &header));
        assert!(!verify_signature(&secrets, &body[1..], &header));
    }

    #[test]
    fn malformed_headers_are_refused_before_any_body_is_read() {
        let secrets = vec![b"s".to_vec()];
        for header in ["", "sha1=00", "sha256=zz", "sha256=00", "sha256="] {
            assert!(
                SignatureCheck::new(&secrets, header).is_none(),
                "{header:?} should be refused"
            );
        }
    }

    #[test]
    fn empty_secrets_never_match() {
        let header = sign(b"", b"body");
        assert!(!verify_signature(&[Vec::new()], b"body", &header));
    }
}
