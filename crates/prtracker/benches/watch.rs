//! Clusters watched against clusters polled (issue #17), through the real `prtracker run` (bench
//! profile), two clusters of the test control plane and the GitHub simulator. At 100 and 1,000
//! DriftMonitors (a ConfigMap per pair, under a path of its own, monitored in both clusters: a
//! monitor judges one object), the benchmark prints in one run, watched and polled:
//!
//! 1. detection latency of hand edits, p50 and p99: from the edit's write to the monitor saying
//!    `Drifted` (polled monitors check every 30 s, the shortest interval allowed, and their
//!    latency grows with it; at the old 5m default multiply by ten);
//! 2. apiserver requests per hour, counted by the apiservers (`apiserver_request_total` on
//!    ConfigMaps): what a check that reads the cluster costs, times the checks an hour at the
//!    default intervals (30m safety net when watched; 5m when polled, the default before the
//!    watches, plus the discovery request every such check made then), plus what a minute at
//!    rest cost (the watches);
//! 3. the operator's resident memory, and what the watches keep
//!    (`prtracker_cluster_watch_cache_bytes`).
//!
//! `cargo bench -p prtracker --bench watch`. Knobs (environment): `PRTRACKER_BENCH_MONITORS`
//! (default `100,1000`), `PRTRACKER_BENCH_EDITS` (watched edits, default 50; polled ones are a
//! fifth of that). About 15 minutes on two cores.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::apiserver::{ByVerb, other_than_watches, requests_everywhere, resident_kib, since};
use common::eventually;
use common::world::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use prtracker_api::{DriftMonitor, DriftPhase};
use prtracker_testenv::shared;
use serde_json::json;

const RESOURCES: [&str; 1] = ["configmaps"];
/// How long nothing changes while the requests at rest are counted.
const AT_REST: Duration = Duration::from_secs(60);
/// Polled monitors' interval, in seconds, while their latency is measured.
const POLL_SECONDS: u64 = 30;
/// The default intervals the hourly figures are for.
const WATCHED_DEFAULT: Duration = Duration::from_secs(30 * 60);
const POLLED_DEFAULT: Duration = Duration::from_secs(5 * 60);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn scales() -> Vec<usize> {
    std::env::var("PRTRACKER_BENCH_MONITORS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100, 1000])
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The ConfigMap monitor `index` judges.
fn config_map(namespace: &str, index: usize, mode: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-{index}\n  namespace: {namespace}\ndata:\n  mode: {mode}\n"
    )
}

struct Figures {
    monitors: usize,
    watched: bool,
    latencies: Vec<Duration>,
    per_check: f64,
    at_rest: ByVerb,
    resident_kib: u64,
    cache_bytes: f64,
}

impl Figures {
    fn requests_per_hour(&self) -> f64 {
        let at_rest_per_hour = other_than_watches(&self.at_rest) * 3600.0 / AT_REST.as_secs_f64();
        let watches_per_hour =
            self.at_rest.get("WATCH").copied().unwrap_or(0.0) * 3600.0 / AT_REST.as_secs_f64();
        let (interval, discovery) = if self.watched {
            (WATCHED_DEFAULT, 0.0)
        } else {
            (POLLED_DEFAULT, 1.0)
        };
        let checks_per_hour = self.monitors as f64 * 3600.0 / interval.as_secs_f64();
        // Polled monitors are checked all the time, so their minute at rest is their checks.
        let rest = if self.watched { at_rest_per_hour } else { 0.0 };
        checks_per_hour * (self.per_check + discovery) + rest + watches_per_hour
    }

    fn print(&self) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        println!(
            "  {:>5} monitors, {}: detection p50 {:?}, p99 {:?} ({} edits); {:.0} apiserver requests an hour ({:.2} a check that reads the cluster; a minute at rest: {:?}); operator {:.1} MiB resident, watches keep {:.0} KiB",
            self.monitors,
            if self.watched { "watched" } else { "polled " },
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99),
            sorted.len(),
            self.requests_per_hour(),
            self.per_check,
            self.at_rest,
            self.resident_kib as f64 / 1024.0,
            self.cache_bytes / 1024.0,
        );
    }
}

async fn phase(monitors: &Api<DriftMonitor>, name: &str) -> Option<DriftPhase> {
    monitors.get(name).await.ok()?.status?.phase
}

async fn measure(monitors_wanted: usize, watched: bool, edits: usize) -> Figures {
    let flags = if watched {
        Vec::new()
    } else {
        vec!["--watch-clusters=false"]
    };
    let world = World::start(
        if watched {
            "bench-watched"
        } else {
            "bench-polled"
        },
        Options {
            monitor_interval: Some("30m"),
            flags,
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    let number = world.deployed_pr("Shop, three replicas", &app).await;
    let mut templates = world.monitors_of(number).await;
    assert_eq!(templates.len(), 2, "a monitor per cluster");
    // In the order of CLUSTERS: the primary is the operator's own cluster.
    templates.sort_by_key(|m| m.spec.cluster != "in-cluster");

    // One commit adds a ConfigMap per pair of monitors, each under a path of its own; CD applies
    // them to both clusters.
    let pairs = monitors_wanted / 2;
    let ns = world.app_namespace.clone();
    let mut files = app.files();
    files.extend((0..pairs).map(|i| {
        (
            format!("bench/{i}/settings.yaml"),
            config_map(&ns, i, "a").into_bytes(),
        )
    }));
    let commit = world.next_sha(3);
    world
        .sim
        .push_commit(REPO, "main", &commit, files)
        .expect("commit pushed");
    let all: String = (0..pairs)
        .map(|i| format!("---\n{}", config_map(&ns, i, "a")))
        .collect();
    apply_everywhere(&all);

    let before_checks = requests_everywhere(&RESOURCES).await;
    let monitors: Api<DriftMonitor> = world.monitors.clone();
    let interval = if watched {
        "30m".to_owned()
    } else {
        format!("{POLL_SECONDS}s")
    };
    world
        .create_monitors("bench", pairs * 2, |n| {
            let mut spec = templates[n % 2].spec.clone();
            spec.source.commit = commit.clone();
            spec.source.path = format!("bench/{}", n / 2);
            spec.interval = interval.clone();
            spec
        })
        .await;
    eventually(
        "every monitor checked and in sync",
        Duration::from_secs(900),
        || async {
            let list = monitors.list(&Default::default()).await.ok()?;
            let done = list
                .items
                .iter()
                .filter(|m| m.name_any().starts_with("bench-"))
                .filter(|m| m.status.as_ref().and_then(|s| s.phase) == Some(DriftPhase::InSync))
                .count();
            (done == pairs * 2).then_some(())
        },
    )
    .await;
    let first_checks = since(&before_checks, &requests_everywhere(&RESOURCES).await);

    let cluster_checks = r#"prtracker_drift_checks_total{reads="cluster"}"#;
    let before = requests_everywhere(&RESOURCES).await;
    let checks_before = world.operator_metric(cluster_checks).await;
    tokio::time::sleep(AT_REST).await;
    let at_rest = since(&before, &requests_everywhere(&RESOURCES).await);
    let checks_at_rest = world.operator_metric(cluster_checks).await - checks_before;
    // What a check that reads the cluster costs: over the minute at rest where checks ran (polled
    // monitors, whose first checks overlap their second ones), else over the first checks.
    let per_check = if checks_at_rest > 0.0 {
        other_than_watches(&at_rest) / checks_at_rest
    } else {
        other_than_watches(&first_checks) / (pairs * 2) as f64
    };
    let resident = world.operator_pid().map(resident_kib).unwrap_or(0);
    let cache_bytes = world
        .operator_metric("prtracker_cluster_watch_cache_bytes")
        .await;

    // Hand edits of one ConfigMap after another, alternating clusters; each repaired before the
    // next.
    let edits = if watched { edits } else { (edits / 5).max(2) };
    let mut latencies = Vec::new();
    let edit = PatchParams::apply("kubectl-edit").force();
    for e in 0..edits {
        // A polled monitor was just checked (its repair was seen): an edit at a spread point of
        // its interval, as edits come, not always right after a check.
        if !watched {
            let fraction = (e as f64 * 0.618_034).fract();
            tokio::time::sleep(Duration::from_secs_f64(fraction * POLL_SECONDS as f64)).await;
        }
        let n = (e * 7919) % (pairs * 2);
        let (i, cluster) = (n / 2, CLUSTERS[n % 2]);
        let configmaps: Api<ConfigMap> =
            Api::namespaced(shared().cluster(cluster).client().expect("client"), &ns);
        let name = format!("bench-{n}");
        let started = Instant::now();
        configmaps
            .patch(
                &format!("bench-{i}"),
                &edit,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("bench-{i}")}, "data": {"mode": format!("edited-{e}")}})),
            )
            .await
            .expect("hand edit");
        let seen = loop {
            if phase(&monitors, &name).await == Some(DriftPhase::Drifted) {
                break started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{name} never said Drifted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        latencies.push(seen);
        configmaps
            .patch(
                &format!("bench-{i}"),
                &PatchParams::apply("cd").force(),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("bench-{i}")}, "data": {"mode": "a"}})),
            )
            .await
            .expect("repair");
        // kubectl-edit still owns the key it set; the repair took it over with force.
        eventually("the repair seen", Duration::from_secs(120), || async {
            (phase(&monitors, &name).await == Some(DriftPhase::InSync)).then_some(())
        })
        .await;
    }
    Figures {
        monitors: pairs * 2,
        watched,
        latencies,
        per_check,
        at_rest,
        resident_kib: resident,
        cache_bytes,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let edits = env_or("PRTRACKER_BENCH_EDITS", 50usize);
    println!(
        "clusters watched against polled: hand-edit detection, apiserver requests an hour at the default intervals (watched 30m, polled 5m), resident memory"
    );
    for monitors in scales() {
        for watched in [true, false] {
            let figures = runtime.block_on(measure(monitors, watched, edits));
            figures.print();
        }
    }
}
