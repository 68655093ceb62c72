//! What watched clusters cost their apiservers at rest (issue #17), counted by the apiservers
//! themselves (`apiserver_request_total`): 1,000 DriftMonitors over two clusters, each judging a
//! ConfigMap and a Deployment, checked once; then, with nothing changing, the only requests on
//! those resources are the open watches. The initial checks' cost per monitor is what every
//! check cost before the watches, at each interval; the test prints both figures and the
//! operator's resident memory (`-- --nocapture`).

mod common;

use std::time::Duration;

use common::apiserver::{ByVerb, other_than_watches, requests_everywhere, resident_kib, since};
use common::eventually;
use common::world::*;
use futures::{StreamExt, stream};
use kube::{Api, ResourceExt, api::PostParams};
use prtracker_api::{DriftMonitor, DriftPhase, conditions::WATCHED};
use prtracker_domain::PrState;

const MONITORS: usize = 1_000;
/// How long nothing changes while the requests are counted.
const AT_REST: Duration = Duration::from_secs(60);
/// The resources the monitors' objects are of.
const RESOURCES: [&str; 2] = ["configmaps", "deployments"];

async fn counts() -> ByVerb {
    requests_everywhere(&RESOURCES).await
}

#[tokio::test]
async fn a_thousand_watched_monitors_at_rest_cost_their_apiservers_only_the_open_watches() {
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
    let (number, _) = world.merged_pr("Shop, three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Deployed).await;
    let templates = world.monitors_of(number).await;
    assert_eq!(templates.len(), 2, "a monitor per cluster");
    let resident_before = world.operator_pid().map(resident_kib).unwrap_or(0);

    // 1,000 monitors of the same merged change, half in each cluster, outside any tracker.
    let before_checks = counts().await;
    let monitors: Api<DriftMonitor> = world.monitors.clone();
    let created: Vec<Result<DriftMonitor, kube::Error>> = stream::iter(0..MONITORS)
        .map(|i| {
            let template = &templates[i % 2];
            let mut spec = template.spec.clone();
            spec.tracker = "watch-cost".to_owned();
            let monitor = DriftMonitor::new(&format!("cost-{i}"), spec);
            let monitors = monitors.clone();
            async move { monitors.create(&PostParams::default(), &monitor).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for result in created {
        result.expect("monitor created");
    }
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

    let before = counts().await;
    tokio::time::sleep(AT_REST).await;
    let at_rest = since(&before, &counts().await);
    let resident_after = world.operator_pid().map(resident_kib).unwrap_or(0);
    println!(
        "{MONITORS} monitors over two clusters: first checks cost the apiservers {checks:?} \
         ({per_check:.2} requests a monitor, what every check cost before the watches); \
         then {}s at rest: {at_rest:?}; operator resident memory {resident_before} KiB before \
         the monitors, {resident_after} KiB with them",
        AT_REST.as_secs(),
    );
    assert_eq!(
        other_than_watches(&at_rest),
        0.0,
        "at rest, the apiservers saw requests other than the watches: {at_rest:?}"
    );
    assert!(
        per_check >= 2.0,
        "each first check read its two objects: {checks:?}"
    );
}
