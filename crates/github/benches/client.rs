//! The client against the GitHub simulator on loopback, in one run:
//!
//! 1. throughput: a fixed number of `get_pr` calls over many PRs from several concurrent tasks,
//!    first with the ETag cache off (every answer a full 200), then warm (every answer a 304);
//!    requests per second and latency percentiles;
//! 2. budget: 10 rounds of `get_pr` over 1,000 unchanged PRs with a fresh client, the
//!    budget-counted requests of each round read from the simulator (target: 1,000, then 0),
//!    and the 304s from the client's metrics.
//!
//! `cargo bench -p prtracker-github --bench client`. Loopback only; bounded in requests and time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use prtracker_domain::Repository;
use prtracker_github::{GitHubAuth, GitHubClient, GitHubConfig, OctocrabGitHub};
use prtracker_github_sim::{NewPull, SimConfig, Simulator, SimulatorHandle};

const REPO: &str = "bench/app";
const PRS: u64 = 1_000;
const CONCURRENCY: u64 = 8;
const THROUGHPUT_REQUESTS: u64 = 20_000;
/// A phase stops at this time even if it has not sent all its requests.
const PHASE_DEADLINE: Duration = Duration::from_secs(60);
const ROUNDS: usize = 10;

fn config(sim: &SimulatorHandle, token: &str) -> GitHubConfig {
    // GETs only: no write spacing matters. Production-like timeouts and retries.
    let mut config =
        GitHubConfig::for_local_tests(sim.api_url()).with_auth(GitHubAuth::Token(token.into()));
    config.request_timeout = Duration::from_secs(30);
    config
}

struct Phase {
    sent: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: u64,
}

impl Phase {
    fn print(&self, name: &str) {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "  {name:<28} {:>6} requests in {:>6.2} s = {:>8.0} req/s; latency median {:>7.3} ms, p90 {:>7.3} ms, p99 {:>7.3} ms; errors {}",
            self.sent,
            self.elapsed.as_secs_f64(),
            self.sent as f64 / self.elapsed.as_secs_f64(),
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.9).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.errors,
        );
    }
}

/// `total` calls of get_pr over PRs 1..=PRS, spread over CONCURRENCY tasks.
async fn hammer(client: &OctocrabGitHub, total: u64) -> Phase {
    let repo: Repository = REPO.parse().unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + PHASE_DEADLINE;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let client = client.clone();
            let repo = repo.clone();
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || Instant::now() >= deadline {
                        break;
                    }
                    let t = Instant::now();
                    if client.get_pr(&repo, 1 + i % PRS).await.is_err() {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut phase = Phase {
        sent: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        errors: 0,
    };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap();
        phase.latencies.extend(latencies);
        phase.errors += errors;
    }
    phase.elapsed = start.elapsed();
    phase.sent = phase.latencies.len() as u64;
    phase
}

async fn throughput(sim: &SimulatorHandle) {
    println!(
        "throughput: get_pr over {PRS} PRs, {CONCURRENCY} concurrent tasks, {THROUGHPUT_REQUESTS} requests per phase (loopback)"
    );
    let token = "bench-throughput";
    sim.add_token(token, "bench-bot");

    let cold = OctocrabGitHub::new(config(sim, token).with_cache(0, 0)).unwrap();
    hammer(&cold, 500).await; // warm up connections and allocators
    let phase = hammer(&cold, THROUGHPUT_REQUESTS).await;
    phase.print("full GETs (cache off, 200s)");

    let warm = OctocrabGitHub::new(config(sim, token)).unwrap();
    hammer(&warm, PRS).await; // fill the ETag cache
    let before = warm.metrics().not_modified;
    let phase = hammer(&warm, THROUGHPUT_REQUESTS).await;
    phase.print("conditional GETs (304s)");
    println!(
        "  304s counted by the client in the conditional phase: {}",
        warm.metrics().not_modified - before
    );
}

async fn budget_rounds(sim: &SimulatorHandle) {
    println!("budget: {ROUNDS} rounds of get_pr over {PRS} unchanged PRs, a fresh client");
    let token = "bench-budget";
    sim.add_token(token, "bench-budget-bot");
    let client = OctocrabGitHub::new(config(sim, token)).unwrap();
    let used = || sim.budget(token).used;
    let counted_in_log = || {
        sim.requests()
            .iter()
            .filter(|r| r.token.as_deref() == Some(token) && r.counted)
            .count() as u64
    };
    let start_used = used();
    let start_304 = client.metrics().not_modified;
    let mut total = 0;
    for round in 1..=ROUNDS {
        let (u0, n0, log0) = (used(), client.metrics().not_modified, counted_in_log());
        let phase = hammer(&client, PRS).await;
        let (u1, n1, log1) = (used(), client.metrics().not_modified, counted_in_log());
        total += u1 - u0;
        println!(
            "  round {round:>2}: {:>4} get_pr, budget-counted {:>4} (request log: {:>4}), 304s {:>4}, errors {}, {:>6.0} req/s",
            phase.sent,
            u1 - u0,
            log1 - log0,
            n1 - n0,
            phase.errors,
            phase.sent as f64 / phase.elapsed.as_secs_f64(),
        );
    }
    let m = client.metrics();
    println!(
        "  total: {} get_pr, budget-counted {} (simulator budget used {} -> {}), 304s {} (client metrics); target {} then 0",
        ROUNDS as u64 * PRS,
        total,
        start_used,
        used(),
        m.not_modified - start_304,
        PRS,
    );
    println!(
        "  client: {} requests sent, {} retries, rate limit remaining {:?}, ETag cache {} entries / {} KiB",
        m.total_requests(),
        m.retries,
        m.rate_limit_remaining,
        m.cache_entries,
        m.cache_bytes / 1024,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported and ignored.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = Simulator::start_with(SimConfig {
            rate_limit: 1_000_000,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        sim.create_repo(REPO).unwrap();
        for i in 1..=PRS {
            sim.create_pull(
                REPO,
                NewPull {
                    title: format!("Change {i}"),
                    labels: vec![format!("state/open"), format!("team/t{}", i % 7)],
                    ..Default::default()
                },
            )
            .unwrap();
        }
        throughput(&sim).await;
        sim.reset_counters();
        budget_rounds(&sim).await;
    });
}
