//! A PR's drift verdict speaks for the PR's own change, end to end through the real `prtracker run`,
//! two clusters (`in-cluster` and `secondary`) and the GitHub simulator: a later PR or a direct
//! push to the base branch supersedes a change (it is not drift); a hand edit drifts only the PR
//! whose field it undid, and only once it has held for the settle window; a merged change not
//! deployed yet waits; ignore rules spare fields another manager owns; a PR that changed nothing,
//! or whose manifests do not parse, is not checked again and again.
//!
//! Each test runs its own operator against its own simulator, namespace and app namespace (see
//! `common/world.rs`). A CD system is played by `kubectl apply --server-side --field-manager=cd`.

mod common;

use std::time::Duration;

use common::world::*;
use common::{eventually, state_labels};
use kube::{
    ResourceExt,
    api::{Patch, PatchParams},
};
use prtracker_api::DriftPhase;
use prtracker_domain::PrState;
use prtracker_github_sim::NewPull;
use serde_json::json;

#[tokio::test]
async fn two_prs_that_set_the_same_field_both_end_deployed_and_the_earlier_is_superseded_for_good()
{
    let world = World::start("superseded", Options::default()).await;
    let mut app = world.app();
    app.image = "registry.example/shop:2.0";
    let (first, first_merge) = world.merged_pr("Shop 2.0", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(first).await;
    world.wait_for_state(first, PrState::Deployed).await;

    app.image = "registry.example/shop:3.0";
    let (second, second_merge) = world.merged_pr("Shop 3.0", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(second).await;
    world.wait_for_state(second, PrState::Deployed).await;

    // The first PR's image is the repository's no more: superseded, not drifted.
    world.check_now(first).await;
    world.wait_for_phases(first, DriftPhase::Superseded).await;
    let superseded = eventually(
        "the tracker names what superseded it",
        Duration::from_secs(30),
        || async { world.tracker(first).await?.status?.superseded_by },
    )
    .await;
    assert_eq!(superseded.commit, second_merge);
    assert_eq!(superseded.pull_request, Some(second));
    assert_eq!(state_labels(&world.sim, REPO, first), ["state/deployed"]);
    assert_ne!(first_merge, second_merge);

    // No more checks: GitHub is not asked for the first PR's commits, and its monitors' last check
    // stays where it was, over more than a check interval.
    let checked: Vec<_> = world
        .monitors_of(first)
        .await
        .iter()
        .map(last_check)
        .collect();
    let requests = world.sim.requests().len();
    tokio::time::sleep(Duration::from_secs(40)).await;
    let later: Vec<_> = world
        .monitors_of(first)
        .await
        .iter()
        .map(last_check)
        .collect();
    assert_eq!(checked, later, "a superseded monitor checked again");
    let about_first: Vec<String> = world
        .sim
        .requests()
        .iter()
        .skip(requests)
        .filter(|r| r.path.contains(&first_merge))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        about_first.is_empty(),
        "requests for the superseded change: {about_first:?}"
    );
}

#[tokio::test]
async fn a_hand_edit_drifts_only_the_pr_that_set_the_field_not_a_later_configmap_pr() {
    let world = World::start("scoped", Options::default()).await;
    let mut app = world.app();
    app.replicas = 3;
    let (scaled, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(scaled).await;
    world.wait_for_state(scaled, PrState::Deployed).await;

    app.setting = "2";
    let (configured, _) = world.merged_pr("Setting 2", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(configured).await;
    world.wait_for_state(configured, PrState::Deployed).await;

    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(scaled).await;
    world.check_now(configured).await;
    world.wait_for_state(scaled, PrState::Drifted).await;
    assert_eq!(world.state(configured).await, Some(PrState::Deployed));
    assert_eq!(
        world.phases(configured).await,
        [Some(DriftPhase::InSync), Some(DriftPhase::InSync)]
    );
    let live = world
        .tracker(scaled)
        .await
        .and_then(|t| t.status)
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
        .expect("a Live condition");
    assert_eq!(live.reason, "Drifted");
    assert!(
        live.message.contains("spec.replicas: 3 -> 5"),
        "{}",
        live.message
    );
}

#[tokio::test]
async fn a_direct_push_to_the_base_branch_supersedes_a_field_it_does_not_drift_it() {
    let world = World::start("pushed", Options::default()).await;
    let mut app = world.app();
    app.image = "registry.example/shop:2.0";
    let (pr, _) = world.merged_pr("Shop 2.0", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    // A hotfix pushed straight to main, and deployed.
    app.image = "registry.example/shop:2.0.1";
    let hotfix = world.next_sha(3);
    world
        .sim
        .push_commit(REPO, "main", &hotfix, app.files())
        .expect("pushed");
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::Superseded).await;
    let by = eventually(
        "superseded by the push",
        Duration::from_secs(30),
        || async { world.tracker(pr).await?.status?.superseded_by },
    )
    .await;
    assert_eq!(by.commit, hotfix);
    assert_eq!(by.pull_request, None, "no PR merged it");
    assert_eq!(state_labels(&world.sim, REPO, pr), ["state/deployed"]);
    assert!(!label_history(&world.sim, pr).contains(&"state/drifted".to_owned()));
}

#[tokio::test]
async fn a_hand_edit_shorter_than_the_settle_window_never_reaches_the_pr_and_a_longer_one_does() {
    let world = World::start(
        "settle",
        Options {
            settle: Some("20s"),
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    let (pr, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    // Scaled by hand, seen, undone within the window.
    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(pr).await;
    assert!(world.phases(pr).await.contains(&Some(DriftPhase::Drifted)));
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::InSync).await;
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(
        !label_history(&world.sim, pr).contains(&"state/drifted".to_owned()),
        "a drift undone within the settle window reached the PR"
    );
    assert_eq!(world.state(pr).await, Some(PrState::Deployed));

    // Scaled by hand and left: once the window has passed, the PR says so; undone, deployed again.
    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;
}

/// An autoscaler's replicas: drift without a rule; none once the tracker ignores its manager.
#[tokio::test]
async fn another_managers_replicas_drift_without_a_rule_and_not_with_the_trackers_rule() {
    let world = World::start("manager-rule", Options::default()).await;
    let mut app = world.app();
    app.replicas = 3;
    let (pr, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    scale("secondary", &world.app_namespace, 6, "hpa-controller");
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;

    let tracker = world.tracker(pr).await.expect("tracker");
    let rule = json!({ "spec": { "ignoreDifferences": [
        { "group": "apps", "kind": "Deployment", "managedFieldsManagers": ["hpa-controller"] }
    ] } });
    world
        .trackers
        .patch(
            &tracker.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&rule),
        )
        .await
        .expect("rule added");
    eventually(
        "the rule on the monitors",
        Duration::from_secs(30),
        || async {
            let monitors = world.monitors_of(pr).await;
            monitors
                .iter()
                .all(|m| !m.spec.ignore_differences.is_empty())
                .then_some(())
        },
    )
    .await;
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;
}

#[tokio::test]
async fn another_managers_replicas_are_not_drift_under_a_global_rule() {
    let rules = "- group: apps\n  kind: Deployment\n  managedFieldsManagers: [hpa-controller]\n";
    let world = World::start(
        "global-rule",
        Options {
            ignore_file: Some(rules.to_owned()),
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    let (pr, _) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;

    scale("secondary", &world.app_namespace, 6, "hpa-controller");
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::InSync).await;
    assert_eq!(world.state(pr).await, Some(PrState::Deployed));
    // The same edit by a person is drift all the same.
    scale("secondary", &world.app_namespace, 7, "kubectl-edit");
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;
}

#[tokio::test]
async fn a_pr_that_deletes_an_object_is_deployed_once_it_is_gone_and_drifted_if_it_comes_back() {
    let world = World::start("deleted", Options::default()).await;
    let mut app = world.app();
    app.extra = false;
    let (pr, _) = world.merged_pr("Drop the extra settings", &app).await;
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::Waiting).await;
    for cluster in CLUSTERS {
        delete(cluster, &world.app_namespace, "configmap", "extra");
    }
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Deployed).await;
    // Someone puts it back by hand.
    apply_everywhere(&world.app().yaml());
    world.check_now(pr).await;
    world.wait_for_state(pr, PrState::Drifted).await;
}

#[tokio::test]
async fn merged_and_not_applied_yet_waits_and_is_never_drifted() {
    let world = World::start("waiting", Options::default()).await;
    let mut app = world.app();
    app.replicas = 4;
    let (pr, _) = world.merged_pr("Four replicas", &app).await;
    world.check_now(pr).await;
    world.wait_for_phases(pr, DriftPhase::Waiting).await;
    world.check_now(pr).await;
    assert_eq!(world.state(pr).await, Some(PrState::Merged));
    assert_eq!(
        world.phases(pr).await,
        [Some(DriftPhase::Waiting), Some(DriftPhase::Waiting)]
    );
    let live = world
        .tracker(pr)
        .await
        .and_then(|t| t.status)
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
        .expect("a Live condition");
    assert_eq!(live.reason, "Waiting");
    assert!(
        live.message.contains("spec.replicas: 4 -> 2"),
        "{}",
        live.message
    );
    assert!(!label_history(&world.sim, pr).contains(&"state/drifted".to_owned()));
}

#[tokio::test]
async fn a_pr_with_nothing_to_deploy_or_manifests_that_do_not_parse_is_decided_once() {
    let world = World::start("once", Options::default()).await;
    // A PR that changes nothing under deploy/ (its head holds the base's files).
    let (nothing, nothing_merge) = world.merged_pr("Docs only", &world.app()).await;
    // Decided once by the tracker, which renders both commits: no target is reached, so no
    // monitor is made.
    eventually(
        "the Live condition says NothingToDeploy",
        Duration::from_secs(20),
        || async {
            world
                .tracker(nothing)
                .await
                .and_then(|t| t.status)
                .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
                .filter(|live| live.reason == "NothingToDeploy")
        },
    )
    .await;
    assert!(world.monitors_of(nothing).await.is_empty());
    assert_eq!(world.state(nothing).await, Some(PrState::Merged));

    // A PR whose manifests do not parse.
    let head = world.next_sha(1);
    world
        .sim
        .set_files(REPO, &head, [("deploy/app.yaml", "kind: [unclosed\n")])
        .expect("files");
    let broken = world
        .sim
        .create_pull(
            REPO,
            NewPull {
                title: "Broken".into(),
                head_sha: Some(head),
                ..Default::default()
            },
        )
        .expect("PR");
    world.wait_for_state(broken, PrState::Open).await;
    let broken_merge = world.next_sha(2);
    world
        .sim
        .merge_pull_as(REPO, broken, PERSON, Some(&broken_merge))
        .expect("merged");
    world.wait_for_phases(broken, DriftPhase::Error).await;

    // Two intervals later, neither has asked GitHub anything more about its commits.
    let requests = world.sim.requests().len();
    tokio::time::sleep(Duration::from_secs(65)).await;
    let more: Vec<String> = world
        .sim
        .requests()
        .iter()
        .skip(requests)
        .filter(|r| r.path.contains(&nothing_merge) || r.path.contains(&broken_merge))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(more.is_empty(), "retried: {more:?}");
    let reason = world
        .monitors_of(broken)
        .await
        .first()
        .and_then(|m| m.status.clone())
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
        .map(|c| (c.reason, c.message))
        .expect("a Ready condition");
    assert_eq!(reason.0, "InvalidManifests");
    assert!(reason.1.contains("deploy/app.yaml"), "{}", reason.1);
}
