//! What GitHub pays for prtracker, counted on the simulator while the real `prtracker run` works:
//! at steady state a resync costs at most two requests per repository (its change feed and its
//! base branch's head, both 304s) whatever the number of trackers; a label changed without a
//! webhook is picked up by the next feed read and costs at most one write; with `--forget-after`,
//! a done PR's tracker (closed, or merged and superseded) is deleted once the retention has
//! passed, with an Event, while a merged PR whose change is live keeps its own.
//!
//! No webhook reaches the operator in these tests but the outage's: what it learns, it learns from
//! the feed. In an outage (GitHub answering 5xx to everything for 90 s while people change PRs and
//! their webhooks arrive), the operator sends a handful of probes, not a retry per tracker, and
//! every PR is consistent again within one resync after GitHub is back.

mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{KillOnDrop, OPERATOR_NAMESPACE, eventually, free_port, operator_kubeconfig};
use futures::{StreamExt, TryStreamExt};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use prtracker_api::{PullRequestTracker, PullRequestTrackerSpec};
use prtracker_domain::PrState;
use prtracker_github_sim::{Faults, NewPull, RequestRecord, Simulator, SimulatorHandle};
use prtracker_testenv::{shared, test_namespace};

const REPO: &str = "octo-org/shop";
const PERSON: &str = "octocat";
const RESYNC: Duration = Duration::from_secs(3);

struct World {
    sim: SimulatorHandle,
    namespace: String,
    /// Where the operator serves (its webhook endpoint, unused unless a test sets it on GitHub).
    port: u16,
    trackers: Api<PullRequestTracker>,
    _dir: tempfile::TempDir,
    _operator: KillOnDrop,
}

/// `open` open PRs and `merged` merged ones whose change is live in-cluster, each with a tracker,
/// and the operator running with a short resync, no webhook.
async fn world(prefix: &str, open: u64, merged: u64) -> World {
    world_with(prefix, open, merged, &[]).await
}

async fn world_with(prefix: &str, open: u64, merged: u64, extra: &[&str]) -> World {
    let client: Client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, prefix).await.expect("namespace");
    let app_namespace = format!("{namespace}-app");
    shared()
        .primary()
        .kubectl()
        .args(["create", "namespace", &app_namespace])
        .output()
        .expect("kubectl runs");
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    let manifest = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {app_namespace}\ndata:\n  mode: \"{value}\"\n"
        )
    };
    sim.push_commit(
        REPO,
        "main",
        &format!("{:040x}", 1),
        vec![("deploy/app.yaml".to_owned(), manifest("0").into_bytes())],
    )
    .expect("base commit");
    for _ in 0..open {
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
    // Each merged PR sets the value in turn; the cluster holds the last, so the earlier ones are
    // superseded and the last is live.
    for n in 0..merged {
        let head = format!("{:040x}", 0x1000 + n);
        let value = format!("{}", n + 1);
        sim.set_files(
            REPO,
            &head,
            vec![("deploy/app.yaml".to_owned(), manifest(&value).into_bytes())],
        )
        .expect("head files");
        let number = sim
            .create_pull(
                REPO,
                NewPull {
                    title: format!("Set the mode to {value}"),
                    head_sha: Some(head),
                    labels: vec!["state/open".to_owned()],
                    ..Default::default()
                },
            )
            .expect("PR");
        sim.merge_pull_as(REPO, number, PERSON, Some(&format!("{:040x}", 0x2000 + n)))
            .expect("merged");
        if n + 1 == merged {
            apply(&manifest(&value));
        }
    }
    create_trackers(&client, &namespace, open + merged).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let operator = start_operator(&sim, &namespace, dir.path(), port, extra);
    World {
        sim,
        port,
        trackers: Api::namespaced(client, &namespace),
        namespace,
        _dir: dir,
        _operator: operator,
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self._dir.path().join("operator.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- operator log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

fn apply(yaml: &str) {
    common::server_side_apply(shared().primary(), &["--field-manager=cd"], yaml);
}

async fn create_trackers(client: &Client, namespace: &str, count: u64) {
    let api: Api<PullRequestTracker> = Api::namespaced(client.clone(), namespace);
    futures::stream::iter(1..=count)
        .map(|number| {
            let api = api.clone();
            async move {
                let tracker = PullRequestTracker {
                    metadata: ObjectMeta {
                        name: Some(format!("pr-{number}")),
                        ..Default::default()
                    },
                    spec: PullRequestTrackerSpec {
                        repository: REPO.parse().expect("repository"),
                        number,
                        clusters: vec!["in-cluster".to_owned()],
                        manifests_path: "deploy".to_owned(),
                        targets: Vec::new(),
                        settle_window: None,
                        ignore_differences: Vec::new(),
                    },
                    status: None,
                };
                api.create(&PostParams::default(), &tracker)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .expect("trackers created");
}

fn start_operator(
    sim: &SimulatorHandle,
    namespace: &str,
    dir: &Path,
    port: u16,
    extra: &[&str],
) -> KillOnDrop {
    std::fs::write(dir.join("token"), sim.token()).expect("token");
    // A webhook secret the operator needs to start; GitHub is never told where to deliver.
    std::fs::write(dir.join("secret"), "unused").expect("secret");
    let log = std::fs::File::create(dir.join("operator.log")).expect("log");
    let operator = Command::new(env!("CARGO_BIN_EXE_prtracker"))
        .arg("run")
        .arg(format!(
            "--webhook-secret-file={}",
            dir.join("secret").display()
        ))
        .arg(format!("--github-api-url={}", sim.api_url()))
        .arg(format!(
            "--github-token-file={}",
            dir.join("token").display()
        ))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--namespace={namespace}"))
        .arg(format!("--cluster-secrets-namespace={OPERATOR_NAMESPACE}"))
        .args(
            (!extra.iter().any(|a| a.starts_with("--resync-interval")))
                .then(|| format!("--resync-interval={}s", RESYNC.as_secs())),
        )
        .arg("--monitor-interval=30s")
        .arg("--settle-window=0s")
        .args(extra)
        .env("KUBECONFIG", operator_kubeconfig(dir))
        .env("RUST_LOG", "info,kube_client::client::builder=off")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("prtracker runs");
    let mut operator = KillOnDrop(operator);
    // An operator that refuses its flags exits at once: say so now, not after every wait times out.
    std::thread::sleep(Duration::from_secs(1));
    if let Ok(Some(status)) = operator.0.try_wait() {
        let log = std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default();
        panic!("the operator exited at start ({status}):\n{log}");
    }
    operator
}

impl World {
    async fn states(&self) -> Vec<Option<PrState>> {
        self.trackers
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
            .iter()
            .map(|t| t.status.as_ref().and_then(|s| s.state))
            .collect()
    }

    /// Waits until every tracker has a state and GitHub has been quiet (no request that costs
    /// quota) for two resync intervals: the labels written and read back.
    async fn settle(&self, trackers: usize) {
        eventually("every tracker synced", Duration::from_secs(180), || async {
            let states = self.states().await;
            (states.len() == trackers && states.iter().all(Option::is_some)).then_some(())
        })
        .await;
        let mut quiet_since = (Instant::now(), self.sim.requests().len());
        eventually(
            "two resync intervals without a counted request",
            Duration::from_secs(120),
            || {
                let records = self.sim.requests();
                let counted = records[quiet_since.1..].iter().any(|r| r.counted);
                if counted {
                    quiet_since = (Instant::now(), records.len());
                }
                let quiet = quiet_since.0.elapsed() >= RESYNC * 2;
                async move { quiet.then_some(()) }
            },
        )
        .await;
    }

    /// The requests GitHub receives over `intervals` resync intervals.
    async fn requests_over(&self, intervals: u32) -> Vec<RequestRecord> {
        let before = self.sim.requests().len();
        tokio::time::sleep(RESYNC * intervals).await;
        self.sim.requests()[before..].to_vec()
    }
}

fn table(records: &[RequestRecord]) -> String {
    records
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn a_resync_costs_at_most_two_requests_per_repository(prefix: &str, open: u64) {
    let world = world(prefix, open, 2).await;
    world.settle(open as usize + 2).await;
    let states = world.states().await;
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == Some(PrState::Deployed))
            .count(),
        1,
        "the last merged PR is live: {states:?}"
    );
    let intervals = 4;
    let records = world.requests_over(intervals).await;
    // A poll or a head read may fall on either edge of the window: one interval more.
    let most = 2 * (intervals as usize + 1);
    assert!(
        records.len() <= most,
        "{} requests over {intervals} intervals at {open} open PRs (at most {most}):\n{}",
        records.len(),
        table(&records)
    );
    assert!(
        records.iter().all(|r| r.status == 304 && !r.counted),
        "nothing changed, so nothing costs quota:\n{}",
        table(&records)
    );
    assert!(
        records.iter().any(|r| r.path.contains("/pulls?")),
        "the feed is read every interval:\n{}",
        table(&records)
    );
}

#[tokio::test]
async fn a_resync_of_ten_trackers_costs_at_most_two_requests() {
    a_resync_costs_at_most_two_requests_per_repository("cost-10", 8).await;
}

#[tokio::test]
async fn a_resync_of_a_thousand_trackers_costs_at_most_two_requests() {
    a_resync_costs_at_most_two_requests_per_repository("cost-1000", 998).await;
}

#[tokio::test]
async fn a_label_changed_without_a_webhook_is_seen_in_the_feed_and_costs_one_write() {
    let world = world("cost-label", 20, 0).await;
    // The operator's first label write in a repository makes the state labels' definitions, once:
    // have it happen before the count starts.
    world
        .sim
        .remove_label(REPO, 1, "state/open", PERSON)
        .expect("unlabelled");
    world.settle(20).await;
    assert_eq!(common::state_labels(&world.sim, REPO, 1), ["state/open"]);

    // A person takes the state label off: the operator puts it back, one write.
    let before = world.sim.requests().len();
    world
        .sim
        .remove_label(REPO, 7, "state/open", PERSON)
        .expect("unlabelled");
    eventually("state/open back on #7", RESYNC * 10, || async {
        common::state_labels(&world.sim, REPO, 7)
            .eq(&["state/open"])
            .then_some(())
    })
    .await;
    world.settle(20).await;
    let records = &world.sim.requests()[before..];
    let writes: Vec<&RequestRecord> = records.iter().filter(|r| r.method != "GET").collect();
    assert_eq!(
        writes.len(),
        1,
        "one write puts the label back:\n{}",
        table(records)
    );
    assert!(
        !records.iter().any(|r| r.path.ends_with("/pulls/7")),
        "the feed brought the PR; it was not read alone:\n{}",
        table(records)
    );

    // A person approves (a state label for another): the operator follows, no write at all.
    let before = world.sim.requests().len();
    world
        .sim
        .add_label(REPO, 9, "state/approved", PERSON)
        .expect("labelled");
    world
        .sim
        .remove_label(REPO, 9, "state/open", PERSON)
        .expect("unlabelled");
    eventually("#9 approved", RESYNC * 10, || async {
        world
            .trackers
            .get("pr-9")
            .await
            .ok()
            .and_then(|t| t.status?.state)
            .filter(|s| *s == PrState::Approved)
    })
    .await;
    let records = &world.sim.requests()[before..];
    assert!(
        records.iter().all(|r| r.method == "GET"),
        "following GitHub writes nothing:\n{}",
        table(records)
    );
}

#[tokio::test]
async fn a_done_pr_is_forgotten_after_the_retention_with_an_event_and_a_live_one_kept() {
    // #1-#3 open; #4 merged and superseded by #5, whose change is live.
    let world = world_with("cost-forget", 3, 2, &["--forget-after=4s"]).await;
    // #4 may be forgotten from the first reconciles on: no waiting for all five to settle.
    world.sim.close_pull(REPO, 2, PERSON).expect("closed");
    eventually(
        "#2's and #4's trackers deleted",
        Duration::from_secs(90),
        || async {
            let gone_2 = world.trackers.get_opt("pr-2").await.ok()?.is_none();
            let gone_4 = world.trackers.get_opt("pr-4").await.ok()?.is_none();
            (gone_2 && gone_4).then_some(())
        },
    )
    .await;
    // Past the retention for #5 too: it stays, its change being live.
    tokio::time::sleep(RESYNC * 2).await;
    let mut names: Vec<String> = world
        .trackers
        .list(&Default::default())
        .await
        .expect("trackers")
        .items
        .iter()
        .map(|t| t.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["pr-1", "pr-3", "pr-5"],
        "the open PRs and the live merge keep theirs"
    );
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(
        shared().primary().client().expect("client"),
        &world.namespace,
    );
    let forgotten = eventually("the Forgotten events", Duration::from_secs(10), || async {
        let mut names: Vec<String> = events
            .list(&Default::default())
            .await
            .ok()?
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("Forgotten"))
            .filter(|e| {
                e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("longer than --forget-after"))
            })
            .filter_map(|e| e.regarding?.name)
            .collect();
        names.sort();
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(forgotten, ["pr-2", "pr-4"], "one Event each, saying why");
}

#[tokio::test]
async fn an_outage_costs_a_few_probes_and_every_pr_is_consistent_within_a_resync_after_it() {
    const OUTAGE: Duration = Duration::from_secs(90);
    const OUTAGE_RESYNC: Duration = Duration::from_secs(30);
    let world = world_with(
        "outage",
        200,
        0,
        &[&format!("--resync-interval={}s", OUTAGE_RESYNC.as_secs())],
    )
    .await;
    // The first label write makes the definitions; have it happen before the outage.
    world
        .sim
        .remove_label(REPO, 1, "state/open", PERSON)
        .expect("unlabelled");
    world.settle(200).await;
    world.sim.set_webhook(
        &format!("http://127.0.0.1:{}/webhook", world.port),
        Some("unused"),
    );

    let before = world.sim.requests().len();
    let started = Instant::now();
    world.sim.set_faults(Faults {
        fail_every_nth: Some(1),
        fail_status: Some(502),
        ..Default::default()
    });
    // People go on working: 20 PRs approved, each change delivered by webhook, which makes the
    // operator want to read each PR.
    for number in 11..=30 {
        world
            .sim
            .add_label(REPO, number, "state/approved", PERSON)
            .expect("labelled");
        world
            .sim
            .remove_label(REPO, number, "state/open", PERSON)
            .expect("unlabelled");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    world.sim.set_faults(Faults::default());
    let ended = Instant::now();
    let during = world.sim.requests()[before..].to_vec();
    println!(
        "{} requests during a {OUTAGE:?} outage with 200 trackers:\n{}",
        during.len(),
        table(&during)
    );
    assert!(
        during.len() <= 30,
        "{} requests during the outage (at most 30):\n{}",
        during.len(),
        table(&during)
    );

    // Consistent again within one resync: the approvals followed, one state label on every PR.
    let trackers = &world.trackers;
    eventually(
        "every PR consistent after the outage",
        OUTAGE_RESYNC + Duration::from_secs(10),
        || async {
            let list = trackers.list(&Default::default()).await.ok()?;
            let approved = list
                .items
                .iter()
                .filter(|t| (11..=30).contains(&t.spec.number))
                .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(PrState::Approved))
                .count();
            let single = (1..=200u64).all(|n| common::state_labels(&world.sim, REPO, n).len() == 1);
            (approved == 20 && single).then_some(())
        },
    )
    .await;
    println!("consistent {:?} after the outage ended", ended.elapsed());
    for number in 11..=30 {
        assert_eq!(
            common::state_labels(&world.sim, REPO, number),
            ["state/approved"],
            "the person's approval of #{number} stands"
        );
    }
}
