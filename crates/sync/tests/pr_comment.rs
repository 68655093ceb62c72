//! The PR's one comment against the GitHub simulator: what each step asks GitHub, counted. Posted
//! once; an unchanged text costs nothing; a changed one one edit; a lost record is found again by
//! its marker; a comment a person deleted is posted again; a GitHub 5xx during the post is
//! retried without a second comment; a person's own comments are never touched.

use std::sync::Arc;

use prtracker_github::{GitHubAuth, GitHubConfig, OctocrabGitHub};
use prtracker_github_sim::{Faults, NewPull, Simulator, SimulatorHandle};
use prtracker_sync::{PrCommentKeeper, comment::marker};

const REPO: &str = "octo-org/comments";
const PERSON: &str = "octocat";

fn body(repo: &prtracker_domain::Repository, number: u64, text: &str) -> String {
    format!("{}\n{text}\n", marker(repo, number))
}

fn comment_requests(sim: &SimulatorHandle, from: usize) -> Vec<String> {
    sim.requests()[from..]
        .iter()
        .filter(|r| r.path.contains("/comments"))
        .map(|r| format!("{} {}", r.method, r.status))
        .collect()
}

#[tokio::test]
async fn one_comment_posted_edited_found_again_and_never_twice() {
    let sim = Simulator::start().await.expect("simulator starts");
    sim.create_repo(REPO).expect("repository");
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "A change".into(),
                ..Default::default()
            },
        )
        .expect("PR");
    sim.comment(REPO, number, "Looks good to me", PERSON)
        .expect("a person's comment");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let keeper = PrCommentKeeper::new(Arc::new(OctocrabGitHub::new(config).expect("client")));
    let repo = REPO.parse().expect("repository");

    // Posted once, after a look for one of ours among the PR's comments.
    let start = sim.requests().len();
    let live = body(&repo, number, "live everywhere");
    let record = keeper.keep(&repo, number, &live, None).await.expect("kept");
    assert_eq!(comment_requests(&sim, start), ["GET 200", "POST 201"]);

    // The same text again: nothing at all.
    let start = sim.requests().len();
    let again = keeper
        .keep(&repo, number, &live, Some(&record))
        .await
        .expect("kept");
    assert_eq!(again, record);
    assert!(comment_requests(&sim, start).is_empty());

    // A new text: one edit of the recorded comment.
    let start = sim.requests().len();
    let drifted = body(&repo, number, "changed by hand in staging");
    let record = keeper
        .keep(&repo, number, &drifted, Some(&record))
        .await
        .expect("kept");
    assert_eq!(comment_requests(&sim, start), ["PATCH 200"]);

    // The record lost: found again by its marker, and not edited, since it says the same.
    let start = sim.requests().len();
    let found = keeper
        .keep(&repo, number, &drifted, None)
        .await
        .expect("kept");
    assert_eq!(found.id, record.id);
    assert_eq!(comment_requests(&sim, start), ["GET 200"]);

    // A person deletes it: the next change posts it again, once.
    sim.delete_comment(REPO, record.id, PERSON)
        .expect("deleted");
    let start = sim.requests().len();
    let back = keeper
        .keep(&repo, number, &live, Some(&record))
        .await
        .expect("kept");
    assert_ne!(back.id, record.id);
    assert_eq!(
        comment_requests(&sim, start),
        ["PATCH 404", "GET 200", "POST 201"]
    );

    let comments = sim.issue_comments(REPO, number).expect("comments");
    assert_eq!(comments.len(), 2, "the person's and ours: {comments:#?}");
    assert_eq!(comments[0].body, "Looks good to me", "theirs untouched");
    assert_eq!(comments[1].body, live);
}

#[tokio::test]
async fn a_github_5xx_while_posting_is_retried_without_a_second_comment() {
    let sim = Simulator::start().await.expect("simulator starts");
    sim.create_repo(REPO).expect("repository");
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "A change".into(),
                ..Default::default()
            },
        )
        .expect("PR");
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let keeper = PrCommentKeeper::new(Arc::new(OctocrabGitHub::new(config).expect("client")));
    let repo = REPO.parse().expect("repository");
    // Every other request fails with a 502: the list, then the post, each need a retry.
    sim.set_faults(Faults {
        fail_every_nth: Some(2),
        fail_status: Some(502),
        ..Default::default()
    });
    let start = sim.requests().len();
    keeper
        .keep(&repo, number, &body(&repo, number, "live"), None)
        .await
        .expect("kept despite the 502s");
    sim.set_faults(Faults::default());
    let sent = comment_requests(&sim, start);
    assert!(sent.iter().any(|r| r.ends_with("502")), "{sent:?}");
    assert_eq!(
        sim.issue_comments(REPO, number).expect("comments").len(),
        1,
        "{sent:?}"
    );
}
