//! The label manager against the GitHub simulator: what it asks GitHub, counted.

use std::sync::Arc;

use futures::future::join_all;
use prtracker_domain::{LabelPrefix, PrState};
use prtracker_github::{GitHubAuth, GitHubClient, GitHubConfig, OctocrabGitHub};
use prtracker_github_sim::{NewPull, Simulator};
use prtracker_sync::{GitHubLabelManager, LabelManager, Written};

const REPO: &str = "octo-org/labels";

/// Fifty new PRs in a repository without the state labels' definitions, written at once: each
/// missing definition is created once, by one request, and every PR gets its label.
#[tokio::test]
async fn fifty_prs_written_at_once_create_each_missing_definition_once() {
    let sim = Simulator::start().await.expect("simulator starts");
    sim.create_repo(REPO).expect("repository");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("client"));
    let labels = GitHubLabelManager::new(github.clone(), LabelPrefix::default());
    let repo = REPO.parse().expect("repository");
    let numbers: Vec<u64> = (0..50)
        .map(|_| {
            sim.create_pull(
                REPO,
                NewPull {
                    title: "A change".into(),
                    ..Default::default()
                },
            )
            .expect("PR")
        })
        .collect();
    let mut prs = Vec::new();
    for number in &numbers {
        prs.push(github.get_pr(&repo, *number).await.expect("PR read"));
    }
    let before = sim.requests().len();

    let fresh = |_: &prtracker_sync::LabelWrite| true;
    let written = join_all(
        prs.iter()
            .map(|pr| labels.write_state(&repo, pr, PrState::Open, &fresh)),
    )
    .await;
    for result in written {
        assert!(
            matches!(result, Ok(Written::Done(_))),
            "every write done: {result:?}"
        );
    }

    let requests = sim.requests();
    let creates: Vec<String> = requests[before..]
        .iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/labels") && !r.path.contains("/issues/")
        })
        .map(|r| format!("{} {}", r.status, r.path))
        .collect();
    assert_eq!(
        creates.len(),
        PrState::ALL.len(),
        "one POST /labels per missing definition:\n{}",
        creates.join("\n")
    );
    assert!(
        creates.iter().all(|c| c.starts_with("201")),
        "none answered 422 already_exists:\n{}",
        creates.join("\n")
    );
    let lists = requests[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/labels?"))
        .count();
    assert_eq!(lists, 1, "the repository's labels listed once");
    for number in numbers {
        assert_eq!(
            sim.pull_labels(REPO, number).expect("labels"),
            ["state/open"]
        );
    }
}
