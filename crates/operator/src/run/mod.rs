//! `prtracker run`: checks what it needs, serves webhooks, metrics and health on every replica,
//! waits for the lease, then runs the controllers until SIGTERM (or until the lease is lost).
//!
//! Every replica is Ready once it serves (a rollout must not wait for leadership), so GitHub's
//! deliveries reach followers too (see [`routing`]). Only the leader reconciles, writes status,
//! talks to GitHub's labels, and creates trackers from its listing.
//!
//! - [`checks`]: the apiserver, the CRDs and GitHub's credentials, checked before anything runs;
//! - [`routing`]: webhook deliveries into reconciles, on the leader and on followers;
//! - [`controllers`]: what the leader runs;
//! - [`tasks`]: periodic chores and liveness;
//! - [`signals`]: stopping, gracefully and in bounded time.

mod checks;
mod controllers;
mod routing;
mod signals;
mod tasks;

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use kube::runtime::reflector::ObjectRef;
use prtracker_api::PullRequestTracker;
use tokio::sync::{mpsc, watch};
use tracing::{error, info};

use crate::{
    args::OperatorConfig,
    autotrack::AutoTrack,
    leader::Leadership,
    ledger::ChangeLedger,
    metrics::{self, Health, Metrics},
    server,
    webhook::{self, WebhookConfig, WebhookEvent},
};

pub use tasks::vouch_if_idle;

/// Runs the operator until SIGTERM or Ctrl-C (Ok) or until the lease is lost (Err: the process must
/// exit, so that it never writes as a second leader).
pub async fn run(config: OperatorConfig) -> anyhow::Result<()> {
    let checks::Connected { kube, github } = checks::connect(&config).await?;

    let metrics = Metrics::new();
    // The snapshot carries the ETag cache's size too, which the raw counters do not.
    metrics.set_github_snapshots({
        let github = github.clone();
        move || github.metrics()
    });
    let health = Health::new((config.resync_interval * 3).max(Duration::from_secs(60)));
    let (shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(signals::forward_signals(shutdown_tx.clone()));

    let (events_tx, events) = mpsc::channel::<WebhookEvent>(1024);
    let ledger = Arc::new(ChangeLedger::default());
    let app = metrics::router(metrics.clone(), health.clone()).merge(webhook::router(
        WebhookConfig {
            secrets: config.webhook_secrets.clone(),
            max_body_bytes: config.webhook_max_body_bytes,
            dedup_capacity: config.webhook_dedup_capacity,
            body_read_timeout: config.webhook_body_timeout,
            bodies_in_flight_bytes: config.webhook_body_budget,
            ledger: Some(ledger.clone()),
        },
        events_tx,
        metrics.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", config.listen))?;
    info!(listen = %config.listen, max_connections = config.server.max_connections,
          header_timeout = ?config.server.header_read_timeout,
          "serving /webhook, /metrics, /healthz, /readyz");
    let server = tokio::spawn(server::serve(
        listener,
        app,
        config.server,
        metrics.clone(),
        signals::until_shutdown(shutdown.clone()),
    ));

    let mut leadership = match &config.leader_election {
        Some(election) => Some(Leadership::start(kube.clone(), election).await?),
        None => None,
    };
    // Only this flag is shared, never the lease's own channel: dropping that channel is how the
    // lease is released on shutdown.
    let leading = Arc::new(AtomicBool::new(leadership.is_none()));
    let leader_cache = Arc::new(OnceLock::new());
    let workload = Arc::new(OnceLock::new());
    let autotrack = (!config.track_repos.is_empty()).then(|| AutoTrack {
        repos: config.track_repos.clone(),
        namespace: config.tracker_namespace.clone(),
        clusters: config.default_clusters.clone(),
        manifests_path: config.manifests_path.clone(),
        targets: config.targets.clone(),
    });
    let (triggers_tx, triggers) = mpsc::channel::<ObjectRef<PullRequestTracker>>(1024);
    tokio::spawn(routing::route_webhooks(
        routing::Dispatch {
            client: kube.clone(),
            trackers: checks::trackers_api(&kube, config.namespace.as_deref()),
            leading: leading.clone(),
            leader_cache: leader_cache.clone(),
            autotrack: autotrack.clone(),
            triggers: triggers_tx.clone(),
            github: github.clone(),
        },
        events,
    ));
    tokio::spawn(tasks::periodic(
        Duration::from_secs(10),
        shutdown.clone(),
        {
            let (health, workload, leading) = (health.clone(), workload.clone(), leading.clone());
            move || {
                let working = leading.load(Ordering::Acquire);
                // A leader whose caches are not filled yet has no reconcile to show either.
                match (working, workload.get()) {
                    (true, Some(workload)) => vouch_if_idle(&health, Some(workload)),
                    _ => vouch_if_idle(&health, None),
                }
                async {}
            }
        },
    ));
    health.set_ready(true);

    let outcome = async {
        if let Some(leadership) = leadership.as_mut() {
            tokio::select! {
                acquired = leadership.acquired() => acquired?,
                () = signals::until_shutdown(shutdown.clone()) => return Ok(()),
            }
            info!("leading: starting the controllers");
        }
        leading.store(true, Ordering::Release);
        let runtime = controllers::Runtime {
            client: kube,
            github,
            metrics,
            health: health.clone(),
            shutdown: shutdown.clone(),
            leader_cache,
            workload,
            ledger,
            triggers: triggers_tx,
        };
        let lost = async {
            match leadership.as_mut() {
                Some(leadership) => leadership.lost().await,
                None => futures::future::pending().await,
            }
        };
        tokio::select! {
            () = controllers::run_controllers(&config, runtime, autotrack, triggers) => Ok(()),
            () = lost => {
                error!("lost the leader lease: stopping so that only the new leader writes");
                bail!("lost the leader lease")
            }
        }
    }
    .await;

    leading.store(false, Ordering::Release);
    health.set_ready(false);
    let _ = shutdown_tx.send(true);
    if let Some(leadership) = leadership {
        leadership.release().await;
        info!("released the leader lease");
    }
    signals::stop_server(server).await;
    outcome
}
