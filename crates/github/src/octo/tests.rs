use std::time::Duration;

use super::{
    calls::{is_already_exists, is_label_not_on_issue, is_no_commit},
    *,
};
use crate::client::GitHubClient;
use crate::{backoff::Backoff, config::RetryPolicy};

#[test]
fn label_not_on_issue_is_recognised_by_status_and_message() {
    let body = br#"{"message":"Label does not exist","documentation_url":"https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue","status":"404"}"#;
    assert!(is_label_not_on_issue(StatusCode::NOT_FOUND, body));
    assert!(!is_label_not_on_issue(
        StatusCode::NOT_FOUND,
        br#"{"message":"Not Found"}"#
    ));
    assert!(!is_label_not_on_issue(
        StatusCode::UNPROCESSABLE_ENTITY,
        body
    ));
}

#[test]
fn an_unknown_commit_is_recognised_by_status_and_message() {
    let body = br#"{"message":"No commit found for SHA: deadbeef","documentation_url":"https://docs.github.com/rest/commits/commits#get-a-commit","status":"422"}"#;
    assert!(is_no_commit(StatusCode::UNPROCESSABLE_ENTITY, body));
    assert!(!is_no_commit(StatusCode::NOT_FOUND, body));
    assert!(!is_no_commit(
        StatusCode::UNPROCESSABLE_ENTITY,
        br#"{"message":"Validation Failed"}"#
    ));
}

#[test]
fn already_exists_is_recognised_by_code() {
    let body = br#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"already_exists","field":"name"}]}"#;
    assert!(is_already_exists(StatusCode::UNPROCESSABLE_ENTITY, body));
    let invalid = br#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"}]}"#;
    assert!(!is_already_exists(
        StatusCode::UNPROCESSABLE_ENTITY,
        invalid
    ));
}

#[tokio::test]
async fn bad_configurations_fail_at_construction() {
    let bad_token = GitHubConfig::new(GitHubAuth::Token("ghp_\u{7f}x".into()));
    assert!(matches!(
        OctocrabGitHub::new(bad_token),
        Err(GitHubError::Config(_))
    ));
    let empty = GitHubConfig::new(GitHubAuth::Token(" \n".into()));
    assert!(matches!(
        OctocrabGitHub::new(empty),
        Err(GitHubError::Config(_))
    ));
    let bad_key = GitHubConfig::new(GitHubAuth::App {
        app_id: 1,
        private_key_pem: "not a key".into(),
        installation: AppInstallation::Discover,
    });
    let err = OctocrabGitHub::new(bad_key).unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    assert!(OctocrabGitHub::new(GitHubConfig::default().with_base_url("nope")).is_err());
}

#[tokio::test]
async fn a_token_with_a_trailing_newline_is_accepted() {
    let client =
        OctocrabGitHub::new(GitHubConfig::new(GitHubAuth::Token("ghp_abc\n".into()))).unwrap();
    assert!(format!("{client:?}").contains("<redacted>"));
}

fn loopback_client(base_url: String) -> OctocrabGitHub {
    let config = GitHubConfig::for_local_tests(base_url).with_retry(RetryPolicy {
        max_attempts: 3,
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
    });
    OctocrabGitHub::new(config).unwrap()
}

/// A port on this machine that nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn transport_errors_are_retried_then_reported_as_unavailable() {
    let client = loopback_client(format!("http://127.0.0.1:{}", closed_port()));
    let repo: Repository = "octo-org/hello-world".parse().unwrap();
    let err = client.get_pr(&repo, 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            GitHubError::Unavailable {
                attempts: 3,
                status: None,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_transient());
    let m = client.metrics();
    assert_eq!(m.retries, 2);
    assert_eq!(m.count("GET /repos/{owner}/{repo}/pulls/{number}", None), 3);
}

#[tokio::test]
async fn a_spent_quota_fails_fast_when_the_reset_is_past_the_maximum_wait() {
    let client = loopback_client(format!("http://127.0.0.1:{}", closed_port()));
    let reset = std::time::SystemTime::now() + Duration::from_secs(3600);
    let reset_epoch = reset
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    client
        .transport()
        .rate
        .observe(&crate::ratelimit::RateLimitInfo {
            remaining: Some(0),
            reset: Some(reset_epoch),
            ..Default::default()
        });
    let repo: Repository = "octo-org/hello-world".parse().unwrap();
    let err = client.get_pr(&repo, 1).await.unwrap_err();
    assert!(matches!(err, GitHubError::RateLimited { .. }), "{err}");
    assert!(err.retry_at().is_some());
    let m = client.metrics();
    assert_eq!(m.total_requests(), 0, "nothing is sent that would fail");
    assert_eq!(m.rate_limited_errors, 1);
}

#[tokio::test]
async fn pagination_links_must_stay_on_the_base_host() {
    let client = loopback_client("http://127.0.0.1:8080/api/v3".into());
    let ok = client
        .relative(
            Endpoint::ListPulls,
            "http://127.0.0.1:8080/api/v3/repositories/1/pulls?page=2",
        )
        .unwrap();
    assert_eq!(ok, "/api/v3/repositories/1/pulls?page=2");
    assert!(
        client
            .relative(Endpoint::ListPulls, "https://evil.example/x?page=2")
            .is_err()
    );
    assert_eq!(
        client
            .relative(Endpoint::ListPulls, "/repos/o/r/pulls?page=3")
            .unwrap(),
        "/repos/o/r/pulls?page=3"
    );
}

#[tokio::test(start_paused = true)]
async fn writes_are_spaced_apart() {
    let mut config = GitHubConfig::for_local_tests("http://127.0.0.1:1");
    config.rate_limit.write_interval = Duration::from_secs(1);
    let client = OctocrabGitHub::new(config).unwrap();
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        client.transport().space_write().await;
    }
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "slots at 0 s, 1 s, 2 s"
    );
    assert_eq!(client.metrics().write_delay_seconds, 2.0);
}

#[test]
fn construction_outside_a_runtime_is_an_error_not_a_panic() {
    let err = OctocrabGitHub::new(GitHubConfig::default()).unwrap_err();
    assert!(err.to_string().contains("Tokio runtime"), "{err}");
}
