//! Pacing by GitHub's secondary limits, before GitHub has to say so: a client-wide budget of
//! points per minute (a read costs 1, a write 5), of content-creating requests per minute, and of
//! requests in flight. GitHub documents 900 points, 80 content-creating requests and 100
//! concurrent requests; the defaults stay below each, leaving room for the token's other users.
//!
//! Each request reserves its place in time before it is sent: the earliest moment at which the
//! window ending then still has room. Places are handed out in call order, so a write is never
//! starved by a stream of reads, and a burst spreads over the minute instead of hitting the wall.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use crate::endpoint::Endpoint;

/// The budget the client keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingPolicy {
    /// The window the budgets are counted over (GitHub's is a minute).
    pub window: Duration,
    /// Points sent in any window: GET 1, POST/PATCH/PUT/DELETE 5. GitHub's limit is 900.
    pub points: u32,
    /// Content-creating requests (POST) in any window. GitHub's limit is 80.
    pub content_creating: u32,
    /// Requests waiting for an answer at once. GitHub's limit is 100, shared by the token.
    pub in_flight: usize,
}

impl Default for PacingPolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            points: 800,
            content_creating: 70,
            in_flight: 50,
        }
    }
}

impl PacingPolicy {
    /// No pacing at all (tests that measure something else).
    pub const UNLIMITED: PacingPolicy = PacingPolicy {
        window: Duration::from_secs(60),
        points: u32::MAX,
        content_creating: u32::MAX,
        in_flight: Semaphore::MAX_PERMITS,
    };

    pub fn validate(&self) -> Result<(), String> {
        if self.window.is_zero() {
            return Err("the pacing window must be positive".into());
        }
        if self.points < Endpoint::AddIssueLabels.points() || self.content_creating == 0 {
            return Err(format!(
                "a pacing budget of {} points and {} content-creating requests lets no write through",
                self.points, self.content_creating
            ));
        }
        if self.in_flight == 0 || self.in_flight > Semaphore::MAX_PERMITS {
            return Err(format!(
                "{} requests in flight is not a usable bound",
                self.in_flight
            ));
        }
        Ok(())
    }
}

/// One place handed out: when, and what it costs.
#[derive(Debug, Clone, Copy)]
struct Place {
    at: Instant,
    points: u32,
    creates: bool,
}

/// Places of the last window (and reserved ones ahead), oldest first.
#[derive(Debug, Default)]
struct Ledger {
    places: VecDeque<Place>,
    /// The most points any window has held, for the metrics.
    peak: u64,
    spent: u64,
}

/// The client-wide pacer.
#[derive(Debug)]
pub struct Pacer {
    policy: PacingPolicy,
    ledger: Mutex<Ledger>,
    in_flight: Arc<Semaphore>,
}

/// A request's right to be sent: hold it until its answer is read.
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    /// How long the request waited for its place.
    pub waited: Duration,
}

impl Pacer {
    pub fn new(policy: PacingPolicy) -> Self {
        Self {
            policy,
            ledger: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(policy.in_flight)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room in flight, then for the request's place in the budget. In that order: a
    /// request is sent at the moment its place was reserved for, not later, so the windows GitHub
    /// counts are the ones reserved.
    pub async fn admit(&self, endpoint: Endpoint) -> Slot {
        let started = Instant::now();
        // The semaphore is never closed; were it, there would be nothing left to bound.
        let permit = Arc::clone(&self.in_flight).acquire_owned().await.ok();
        let at = self.reserve(endpoint, Instant::now());
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        Slot {
            _permit: permit,
            waited: started.elapsed(),
        }
    }

    /// The earliest moment from `now`, not before any place already handed out, at which the
    /// window ending then has room for `endpoint`; recorded as taken.
    fn reserve(&self, endpoint: Endpoint, now: Instant) -> Instant {
        let (points, creates) = (endpoint.points(), endpoint.creates_content());
        let window = self.policy.window;
        let mut ledger = self.lock();
        // Places that can no longer share a window with anything from now on.
        while ledger.places.front().is_some_and(|p| p.at + window <= now) {
            ledger.places.pop_front();
        }
        let mut at = ledger.places.back().map_or(now, |p| p.at.max(now));
        loop {
            let (spent, oldest_needed) =
                fit(&ledger.places, at, window, points, creates, &self.policy);
            match oldest_needed {
                // Room: the window ending at `at` holds this request too.
                None => {
                    ledger.places.push_back(Place {
                        at,
                        points,
                        creates,
                    });
                    ledger.peak = ledger.peak.max(spent + u64::from(points));
                    ledger.spent += u64::from(points);
                    return at;
                }
                // No room until that place leaves the window.
                Some(leaves) => at = leaves + window,
            }
        }
    }

    /// Points spent in the window ending now.
    pub fn spent_in_window(&self) -> u64 {
        let now = Instant::now();
        let window = self.policy.window;
        self.lock()
            .places
            .iter()
            .filter(|p| p.at <= now && p.at + window > now)
            .map(|p| u64::from(p.points))
            .sum()
    }

    /// The most points any window has held.
    pub fn peak(&self) -> u64 {
        self.lock().peak
    }

    /// Points spent since the start.
    pub fn spent(&self) -> u64 {
        self.lock().spent
    }

    /// Requests holding a slot now.
    pub fn in_flight(&self) -> usize {
        self.policy
            .in_flight
            .saturating_sub(self.in_flight.available_permits())
    }

    pub fn policy(&self) -> PacingPolicy {
        self.policy
    }
}

/// What the window ending at `at` holds, and, when it has no room for one more request, the
/// place whose leaving makes room (the earliest one that must go).
fn fit(
    places: &VecDeque<Place>,
    at: Instant,
    window: Duration,
    points: u32,
    creates: bool,
    policy: &PacingPolicy,
) -> (u64, Option<Instant>) {
    let in_window: Vec<&Place> = places.iter().filter(|p| p.at + window > at).collect();
    let spent: u64 = in_window.iter().map(|p| u64::from(p.points)).sum();
    let created = in_window.iter().filter(|p| p.creates).count() as u64;
    let mut over_points = (spent + u64::from(points)).saturating_sub(u64::from(policy.points));
    let mut over_created = if creates {
        (created + 1).saturating_sub(u64::from(policy.content_creating))
    } else {
        0
    };
    if over_points == 0 && over_created == 0 {
        return (spent, None);
    }
    // Walk from the oldest until enough has left.
    for place in &in_window {
        over_points = over_points.saturating_sub(u64::from(place.points));
        if place.creates {
            over_created = over_created.saturating_sub(1);
        }
        if over_points == 0 && over_created == 0 {
            return (spent, Some(place.at));
        }
    }
    // Larger than a whole window's budget: alone in the next one.
    (spent, in_window.last().map(|p| p.at))
}

#[cfg(test)]
mod tests;
