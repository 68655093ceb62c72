//! The operator's own label writes come back to it as webhooks. Through the real `prtracker run`
//! and the simulator's deliveries: a verdict's move (one label added, the old one removed) is
//! made in one sync, never stopped half-way by the webhook of its own first write, whether GitHub
//! delivers to the leader or to a follower that passes the delivery on.

mod common;

use std::time::Duration;

use common::{
    eventually,
    world::{Operator, Options, World, apply, label_history, scale},
};
use kube::ResourceExt;
use prtracker_domain::PrState;

/// What the tracker controller logs when a sync stopped because the PR changed under it.
const STOPPED: &str = "the PR changed after it was read";

async fn a_verdicts_move_is_made_in_one_sync(prefix: &str, through_follower: bool) {
    let world = World::start(
        prefix,
        Options {
            two_replicas: through_follower,
            ..Default::default()
        },
    )
    .await;
    let leader = if through_follower {
        eventually("a leader", Duration::from_secs(60), || world.leader()).await
    } else {
        world.operators.borrow()[0].name.clone()
    };
    let webhook_to = |pick: &dyn Fn(&Operator) -> bool| {
        world
            .operators
            .borrow()
            .iter()
            .find(|o| pick(o))
            .map(Operator::webhook_url)
            .expect("a replica")
    };
    let url = if through_follower {
        webhook_to(&|o| o.name != leader)
    } else {
        webhook_to(&|o| o.name == leader)
    };
    world.sim.set_webhook(&url, Some("s3cret"));
    let log = world.dir.path().join(format!("{leader}.log"));
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let mut app = world.app();
    app.replicas = 3;
    let number = world.deployed_pr("Three replicas", &app).await;
    // From here on no one touches the PR: every label change is the operator's own.
    let from = read_log().len();

    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Drifted).await;
    // CD puts it back.
    apply("secondary", &app.yaml(), "cd");
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Deployed).await;
    if through_follower {
        assert_eq!(
            world.leader().await.as_deref(),
            Some(leader.as_str()),
            "the leader changed: the test needs one"
        );
    }

    // Each move, two writes and their two webhooks: drifted added, deployed removed, and back.
    let moves = [
        "state/drifted",
        "state/deployed",
        "state/deployed",
        "state/drifted",
    ];
    eventually(
        "the webhooks of the four writes",
        Duration::from_secs(30),
        || {
            let history = label_history(&world.sim, number);
            async move { history.ends_with(&moves.map(String::from)).then_some(()) }
        },
    )
    .await;
    let log = read_log();
    let stopped: Vec<&str> = log[from..]
        .lines()
        .filter(|l| l.contains(STOPPED))
        .collect();
    assert!(
        stopped.is_empty(),
        "syncs stopped by the operator's own writes:\n{}",
        stopped.join("\n")
    );
    if through_follower {
        // The follower passed the deliveries on, the label change with each.
        let tracker = world.tracker(number).await.expect("the tracker");
        let change = tracker
            .annotations()
            .get("prtracker.io/webhook-label-change");
        assert!(
            change.is_some_and(|c| c.ends_with(" unlabeled state/drifted")),
            "{change:?}"
        );
    }
}

#[tokio::test]
async fn a_verdicts_move_is_never_stopped_by_its_own_webhook_at_the_leader() {
    a_verdicts_move_is_made_in_one_sync("echo-leader", false).await;
}

#[tokio::test]
async fn a_verdicts_move_is_never_stopped_by_its_own_webhook_passed_on_by_a_follower() {
    a_verdicts_move_is_made_in_one_sync("echo-follower", true).await;
}
