//! The real `prtracker run` binary against the harness's apiserver and the GitHub simulator:
//! auto-tracking, webhooks (good and bad), a lost webhook repaired by the resync, drift monitors on
//! merge, and a leader handing over to the second replica without a state label lost or doubled.

mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use prtracker_api::{DriftMonitor, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::{Faults, NewPull, Simulator, SimulatorHandle};
use prtracker_testenv::{shared, test_namespace};

use common::{OPERATOR_NAMESPACE, eventually, free_port, operator_kubeconfig, state_labels};

const REPO: &str = "octo-org/shop";
const SECRET: &str = "webhook secret for tests";
const PERSON: &str = "octocat";
/// The resync interval the operator runs with: a dropped webhook is repaired within it.
const RESYNC: Duration = Duration::from_secs(10);

/// One `prtracker run` process, killed on drop.
struct Replica {
    name: String,
    child: Child,
    port: u16,
}

impl Replica {
    fn start(name: &str, sim: &SimulatorHandle, namespace: &str, dir: &Path) -> Self {
        let port = free_port();
        let token = dir.join("token");
        let secret = dir.join("webhook-secret");
        std::fs::write(&token, format!("{}\n", sim.token())).expect("token file");
        std::fs::write(&secret, format!("{SECRET}\n")).expect("secret file");
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_prtracker"))
            .args(["run", "--leader-elect", "--lease-duration", "4s"])
            .arg(format!("--github-api-url={}", sim.api_url()))
            .arg(format!("--github-token-file={}", token.display()))
            .arg(format!("--webhook-secret-file={}", secret.display()))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--namespace={namespace}"))
            // deploy/ grants Leases in the operator's own namespace only; one Lease per test.
            .arg(format!("--lease-namespace={OPERATOR_NAMESPACE}"))
            .arg(format!("--lease-name={}", lease_name(namespace)))
            .arg(format!("--track-repo={REPO}"))
            .arg("--default-clusters=in-cluster,staging")
            .arg("--manifests-path=deploy")
            .arg(format!("--resync-interval={}s", RESYNC.as_secs()))
            .env("KUBECONFIG", operator_kubeconfig(dir))
            .env("POD_NAME", name)
            .env("RUST_LOG", "info,kube_client::client::builder=off")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("prtracker runs");
        Self {
            name: name.to_owned(),
            child,
            port,
        }
    }

    fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.port)
    }

    async fn wait_ready(&mut self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited during start-up: {status}", self.name);
            }
            if let Ok(response) = reqwest::get(&url).await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} never became ready",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn tracker_state(trackers: &Api<PullRequestTracker>, number: u64) -> Option<PrState> {
    trackers
        .list(&Default::default())
        .await
        .ok()?
        .items
        .into_iter()
        .find(|t| t.spec.number == number)
        .and_then(|t| t.status.and_then(|s| s.state))
}

/// The Lease the replicas of the test in `namespace` hold.
fn lease_name(namespace: &str) -> String {
    format!("e2e-{namespace}")
}

async fn leader(leases: &Api<Lease>, namespace: &str) -> Option<String> {
    leases
        .get_opt(&lease_name(namespace))
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec.and_then(|s| s.holder_identity))
        .filter(|h| !h.is_empty())
}

fn sign(body: &[u8], secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn the_operator_tracks_syncs_repairs_monitors_and_hands_over() {
    let client: Client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "operator-e2e")
        .await
        .expect("namespace");
    let trackers: Api<PullRequestTracker> = Api::namespaced(client.clone(), &namespace);
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    let leases: Api<Lease> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    let dir = tempfile::tempdir().expect("temp dir");

    let mut first = Replica::start("replica-a", &sim, &namespace, dir.path());
    first.wait_ready().await;
    let first_leader = eventually("a leader", Duration::from_secs(30), || {
        leader(&leases, &namespace)
    })
    .await;
    assert_eq!(first_leader, "replica-a");
    let mut second = Replica::start("replica-b", &sim, &namespace, dir.path());
    second.wait_ready().await;
    // Deliveries go to the follower: it passes them on to the leader.
    sim.set_webhook(&second.webhook_url(), Some(SECRET));

    // Auto-tracking: a PR opened on GitHub gets a tracker, and its state label: at its first
    // webhook, which the follower receives and acts on, well before the leader's periodic listing.
    let opened = Instant::now();
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Add checkout".into(),
                ..Default::default()
            },
        )
        .expect("PR");
    let state = eventually("the new PR's tracker", Duration::from_secs(20), || {
        tracker_state(&trackers, number)
    })
    .await;
    assert_eq!(state, PrState::Open);
    assert!(
        opened.elapsed() < RESYNC,
        "the new PR was tracked by the periodic listing, not at its webhook"
    );
    eventually("state/open on the PR", Duration::from_secs(10), || async {
        (state_labels(&sim, REPO, number) == ["state/open"]).then_some(())
    })
    .await;

    // A label a person changes reaches the tracker through the webhook, well before a resync.
    let changed = Instant::now();
    sim.add_label(REPO, number, "state/approved", PERSON)
        .expect("label");
    sim.remove_label(REPO, number, "state/open", PERSON)
        .expect("unlabel");
    eventually(
        "Approved from the webhook",
        Duration::from_secs(20),
        || async {
            (tracker_state(&trackers, number).await == Some(PrState::Approved)).then_some(())
        },
    )
    .await;
    assert!(
        changed.elapsed() < RESYNC,
        "the change took a resync, not the webhook"
    );

    // A delivery with a bad signature is refused and changes nothing.
    let payload = serde_json::json!({
        "action": "labeled",
        "number": number,
        "pull_request": { "number": number },
        "repository": { "full_name": REPO, "name": "shop", "owner": { "login": "octo-org" } },
    })
    .to_string();
    let refused = reqwest::Client::new()
        .post(second.webhook_url())
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", "forged-1")
        .header(
            "X-Hub-Signature-256",
            sign(payload.as_bytes(), "not the secret"),
        )
        .header("Content-Type", "application/json")
        .body(payload)
        .send()
        .await
        .expect("the operator answers");
    assert_eq!(refused.status().as_u16(), 401);

    // A dropped webhook is repaired by the resync.
    sim.set_faults(Faults {
        drop_webhooks: 2,
        ..Default::default()
    });
    sim.add_label(REPO, number, "state/draft", PERSON)
        .expect("label");
    sim.remove_label(REPO, number, "state/approved", PERSON)
        .expect("unlabel");
    // state/draft contradicts a non-draft PR: the resync finds no counting label and recovers
    // Approved, removing the contradicting one.
    eventually(
        "the resync repairing the dropped webhook",
        RESYNC * 3,
        || async { (state_labels(&sim, REPO, number) == ["state/approved"]).then_some(()) },
    )
    .await;
    assert!(
        sim.deliveries().iter().any(|d| d.dropped),
        "no webhook was dropped"
    );

    // A merge creates one drift monitor per default cluster.
    sim.merge_pull(REPO, number, PERSON).expect("merge");
    eventually(
        "Merged, and two drift monitors",
        Duration::from_secs(20),
        || async {
            let merged = tracker_state(&trackers, number).await == Some(PrState::Merged);
            let count = monitors.list(&Default::default()).await.ok()?.items.len();
            (merged && count == 2).then_some(())
        },
    )
    .await;
    assert_eq!(state_labels(&sim, REPO, number), ["state/merged"]);

    // Killing the leader hands over to the second replica; no state label is lost or doubled.
    let second_pr = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Add refunds".into(),
                ..Default::default()
            },
        )
        .expect("PR");
    eventually("the second PR's label", Duration::from_secs(20), || async {
        (state_labels(&sim, REPO, second_pr) == ["state/open"]).then_some(())
    })
    .await;
    drop(first);
    let killed = Instant::now();
    let new_leader = eventually("a new leader", Duration::from_secs(30), || async {
        leader(&leases, &namespace)
            .await
            .filter(|l| l != "replica-a")
    })
    .await;
    assert_eq!(new_leader, "replica-b");
    let handover = killed.elapsed();
    sim.add_label(REPO, second_pr, "state/approved", PERSON)
        .expect("label");
    sim.remove_label(REPO, second_pr, "state/open", PERSON)
        .expect("unlabel");
    eventually(
        "the new leader syncing the change",
        Duration::from_secs(20),
        || async {
            (tracker_state(&trackers, second_pr).await == Some(PrState::Approved)).then_some(())
        },
    )
    .await;
    for pr in [number, second_pr] {
        assert_eq!(
            state_labels(&sim, REPO, pr).len(),
            1,
            "PR {pr}: {:?}",
            state_labels(&sim, REPO, pr)
        );
    }
    // Every label change the operator made, as webhooks show it: never zero, never two for long.
    for delivery in sim
        .deliveries()
        .iter()
        .filter(|d| d.event == "pull_request")
    {
        let labels = delivery.payload()["pull_request"]["labels"].clone();
        let count = labels
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|l| l["name"].as_str().is_some_and(|n| n.starts_with("state/")))
                    .count()
            })
            .unwrap_or(0);
        assert!(count <= 2, "an observer saw {count} state labels: {labels}");
    }
    eprintln!("leader handover took {handover:?} after the kill (lease duration 4s)");
    drop(second);
}
