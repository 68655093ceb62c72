//! The metrics registry, its text exposition and the health routes, in process.

// Helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::body::Body;
use http::{Request, StatusCode, header};
use prtracker_api::Repository;
use prtracker_domain::PrState;
use prtracker_github::{
    GitHubAuth, GitHubClient, GitHubConfig, GitHubMetrics, MetricsSnapshot, OctocrabGitHub,
    RequestCount,
};
use prtracker_github_sim::{NewPull, Simulator};
use prtracker_operator::metrics::{
    Health, Metrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE, WebhookResult, router,
};
use tower::ServiceExt;

async fn get(app: axum::Router, path: &str, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get(path);
    if let Some(accept) = accept {
        req = req.header(header::ACCEPT, accept);
    }
    let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// Prometheus' own Accept header.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

async fn scrape(metrics: &Metrics) -> String {
    let (status, content_type, body) = get(
        router(metrics.clone(), Health::default()),
        "/metrics",
        Some(PROMETHEUS_ACCEPT),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
    assert!(body.ends_with("# EOF\n"), "{body}");
    body
}

fn has_line(body: &str, line: &str) {
    assert!(
        body.lines().any(|l| l == line),
        "no line {line:?} in:\n{body}"
    );
}

#[tokio::test]
async fn every_family_appears_with_its_labels_after_recording() {
    let metrics = Metrics::new();
    metrics.reconcile_ok("tracker", Duration::from_millis(20));
    metrics.reconcile_ok("tracker", Duration::from_millis(30));
    metrics.reconcile_error("tracker", "github_rate_limited", Duration::from_millis(7));
    metrics.reconcile_ok("monitor", Duration::from_secs(2));
    metrics.webhook_delivery(WebhookResult::Accepted);
    metrics.webhook_delivery(WebhookResult::BadSignature);
    metrics.webhook_delivery(WebhookResult::BadSignature);
    metrics.set_trackers_by_state([(PrState::Open, 3), (PrState::Merged, 1)]);

    let body = scrape(&metrics).await;
    has_line(&body, "# TYPE prtracker_reconciles counter");
    has_line(
        &body,
        r#"prtracker_reconciles_total{controller="tracker",result="success"} 2"#,
    );
    has_line(
        &body,
        r#"prtracker_reconciles_total{controller="tracker",result="error"} 1"#,
    );
    has_line(
        &body,
        r#"prtracker_reconciles_total{controller="monitor",result="success"} 1"#,
    );
    has_line(
        &body,
        r#"prtracker_reconcile_errors_total{controller="tracker",reason="github_rate_limited"} 1"#,
    );
    has_line(
        &body,
        "# TYPE prtracker_reconcile_duration_seconds histogram",
    );
    has_line(&body, "# UNIT prtracker_reconcile_duration_seconds seconds");
    has_line(
        &body,
        r#"prtracker_reconcile_duration_seconds_count{controller="tracker"} 3"#,
    );
    has_line(
        &body,
        r#"prtracker_reconcile_duration_seconds_count{controller="monitor"} 1"#,
    );
    has_line(
        &body,
        r#"prtracker_reconcile_duration_seconds_bucket{le="+Inf",controller="tracker"} 3"#,
    );
    // 7 ms and 20 ms fall at or under 0.02, 30 ms does not.
    has_line(
        &body,
        r#"prtracker_reconcile_duration_seconds_bucket{le="0.02",controller="tracker"} 2"#,
    );
    has_line(&body, "# TYPE prtracker_trackers gauge");
    has_line(&body, r#"prtracker_trackers{state="open"} 3"#);
    has_line(&body, r#"prtracker_trackers{state="merged"} 1"#);
    has_line(&body, r#"prtracker_trackers{state="deployed"} 0"#);
    has_line(&body, "# TYPE prtracker_webhook_deliveries counter");
    has_line(
        &body,
        r#"prtracker_webhook_deliveries_total{result="accepted"} 1"#,
    );
    has_line(
        &body,
        r#"prtracker_webhook_deliveries_total{result="bad_signature"} 2"#,
    );
    // Every result exists from the start.
    for result in WebhookResult::ALL {
        assert!(
            body.contains(&format!(
                "prtracker_webhook_deliveries_total{{result=\"{result}\"}}"
            )),
            "{result} missing:\n{body}"
        );
    }
    assert_eq!(metrics.webhook_deliveries(WebhookResult::BadSignature), 2);
    // No GitHub source yet: no GitHub families.
    assert!(!body.contains("prtracker_github_"), "{body}");
}

#[tokio::test]
async fn a_state_missing_from_the_next_map_drops_to_zero() {
    let metrics = Metrics::new();
    metrics.set_trackers([("open", 4), ("approved", 2), ("unknown", 1)]);
    let body = scrape(&metrics).await;
    has_line(&body, r#"prtracker_trackers{state="open"} 4"#);
    has_line(&body, r#"prtracker_trackers{state="approved"} 2"#);
    has_line(&body, r#"prtracker_trackers{state="unknown"} 1"#);

    metrics.set_trackers([("open", 5)]);
    let body = scrape(&metrics).await;
    has_line(&body, r#"prtracker_trackers{state="open"} 5"#);
    has_line(&body, r#"prtracker_trackers{state="approved"} 0"#);
    has_line(&body, r#"prtracker_trackers{state="unknown"} 0"#);

    // Every PrState is always there.
    metrics.set_trackers(std::iter::empty::<(&str, u64)>());
    let body = scrape(&metrics).await;
    for state in PrState::ALL {
        has_line(
            &body,
            &format!("prtracker_trackers{{state=\"{}\"}} 0", state.name()),
        );
    }
}

#[tokio::test]
async fn prometheus_text_is_served_to_plain_clients() {
    let metrics = Metrics::new();
    metrics.reconcile_ok("tracker", Duration::from_millis(1));
    let (status, content_type, body) =
        get(router(metrics, Health::default()), "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, PROMETHEUS_TEXT_CONTENT_TYPE);
    assert!(!body.contains("# EOF"), "{body}");
    has_line(
        &body,
        r#"prtracker_reconciles_total{controller="tracker",result="success"} 1"#,
    );
}

#[tokio::test]
async fn github_counters_of_a_fresh_handle_are_exposed() {
    let github = Arc::new(GitHubMetrics::new());
    let metrics = Metrics::with_github(Arc::clone(&github));
    let body = scrape(&metrics).await;
    has_line(&body, "# TYPE prtracker_github_requests counter");
    has_line(&body, "prtracker_github_not_modified_total 0");
    has_line(&body, "prtracker_github_retries_total 0");
    has_line(&body, "prtracker_github_rate_limit_waits_total 0");
    // Unknown until GitHub says: not exposed rather than a made-up value.
    assert!(
        !body.contains("prtracker_github_rate_limit_remaining"),
        "{body}"
    );
}

#[tokio::test]
async fn github_counters_from_a_snapshot_function() {
    let metrics = Metrics::new();
    metrics.set_github_snapshots(snapshot_of_every_kind);
    let body = scrape(&metrics).await;
    has_line(
        &body,
        r#"prtracker_github_requests_total{endpoint="GET /repos/{owner}/{repo}/pulls/{number}",status="200"} 5"#,
    );
    has_line(
        &body,
        r#"prtracker_github_requests_total{endpoint="GET /repos/{owner}/{repo}/pulls/{number}",status="304"} 7"#,
    );
    has_line(
        &body,
        r#"prtracker_github_requests_total{endpoint="POST /repos/{owner}/{repo}/issues/{number}/labels",status="error"} 1"#,
    );
    has_line(&body, "prtracker_github_not_modified_total 7");
    has_line(&body, "prtracker_github_retries_total 2");
    has_line(&body, "prtracker_github_rate_limit_waits_total 1");
    has_line(&body, "prtracker_github_rate_limit_wait_seconds_total 1.5");
    has_line(&body, "prtracker_github_rate_limited_errors_total 0");
    has_line(&body, "prtracker_github_write_delay_seconds_total 0.25");
    has_line(&body, "prtracker_github_points_total 4321");
    has_line(&body, "prtracker_github_points_per_minute 640");
    has_line(&body, "prtracker_github_peak_points_per_minute 799");
    has_line(&body, "prtracker_github_in_flight 3");
    has_line(&body, "prtracker_github_pacing_waits_total 9");
    has_line(&body, "prtracker_github_pacing_wait_seconds_total 4.5");
    has_line(&body, "prtracker_github_rate_limit_remaining 4990");
    has_line(&body, "prtracker_github_rate_limit_limit 5000");
    has_line(
        &body,
        "prtracker_github_rate_limit_reset_timestamp_seconds 1658208999",
    );
    has_line(&body, "prtracker_github_cache_entries 12");
    has_line(&body, "prtracker_github_cache_bytes 34567");
}

/// The real client against the simulator: its live counters show at the next scrape.
#[tokio::test]
async fn github_counters_of_a_real_client_follow_its_requests() {
    let sim = Simulator::start().await.unwrap();
    sim.create_repo("acme/app").unwrap();
    let n = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "Add x".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let client = OctocrabGitHub::new(
        GitHubConfig::for_local_tests(sim.api_url())
            .with_auth(GitHubAuth::Token(sim.token().to_owned())),
    )
    .unwrap();
    let metrics = Metrics::with_github(client.metrics_handle());
    let repo: Repository = "acme/app".parse().unwrap();
    client.get_pr(&repo, n).await.unwrap();
    client.get_pr(&repo, n).await.unwrap();

    let body = scrape(&metrics).await;
    has_line(
        &body,
        r#"prtracker_github_requests_total{endpoint="GET /repos/{owner}/{repo}/pulls/{number}",status="200"} 1"#,
    );
    has_line(
        &body,
        r#"prtracker_github_requests_total{endpoint="GET /repos/{owner}/{repo}/pulls/{number}",status="304"} 1"#,
    );
    has_line(&body, "prtracker_github_not_modified_total 1");
    assert!(
        body.lines()
            .any(|l| l.starts_with("prtracker_github_rate_limit_remaining ")),
        "{body}"
    );

    // A snapshot function replaces the handle, and adds the cache figures.
    let c = client.clone();
    metrics.set_github_snapshots(move || c.metrics());
    let body = scrape(&metrics).await;
    has_line(&body, "prtracker_github_cache_entries 1");
}

#[tokio::test]
async fn readyz_is_503_until_ready() {
    let health = Health::default();
    let app = router(Metrics::new(), health.clone());
    let (status, _, body) = get(app.clone(), "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    health.set_ready(true);
    let (status, _, body) = get(app.clone(), "/readyz", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    health.set_ready(false);
    let (status, _, _) = get(app, "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

/// `/healthz` answers 503 once the last progress is older than the stall time, and 200 while it is
/// not; `progress()` restarts that clock.
///
/// `Health` reads the real clock (`std::time::Instant`), so no assertion here may need something to
/// happen within a short window of wall-clock time: a stall is proven with a stall time of zero and
/// a sleep (which lasts at least as long as asked), liveness with a stall time of an hour, and the
/// restart of the clock by comparing the time since progress with a time measured around it.
#[tokio::test]
async fn healthz_fails_past_the_stall_time_and_progress_restarts_the_clock() {
    // Stalled: no progress for longer than a stall time of zero.
    let stalled = Health::new(Duration::ZERO);
    let app = router(Metrics::new(), stalled.clone());
    let slept = Duration::from_millis(100);
    tokio::time::sleep(slept).await;
    assert!(stalled.since_progress() >= slept, "{stalled:?}");
    assert!(!stalled.is_live());
    let (status, _, body) = get(app, "/healthz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.starts_with("stalled"), "{body}");

    // Progress restarts the clock: the time since progress is at most the time since the call
    // (plus the millisecond `Health` rounds progress down to), however slow the machine is.
    let before_progress = Instant::now();
    stalled.progress();
    let since = stalled.since_progress();
    let bound = before_progress.elapsed() + Duration::from_millis(1);
    assert!(
        since <= bound,
        "progress() restarts the clock: {since:?} since progress, yet it was called at most \
         {bound:?} ago"
    );

    // Live from the start, ready or not, and after progress: within a stall time of an hour, which
    // no test run comes near.
    let live = Health::new(Duration::from_secs(3600));
    let app = router(Metrics::new(), live.clone());
    let (status, _, body) = get(app.clone(), "/healthz", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    assert!(live.is_live());
    live.progress();
    assert!(live.is_live());
    let (status, _, body) = get(app, "/healthz", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let (status, _, _) = get(router(Metrics::new(), Health::default()), "/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A snapshot with a value in every field, the rate-limit gauges included.
fn snapshot_of_every_kind() -> MetricsSnapshot {
    MetricsSnapshot {
        requests: vec![
            RequestCount {
                endpoint: "GET /repos/{owner}/{repo}/pulls/{number}",
                status: Some(200),
                count: 5,
            },
            RequestCount {
                endpoint: "GET /repos/{owner}/{repo}/pulls/{number}",
                status: Some(304),
                count: 7,
            },
            RequestCount {
                endpoint: "POST /repos/{owner}/{repo}/issues/{number}/labels",
                status: None,
                count: 1,
            },
        ],
        not_modified: 7,
        retries: 2,
        rate_limit_waits: 1,
        rate_limit_wait_seconds: 1.5,
        rate_limited_errors: 0,
        write_delay_seconds: 0.25,
        rate_limit_remaining: Some(4990),
        rate_limit_limit: Some(5000),
        rate_limit_reset: Some(1_658_208_999),
        cache_entries: 12,
        cache_bytes: 34_567,
        points_total: 4_321,
        points_in_window: 640,
        peak_points_in_window: 799,
        in_flight: 3,
        pacing_waits: 9,
        pacing_wait_seconds: 4.5,
        circuit_open: true,
        outage_refusals: 11,
    }
}

/// The README's metrics table names every family `/metrics` exposes, under the name a query uses.
#[tokio::test]
async fn the_readme_metrics_table_names_every_family() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let metrics = Metrics::new();
    metrics.set_github_snapshots(snapshot_of_every_kind);
    let body = scrape(&metrics).await;
    let families: Vec<String> = body
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| match kind {
            "counter" => format!("{name}_total"),
            _ => name.to_owned(),
        })
        .collect();
    assert!(families.len() >= 20, "{body}");
    for family in families {
        assert!(
            readme.contains(&format!("`{family}`")),
            "the README's metrics table lacks `{family}`"
        );
    }
}
