//! Outage mode: when GitHub fails broadly (5xx, timeouts, connection errors across requests), a
//! circuit opens. While open, calls fail at once without a request, except one probe at a time,
//! sent after a wait that doubles with each failed probe; the first answer that is not a failure
//! closes the circuit, and [`Circuit::closings`] tells whoever waits to resync what it missed.
//!
//! Without it every caller retries on its own: the cost of an outage grows with the number of
//! trackers, and each tracker's backoff outlives the outage (issue #14: 422 requests from 20
//! trackers in 90 s, and PRs left inconsistent 78 s after GitHub came back).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

/// When the circuit opens and how it probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// Consecutive failed attempts, across all calls, that open the circuit; 0 never opens it.
    pub failures_to_open: u32,
    /// The wait before the first probe.
    pub first_probe: Duration,
    /// The longest wait between probes.
    pub max_probe_wait: Duration,
}

impl Default for CircuitPolicy {
    fn default() -> Self {
        Self {
            failures_to_open: 5,
            first_probe: Duration::from_secs(2),
            max_probe_wait: Duration::from_secs(60),
        }
    }
}

impl CircuitPolicy {
    /// Never opens: every call retries on its own.
    pub const DISABLED: Self = Self {
        failures_to_open: 0,
        first_probe: Duration::ZERO,
        max_probe_wait: Duration::ZERO,
    };

    /// The wait after `failed_probes` probes failed in a row (0: before the first).
    fn wait(&self, failed_probes: u32) -> Duration {
        let factor = 1u32.checked_shl(failed_probes.min(20)).unwrap_or(u32::MAX);
        self.first_probe
            .saturating_mul(factor)
            .min(self.max_probe_wait)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        /// When the next probe may go.
        probe_at: Instant,
        failed_probes: u32,
        probing: bool,
    },
}

/// What a call may do now.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Send it; a probe's outcome decides the circuit.
    Go(Option<Probe>),
    /// The circuit is open: fail without a request; the next probe goes at `probe_at`.
    Refused { probe_at: Instant },
}

/// The one call allowed through an open circuit. Dropped without an outcome (the call was
/// cancelled), it lets the next call probe instead, so the circuit cannot stay open for ever.
#[derive(Debug)]
pub(crate) struct Probe {
    circuit: Arc<Circuit>,
    settled: bool,
}

impl Probe {
    fn settle(mut self) {
        self.settled = true;
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if !self.settled {
            self.circuit.update(|state| {
                if let State::Open { probing, .. } = state {
                    *probing = false;
                }
            });
        }
    }
}

/// The circuit of one client, shared by all its calls.
#[derive(Debug)]
pub struct Circuit {
    policy: CircuitPolicy,
    state: Mutex<State>,
    /// Counts the times the circuit closed after being open.
    closings: watch::Sender<u64>,
}

impl Circuit {
    pub fn new(policy: CircuitPolicy) -> Arc<Self> {
        Arc::new(Self {
            policy,
            state: Mutex::new(State::Closed {
                consecutive_failures: 0,
            }),
            closings: watch::Sender::new(0),
        })
    }

    /// Whether the circuit is open now.
    pub fn is_open(&self) -> bool {
        matches!(self.read(), State::Open { .. })
    }

    /// `None` while closed; while open, how long until a probe may go (zero: now), so that a
    /// caller with nothing else to send can probe on time.
    pub fn next_probe_in(&self) -> Option<Duration> {
        match self.read() {
            State::Closed { .. } => None,
            State::Open {
                probe_at, probing, ..
            } => Some(if probing {
                // A probe is out: look again once it has had time to come back.
                self.policy.first_probe
            } else {
                probe_at.saturating_duration_since(Instant::now())
            }),
        }
    }

    /// Changes each time the circuit closes after an outage: the moment to resync what failed.
    pub fn closings(&self) -> watch::Receiver<u64> {
        self.closings.subscribe()
    }

    pub(crate) fn admit(self: &Arc<Self>) -> Admission {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *state {
            State::Closed { .. } => Admission::Go(None),
            State::Open {
                probe_at, probing, ..
            } => {
                if *probing || now < *probe_at {
                    return Admission::Refused {
                        probe_at: *probe_at,
                    };
                }
                *probing = true;
                Admission::Go(Some(Probe {
                    circuit: self.clone(),
                    settled: false,
                }))
            }
        }
    }

    /// GitHub answered (anything but a 5xx): it is up. Returns true if this closed the circuit.
    pub(crate) fn answered(&self, probe: Option<Probe>) -> bool {
        if let Some(probe) = probe {
            probe.settle();
        }
        let mut closed = false;
        self.update(|state| {
            closed = matches!(state, State::Open { .. });
            *state = State::Closed {
                consecutive_failures: 0,
            };
        });
        if closed {
            self.closings.send_modify(|n| *n = n.wrapping_add(1));
        }
        closed
    }

    /// An attempt failed as an outage would (5xx, timeout, no connection). Returns true if the
    /// circuit is open after it.
    pub(crate) fn failed(&self, probe: Option<Probe>) -> bool {
        let policy = self.policy;
        let now = Instant::now();
        let was_probe = probe.is_some();
        if let Some(probe) = probe {
            probe.settle();
        }
        let mut open = false;
        self.update(|state| match state {
            State::Closed {
                consecutive_failures,
            } => {
                *consecutive_failures = consecutive_failures.saturating_add(1);
                if policy.failures_to_open > 0 && *consecutive_failures >= policy.failures_to_open {
                    *state = State::Open {
                        probe_at: now + policy.wait(0),
                        failed_probes: 0,
                        probing: false,
                    };
                    open = true;
                }
            }
            State::Open {
                probe_at,
                failed_probes,
                probing,
            } => {
                if was_probe {
                    *failed_probes = failed_probes.saturating_add(1);
                    *probe_at = now + policy.wait(*failed_probes);
                    *probing = false;
                }
                open = true;
            }
        });
        open
    }

    fn read(&self) -> State {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CircuitPolicy {
        CircuitPolicy {
            failures_to_open: 3,
            first_probe: Duration::from_secs(1),
            max_probe_wait: Duration::from_secs(8),
        }
    }

    fn go(circuit: &Arc<Circuit>) -> Option<Probe> {
        match circuit.admit() {
            Admission::Go(probe) => probe,
            Admission::Refused { .. } => panic!("refused"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_an_answer_in_between_resets_them() {
        let circuit = Circuit::new(policy());
        assert!(!circuit.failed(go(&circuit)));
        assert!(!circuit.failed(go(&circuit)));
        circuit.answered(go(&circuit));
        assert!(!circuit.failed(go(&circuit)));
        assert!(!circuit.failed(go(&circuit)));
        assert!(circuit.failed(go(&circuit)), "the third in a row opens it");
        assert!(circuit.is_open());
        assert!(matches!(circuit.admit(), Admission::Refused { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn one_probe_at_a_time_with_doubling_waits_until_an_answer_closes_it() {
        let circuit = Circuit::new(policy());
        let mut closings = circuit.closings();
        for _ in 0..3 {
            circuit.failed(go(&circuit));
        }
        assert_eq!(circuit.next_probe_in(), Some(Duration::from_secs(1)));
        let mut waits = Vec::new();
        for _ in 0..5 {
            let Admission::Refused { probe_at } = circuit.admit() else {
                panic!("open")
            };
            waits.push((probe_at - Instant::now()).as_secs());
            tokio::time::sleep_until(probe_at).await;
            let probe = go(&circuit);
            assert!(probe.is_some(), "the call after the wait is the probe");
            assert!(
                matches!(circuit.admit(), Admission::Refused { .. }),
                "only one probe at a time"
            );
            assert!(circuit.failed(probe));
        }
        assert_eq!(waits, [1, 2, 4, 8, 8]);
        assert!(!closings.has_changed().expect("open"));
        let Admission::Refused { probe_at } = circuit.admit() else {
            panic!("open")
        };
        tokio::time::sleep_until(probe_at).await;
        assert!(
            circuit.answered(go(&circuit)),
            "the probe's answer closes it"
        );
        assert!(closings.has_changed().expect("open"));
        assert_eq!(*closings.borrow_and_update(), 1);
        assert!(go(&circuit).is_none(), "closed: calls go, no probe");
        assert_eq!(circuit.next_probe_in(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_without_an_outcome_lets_the_next_call_probe() {
        let circuit = Circuit::new(policy());
        for _ in 0..3 {
            circuit.failed(go(&circuit));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let probe = go(&circuit);
        assert!(probe.is_some());
        drop(probe);
        assert!(go(&circuit).is_some(), "another probe may go");
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_never_opens() {
        let circuit = Circuit::new(CircuitPolicy::DISABLED);
        for _ in 0..100 {
            assert!(!circuit.failed(go(&circuit)));
        }
    }
}
