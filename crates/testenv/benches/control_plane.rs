//! What the test control plane costs: start-up time (median of five) and the memory of etcd and one
//! kube-apiserver. A bench, not a test: the figures depend on the machine and its load.
//!
//! `cargo bench -p prtracker-testenv --bench control_plane`

use std::time::{Duration, Instant};

use prtracker_testenv::{ControlPlane, ControlPlaneConfig};

const RUNS: usize = 5;

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn one_cluster() -> ControlPlaneConfig {
    ControlPlaneConfig {
        clusters: vec!["bench".into()],
        install_crds: true,
        garbage_collection: false,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut startups = Vec::new();
    for run in 1..=RUNS {
        let started = Instant::now();
        let plane = ControlPlane::start(one_cluster()).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "start-up {run}/{RUNS}: {seconds:.2} s (etcd + 1 kube-apiserver, CRDs Established; no controller-manager)"
        );
        startups.push(seconds);
        drop(plane);
    }
    println!(
        "start-up median of {RUNS}: {:.2} s (min {:.2}, max {:.2})",
        median(startups.clone()),
        startups.iter().copied().fold(f64::INFINITY, f64::min),
        startups.iter().copied().fold(0.0, f64::max),
    );

    // Memory once the apiserver has settled (its caches filled, start-up hooks done).
    let plane = ControlPlane::start(ControlPlaneConfig {
        clusters: vec!["one".into(), "two".into()],
        install_crds: true,
        garbage_collection: true,
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let pids = plane.pids();
    let etcd = rss_mib(pids[0]);
    let apiservers: Vec<f64> = pids[1..].iter().map(|pid| rss_mib(*pid)).collect();
    println!(
        "resident memory after 10 s idle: etcd {etcd:.0} MiB; kube-apiservers {apiservers:.0?} MiB"
    );
    println!(
        "one cluster (etcd + one kube-apiserver): {:.0} MiB; each further cluster on the shared etcd: {:.0} MiB",
        etcd + apiservers[0],
        apiservers[1]
    );
    Ok(())
}
