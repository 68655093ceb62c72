//! Readiness and liveness of the operator, as `/readyz` and `/healthz` report them.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// How long the controller loop may go without progress before `/healthz` fails, by default.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(300);

struct HealthInner {
    ready: AtomicBool,
    started: Instant,
    /// Milliseconds since `started` at the last progress.
    last_progress_ms: AtomicU64,
    stall_after: Duration,
}

/// Readiness and liveness, shared by the runtime (which updates them) and the probe routes.
///
/// - Ready: set by the runtime once the CRDs are found and the controllers run ([`Health::set_ready`]).
/// - Live: the controller loop calls [`Health::progress`] whenever it makes progress, and at least
///   on a timer shorter than the stall time (its resync tick, also on a standby replica); the
///   process is live unless that has not happened for `stall_after`. Live from the start.
#[derive(Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("ready", &self.is_ready())
            .field("since_progress", &self.since_progress())
            .field("stall_after", &self.inner.stall_after)
            .finish()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new(DEFAULT_STALL_AFTER)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Health {
    /// Not ready, live; dead once no progress is recorded for `stall_after`.
    pub fn new(stall_after: Duration) -> Self {
        Self {
            inner: Arc::new(HealthInner {
                ready: AtomicBool::new(false),
                started: Instant::now(),
                last_progress_ms: AtomicU64::new(0),
                stall_after,
            }),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Records progress of the controller loop now.
    pub fn progress(&self) {
        let now = millis(self.inner.started.elapsed());
        self.inner
            .last_progress_ms
            .fetch_max(now, Ordering::Relaxed);
    }

    /// Time since the last progress (or since start).
    pub fn since_progress(&self) -> Duration {
        let last = Duration::from_millis(self.inner.last_progress_ms.load(Ordering::Relaxed));
        self.inner.started.elapsed().saturating_sub(last)
    }

    pub fn stall_after(&self) -> Duration {
        self.inner.stall_after
    }

    /// Live unless the loop has not progressed for `stall_after`.
    pub fn is_live(&self) -> bool {
        self.since_progress() <= self.inner.stall_after
    }
}
