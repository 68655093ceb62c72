//! Reading a delivery's body as an internet-facing endpoint must: within a time limit, within a
//! size limit, the signature fed as it streams in, and kept in memory only inside a budget shared
//! by every delivery in flight, so that many large bodies at once are refused instead of held.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;

use super::signature::SignatureCheck;

/// The bytes of bodies held in memory by all deliveries in flight, at most `limit`.
#[derive(Debug)]
pub(super) struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    pub(super) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// A reservation of nothing yet, grown as bytes arrive.
    pub(super) fn reserve(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub(super) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Part of the budget, given back when dropped.
#[derive(Debug)]
pub(super) struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Reservation {
    /// Grows the reservation to `total` bytes; false (and unchanged) when the budget has no room.
    pub(super) fn grow_to(&mut self, total: usize) -> bool {
        let Some(more) = total.checked_sub(self.bytes).filter(|&n| n > 0) else {
            return true;
        };
        if !self.budget.take(more) {
            return false;
        }
        self.bytes = total;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// What reading a body produced.
#[derive(Debug)]
pub(super) enum BodyRead {
    /// Read whole; `body` is empty unless it was to be kept.
    Complete { body: Bytes, signed: bool },
    /// Over the size limit.
    TooLarge,
    /// The budget for bodies in flight had no room for it.
    OverBudget,
    /// Not complete within the time limit.
    TimedOut,
    /// The connection failed or the encoding was broken.
    Broken(String),
}

/// Limits of one read.
pub(super) struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// Reads `body` to its end, feeding `check`; keeps the bytes (within `reservation`) only when
/// `keep`. `expected` is the Content-Length, when the sender gave one: it is reserved before the
/// first byte is read, so a body that cannot be held is refused before it is buffered.
pub(super) async fn read_body(
    body: Body,
    mut check: SignatureCheck,
    keep: Option<&mut Reservation>,
    expected: Option<usize>,
    limits: &BodyLimits,
) -> BodyRead {
    let mut keep = keep;
    if let (Some(reservation), Some(length)) = (keep.as_deref_mut(), expected)
        && !reservation.grow_to(length)
    {
        return BodyRead::OverBudget;
    }
    let capacity = if keep.is_some() {
        expected.unwrap_or(0).min(limits.max_bytes)
    } else {
        0
    };
    let mut kept = BytesMut::with_capacity(capacity);
    let mut seen = 0usize;
    let mut stream = body.into_data_stream();
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => return Err(BodyRead::Broken(error.to_string())),
            };
            seen = seen.saturating_add(chunk.len());
            if seen > limits.max_bytes {
                return Err(BodyRead::TooLarge);
            }
            check.update(&chunk);
            if let Some(reservation) = keep.as_deref_mut() {
                if !reservation.grow_to(seen) {
                    return Err(BodyRead::OverBudget);
                }
                kept.extend_from_slice(&chunk);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(limits.timeout, read).await {
        Err(_) => BodyRead::TimedOut,
        Ok(Err(failure)) => failure,
        Ok(Ok(())) => BodyRead::Complete {
            body: kept.freeze(),
            signed: check.matches(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_one_budget_and_give_back_on_drop() {
        let budget = BodyBudget::new(100);
        let mut first = budget.reserve();
        assert!(first.grow_to(60));
        let mut second = budget.reserve();
        assert!(!second.grow_to(41), "60 + 41 is over 100");
        assert!(second.grow_to(40));
        assert_eq!(budget.used(), 100);
        assert!(
            first.grow_to(60),
            "growing to what is held already costs nothing"
        );
        drop(first);
        assert_eq!(budget.used(), 40);
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    fn limits() -> BodyLimits {
        BodyLimits {
            max_bytes: 1024,
            timeout: Duration::from_secs(5),
        }
    }

    fn check() -> SignatureCheck {
        SignatureCheck::new(&[b"s".to_vec()], &format!("sha256={}", "00".repeat(32)))
            .expect("well-formed")
    }

    #[tokio::test]
    async fn a_declared_length_over_the_budget_is_refused_before_reading() {
        let budget = BodyBudget::new(10);
        let mut reservation = budget.reserve();
        let read = read_body(
            Body::from("0123456789abc"),
            check(),
            Some(&mut reservation),
            Some(13),
            &limits(),
        )
        .await;
        assert!(matches!(read, BodyRead::OverBudget), "{read:?}");
        drop(reservation);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_body_not_kept_takes_nothing_from_the_budget() {
        let budget = BodyBudget::new(0);
        let read = read_body(Body::from("x".repeat(500)), check(), None, None, &limits()).await;
        match read {
            BodyRead::Complete { body, signed } => {
                assert!(body.is_empty());
                assert!(!signed);
            }
            other => panic!("expected a complete read, got {other:?}"),
        }
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_body_over_the_size_limit_stops_the_read() {
        let read = read_body(Body::from("x".repeat(2000)), check(), None, None, &limits()).await;
        assert!(matches!(read, BodyRead::TooLarge), "{read:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_times_out() {
        let (_sender, stream) =
            futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
        let read = read_body(Body::from_stream(stream), check(), None, None, &limits()).await;
        assert!(matches!(read, BodyRead::TimedOut), "{read:?}");
    }
}
