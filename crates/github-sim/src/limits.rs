//! Primary rate-limit budgets per token (GitHub's `core` resource, hourly window) and injected
//! faults (5xx, latency, secondary limits, dropped webhooks), deterministic via a seeded PRNG.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ids::Rng;

/// Key of the budget used by requests without a token (GitHub counts them per IP, limit 60).
pub const ANONYMOUS: &str = "anonymous";
const ANONYMOUS_LIMIT: u64 = 60;
const WINDOW_SECS: i64 = 3600;

/// One token's primary budget.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub used: u64,
    /// Epoch seconds at which `used` returns to 0 (`x-ratelimit-reset`).
    pub reset: i64,
}

impl Budget {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Faults to inject. Fields left `None`/0 are off. Set through `SimulatorHandle::set_faults`
/// or `PUT /_sim/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Faults {
    /// Every Nth API request (counting from the moment faults were set) fails with `fail_status`.
    pub fail_every_nth: Option<u64>,
    /// Each API request fails with this probability (seeded by `seed`, so runs repeat).
    pub fail_probability: Option<f64>,
    pub seed: Option<u64>,
    /// Status of injected failures; 502 by default.
    pub fail_status: Option<u16>,
    /// Added to every API request before it is answered.
    pub latency_ms: Option<u64>,
    /// The next N API requests hit a secondary rate limit.
    pub secondary_next: u32,
    /// 403 (default) or 429.
    pub secondary_status: Option<u16>,
    /// `retry-after` seconds on secondary-limit responses; 60 by default.
    pub secondary_retry_after: Option<u64>,
    /// Status of primary-limit responses: 403 (default) or 429; GitHub documents both.
    pub primary_status: Option<u16>,
    /// The next N webhook deliveries are not sent (recorded as dropped).
    pub drop_webhooks: u32,
    /// `POST /repos/{o}/{r}/labels` answers 403, as for a token or App without the Issues write
    /// permission; adding a label to a PR still works (GitHub creates it grey).
    #[serde(default)]
    pub forbid_label_creation: bool,
}

#[derive(Debug)]
pub struct Limits {
    pub default_limit: u64,
    pub budgets: HashMap<String, Budget>,
    pub faults: Faults,
    /// Entries of a recursive `git/trees` answer before it is `truncated` (GitHub: 100,000).
    pub tree_entries: usize,
    rng: Rng,
    /// API requests seen since faults were last set (for `fail_every_nth`).
    seen: u64,
}

/// What the fault injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    None,
    Secondary { status: u16, retry_after: u64 },
    ServerError(u16),
}

impl Limits {
    pub fn new(default_limit: u64) -> Self {
        Self {
            default_limit,
            budgets: HashMap::new(),
            faults: Faults::default(),
            tree_entries: crate::git::GITHUB_TREE_ENTRIES,
            rng: Rng::new(0),
            seen: 0,
        }
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.rng = Rng::new(faults.seed.unwrap_or(0));
        self.seen = 0;
        self.faults = faults;
    }

    /// The budget of `key`, starting a new window when the old one has passed.
    pub fn budget(&mut self, key: &str, now: i64) -> Budget {
        let limit = if key == ANONYMOUS {
            ANONYMOUS_LIMIT
        } else {
            self.default_limit
        };
        let b = self.budgets.entry(key.to_string()).or_insert(Budget {
            limit,
            used: 0,
            reset: now + WINDOW_SECS,
        });
        if now >= b.reset {
            b.used = 0;
            b.reset = now + WINDOW_SECS;
        }
        *b
    }

    pub fn count(&mut self, key: &str, now: i64) -> Budget {
        self.budget(key, now);
        match self.budgets.get_mut(key) {
            Some(b) => {
                b.used = (b.used + 1).min(b.limit);
                *b
            }
            None => self.budget(key, now),
        }
    }

    /// Uses up `key`'s budget until `reset_in` seconds from `now`.
    pub fn exhaust(&mut self, key: &str, now: i64, reset_in: i64) {
        let mut b = self.budget(key, now);
        b.used = b.limit;
        b.reset = now + reset_in;
        self.budgets.insert(key.to_string(), b);
    }

    pub fn set_limit(&mut self, key: &str, now: i64, limit: u64) {
        let mut b = self.budget(key, now);
        b.limit = limit;
        b.used = b.used.min(limit);
        self.budgets.insert(key.to_string(), b);
    }

    /// Decides the fault for the next API request and advances the counters.
    pub fn inject(&mut self) -> Injected {
        self.seen += 1;
        if self.faults.secondary_next > 0 {
            self.faults.secondary_next -= 1;
            return Injected::Secondary {
                status: self.faults.secondary_status.unwrap_or(403),
                retry_after: self.faults.secondary_retry_after.unwrap_or(60),
            };
        }
        let status = self.faults.fail_status.unwrap_or(502);
        if let Some(n) = self.faults.fail_every_nth
            && n > 0
            && self.seen.is_multiple_of(n)
        {
            return Injected::ServerError(status);
        }
        if let Some(p) = self.faults.fail_probability
            && self.rng.next_f64() < p
        {
            return Injected::ServerError(status);
        }
        Injected::None
    }

    /// Takes one dropped-webhook slot, if any is left.
    pub fn take_drop(&mut self) -> bool {
        if self.faults.drop_webhooks > 0 {
            self.faults.drop_webhooks -= 1;
            true
        } else {
            false
        }
    }

    pub fn reset_counters(&mut self) {
        self.budgets.clear();
        self.seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_fails_exactly_the_nth() {
        let mut l = Limits::new(5000);
        l.set_faults(Faults {
            fail_every_nth: Some(3),
            ..Faults::default()
        });
        let got: Vec<bool> = (0..6)
            .map(|_| matches!(l.inject(), Injected::ServerError(502)))
            .collect();
        assert_eq!(got, [false, false, true, false, false, true]);
    }

    #[test]
    fn window_rolls_over_at_reset() {
        let mut l = Limits::new(2);
        l.count("t", 100);
        l.count("t", 100);
        assert_eq!(l.budget("t", 100).remaining(), 0);
        assert_eq!(l.budget("t", 100 + WINDOW_SECS).remaining(), 2);
    }
}
