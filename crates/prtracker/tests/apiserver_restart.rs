//! The apiserver restarted under a watching operator (issue #17), through the real `prtracker run`
//! and two clusters: while the secondary cluster's apiserver is down, its Deployment is scaled
//! and a ConfigMap key changed (through a stand-in apiserver of the same cluster, as in an HA
//! control plane). Once the usual apiserver is back, the operator's failed watch, retried, lists
//! again and finds both edits within seconds, though the monitors check only every ten minutes.

mod common;

use std::{
    cell::RefCell,
    time::{Duration, Instant},
};

use common::world::*;
use common::{eventually, server_side_apply};
use kube::ResourceExt;
use prtracker_api::{DriftMonitorStatus, DriftPhase};
use prtracker_domain::PrState;
use prtracker_testenv::{Cluster, shared};

const WATCH_FAILURES: &str = "prtracker_cluster_watch_failures_total";

/// A hand edit through `cluster` (which may be a stand-in apiserver): the Deployment scaled to
/// `replicas`, the settings ConfigMap's key set to `mode`.
fn hand_edit(cluster: &Cluster, namespace: &str, replicas: u32, mode: &str) {
    server_side_apply(
        cluster,
        &["--force-conflicts", "--field-manager=kubectl-edit"],
        &format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {namespace}
spec:
  replicas: {replicas}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {namespace}
data:
  mode: \"{mode}\"
"
        ),
    );
}

/// The status of `number`'s monitor of `cluster`.
async fn status_of(world: &World, number: u64, cluster: &str) -> Option<DriftMonitorStatus> {
    world
        .monitors_of(number)
        .await
        .into_iter()
        .find(|m| m.spec.cluster == cluster)
        .and_then(|m| m.status)
}

async fn phase_of(world: &World, number: u64, cluster: &str) -> Option<DriftPhase> {
    status_of(world, number, cluster).await?.phase
}

/// How long until `number`'s monitor of `cluster` says `phase`, and its status then: well within
/// a minute, or a watch did not name it (its interval is ten minutes).
async fn seen_after(
    world: &World,
    number: u64,
    cluster: &str,
    phase: DriftPhase,
    since: Instant,
) -> (Duration, DriftMonitorStatus) {
    let status = eventually(
        &format!("{cluster} {phase:?}, from the watch"),
        Duration::from_secs(60),
        || async {
            status_of(world, number, cluster)
                .await
                .filter(|s| s.phase == Some(phase))
        },
    )
    .await;
    (since.elapsed(), status)
}

/// Waits until `number`'s monitor of `cluster` is InSync and has not been written for two
/// seconds, and returns its last check time: no check of it is pending, not even a retry after a
/// conflicting status write (due within 200 ms). Until its ten-minute interval, only a watch can
/// have it checked again.
async fn quiet_in_sync(world: &World, number: u64, cluster: &str) -> Option<String> {
    const QUIET: Duration = Duration::from_secs(2);
    // The resourceVersion last seen, and since when.
    let last: RefCell<Option<(String, Instant)>> = RefCell::new(None);
    eventually(
        &format!("{cluster}'s monitor InSync and unwritten for {QUIET:?}"),
        Duration::from_secs(60),
        || {
            let last = &last;
            async move {
                let seen = world.monitors_of(number);
                let monitor = seen.await.into_iter().find(|m| m.spec.cluster == cluster)?;
                let version = monitor.resource_version()?;
                let status = monitor.status.as_ref()?;
                let mut last = last.borrow_mut();
                if status.phase != Some(DriftPhase::InSync) {
                    *last = None;
                    return None;
                }
                match &*last {
                    Some((held, since)) if *held == version => {
                        (since.elapsed() >= QUIET).then(|| last_check(&monitor))
                    }
                    _ => {
                        *last = Some((version, Instant::now()));
                        None
                    }
                }
            }
        },
    )
    .await
}

/// `(Kind/name, path, live value)` of every drifted field in `status`.
fn drifted_fields(status: &DriftMonitorStatus) -> Vec<(String, String, Option<String>)> {
    status
        .drifted_resources
        .iter()
        .flat_map(|r| {
            r.fields.iter().map(move |f| {
                (
                    format!("{}/{}", r.kind, r.name),
                    f.path.clone(),
                    f.live.clone(),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn edits_made_while_the_apiserver_was_down_are_found_once_it_is_back() {
    let world = World::start(
        "restart",
        Options {
            monitor_interval: Some("10m"),
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    app.image = "registry.example/shop:2.0";
    app.setting = "2";
    let number = world.deployed_pr("Shop 2.0, three replicas", &app).await;

    let ns = world.app_namespace.clone();
    let secondary = world.secondary.clone();
    // An edit and its repair while the apiserver is up: the secondary's watches have listed (a
    // watch's first listing names no one, so one that had not would miss the edits below).
    let since = Instant::now();
    hand_edit(shared().cluster("secondary"), &ns, 4, "before");
    let (before_outage, _) =
        seen_after(&world, number, &secondary, DriftPhase::Drifted, since).await;
    apply("secondary", &app.yaml(), "cd");
    seen_after(
        &world,
        number,
        &secondary,
        DriftPhase::InSync,
        Instant::now(),
    )
    .await;
    let checked_before_outage = quiet_in_sync(&world, number, &secondary).await;
    let failures_before = world.operator_metric(WATCH_FAILURES).await;

    let plane = shared();
    let outage = Instant::now();
    plane
        .stop_apiserver("secondary")
        .expect("apiserver stopped");
    let stand_in = plane
        .start_stand_in_apiserver("secondary")
        .await
        .expect("stand-in apiserver");
    hand_edit(stand_in.cluster(), &ns, 7, "edited-while-down");
    drop(stand_in);
    // The operator's watches fail and retry meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Not checked meanwhile (a check would have failed, and its retry could find the edits).
    let monitor = status_of(&world, number, &secondary).await;
    assert_eq!(
        monitor.as_ref().and_then(|s| s.phase),
        Some(DriftPhase::InSync)
    );
    assert_eq!(
        monitor
            .and_then(|s| s.last_check_time)
            .map(|t| t.0.to_string()),
        checked_before_outage,
        "the secondary's monitor was checked while its apiserver was down"
    );
    let restart = Instant::now();
    plane
        .start_apiserver_again("secondary")
        .await
        .expect("apiserver started again");
    let back = Instant::now();

    let (after_restart, drifted) =
        seen_after(&world, number, &secondary, DriftPhase::Drifted, restart).await;
    let fields = drifted_fields(&drifted);
    for (object, path, live) in [
        ("Deployment/shop", "spec.replicas", "7"),
        ("ConfigMap/settings", "data.mode", "\"edited-while-down\""),
    ] {
        assert!(
            fields
                .iter()
                .any(|f| f.0 == object && f.1 == path && f.2.as_deref() == Some(live)),
            "{object} {path} = {live} is not in the status: {fields:?}"
        );
    }
    assert_eq!(
        phase_of(&world, number, "in-cluster").await,
        Some(DriftPhase::InSync),
        "the primary's monitor"
    );

    // CD applies the repository again: the repair is seen the same way.
    apply("secondary", &app.yaml(), "cd");
    let (repaired, _) = seen_after(
        &world,
        number,
        &secondary,
        DriftPhase::InSync,
        Instant::now(),
    )
    .await;
    assert_eq!(
        phase_of(&world, number, "in-cluster").await,
        Some(DriftPhase::InSync),
        "the primary's monitor"
    );
    world.wait_for_state(number, PrState::Deployed).await;
    // The metrics are refreshed every 15 s.
    let failures = eventually(
        "watch failures counted",
        Duration::from_secs(60),
        || async {
            let now = world.operator_metric(WATCH_FAILURES).await;
            (now > failures_before).then_some(now)
        },
    )
    .await;
    println!(
        "apiserver down {:.1}s; edits made meanwhile seen {:.1}s after its restart began (it was \
         ready after {:.1}s); repair seen after {repaired:.1?}; an edit before the outage seen \
         after {before_outage:.1?}; {failures} watch failures counted by the last metrics refresh",
        (back - outage).as_secs_f64(),
        after_restart.as_secs_f64(),
        (back - restart).as_secs_f64(),
    );
}
