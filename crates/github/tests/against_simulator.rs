//! The production client against the GitHub simulator over real HTTP on loopback: conditional
//! requests, faults, rate limits, errors, pagination, files, commits and branches, write spacing
//! and App auth.
//!
//! No fixtures are needed. Times are shrunk by `GitHubConfig::for_local_tests`; assertions on
//! time are lower bounds only (proof that a wait happened), never speed limits.

// Helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeSet,
    time::{Duration, Instant, SystemTime},
};

use prtracker_domain::Repository;
use prtracker_github::{
    AppInstallation, ContentsLimits, GitHubApi, GitHubAuth, GitHubClient, GitHubConfig,
    GitHubError, NewLabel, OctocrabGitHub, RetryPolicy, backoff::Backoff, ratelimit::epoch,
};
use prtracker_github_sim::{
    AppConfig, Faults, NewPull, RequestRecord, SimConfig, Simulator, SimulatorHandle,
};

const REPO: &str = "acme/app";
const GET_PULL: &str = "GET /repos/{owner}/{repo}/pulls/{number}";

fn repo() -> Repository {
    REPO.parse().unwrap()
}

/// A simulator with `acme/app` and one open PR (number 1).
async fn sim_with_pr() -> (SimulatorHandle, u64) {
    let sim = Simulator::start().await.unwrap();
    sim.create_repo(REPO).unwrap();
    let n = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Bump the deploy image".into(),
                ..Default::default()
            },
        )
        .unwrap();
    (sim, n)
}

fn config(sim: &SimulatorHandle) -> GitHubConfig {
    GitHubConfig::for_local_tests(sim.api_url())
        .with_auth(GitHubAuth::Token(sim.token().to_owned()))
}

fn client(sim: &SimulatorHandle) -> OctocrabGitHub {
    OctocrabGitHub::new(config(sim)).unwrap()
}

/// Budget-counted requests of the simulator's default token so far.
fn used(sim: &SimulatorHandle) -> u64 {
    sim.budget(sim.token()).used
}

fn names(labels: &[prtracker_github::Label]) -> Vec<String> {
    labels.iter().map(|l| l.name.clone()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn statuses(log: &[RequestRecord]) -> Vec<u16> {
    log.iter().map(|r| r.status).collect()
}

// ---------------------------------------------------------------------------------------------
// Conditional requests

#[tokio::test]
async fn unchanged_pr_costs_304s_and_no_budget_and_a_change_is_seen_next_get() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);

    let first = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(first.number, n);
    assert!(first.labels.is_empty());
    assert_eq!(used(&sim), 1, "the first GET is a 200 and counts");

    for _ in 0..5 {
        let again = gh.get_pr(&repo(), n).await.unwrap();
        assert_eq!(again, first, "a 304 serves the cached PR");
    }
    assert_eq!(used(&sim), 1, "304s cost no budget");
    let log = sim.requests();
    assert_eq!(statuses(&log), [200, 304, 304, 304, 304, 304]);
    assert_eq!(log.iter().filter(|r| r.counted).count(), 1);
    let m = gh.metrics();
    assert_eq!(m.not_modified, 5);
    assert_eq!(m.count(GET_PULL, Some(304)), 5);
    assert_eq!(m.count(GET_PULL, Some(200)), 1);
    assert_eq!(m.rate_limit_remaining, Some(4999), "read from the headers");

    // A person labels the PR: the next GET is a 200 with the label, and counts.
    sim.add_label(REPO, n, "state/approved", "a-reviewer")
        .unwrap();
    let changed = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(names(&changed.labels), ["state/approved"]);
    assert_eq!(used(&sim), 2);
    assert_eq!(sim.requests().last().unwrap().status, 200);

    // And the new version is cached in turn.
    let cached = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(cached, changed);
    assert_eq!(used(&sim), 2);
    assert_eq!(gh.metrics().not_modified, 6);
}

// ---------------------------------------------------------------------------------------------
// Faults: 5xx, latency, secondary limits

/// Applies a fixed sequence of label operations through the client and checks that each
/// succeeded and that the PR ends with exactly the expected labels, each once.
async fn label_sequence_survives(sim: &SimulatorHandle, gh: &OctocrabGitHub, n: u64) {
    let ops: [(&str, &str); 12] = [
        ("add", "state/open"),
        ("add", "team/payments"),
        ("add", "state/approved"),
        ("remove", "state/open"),
        ("add", "size/S"),
        ("add", "state/approved"), // already there: no duplicate
        ("remove", "size/S"),
        ("add", "state/merged"),
        ("remove", "state/approved"),
        ("add", "kind/bug"),
        ("remove", "kind/bug"),
        ("add", "kind/bug"),
    ];
    let mut expected: Vec<String> = Vec::new();
    for (op, label) in ops {
        let result = match op {
            "add" => gh.add_label(&repo(), n, label).await,
            _ => gh.remove_label(&repo(), n, label).await,
        };
        let now = result.unwrap_or_else(|e| panic!("{op} {label}: an error surfaced: {e}"));
        if op == "add" {
            if !expected.iter().any(|l| l == label) {
                expected.push(label.to_owned());
            }
        } else {
            expected.retain(|l| l != label);
        }
        assert_eq!(
            sorted(names(&now)),
            sorted(expected.clone()),
            "labels GitHub returned after {op} {label}"
        );
    }
    let on_github = sim.pull_labels(REPO, n).unwrap();
    let distinct: BTreeSet<String> = on_github.iter().map(|l| l.to_lowercase()).collect();
    assert_eq!(distinct.len(), on_github.len(), "duplicates: {on_github:?}");
    assert_eq!(
        sorted(on_github),
        sorted(vec![
            "team/payments".into(),
            "state/merged".into(),
            "kind/bug".into()
        ])
    );
    let seen = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(
        sorted(names(&seen.labels)),
        sorted(expected),
        "the client reads what it wrote"
    );
}

#[tokio::test]
async fn every_second_request_failing_with_5xx_is_retried_and_no_label_is_lost_or_duplicated() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    sim.set_faults(Faults {
        fail_every_nth: Some(2),
        fail_status: Some(502),
        latency_ms: Some(5),
        ..Faults::default()
    });
    label_sequence_survives(&sim, &gh, n).await;
    let log = sim.requests();
    let failed = log.iter().filter(|r| r.status == 502).count();
    assert!(failed >= 12, "faults were injected: {:?}", statuses(&log));
    assert!(
        log.iter().filter(|r| r.status >= 500).all(|r| !r.counted),
        "5xx cost no budget"
    );
    assert_eq!(
        gh.metrics().retries,
        failed as u64,
        "each 502 was retried once"
    );
}

#[tokio::test]
async fn every_third_request_failing_with_503_is_survived_for_reads_too() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    sim.set_faults(Faults {
        fail_every_nth: Some(3),
        fail_status: Some(503),
        ..Faults::default()
    });
    label_sequence_survives(&sim, &gh, n).await;
    for _ in 0..6 {
        assert_eq!(gh.get_pr(&repo(), n).await.unwrap().number, n);
    }
    let log = sim.requests();
    assert!(log.iter().filter(|r| r.status == 503).count() >= 6);
    assert_eq!(gh.metrics().rate_limited_errors, 0);
}

#[tokio::test]
async fn seeded_random_5xx_with_latency_are_survived() {
    let (sim, n) = sim_with_pr().await;
    // 30% failures: with 8 attempts a call fails through all of them with p ≈ 7e-5, and the
    // simulator's seeded PRNG makes the run repeat exactly anyway (the calls are sequential).
    let gh = OctocrabGitHub::new(config(&sim).with_retry(RetryPolicy {
        max_attempts: 8,
        backoff: Backoff {
            base: Duration::from_millis(2),
            cap: Duration::from_millis(20),
        },
    }))
    .unwrap();
    sim.set_faults(Faults {
        fail_probability: Some(0.3),
        seed: Some(42),
        fail_status: Some(500),
        latency_ms: Some(15),
        ..Faults::default()
    });
    label_sequence_survives(&sim, &gh, n).await;
    let log = sim.requests();
    let failed = log.iter().filter(|r| r.status == 500).count();
    assert!(failed >= 2, "faults were injected: {:?}", statuses(&log));
    assert!(gh.metrics().retries >= failed as u64);
}

#[tokio::test]
async fn secondary_limits_403_and_429_are_waited_out_as_retry_after_says() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    gh.add_label(&repo(), n, "team/payments").await.unwrap();

    let mut limited = 0;
    for status in [403u16, 429] {
        sim.set_faults(Faults {
            secondary_next: 1,
            secondary_status: Some(status),
            secondary_retry_after: Some(1),
            ..Faults::default()
        });
        let before = sim.requests().len();
        let start = Instant::now();
        let labels = gh
            .add_label(&repo(), n, &format!("after/{status}"))
            .await
            .unwrap_or_else(|e| panic!("secondary {status}: an error surfaced: {e}"));
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "waited retry-after (1 s) after the {status}: {:?}",
            start.elapsed()
        );
        assert!(names(&labels).contains(&format!("after/{status}")));
        let log = &sim.requests()[before..];
        assert_eq!(
            statuses(log),
            [status, 200],
            "one limited answer, then the retry"
        );
        limited += 1;
    }
    assert_eq!(limited, 2);
    assert!(gh.metrics().rate_limit_waits >= 2);

    // Under a mix of every fault at once, the label sequence still ends exactly right.
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    sim.set_faults(Faults {
        fail_every_nth: Some(4),
        latency_ms: Some(10),
        secondary_next: 1,
        secondary_status: Some(429),
        secondary_retry_after: Some(1),
        ..Faults::default()
    });
    let start = Instant::now();
    label_sequence_survives(&sim, &gh, n).await;
    assert!(start.elapsed() >= Duration::from_secs(1));
    let log = sim.requests();
    assert_eq!(log[0].status, 429);
    assert!(log.iter().any(|r| r.status == 502));
}

// ---------------------------------------------------------------------------------------------
// Primary rate limit

#[tokio::test]
async fn exhausted_budget_is_waited_for_with_one_request_that_discovers_it() {
    for primary_status in [403u16, 429] {
        let (sim, n) = sim_with_pr().await;
        sim.set_faults(Faults {
            primary_status: Some(primary_status),
            ..Faults::default()
        });
        let gh = client(&sim);
        sim.exhaust_budget(sim.token(), 2);
        let reset = sim.budget(sim.token()).reset;
        assert_eq!(sim.budget(sim.token()).remaining(), 0);

        let pr = gh
            .get_pr(&repo(), n)
            .await
            .unwrap_or_else(|e| panic!("an error surfaced: {e}"));
        assert_eq!(pr.number, n);
        assert!(
            SystemTime::now() >= epoch(reset as u64),
            "the call succeeded only after the reset"
        );
        let log = sim.requests();
        let while_exhausted = log.iter().filter(|r| r.status == primary_status).count();
        assert_eq!(
            while_exhausted,
            1,
            "only the request that discovered the limit was sent while exhausted: {:?}",
            statuses(&log)
        );
        assert_eq!(statuses(&log), [primary_status, 200]);
        assert_eq!(sim.budget(sim.token()).used, 1, "a new window, one request");
        let m = gh.metrics();
        assert_eq!((m.rate_limit_waits, m.rate_limited_errors), (1, 0));
    }
}

#[tokio::test]
async fn a_budget_known_spent_from_headers_is_waited_for_without_sending() {
    let (sim, n) = sim_with_pr().await;
    let token = sim.token().to_owned();
    // Spend the window (reset 2 s ahead), then allow exactly one more request: its answer says
    // `x-ratelimit-remaining: 0`, so the client knows before its next call.
    sim.exhaust_budget(&token, 2);
    let spent = sim.budget(&token);
    sim.set_rate_limit(&token, spent.limit + 1);
    let gh = client(&sim);
    gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(gh.metrics().rate_limit_remaining, Some(0));
    assert_eq!(sim.requests().len(), 1);

    sim.add_label(REPO, n, "changed", "someone").unwrap();
    let pr = gh.get_pr(&repo(), n).await.unwrap();
    assert!(SystemTime::now() >= epoch(spent.reset as u64));
    assert_eq!(names(&pr.labels), ["changed"]);
    let log = sim.requests();
    assert_eq!(
        statuses(&log),
        [200, 200],
        "nothing was sent while the budget was known to be spent"
    );
    assert_eq!(gh.metrics().rate_limit_waits, 1);
}

#[tokio::test]
async fn a_reset_beyond_max_wait_fails_at_once_with_rate_limited() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    assert_eq!(gh.config().rate_limit.max_wait, Duration::from_secs(10));
    sim.exhaust_budget(sim.token(), 3600);
    let reset = sim.budget(sim.token()).reset as u64;

    // The first call discovers the limit with one request and gives up.
    let err = gh.get_pr(&repo(), n).await.unwrap_err();
    assert!(matches!(err, GitHubError::RateLimited { .. }), "{err:?}");
    assert!(err.retry_at().unwrap() >= epoch(reset));
    assert!(err.is_transient());
    assert_eq!(sim.requests().len(), 1);
    let m = gh.metrics();
    assert_eq!(
        (m.rate_limit_waits, m.rate_limit_wait_seconds, m.retries),
        (0, 0.0, 0),
        "gave up without waiting toward a reset an hour away, and without retrying"
    );

    // Later calls fail without sending anything, and without waiting either.
    for _ in 0..3 {
        let err = gh.add_label(&repo(), n, "state/open").await.unwrap_err();
        assert!(matches!(err, GitHubError::RateLimited { .. }), "{err:?}");
        assert!(err.retry_at().unwrap() >= epoch(reset));
    }
    assert_eq!(sim.requests().len(), 1, "nothing more was sent");
    let m = gh.metrics();
    assert_eq!(m.rate_limited_errors, 4);
    assert_eq!(m.total_requests(), 1);
    assert_eq!(
        (m.rate_limit_waits, m.rate_limit_wait_seconds, m.retries),
        (0, 0.0, 0),
        "no waiting toward a reset an hour away"
    );
    assert_eq!(m.write_delay_seconds, 0.0, "no write was spaced either");
}

// ---------------------------------------------------------------------------------------------
// Errors that fail at once

#[tokio::test]
async fn bad_credentials_fail_at_once_with_one_request() {
    let (sim, n) = sim_with_pr().await;
    let gh = OctocrabGitHub::new(config(&sim).with_auth(GitHubAuth::Token("ghp_revoked".into())))
        .unwrap();
    let err = gh.get_pr(&repo(), n).await.unwrap_err();
    assert!(matches!(err, GitHubError::BadCredentials { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("refused the credentials") && text.contains("Bad credentials"),
        "{text}"
    );
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_transient());
    // At once: one request, no retry after a backoff, no wait as for a rate limit.
    let log = sim.requests();
    assert_eq!(statuses(&log), [401]);
    let m = gh.metrics();
    assert_eq!(m.count(GET_PULL, Some(401)), 1);
    assert_eq!(
        (m.total_requests(), m.retries, m.rate_limit_waits),
        (1, 0, 0),
        "one request, neither retried nor waited for"
    );
    assert_eq!(m.rate_limit_wait_seconds, 0.0);

    // The next call is not held back by the first refusal either: one request, refused too.
    let err = gh.add_label(&repo(), n, "x").await.unwrap_err();
    assert!(matches!(err, GitHubError::BadCredentials { .. }));
    assert_eq!(statuses(&sim.requests()), [401, 401]);
    assert!(sim.pull_labels(REPO, n).unwrap().is_empty());
    let m = gh.metrics();
    assert_eq!(
        (m.total_requests(), m.retries, m.rate_limit_waits),
        (2, 0, 0),
        "one request each, neither retried nor waited for"
    );
    assert_eq!(m.rate_limit_wait_seconds, 0.0);
}

#[tokio::test]
async fn missing_repository_pr_and_path_fail_at_once_naming_what_is_missing() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    let missing: Repository = "acme/missing".parse().unwrap();

    let cases: Vec<(GitHubError, &str)> = vec![
        (
            gh.get_pr(&missing, 1).await.unwrap_err(),
            "pull request acme/missing#1",
        ),
        (
            gh.list_repo_labels(&missing).await.unwrap_err(),
            "repository acme/missing",
        ),
        (
            gh.list_open_prs(&missing).await.unwrap_err(),
            "repository acme/missing",
        ),
        (
            gh.get_pr(&repo(), 999).await.unwrap_err(),
            "pull request acme/app#999",
        ),
        (
            gh.add_label(&repo(), 999, "x").await.unwrap_err(),
            "issue acme/app#999",
        ),
        (
            gh.remove_label(&repo(), 999, "x").await.unwrap_err(),
            "issue acme/app#999",
        ),
        (
            gh.read_files(&repo(), "no/such/dir", "main")
                .await
                .unwrap_err(),
            "\"no/such/dir\" at main in acme/app",
        ),
    ];
    for (err, what) in &cases {
        assert!(
            matches!(err, GitHubError::NotFound { what: w, .. } if w == what),
            "{err:?} should name {what}"
        );
        let text = err.to_string();
        assert!(
            text.contains(what) && text.contains("not found") && text.contains("404"),
            "{text}"
        );
        assert!(!err.is_transient());
    }
    let log = sim.requests();
    assert_eq!(log.len(), cases.len(), "one request each: {log:?}");
    assert!(log.iter().all(|r| r.status == 404));
    assert_eq!(gh.metrics().retries, 0);

    // A label that is not on an existing PR is its own, harmless, error.
    let err = gh
        .remove_label(&repo(), n, "never-there")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitHubError::LabelNotOnIssue { ref label, .. } if label == "never-there"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Pagination

#[tokio::test]
async fn lists_of_several_pages_return_every_item_once_and_repeat_as_304s() {
    let (sim, _) = sim_with_pr().await;
    for i in 2..=10 {
        sim.create_pull(
            REPO,
            NewPull {
                title: format!("PR {i}"),
                ..Default::default()
            },
        )
        .unwrap();
    }
    sim.close_pull(REPO, 4, "octocat").unwrap();
    sim.merge_pull(REPO, 7, "octocat").unwrap();
    let mut cfg = config(&sim);
    cfg.per_page = 3;
    let gh = OctocrabGitHub::new(cfg).unwrap();

    for i in 0..4 {
        gh.create_label(
            &repo(),
            &NewLabel {
                name: format!("state/s{i}"),
                color: "0e8a16".into(),
                description: Some(format!("state {i}")),
            },
        )
        .await
        .unwrap();
    }
    let before = sim.requests().len();

    let open = gh.list_open_prs(&repo()).await.unwrap();
    let numbers: Vec<u64> = open.iter().map(|p| p.number).collect();
    let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(numbers.len(), distinct.len(), "no PR twice: {numbers:?}");
    assert_eq!(distinct, BTreeSet::from([1, 2, 3, 5, 6, 8, 9, 10]));
    assert!(open.iter().all(|p| p.state == "open"));

    let labels = gh.list_repo_labels(&repo()).await.unwrap();
    let label_names = names(&labels);
    let distinct: BTreeSet<&String> = label_names.iter().collect();
    assert_eq!(label_names.len(), distinct.len(), "no label twice");
    assert_eq!(label_names.len(), 13, "nine defaults and four created");
    assert_eq!(
        sorted(label_names.clone()),
        sorted(sim.repo_labels(REPO).unwrap())
    );

    let log = sim.requests();
    let pages = |log: &[RequestRecord], prefix: &str| {
        log.iter()
            .filter(|r| r.method == "GET" && r.path.starts_with(prefix))
            .count()
    };
    assert_eq!(
        pages(&log[before..], "/repos/acme/app/pulls?"),
        3,
        "8 PRs in pages of 3"
    );
    assert_eq!(
        pages(&log[before..], "/repos/acme/app/labels?"),
        5,
        "13 labels in pages of 3"
    );

    // Again: every page is a 304, no budget, the same items (the cache keeps the next links).
    let used_before = used(&sim);
    let before = sim.requests().len();
    assert_eq!(gh.list_open_prs(&repo()).await.unwrap(), open);
    assert_eq!(gh.list_repo_labels(&repo()).await.unwrap(), labels);
    let again = &sim.requests()[before..];
    assert_eq!(again.len(), 8);
    assert!(again.iter().all(|r| r.status == 304 && !r.counted));
    assert_eq!(used(&sim), used_before);
}

// ---------------------------------------------------------------------------------------------
// Files at a commit

const COMMIT: &str = "5f3c0ffee5f3c0ffee5f3c0ffee5f3c0ffee5f3c";

fn manifests() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "deploy/app.yaml",
            b"kind: Deployment\nmetadata:\n  name: app\n".to_vec(),
        ),
        (
            "deploy/svc.yaml",
            b"kind: Service\nmetadata:\n  name: app\n".to_vec(),
        ),
        ("deploy/nested/cm.yaml", b"kind: ConfigMap\n".to_vec()),
        (
            "deploy/nested/deeper/secret.yaml",
            b"kind: Secret\n".to_vec(),
        ),
        ("docs/README.md", b"not a manifest\n".to_vec()),
    ]
}

#[tokio::test]
async fn read_files_returns_every_file_under_the_path_recursively_and_repeats_for_free() {
    let (sim, _) = sim_with_pr().await;
    sim.set_files(REPO, COMMIT, manifests()).unwrap();
    let gh = client(&sim);

    let files = gh.read_files(&repo(), "deploy", COMMIT).await.unwrap();
    let got: Vec<(&str, &[u8])> = files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_slice()))
        .collect();
    let want: Vec<(&str, Vec<u8>)> = {
        let mut w: Vec<_> = manifests()
            .into_iter()
            .filter(|(p, _)| p.starts_with("deploy/"))
            .collect();
        w.sort();
        w
    };
    let want: Vec<(&str, &[u8])> = want.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    assert_eq!(got, want);
    assert!(files.iter().all(|f| !f.sha.is_empty()));

    // One file by its own path.
    let one = gh
        .read_files(&repo(), "deploy/nested/cm.yaml", COMMIT)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].content, b"kind: ConfigMap\n");

    // The same commit again: listings are 304s, file bodies come from the blob cache.
    let used_before = used(&sim);
    let again = gh.read_files(&repo(), "deploy", COMMIT).await.unwrap();
    assert_eq!(again, files);
    assert_eq!(used(&sim), used_before, "a repeated read costs no budget");
}

#[tokio::test]
async fn read_files_limits_give_clear_errors() {
    let (sim, _) = sim_with_pr().await;
    sim.set_files(REPO, COMMIT, manifests()).unwrap();
    let with_limits = |contents: ContentsLimits| {
        OctocrabGitHub::new(config(&sim).with_contents_limits(contents)).unwrap()
    };
    let roomy = ContentsLimits::default();

    let cases = [
        (
            ContentsLimits {
                max_files: 3,
                ..roomy
            },
            "files",
            3,
        ),
        (
            ContentsLimits {
                max_total_bytes: 60,
                ..roomy
            },
            "bytes",
            60,
        ),
        (
            ContentsLimits {
                max_depth: 1,
                ..roomy
            },
            "directory levels",
            1,
        ),
    ];
    for (limits, what_over, limit_over) in cases {
        let err = with_limits(limits)
            .read_files(&repo(), "deploy", COMMIT)
            .await
            .unwrap_err();
        assert!(
            matches!(err, GitHubError::ContentsTooLarge { what, limit, .. } if what == what_over && limit == limit_over),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("deploy")
                && text.contains(COMMIT)
                && text.contains(&format!("limit of {limit_over} ({what_over})")),
            "{text}"
        );
    }
    // Exactly at the limits is fine: 4 files, 2 levels below `deploy`.
    let exact = ContentsLimits {
        max_files: 4,
        max_depth: 2,
        ..roomy
    };
    assert_eq!(
        with_limits(exact)
            .read_files(&repo(), "deploy", COMMIT)
            .await
            .unwrap()
            .len(),
        4
    );
}

// ---------------------------------------------------------------------------------------------
// Commits and branches

const PUSHED: &str = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";

#[tokio::test]
async fn a_merge_commits_parents_are_the_base_head_then_the_pr_head_asked_once() {
    let (sim, n) = sim_with_pr().await;
    let gh = client(&sim);
    let initial = sim.branch_head(REPO, "main").unwrap();
    let pr = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(
        (pr.base.branch.as_str(), pr.base.sha.as_str()),
        ("main", initial.as_str())
    );
    // Someone pushes to main while the PR is open: the merge lands on that push.
    sim.push_commit(REPO, "main", PUSHED, [("deploy/x.yaml", "a: 1\n")])
        .unwrap();
    let merge = sim.merge_pull(REPO, n, "octocat").unwrap();
    let before = sim.requests().len();

    let parents = gh.commit_parents(&repo(), &merge).await.unwrap();
    assert_eq!(parents, [PUSHED.to_owned(), pr.head.sha.clone()]);
    let log = sim.requests();
    assert_eq!(log.len(), before + 1, "one request");
    let asked = &log[before];
    assert!(
        asked
            .path
            .starts_with(&format!("/repos/acme/app/commits/{merge}")),
        "{asked:?}"
    );
    assert_eq!((asked.status, asked.counted), (200, true));

    // A commit never changes: asked again, it is answered without a request at all.
    for _ in 0..3 {
        assert_eq!(gh.commit_parents(&repo(), &merge).await.unwrap(), parents);
    }
    assert_eq!(
        sim.requests().len(),
        before + 1,
        "no request for a known commit"
    );
    let m = gh.metrics();
    assert_eq!(
        m.count("GET /repos/{owner}/{repo}/commits/{ref}", Some(200)),
        1
    );

    // The PR's head branched off main's first commit; that one has no parent.
    assert_eq!(
        gh.commit_parents(&repo(), &pr.head.sha).await.unwrap(),
        std::slice::from_ref(&initial)
    );
    assert!(
        gh.commit_parents(&repo(), &initial)
            .await
            .unwrap()
            .is_empty()
    );
    // A branch name is answered for the commit it names now, and not kept under that name.
    let before = sim.requests().len();
    assert_eq!(
        gh.commit_parents(&repo(), "main").await.unwrap(),
        parents,
        "main is the merge commit"
    );
    gh.commit_parents(&repo(), "main").await.unwrap();
    assert_eq!(sim.requests().len(), before + 2);
}

#[tokio::test]
async fn branch_head_follows_a_push_and_an_unmoved_branch_costs_a_free_304() {
    let (sim, _) = sim_with_pr().await;
    let gh = client(&sim);
    let initial = sim.branch_head(REPO, "main").unwrap();
    assert_eq!(gh.branch_head(&repo(), "main").await.unwrap(), initial);
    assert_eq!(used(&sim), 1);

    for _ in 0..3 {
        assert_eq!(gh.branch_head(&repo(), "main").await.unwrap(), initial);
    }
    let log = sim.requests();
    assert_eq!(statuses(&log), [200, 304, 304, 304]);
    assert!(log[1..].iter().all(|r| !r.counted));
    assert_eq!(used(&sim), 1, "304s cost no budget");
    assert_eq!(gh.metrics().not_modified, 3);

    sim.push_commit(REPO, "main", PUSHED, [("deploy/x.yaml", "a: 2\n")])
        .unwrap();
    assert_eq!(gh.branch_head(&repo(), "main").await.unwrap(), PUSHED);
    assert_eq!(sim.requests().last().unwrap().status, 200);
    assert_eq!(used(&sim), 2, "the moved branch is a 200 and counts");
    assert_eq!(gh.commit_parents(&repo(), PUSHED).await.unwrap(), [initial]);
}

#[tokio::test]
async fn branch_names_with_a_slash_are_read() {
    let sim = Simulator::start().await.unwrap();
    sim.create_repo(REPO).unwrap();
    sim.create_pull(
        REPO,
        NewPull {
            title: "x".into(),
            head_ref: Some("release/1.x hotfix".into()),
            head_sha: Some(PUSHED.into()),
            ..Default::default()
        },
    )
    .unwrap();
    let gh = client(&sim);
    assert_eq!(
        gh.branch_head(&repo(), "release/1.x hotfix").await.unwrap(),
        PUSHED
    );
    assert_eq!(
        sim.requests()[0].path,
        "/repos/acme/app/branches/release/1.x%20hotfix"
    );
}

#[tokio::test]
async fn an_unknown_commit_or_branch_is_not_found() {
    let (sim, _) = sim_with_pr().await;
    let gh = client(&sim);
    let missing: Repository = "acme/missing".parse().unwrap();
    let unknown = "1111111111111111111111111111111111111111";
    let cases = [
        (
            gh.commit_parents(&repo(), unknown).await.unwrap_err(),
            format!("commit \"{unknown}\" of acme/app"),
        ),
        (
            gh.commit_parents(&missing, unknown).await.unwrap_err(),
            format!("commit \"{unknown}\" of acme/missing"),
        ),
        (
            gh.branch_head(&repo(), "nope").await.unwrap_err(),
            "branch \"nope\" of acme/app".to_owned(),
        ),
        (
            gh.branch_head(&missing, "main").await.unwrap_err(),
            "branch \"main\" of acme/missing".to_owned(),
        ),
    ];
    for (err, what) in &cases {
        assert!(
            matches!(err, GitHubError::NotFound { what: w, .. } if w == what),
            "{err:?} should name {what}"
        );
        assert!(!err.is_transient());
    }
    // GitHub answers an unknown commit with 422, a missing repository or branch with 404.
    assert_eq!(statuses(&sim.requests()), [422, 404, 404, 404]);
    // An error is not kept: the commit may be pushed later.
    gh.commit_parents(&repo(), unknown).await.unwrap_err();
    assert_eq!(sim.requests().len(), 5);
    // No name at all is refused without a request.
    for err in [
        gh.commit_parents(&repo(), "").await.unwrap_err(),
        gh.branch_head(&repo(), "").await.unwrap_err(),
    ] {
        assert!(matches!(err, GitHubError::NotFound { .. }), "{err:?}");
    }
    assert_eq!(sim.requests().len(), 5);
    assert_eq!(gh.metrics().retries, 0);
}

// ---------------------------------------------------------------------------------------------
// Write spacing

#[tokio::test]
async fn writes_are_spaced_by_the_write_interval() {
    let (sim, n) = sim_with_pr().await;
    let mut cfg = config(&sim);
    let interval = Duration::from_millis(200);
    cfg.rate_limit.write_interval = interval;
    let gh = OctocrabGitHub::new(cfg).unwrap();
    const N: u32 = 5;

    // Concurrent writes take turns too.
    let start = Instant::now();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let gh = gh.clone();
            tokio::spawn(async move { gh.add_label(&repo(), n, &format!("w/{i}")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= interval * (N - 1),
        "{N} writes in {elapsed:?}, less than {:?}",
        interval * (N - 1)
    );
    assert_eq!(sim.pull_labels(REPO, n).unwrap().len(), N as usize);
    // Slots at 0, 0.2, 0.4, 0.6, 0.8 s: the waits add up to about 2 s (half of it, for skew).
    assert!(gh.metrics().write_delay_seconds >= 1.0);

    // Reads take no write slot.
    let m = gh.metrics();
    for _ in 0..3 {
        gh.get_pr(&repo(), n).await.unwrap();
    }
    assert_eq!(gh.metrics().write_delay_seconds, m.write_delay_seconds);
}

// ---------------------------------------------------------------------------------------------
// GitHub App authentication

struct AppKeys {
    private_pem: String,
    public_pem: String,
}

fn app_keys() -> AppKeys {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    AppKeys {
        private_pem: key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    }
}

const APP_ID: u64 = 424_242;
const INSTALLATION: u64 = 77_001;

async fn app_sim(public_pem: &str) -> SimulatorHandle {
    let sim = Simulator::start_with(SimConfig {
        app: Some(AppConfig {
            app_id: APP_ID,
            slug: "prtracker".into(),
            installation_id: INSTALLATION,
            public_key_pem: Some(public_pem.to_owned()),
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.create_repo(REPO).unwrap();
    sim.create_pull(
        REPO,
        NewPull {
            title: "t".into(),
            ..Default::default()
        },
    )
    .unwrap();
    sim
}

fn app_client(
    sim: &SimulatorHandle,
    app_id: u64,
    key: &str,
    installation: AppInstallation,
) -> OctocrabGitHub {
    OctocrabGitHub::new(config(sim).with_auth(GitHubAuth::App {
        app_id,
        private_key_pem: key.to_owned(),
        installation,
    }))
    .unwrap()
}

#[tokio::test]
async fn github_app_installation_token_is_fetched_once_and_reused() {
    let keys = app_keys();
    let sim = app_sim(&keys.public_pem).await;
    let token_path = format!("/app/installations/{INSTALLATION}/access_tokens");

    for installation in [AppInstallation::Discover, AppInstallation::Id(INSTALLATION)] {
        sim.reset_counters();
        let gh = app_client(&sim, APP_ID, &keys.private_pem, installation);
        gh.get_pr(&repo(), 1).await.unwrap();
        gh.add_label(&repo(), 1, "state/open").await.unwrap();
        gh.list_repo_labels(&repo()).await.unwrap();
        let pr = gh.get_pr(&repo(), 1).await.unwrap();
        gh.remove_label(&repo(), 1, "state/open").await.unwrap();
        assert_eq!(names(&pr.labels), ["state/open"]);

        let log = sim.requests();
        let discovery: Vec<&RequestRecord> = log
            .iter()
            .filter(|r| r.path == "/repos/acme/app/installation")
            .collect();
        let exchanges: Vec<&RequestRecord> = log.iter().filter(|r| r.path == token_path).collect();
        assert_eq!(
            exchanges.len(),
            1,
            "{installation:?}: one token for every call: {log:?}"
        );
        assert_eq!(exchanges[0].method, "POST");
        assert_eq!(exchanges[0].status, 201);
        assert_eq!(
            exchanges[0].token.as_deref(),
            Some("app"),
            "bought with the App's JWT"
        );
        let expected_discovery = usize::from(installation == AppInstallation::Discover);
        assert_eq!(discovery.len(), expected_discovery, "{installation:?}");
        assert!(
            discovery
                .iter()
                .all(|r| r.status == 200 && r.token.as_deref() == Some("app"))
        );

        let api: Vec<&RequestRecord> = log
            .iter()
            .filter(|r| r.path != token_path && !r.path.ends_with("/installation"))
            .collect();
        assert_eq!(api.len(), 5);
        let tokens: BTreeSet<Option<&str>> = api.iter().map(|r| r.token.as_deref()).collect();
        assert_eq!(tokens.len(), 1, "one installation token: {tokens:?}");
        let token = tokens.into_iter().next().flatten().unwrap();
        assert!(token.starts_with("ghs_"), "{token}");
        assert!(
            api.iter()
                .all(|r| (200..300).contains(&r.status) || r.status == 304)
        );
    }
}

#[tokio::test]
async fn github_app_with_a_wrong_key_or_id_is_refused_clearly() {
    let keys = app_keys();
    let sim = app_sim(&keys.public_pem).await;

    // A JWT naming another App.
    let gh = app_client(
        &sim,
        APP_ID + 1,
        &keys.private_pem,
        AppInstallation::Discover,
    );
    let err = gh.get_pr(&repo(), 1).await.unwrap_err();
    assert!(matches!(err, GitHubError::BadCredentials { .. }), "{err:?}");
    assert_eq!(statuses(&sim.requests()), [401]);

    // A JWT signed by a key the App does not have: the token exchange is refused.
    let other = app_keys();
    sim.reset_counters();
    let gh = app_client(
        &sim,
        APP_ID,
        &other.private_pem,
        AppInstallation::Id(INSTALLATION),
    );
    let err = gh.get_pr(&repo(), 1).await.unwrap_err();
    assert!(matches!(err, GitHubError::BadCredentials { .. }), "{err:?}");
    assert!(err.to_string().contains("401"), "{err}");
    let log = sim.requests();
    assert_eq!(statuses(&log), [401], "{log:?}");
    assert_eq!(gh.metrics().retries, 0);
}

/// A repository renamed under the operator's feet: GitHub redirects the old name (302 for reads,
/// 307 for writes) and the client follows, so trackers that name the old repository keep working,
/// cached ETags included.
#[tokio::test]
async fn a_renamed_repository_keeps_working_through_githubs_redirects() {
    let (sim, n) = sim_with_pr().await;
    let commit = "4a2c1f0e9b8d7c6a5f4e3d2c1b0a9f8e7d6c5b4a";
    sim.set_files(
        REPO,
        commit,
        [("deploy/cm.yaml", b"kind: ConfigMap\n".to_vec())],
    )
    .unwrap();
    let gh = client(&sim);
    gh.get_pr(&repo(), n).await.unwrap();

    sim.rename_repo(REPO, "acme/application").unwrap();
    let pr = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(pr.number, n);
    gh.add_label(&repo(), n, "state/approved").await.unwrap();
    assert_eq!(
        sim.pull_labels("acme/application", n).unwrap(),
        vec!["state/approved".to_owned()]
    );
    let after = gh.get_pr(&repo(), n).await.unwrap();
    assert_eq!(names(&after.labels), vec!["state/approved".to_owned()]);
    gh.remove_label(&repo(), n, "state/approved").await.unwrap();
    assert!(sim.pull_labels("acme/application", n).unwrap().is_empty());
    let files = gh.read_files(&repo(), "deploy", commit).await.unwrap();
    assert_eq!(files.len(), 1);

    let log = sim.requests();
    for status in [302, 307] {
        assert!(
            statuses(&log).contains(&status),
            "no {status} in {:?}",
            statuses(&log)
        );
    }
}
