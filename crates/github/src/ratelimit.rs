//! GitHub's rate limits: reading the headers, and deciding when a request may go.
//!
//! The decisions are pure functions of headers, status, message and the clock, so they are
//! tested without a server; [`RateLimitTracker`] holds the last state seen, shared by every
//! request of a client.

use std::{
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::{HeaderMap, StatusCode};

use crate::config::RateLimitPolicy;

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// `x-ratelimit-reset`: when the window resets, in UTC epoch seconds.
    pub reset: Option<u64>,
    pub used: Option<u64>,
    pub resource: Option<String>,
    /// `retry-after` in seconds (GitHub never sends the HTTP-date form).
    pub retry_after: Option<Duration>,
}

impl RateLimitInfo {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        // HeaderMap lookups ignore case: 2013's lower-case and 2022's mixed case both work.
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            reset: number("x-ratelimit-reset"),
            used: number("x-ratelimit-used"),
            resource: headers
                .get("x-ratelimit-resource")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            retry_after: number("retry-after").map(Duration::from_secs),
        }
    }

    pub fn reset_time(&self) -> Option<SystemTime> {
        self.reset.map(epoch)
    }

    /// Whether the headers are about the `core` limit (absent resource: old responses were).
    fn is_core(&self) -> bool {
        self.resource.as_deref().is_none_or(|r| r == "core")
    }
}

pub fn epoch(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A rate-limit answer, and how long it asks us to stay away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit {
    pub until: SystemTime,
    pub kind: LimitKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The hourly quota is spent (`x-ratelimit-remaining: 0`).
    Primary,
    /// Too many requests too fast, or too much concurrency ("abuse detection" until 2021).
    Secondary,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Primary => "primary",
            LimitKind::Secondary => "secondary",
        }
    }
}

/// Whether a response is a rate limit, and until when (GitHub's documented rules):
/// - 403 or 429 with `retry-after`: secondary, wait that long;
/// - 403 or 429 with `x-ratelimit-remaining: 0`: primary, wait until `x-ratelimit-reset`;
/// - 429, or 403 whose message speaks of a rate limit or abuse: secondary, wait
///   `secondary_wait`;
/// - anything else: not a limit (a 403 can be a plain permission error).
///
/// Secondary waits double with each consecutive hit (`previous_hits`), as GitHub asks.
pub fn classify(
    status: StatusCode,
    info: &RateLimitInfo,
    message: &str,
    now: SystemTime,
    previous_hits: u32,
    policy: &RateLimitPolicy,
) -> Option<LimitHit> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let exponential = |base: Duration| {
        let factor = 1u32.checked_shl(previous_hits.min(16)).unwrap_or(u32::MAX);
        base.saturating_mul(factor)
    };
    if let Some(retry_after) = info.retry_after {
        return Some(LimitHit {
            until: now + exponential(retry_after),
            kind: LimitKind::Secondary,
        });
    }
    if info.remaining == Some(0) {
        // The 2013 recording has remaining 0 and no reset: then wait as for a secondary limit.
        let until = match info.reset_time() {
            Some(reset) => reset.max(now) + policy.reset_margin,
            None => now + exponential(policy.secondary_wait),
        };
        return Some(LimitHit {
            until,
            kind: LimitKind::Primary,
        });
    }
    let lower = message.to_ascii_lowercase();
    let speaks_of_limit = lower.contains("rate limit") || lower.contains("abuse");
    if status == StatusCode::TOO_MANY_REQUESTS || speaks_of_limit {
        return Some(LimitHit {
            until: now + exponential(policy.secondary_wait),
            kind: LimitKind::Secondary,
        });
    }
    None
}

/// What to do about a wait: do it, or give up because it is longer than the policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitDecision {
    Go,
    Wait(Duration),
    GiveUp,
}

pub fn decide_wait(until: SystemTime, now: SystemTime, max_wait: Duration) -> WaitDecision {
    match until.duration_since(now) {
        Err(_) => WaitDecision::Go,
        Ok(d) if d.is_zero() => WaitDecision::Go,
        Ok(d) if d > max_wait => WaitDecision::GiveUp,
        Ok(d) => WaitDecision::Wait(d),
    }
}

/// The limit state last seen, shared by the requests of one client.
#[derive(Debug, Default)]
pub struct RateLimitTracker {
    state: Mutex<TrackerState>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrackerState {
    pub remaining: Option<u64>,
    pub reset: Option<u64>,
    pub limit: Option<u64>,
    /// Set by a limit answer: nothing is sent before it.
    pub blocked_until: Option<SystemTime>,
}

impl RateLimitTracker {
    pub fn snapshot(&self) -> TrackerState {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        // A panic while holding this lock cannot leave the plain numbers inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a response's headers. Responses of concurrent requests arrive out of order, so
    /// within one window the lowest `remaining` wins, and an older window never overrides.
    pub fn observe(&self, info: &RateLimitInfo) {
        if !info.is_core() {
            return;
        }
        let (Some(remaining), Some(reset)) = (info.remaining, info.reset) else {
            // Old responses had no reset: keep what they say about remaining, if it is news.
            if let Some(remaining) = info.remaining {
                let mut state = self.lock();
                state.remaining = Some(state.remaining.map_or(remaining, |r| r.min(remaining)));
            }
            return;
        };
        let mut state = self.lock();
        match state.reset {
            Some(old) if reset < old => {}
            Some(old) if reset == old => {
                state.remaining = Some(state.remaining.map_or(remaining, |r| r.min(remaining)));
            }
            _ => {
                state.reset = Some(reset);
                state.remaining = Some(remaining);
            }
        }
        if info.limit.is_some() {
            state.limit = info.limit;
        }
    }

    /// Blocks every request until `until` (a limit answer).
    pub fn block_until(&self, until: SystemTime) {
        let mut state = self.lock();
        state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Until when a request must wait before being sent, if at all.
    pub fn wait_until(&self, now: SystemTime, margin: Duration) -> Option<SystemTime> {
        gate(&self.lock(), now, margin)
    }
}

/// The pure rule behind [`RateLimitTracker::wait_until`]: wait while blocked by a limit answer,
/// and while the quota is spent and its window has not reset.
pub fn gate(state: &TrackerState, now: SystemTime, margin: Duration) -> Option<SystemTime> {
    let blocked = state.blocked_until.filter(|b| *b > now);
    let exhausted = match (state.remaining, state.reset) {
        (Some(0), Some(reset)) => Some(epoch(reset) + margin).filter(|r| *r > now),
        _ => None,
    };
    blocked.max(exhausted)
}

#[cfg(test)]
mod tests;
