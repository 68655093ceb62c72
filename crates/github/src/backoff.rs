//! Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
//! Jitter"): spreading retries uniformly over `[0, min(cap, base·2^n)]` keeps many reconcilers
//! that failed together from retrying together.

use std::time::Duration;

/// The retry delays of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The upper bound of the delay before retry number `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        // 2^31 already overflows any sane base; saturate rather than wrap.
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A delay drawn uniformly from `[0, ceiling(retry)]`.
    pub fn delay(&self, retry: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = backoff();
        let ceilings: Vec<u64> = (0..8).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn delays_stay_within_bounds_and_spread() {
        let b = backoff();
        let mut rng = fastrand::Rng::with_seed(7);
        for retry in 0..40 {
            let mut seen_low = false;
            let mut seen_high = false;
            for _ in 0..200 {
                let d = b.delay(retry, &mut rng);
                assert!(d <= b.ceiling(retry) && d <= b.cap);
                seen_low |= d < b.ceiling(retry) / 4;
                seen_high |= d > b.ceiling(retry) * 3 / 4;
            }
            assert!(seen_low && seen_high, "full jitter covers the range");
        }
    }

    #[test]
    fn zero_base_means_no_wait() {
        let b = Backoff {
            base: Duration::ZERO,
            cap: Duration::from_secs(1),
        };
        assert_eq!(b.delay(3, &mut fastrand::Rng::with_seed(1)), Duration::ZERO);
    }
}
