use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().unwrap());
    }
    map
}

fn policy() -> RateLimitPolicy {
    RateLimitPolicy {
        max_wait: Duration::from_secs(600),
        secondary_wait: Duration::from_secs(60),
        max_limited_attempts: 5,
        reset_margin: Duration::from_secs(1),
        write_interval: Duration::from_secs(1),
    }
}

const NOW: u64 = 1_700_000_000;

#[test]
fn reads_headers_in_any_case() {
    let info = RateLimitInfo::from_headers(&headers(&[
        ("X-RateLimit-Limit", "5000"),
        ("x-ratelimit-remaining", "4990"),
        ("X-RateLimit-Reset", "1658208999"),
        ("X-RateLimit-Used", "10"),
        ("X-RateLimit-Resource", "core"),
    ]));
    assert_eq!(info.limit, Some(5000));
    assert_eq!(info.remaining, Some(4990));
    assert_eq!(info.reset, Some(1_658_208_999));
    assert_eq!(info.used, Some(10));
    assert_eq!(info.resource.as_deref(), Some("core"));
    assert_eq!(info.retry_after, None);
    assert_eq!(
        RateLimitInfo::from_headers(&HeaderMap::new()),
        RateLimitInfo::default()
    );
    let junk = RateLimitInfo::from_headers(&headers(&[("x-ratelimit-remaining", "lots")]));
    assert_eq!(junk.remaining, None);
}

#[test]
fn primary_limit_waits_for_reset_plus_margin() {
    let info = RateLimitInfo {
        remaining: Some(0),
        reset: Some(NOW + 30),
        ..Default::default()
    };
    for status in [StatusCode::FORBIDDEN, StatusCode::TOO_MANY_REQUESTS] {
        let hit = classify(
            status,
            &info,
            "API rate limit exceeded",
            epoch(NOW),
            0,
            &policy(),
        );
        assert_eq!(
            hit,
            Some(LimitHit {
                until: epoch(NOW + 31),
                kind: LimitKind::Primary
            })
        );
    }
}

#[test]
fn primary_limit_without_reset_waits_the_secondary_minimum() {
    // The 2013 recording: 403, remaining 0, no reset header.
    let info = RateLimitInfo {
        remaining: Some(0),
        limit: Some(60),
        ..Default::default()
    };
    let hit = classify(
        StatusCode::FORBIDDEN,
        &info,
        "API Rate Limit Exceeded for 1.2.3.4",
        epoch(NOW),
        0,
        &policy(),
    );
    assert_eq!(hit.map(|h| h.until), Some(epoch(NOW + 60)));
}

#[test]
fn retry_after_wins_and_doubles_on_repeats() {
    let info = RateLimitInfo {
        retry_after: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    let at = |hits| {
        classify(
            StatusCode::FORBIDDEN,
            &info,
            "",
            epoch(NOW),
            hits,
            &policy(),
        )
        .map(|h| h.until)
    };
    assert_eq!(at(0), Some(epoch(NOW + 60)));
    assert_eq!(at(1), Some(epoch(NOW + 120)));
    assert_eq!(at(2), Some(epoch(NOW + 240)));
    let hit = classify(
        StatusCode::TOO_MANY_REQUESTS,
        &info,
        "",
        epoch(NOW),
        0,
        &policy(),
    );
    assert_eq!(hit.map(|h| h.kind), Some(LimitKind::Secondary));
}

#[test]
fn secondary_by_message_or_429_waits_at_least_a_minute() {
    let none = RateLimitInfo {
        remaining: Some(4000),
        reset: Some(NOW + 100),
        ..Default::default()
    };
    for message in [
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.",
    ] {
        let hit = classify(
            StatusCode::FORBIDDEN,
            &none,
            message,
            epoch(NOW),
            0,
            &policy(),
        );
        assert_eq!(
            hit,
            Some(LimitHit {
                until: epoch(NOW + 60),
                kind: LimitKind::Secondary
            })
        );
    }
    let hit = classify(
        StatusCode::TOO_MANY_REQUESTS,
        &none,
        "",
        epoch(NOW),
        3,
        &policy(),
    );
    assert_eq!(hit.map(|h| h.until), Some(epoch(NOW + 480)));
}

#[test]
fn other_answers_are_not_limits() {
    let info = RateLimitInfo {
        remaining: Some(10),
        ..Default::default()
    };
    assert_eq!(
        classify(
            StatusCode::FORBIDDEN,
            &info,
            "Resource not accessible by integration",
            epoch(NOW),
            0,
            &policy()
        ),
        None
    );
    let spent = RateLimitInfo {
        remaining: Some(0),
        reset: Some(NOW),
        ..Default::default()
    };
    // The last allowed request of a window is a 200 with remaining 0: not an error.
    assert_eq!(
        classify(StatusCode::OK, &spent, "", epoch(NOW), 0, &policy()),
        None
    );
    assert_eq!(
        classify(StatusCode::NOT_FOUND, &spent, "", epoch(NOW), 0, &policy()),
        None
    );
}

#[test]
fn wait_decisions() {
    let max = Duration::from_secs(60);
    assert_eq!(
        decide_wait(epoch(NOW - 1), epoch(NOW), max),
        WaitDecision::Go
    );
    assert_eq!(decide_wait(epoch(NOW), epoch(NOW), max), WaitDecision::Go);
    assert_eq!(
        decide_wait(epoch(NOW + 5), epoch(NOW), max),
        WaitDecision::Wait(Duration::from_secs(5))
    );
    assert_eq!(
        decide_wait(epoch(NOW + 60), epoch(NOW), max),
        WaitDecision::Wait(max)
    );
    assert_eq!(
        decide_wait(epoch(NOW + 61), epoch(NOW), max),
        WaitDecision::GiveUp
    );
}

#[test]
fn gate_holds_requests_while_the_quota_is_spent() {
    let margin = Duration::from_secs(1);
    let spent = TrackerState {
        remaining: Some(0),
        reset: Some(NOW + 10),
        ..Default::default()
    };
    assert_eq!(gate(&spent, epoch(NOW), margin), Some(epoch(NOW + 11)));
    assert_eq!(
        gate(&spent, epoch(NOW + 11), margin),
        None,
        "after the reset, go"
    );
    let left = TrackerState {
        remaining: Some(1),
        reset: Some(NOW + 10),
        ..Default::default()
    };
    assert_eq!(gate(&left, epoch(NOW), margin), None);
    let blocked = TrackerState {
        blocked_until: Some(epoch(NOW + 60)),
        ..left
    };
    assert_eq!(gate(&blocked, epoch(NOW), margin), Some(epoch(NOW + 60)));
    let both = TrackerState {
        blocked_until: Some(epoch(NOW + 5)),
        ..spent
    };
    assert_eq!(
        gate(&both, epoch(NOW), margin),
        Some(epoch(NOW + 11)),
        "the later wins"
    );
}

#[test]
fn tracker_keeps_the_lowest_remaining_of_a_window_and_ignores_old_windows() {
    let tracker = RateLimitTracker::default();
    let seen = |remaining, reset| RateLimitInfo {
        remaining: Some(remaining),
        reset: Some(reset),
        limit: Some(5000),
        resource: Some("core".into()),
        ..Default::default()
    };
    tracker.observe(&seen(10, NOW));
    tracker.observe(&seen(12, NOW)); // an older response of the same window, arriving late
    assert_eq!(tracker.snapshot().remaining, Some(10));
    tracker.observe(&seen(4999, NOW + 3600)); // a new window
    assert_eq!(tracker.snapshot().remaining, Some(4999));
    tracker.observe(&seen(0, NOW)); // the old window, arriving very late
    assert_eq!(tracker.snapshot().remaining, Some(4999));
    tracker.observe(&RateLimitInfo {
        remaining: Some(0),
        reset: Some(NOW + 3600),
        resource: Some("search".into()),
        ..Default::default()
    });
    assert_eq!(
        tracker.snapshot().remaining,
        Some(4999),
        "search limits do not gate core calls"
    );
    assert_eq!(tracker.snapshot().limit, Some(5000));
    tracker.block_until(epoch(NOW + 5));
    tracker.block_until(epoch(NOW + 2));
    assert_eq!(tracker.snapshot().blocked_until, Some(epoch(NOW + 5)));
    assert_eq!(
        tracker.wait_until(epoch(NOW), Duration::ZERO),
        Some(epoch(NOW + 5))
    );
}
