//! What a merged PR shows on GitHub beyond its label (issue #16), end to end through the real
//! `prtracker run` as a GitHub App, two replicas electing a leader, two clusters and the
//! simulator: a Deployment, a commit status and a check run per cluster and the one comment follow each
//! verdict (live, changed by hand, live again); a GitHub 5xx or secondary limit during those writes
//! is retried and loses nothing; the comment is edited, never posted twice, across a leader
//! handover; a later PR that changes the same field turns the first PR's Deployments inactive.
//! Counted from the simulator's request log: at rest no write; a verdict change at most one write
//! per surface.

mod common;

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use common::world::*;
use common::{eventually, state_labels};
use prtracker_domain::PrState;
use prtracker_github_sim::{Faults, SimulatorHandle, page::chromium};

/// The surfaces each write belongs to, for counting.
fn surface_of(method: &str, path: &str) -> Option<&'static str> {
    if method == "GET" {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path);
    if path.contains("/check-runs") {
        Some("check run")
    } else if path.contains("/deployments/") && path.ends_with("/statuses") {
        Some("deployment status")
    } else if path.ends_with("/deployments") {
        Some("deployment")
    } else if path.contains("/comments") {
        Some("comment")
    } else if path.contains("/statuses/") {
        Some("commit status")
    } else {
        None
    }
}

/// The successful writes to each surface among the requests from `from` on.
fn writes_since(sim: &SimulatorHandle, from: usize) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for r in sim.requests().iter().skip(from) {
        if r.status < 300
            && let Some(surface) = surface_of(&r.method, &r.path)
        {
            *counts.entry(surface).or_default() += 1;
        }
    }
    counts
}

/// What GitHub shows for one merge commit, per environment: the newest deployment status, and
/// the newest check run's conclusion (or status while in progress).
fn shown(world: &World, merge: &str) -> Vec<(String, String, String)> {
    let deployments = world.sim.deployments(REPO).unwrap_or_default();
    let runs = world.sim.check_runs(REPO, merge).unwrap_or_default();
    let mut shown = Vec::new();
    for cluster in ["in-cluster".to_owned(), world.secondary.clone()] {
        let deployment = deployments
            .iter()
            .filter(|d| d.sha == merge && d.environment == cluster)
            .filter_map(|d| d.state())
            .next_back()
            .unwrap_or("none")
            .to_owned();
        // Newest first.
        let run = runs
            .iter()
            .find(|r| r.name == format!("prtracker/{cluster}"))
            .map_or("none".to_owned(), |r| {
                r.conclusion.clone().unwrap_or_else(|| r.status.clone())
            });
        shown.push((cluster, deployment, run));
    }
    shown
}

async fn surfaces_show(world: &World, merge: &str, want: [(&str, &str); 2]) {
    let want: Vec<(String, String, String)> = ["in-cluster".to_owned(), world.secondary.clone()]
        .into_iter()
        .zip(want)
        .map(|(c, (d, r))| (c, d.to_owned(), r.to_owned()))
        .collect();
    eventually(
        &format!("deployments and check runs of {merge} to show {want:?}"),
        Duration::from_secs(90),
        || async { (shown(world, merge) == want).then_some(()) },
    )
    .await;
}

/// Waits until PR `number` has exactly one comment and it holds every one of `needles`.
async fn comment_says(world: &World, number: u64, needles: &[&str]) -> String {
    eventually(
        &format!("#{number}'s comment to say {needles:?}"),
        Duration::from_secs(90),
        || async {
            let bodies: Vec<String> = world
                .sim
                .issue_comments(REPO, number)
                .expect("comments")
                .into_iter()
                .map(|c| c.body)
                .collect();
            assert!(bodies.len() <= 1, "a second comment: {bodies:#?}");
            bodies
                .into_iter()
                .next()
                .filter(|body| needles.iter().all(|n| body.contains(n)))
        },
    )
    .await
}

/// The PR's page, as a person sees it in a browser (headless Chromium): the drifted label, the
/// comment naming the field, the failed deployment and check of the second cluster. Its
/// screenshot is the README's.
async fn looks_drifted_in_a_browser(world: &World, number: u64) {
    let url = world.sim.pr_page_url(REPO, number);
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pr-surfaces-page.png");
    let (dom, screenshot) = tokio::task::spawn_blocking({
        let shot = shot.clone();
        move || {
            (
                chromium::dump_dom(&url),
                chromium::screenshot(&url, &shot, 1100, 1500),
            )
        }
    })
    .await
    .expect("Chromium ran");
    let dom = dom.unwrap_or_else(|e| panic!("Chromium could not show the PR's page: {e}"));
    screenshot.unwrap_or_else(|e| panic!("Chromium could not take a screenshot: {e}"));
    let secondary_check = format!("prtracker/{}", world.secondary);
    for seen in [
        "state/drifted",
        "changed by hand",
        "spec.replicas",
        "Failure",
        secondary_check.as_str(),
    ] {
        assert!(
            dom.contains(seen),
            "the page does not show {seen:?}:\n{dom}"
        );
    }
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "a {size}-byte screenshot");
    println!("the PR's page, drifted: {}", shot.display());
}

#[tokio::test]
async fn deployments_check_runs_and_the_comment_follow_each_verdict_through_faults_a_handover_and_a_later_pr()
 {
    let world = World::start(
        "surfaces",
        Options {
            app: true,
            two_replicas: true,
            flags: vec![
                "--pr-comment",
                "--github-deployments",
                "--check-runs",
                "--commit-statuses",
            ],
            ..Options::default()
        },
    )
    .await;
    let leader = eventually("a leader", Duration::from_secs(60), || world.leader()).await;
    let leader_url = world
        .operators
        .borrow()
        .iter()
        .find(|o| o.name == leader)
        .map(Operator::webhook_url)
        .expect("the leader runs");
    world.sim.set_webhook(&leader_url, Some("s3cret"));

    // Merged and live in both clusters: success everywhere, one comment.
    let mut app = world.app();
    app.replicas = 3;
    let (first, first_merge) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(first).await;
    world.wait_for_state(first, PrState::Deployed).await;
    surfaces_show(
        &world,
        &first_merge,
        [("success", "success"), ("success", "success")],
    )
    .await;
    comment_says(&world, first, &["`state/deployed`", "✅ live"]).await;

    // At rest: a resync and a check of each monitor later, no write at all.
    let rest = world.sim.requests().len();
    world.check_now(first).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        writes_since(&world.sim, rest),
        BTreeMap::new(),
        "a steady state writes nothing"
    );

    // A hand edit in the second cluster: its deployment and check fail, naming the field; the
    // comment says which. At most one write per surface.
    let before = world.sim.requests().len();
    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(first).await;
    world.wait_for_state(first, PrState::Drifted).await;
    surfaces_show(
        &world,
        &first_merge,
        [("success", "success"), ("failure", "failure")],
    )
    .await;
    comment_says(&world, first, &["`state/drifted`", "`spec.replicas`"]).await;
    let runs = world.sim.check_runs(REPO, &first_merge).expect("runs");
    let failed = runs
        .iter()
        .find(|r| r.conclusion.as_deref() == Some("failure"))
        .expect("a failed run");
    assert_eq!(
        failed.annotations.len(),
        1,
        "one annotation per drifted object"
    );
    assert!(
        failed.annotations[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.replicas")),
        "{:?}",
        failed.annotations
    );
    let writes = writes_since(&world.sim, before);
    println!("writes for one verdict change: {writes:?}");
    for (surface, count) in &writes {
        assert!(*count <= 1, "{count} writes to the {surface}: {writes:?}");
    }
    let (_, latest) = world
        .sim
        .combined_status(REPO, &first_merge)
        .expect("statuses");
    let mut statuses: Vec<(String, String)> =
        latest.into_iter().map(|s| (s.context, s.state)).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("prtracker/in-cluster".to_owned(), "success".to_owned()),
            (
                format!("prtracker/{}", world.secondary),
                "failure".to_owned()
            ),
        ]
    );
    looks_drifted_in_a_browser(&world, first).await;

    // Undone while GitHub fails every third request with a 502 and then asks for a pause
    // (secondary limit): retried, and nothing is lost or made twice.
    world.sim.set_faults(Faults {
        fail_every_nth: Some(3),
        fail_status: Some(502),
        secondary_next: 2,
        secondary_retry_after: Some(2),
        ..Faults::default()
    });
    apply_everywhere(&app.yaml());
    world.check_now(first).await;
    world.wait_for_state(first, PrState::Deployed).await;
    surfaces_show(
        &world,
        &first_merge,
        [("success", "success"), ("success", "success")],
    )
    .await;
    comment_says(&world, first, &["`state/deployed`"]).await;
    world.sim.set_faults(Faults::default());
    let failed_writes = world
        .sim
        .requests()
        .iter()
        .skip(before)
        .filter(|r| r.status >= 500 || r.status == 403 || r.status == 429)
        .count();
    assert!(failed_writes > 0, "the faults were met");

    // The leader killed: the other replica takes over, and a new verdict edits the same
    // comment.
    world.stop_operator(&leader);
    let next = eventually("a new leader", Duration::from_secs(60), || async {
        world.leader().await.filter(|l| *l != leader)
    })
    .await;
    let next_url = world
        .operators
        .borrow()
        .iter()
        .find(|o| o.name == next)
        .map(Operator::webhook_url)
        .expect("the new leader runs");
    world.sim.set_webhook(&next_url, Some("s3cret"));
    scale("secondary", &world.app_namespace, 6, "kubectl-edit");
    world.check_now(first).await;
    world.wait_for_state(first, PrState::Drifted).await;
    surfaces_show(
        &world,
        &first_merge,
        [("success", "success"), ("failure", "failure")],
    )
    .await;
    comment_says(&world, first, &["`state/drifted`", "`6`"]).await;

    // A later PR sets the same field: the first's change is superseded, its deployments
    // inactive and its checks neutral; the later PR has its own, live.
    app.replicas = 4;
    let (second, second_merge) = world.merged_pr("Four replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(second).await;
    world.wait_for_state(second, PrState::Deployed).await;
    world.check_now(first).await;
    surfaces_show(
        &world,
        &first_merge,
        [("inactive", "neutral"), ("inactive", "neutral")],
    )
    .await;
    surfaces_show(
        &world,
        &second_merge,
        [("success", "success"), ("success", "success")],
    )
    .await;
    comment_says(&world, second, &["✅ live"]).await;
    assert_eq!(
        world
            .sim
            .issue_comments(REPO, first)
            .expect("comments")
            .len(),
        1,
        "one comment on the first PR, after all of it"
    );
    let deployments = world.sim.deployments(REPO).expect("deployments");
    assert_eq!(
        deployments.len(),
        4,
        "one per PR and cluster: {deployments:#?}"
    );
    // Through all of it, no status was posted twice in a row: each says something new.
    for deployment in &deployments {
        let said: Vec<(&str, &str)> = deployment
            .statuses
            .iter()
            .map(|s| (s.state.as_str(), s.description.as_str()))
            .collect();
        assert!(
            said.windows(2).all(|w| w[0] != w[1]),
            "a status posted twice to the deployment in {}: {said:#?}",
            deployment.environment
        );
    }
    assert_eq!(
        state_labels(&world.sim, REPO, first).len(),
        1,
        "one state label on the first PR"
    );
}
