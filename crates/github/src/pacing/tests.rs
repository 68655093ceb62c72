use super::*;

/// Every window of `policy.window` over `granted` holds at most the budgets.
fn assert_within(granted: &[(Instant, Endpoint)], policy: &PacingPolicy) {
    let mut sorted = granted.to_vec();
    sorted.sort_by_key(|(at, _)| *at);
    for (i, (start, _)) in sorted.iter().enumerate() {
        let in_window = sorted[i..]
            .iter()
            .take_while(|(at, _)| *at < *start + policy.window);
        let (mut points, mut created) = (0u64, 0u64);
        for (_, endpoint) in in_window {
            points += u64::from(endpoint.points());
            created += u64::from(endpoint.creates_content());
        }
        assert!(
            points <= u64::from(policy.points),
            "{points} points in the window from {i}"
        );
        assert!(
            created <= u64::from(policy.content_creating),
            "{created} content-creating requests in the window from {i}"
        );
    }
}

/// The mix of a burst of label changes: each read once, most given a new label, some an old
/// one taken off.
fn burst(changes: usize) -> Vec<Endpoint> {
    (0..changes)
        .flat_map(|n| {
            let mut calls = vec![Endpoint::GetPull, Endpoint::AddIssueLabels];
            if n % 2 == 0 {
                calls.push(Endpoint::RemoveIssueLabel);
            }
            calls
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_two_thousand_changes_keeps_every_minute_within_budget() {
    let policy = PacingPolicy {
        points: 900,
        content_creating: 80,
        ..PacingPolicy::default()
    };
    let pacer = Arc::new(Pacer::new(policy));
    let granted = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for endpoint in burst(2_000) {
        let (pacer, granted) = (pacer.clone(), granted.clone());
        tasks.push(tokio::spawn(async move {
            let _slot = pacer.admit(endpoint).await;
            granted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), endpoint));
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let granted = granted.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(granted.len(), 5_000);
    assert_within(&granted, &policy);
    // 2,000 content-creating requests at 80 a minute: 25 minutes (the last in the 25th).
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(24 * 60) && took < Duration::from_secs(26 * 60),
        "{took:?}"
    );
    assert!(pacer.peak() <= 900, "{}", pacer.peak());
    assert_eq!(pacer.spent(), 2_000 + 2_000 * 5 + 1_000 * 5);
}

#[tokio::test(start_paused = true)]
async fn reads_alone_fill_the_minute_then_wait_for_it_to_roll() {
    let policy = PacingPolicy {
        points: 10,
        ..PacingPolicy::default()
    };
    let pacer = Pacer::new(policy);
    let started = Instant::now();
    for _ in 0..10 {
        pacer.admit(Endpoint::GetPull).await;
    }
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the first ten go at once"
    );
    assert_eq!(pacer.spent_in_window(), 10);
    let slot = pacer.admit(Endpoint::GetPull).await;
    assert_eq!(
        slot.waited, policy.window,
        "the eleventh waits for the first to leave"
    );
}

#[tokio::test(start_paused = true)]
async fn a_write_is_not_starved_by_reads_behind_it() {
    let policy = PacingPolicy {
        points: 6,
        ..PacingPolicy::default()
    };
    let pacer = Pacer::new(policy);
    let now = Instant::now();
    pacer.admit(Endpoint::GetPull).await;
    pacer.admit(Endpoint::GetPull).await;
    // The write needs 5 points: only 4 are left, so it waits a window; a read asked after it
    // goes after it, though it would fit now.
    let write = pacer.reserve(Endpoint::AddIssueLabels, now);
    let read = pacer.reserve(Endpoint::GetPull, now);
    assert_eq!(write, now + policy.window);
    assert!(read >= write);
}

#[tokio::test(start_paused = true)]
async fn in_flight_is_bounded() {
    let policy = PacingPolicy {
        in_flight: 3,
        ..PacingPolicy::default()
    };
    let pacer = Arc::new(Pacer::new(policy));
    let held: Vec<Slot> = futures_join(&pacer, 3).await;
    assert_eq!(pacer.in_flight(), 3);
    let fourth = tokio::time::timeout(Duration::from_secs(1), pacer.admit(Endpoint::GetPull)).await;
    assert!(fourth.is_err(), "a fourth waits while three are in flight");
    drop(held);
    assert_eq!(pacer.in_flight(), 0);
    let _ = pacer.admit(Endpoint::GetPull).await;
}

async fn futures_join(pacer: &Pacer, n: usize) -> Vec<Slot> {
    let mut slots = Vec::new();
    for _ in 0..n {
        slots.push(pacer.admit(Endpoint::GetPull).await);
    }
    slots
}

#[test]
fn policies_that_let_nothing_through_are_refused() {
    assert_eq!(PacingPolicy::default().validate(), Ok(()));
    assert_eq!(PacingPolicy::UNLIMITED.validate(), Ok(()));
    for bad in [
        PacingPolicy {
            points: 4,
            ..PacingPolicy::default()
        },
        PacingPolicy {
            in_flight: 0,
            ..PacingPolicy::default()
        },
        PacingPolicy {
            window: Duration::ZERO,
            ..PacingPolicy::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}
