//! What watched clusters cost their apiservers at rest (issue #17), counted by the apiservers
//! themselves (`apiserver_request_total`): 1,000 DriftMonitors over two clusters, each judging a
//! ConfigMap and a Deployment, checked every 30 s. Over two intervals with nothing changing, the
//! apiservers see the open watches and the safety-net checks' reads (two GETs a check, no
//! discovery, no dry run), and nothing else: no check a watch started. Before the watches every
//! check also asked the cluster's API, at a 5m default; the test prints both hourly figures at
//! the defaults, and the operator's resident memory (`-- --nocapture`).

mod common;

use std::time::Duration;

use common::apiserver::{ByVerb, other_than_watches, requests_everywhere, resident_kib, since};
use common::eventually;
use common::world::*;
use kube::{Api, ResourceExt};
use prtracker_api::{DriftMonitor, DriftPhase, conditions::WATCHED};

const MONITORS: usize = 1_000;
/// The monitors' interval, and how long nothing changes while the requests are counted: two of
/// them.
const INTERVAL: &str = "30s";
const AT_REST: Duration = Duration::from_secs(60);
/// What a check that reads the cluster asks it: a GET of the ConfigMap and of the Deployment.
const READS_A_CHECK: f64 = 2.0;
/// What it also asked before the watches: discovery of `v1` and `apps/v1`.
const DISCOVERY_A_CHECK_BEFORE: f64 = 2.0;
/// The resources the monitors' objects are of.
const RESOURCES: [&str; 2] = ["configmaps", "deployments"];

async fn counts() -> ByVerb {
    requests_everywhere(&RESOURCES).await
}

#[tokio::test]
async fn a_thousand_watched_monitors_at_rest_cost_their_apiservers_only_the_watches_and_safety_net()
{
    let world = World::start(
        "watchcost",
        Options {
            monitor_interval: Some("10m"),
            ..Options::default()
        },
    )
    .await;
    // The PR sets the replicas and the setting: fields of the ConfigMap and the Deployment.
    let mut app = world.app();
    app.replicas = 3;
    app.setting = "2";
    let number = world.deployed_pr("Shop, three replicas", &app).await;
    let templates = world.monitors_of(number).await;
    assert_eq!(templates.len(), 2, "a monitor per cluster");
    let resident_before = world.operator_pid().map(resident_kib).unwrap_or(0);

    // 1,000 monitors of the same merged change, half in each cluster, outside any tracker.
    let before_checks = counts().await;
    let monitors: Api<DriftMonitor> = world.monitors.clone();
    world
        .create_monitors("cost", MONITORS, |i| {
            let mut spec = templates[i % 2].spec.clone();
            spec.interval = INTERVAL.to_owned();
            spec
        })
        .await;
    eventually(
        "every monitor checked, in sync and watched",
        Duration::from_secs(300),
        || async {
            let list = monitors.list(&Default::default()).await.ok()?;
            let done = list
                .items
                .iter()
                .filter(|m| m.name_any().starts_with("cost-"))
                .filter(|m| {
                    m.status.as_ref().is_some_and(|s| {
                        s.phase == Some(DriftPhase::InSync)
                            && s.conditions
                                .iter()
                                .any(|c| c.type_ == WATCHED && c.status == "True")
                    })
                })
                .count();
            (done == MONITORS).then_some(())
        },
    )
    .await;
    let checks = since(&before_checks, &counts().await);
    let per_check: f64 = checks.values().sum::<f64>() / MONITORS as f64;

    let cluster_checks = r#"prtracker_drift_checks_total{reads="cluster"}"#;
    let cache_checks = r#"prtracker_drift_checks_total{reads="cache"}"#;
    let before = counts().await;
    let (cluster_before, cache_before) = (
        world.operator_metric(cluster_checks).await,
        world.operator_metric(cache_checks).await,
    );
    tokio::time::sleep(AT_REST).await;
    let at_rest = since(&before, &counts().await);
    let safety_net = world.operator_metric(cluster_checks).await - cluster_before;
    let triggered = world.operator_metric(cache_checks).await - cache_before;
    let resident_after = world.operator_pid().map(resident_kib).unwrap_or(0);
    let per_hour =
        |interval_minutes: f64, a_check: f64| MONITORS as f64 * 60.0 / interval_minutes * a_check;
    println!(
        "{MONITORS} monitors over two clusters: first checks cost the apiservers {checks:?} \
         ({per_check:.2} requests a monitor); then two {INTERVAL} intervals at rest: {at_rest:?} \
         for {safety_net} safety-net checks and {triggered} started by a watch. At the default \
         intervals: {:.0} requests an hour now (30m), {:.0} before the watches (5m, with \
         discovery). Operator resident memory {resident_before} KiB before the monitors, \
         {resident_after} KiB with them",
        per_hour(30.0, READS_A_CHECK),
        per_hour(5.0, READS_A_CHECK + DISCOVERY_A_CHECK_BEFORE),
    );
    assert_eq!(
        triggered, 0.0,
        "nothing changed, yet watches started checks"
    );
    assert!(
        safety_net >= MONITORS as f64,
        "the safety net checked each monitor at least once in two intervals: {safety_net}"
    );
    // A check counted just before the window may read just inside it, and the other way round.
    let expected = safety_net * READS_A_CHECK;
    let slack = 64.0;
    let other = other_than_watches(&at_rest);
    assert!(
        (other - expected).abs() <= slack,
        "at rest the apiservers saw {at_rest:?}: {other} requests other than the watches, where \
         {safety_net} safety-net checks read {expected}"
    );
    assert!(
        per_check >= READS_A_CHECK,
        "each first check read its two objects: {checks:?}"
    );
}
