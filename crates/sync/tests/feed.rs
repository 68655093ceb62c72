//! The change feed against the GitHub simulator, its requests counted: the first poll reads the
//! pages that hold the tracked PRs, an unchanged repository costs one 304, a change is listed with
//! everything a reconcile needs, and a read is served from the snapshot while nothing newer was
//! heard of the PR.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use prtracker_domain::Repository;
use prtracker_github::{GitHubAuth, GitHubConfig, OctocrabGitHub};
use prtracker_github_sim::{NewPull, Simulator, SimulatorHandle};
use prtracker_sync::{ChangeFeed, Freshness, PullRequests};

const REPO: &str = "octo-org/feed";
const PERSON: &str = "octocat";

/// A ledger the test tells of changes, as webhooks would.
#[derive(Default)]
struct Heard {
    next: AtomicU64,
    of: std::sync::Mutex<std::collections::HashMap<u64, u64>>,
}

impl Heard {
    fn tell(&self, number: u64) {
        let stamp = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        self.of.lock().expect("lock").insert(number, stamp);
    }
}

impl Freshness for Heard {
    fn heard(&self, _: &Repository, number: u64) -> u64 {
        self.of
            .lock()
            .expect("lock")
            .get(&number)
            .copied()
            .unwrap_or(0)
    }

    fn latest(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }
}

struct World {
    sim: SimulatorHandle,
    feed: ChangeFeed,
    heard: Arc<Heard>,
    repo: Repository,
}

/// `prs` open PRs, of which `tracked` (by number) have trackers.
async fn world(prs: u64, tracked: &[u64]) -> World {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    for _ in 0..prs {
        // A second apart, as PRs are: GitHub's times are whole seconds.
        sim.advance_time(1);
        sim.create_pull(
            REPO,
            NewPull {
                title: "A change".into(),
                labels: vec!["state/open".to_owned()],
                ..Default::default()
            },
        )
        .expect("PR");
    }
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    let github = Arc::new(OctocrabGitHub::new(config).expect("client"));
    let heard = Arc::new(Heard::default());
    let tracked: HashSet<u64> = tracked.iter().copied().collect();
    let feed = ChangeFeed::new(
        github,
        heard.clone(),
        Arc::new(move |_: &Repository| tracked.clone()),
    );
    World {
        sim,
        feed,
        heard,
        repo: REPO.parse().expect("repository"),
    }
}

impl World {
    fn requests_since(&self, before: usize) -> Vec<String> {
        self.sim.requests()[before..]
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect()
    }
}

#[tokio::test]
async fn a_first_poll_reads_the_tracked_prs_pages_then_an_unchanged_repository_costs_a_304() {
    // 250 PRs: three pages of 100. The tracked ones are the three most recently updated, all on
    // the first page.
    let world = world(250, &[248, 249, 250]).await;
    let polled = world.feed.poll(&world.repo).await.expect("first poll");
    assert_eq!(polled.requests, 1, "every tracked PR was on the first page");
    // At start, tracked PRs are kept, not listed: their trackers reconcile anyway. The open PRs
    // nobody tracks are listed, for auto-tracking.
    let listed: Vec<u64> = polled.changed.iter().map(|p| p.number).collect();
    assert_eq!(listed, (151..=247).rev().collect::<Vec<u64>>());
    // Their reads cost nothing now.
    let before = world.sim.requests().len();
    for number in [248, 249, 250] {
        let pr = world.feed.read(&world.repo, number).await.expect("read");
        assert_eq!(pr.number, number);
    }
    assert_eq!(world.requests_since(before), Vec::<String>::new());

    let before = world.sim.requests().len();
    let polled = world.feed.poll(&world.repo).await.expect("second poll");
    assert!(polled.unchanged);
    assert_eq!(
        world.requests_since(before),
        [format!(
            "GET /repos/{REPO}/pulls?state=all&sort=updated&direction=desc&per_page=100 304"
        )]
    );
}

#[tokio::test]
async fn a_change_is_listed_with_its_labels_and_the_stale_snapshot_is_read_again() {
    let world = world(5, &[1, 2, 3, 4, 5]).await;
    world.feed.poll(&world.repo).await.expect("first poll");
    // Later, a person changes #3's labels.
    world.sim.advance_time(2);
    world
        .sim
        .add_label(REPO, 3, "state/approved", PERSON)
        .expect("labelled");
    let polled = world.feed.poll(&world.repo).await.expect("poll");
    let numbers: Vec<u64> = polled.changed.iter().map(|p| p.number).collect();
    // #5 was updated in the second the last poll saw last: that second may have held a change
    // made after the poll read it, so it is listed again; #4 and older are not.
    assert_eq!(
        numbers,
        [3, 5],
        "the PR that changed, and the watermark's second"
    );
    assert!(
        polled.changed[0].label_names().contains(&"state/approved"),
        "the listing carries the labels: no second read"
    );
    let before = world.sim.requests().len();
    let read = world.feed.read(&world.repo, 3).await.expect("read");
    assert!(read.label_names().contains(&"state/approved"));
    assert_eq!(world.requests_since(before), Vec::<String>::new());

    // News of #3 after that poll (a webhook): its snapshot is stale, the read goes to GitHub.
    world.heard.tell(3);
    let before = world.sim.requests().len();
    world.feed.read(&world.repo, 3).await.expect("read");
    assert_eq!(
        world.requests_since(before),
        [format!("GET /repos/{REPO}/pulls/3 200")]
    );
    // And the operator's own write forgets it too.
    world.feed.changed(&world.repo, 4);
    let before = world.sim.requests().len();
    world.feed.read(&world.repo, 4).await.expect("read");
    assert_eq!(world.requests_since(before).len(), 1);
}

#[tokio::test]
async fn the_first_read_of_a_repository_waits_for_one_poll_instead_of_reading_each_pr() {
    let world = world(120, &(1..=120).collect::<Vec<_>>()).await;
    let reads: Vec<_> = (1..=120)
        .map(|number| world.feed.read(&world.repo, number))
        .collect();
    for read in futures::future::join_all(reads).await {
        read.expect("read");
    }
    let sent = world.requests_since(0);
    assert!(
        sent.iter().all(|r| r.contains("/pulls?")),
        "listings only, no PR read alone: {sent:#?}"
    );
    assert_eq!(sent.len(), 2, "two pages of 100: {sent:#?}");
}
