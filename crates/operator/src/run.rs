//! `prtracker run`: checks what it needs, serves webhooks, metrics and health on every replica,
//! waits for the lease, then runs the controllers until SIGTERM (or until the lease is lost).
//!
//! Every replica is Ready once it serves (a rollout must not wait for leadership), so GitHub's
//! deliveries reach followers too: a follower passes a delivery on by annotating the PR's trackers,
//! which the leader's watch turns into a reconcile. Only the leader reconciles, writes status, talks
//! to GitHub's labels, and creates trackers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use axum::serve::ListenerExt;
use futures::FutureExt;
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams},
    runtime::{
        events::{Recorder, Reporter},
        reflector::{ObjectRef, Store},
    },
};
use prtracker_api::{DriftMonitor, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_drift::{ClusterRegistry, DriftChecker};
use prtracker_github::OctocrabGitHub;
use prtracker_sync::{Coordinator, GitHubLabelManager};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{error, info, warn};

use crate::{
    args::OperatorConfig,
    autotrack::{AutoTrack, tracker_name},
    controller::{Context, REFRESH_ANNOTATION, tracker_controller},
    leader::Leadership,
    metrics::{self, Health, Metrics},
    monitor_controller::{MonitorContext, monitor_controller},
    webhook::{self, PullRequestEvent, WebhookConfig, WebhookEvent},
};

/// Runs the operator until SIGTERM or Ctrl-C (Ok) or until the lease is lost (Err: the process must
/// exit, so that it never writes as a second leader).
pub async fn run(config: OperatorConfig) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no Kubernetes configuration: set KUBECONFIG, or run in a cluster")?;
    let version = client
        .apiserver_version()
        .await
        .context("the Kubernetes apiserver cannot be reached")?;
    info!(kubernetes = %version.git_version, "connected to the apiserver");
    check_crds(&client, config.namespace.as_deref()).await?;

    let github = Arc::new(
        OctocrabGitHub::new(config.github.clone()).context("configuring the GitHub client")?,
    );
    let identity = github
        .verify_credentials()
        .await
        .context("GitHub refused the configured credentials")?;
    info!(github = %config.github.base_url, credentials = %identity, "connected to GitHub");

    let metrics = Metrics::new();
    // The snapshot carries the ETag cache's size too, which the raw counters do not.
    metrics.set_github_snapshots({
        let github = github.clone();
        move || github.metrics()
    });
    let health = Health::new((config.resync_interval * 3).max(Duration::from_secs(60)));
    let (shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(forward_signals(shutdown_tx.clone()));

    let (events_tx, events) = mpsc::channel::<WebhookEvent>(1024);
    let app = metrics::router(metrics.clone(), health.clone()).merge(webhook::router(
        WebhookConfig {
            secrets: config.webhook_secrets.clone(),
            ..WebhookConfig::default()
        },
        events_tx,
        metrics.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", config.listen))?
        // Small JSON answers: without TCP_NODELAY each waits for Nagle's delayed ACK.
        .tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
    info!(listen = %config.listen, "serving /webhook, /metrics, /healthz, /readyz");
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(until_shutdown(shutdown.clone()))
            .into_future(),
    );

    let mut leadership = match &config.leader_election {
        Some(election) => Some(Leadership::start(client.clone(), election).await?),
        None => None,
    };
    // Only this flag is shared, never the lease's own channel: dropping that channel is how the
    // lease is released on shutdown.
    let leading = Arc::new(AtomicBool::new(leadership.is_none()));
    let autotrack = (!config.track_repos.is_empty()).then(|| AutoTrack {
        repos: config.track_repos.clone(),
        namespace: config.tracker_namespace.clone(),
        clusters: config.default_clusters.clone(),
        manifests_path: config.manifests_path.clone(),
    });
    let (triggers_tx, triggers) = mpsc::channel::<ObjectRef<PullRequestTracker>>(1024);
    tokio::spawn(route_webhooks(
        trackers_api(&client, config.namespace.as_deref()),
        client.clone(),
        leading.clone(),
        autotrack.clone(),
        triggers_tx,
        events,
    ));
    tokio::spawn(periodic(Duration::from_secs(10), shutdown.clone(), {
        let health = health.clone();
        move || {
            health.progress();
            async {}
        }
    }));
    health.set_ready(true);

    let outcome = async {
        if let Some(leadership) = leadership.as_mut() {
            tokio::select! {
                acquired = leadership.acquired() => acquired?,
                () = until_shutdown(shutdown.clone()) => return Ok(()),
            }
            info!("leading: starting the controllers");
        }
        leading.store(true, Ordering::Release);
        let runtime = Runtime {
            client,
            github,
            metrics,
            health: health.clone(),
            shutdown: shutdown.clone(),
        };
        run_controllers(&config, runtime, autotrack, triggers, leadership.as_mut()).await
    }
    .await;

    leading.store(false, Ordering::Release);
    health.set_ready(false);
    let _ = shutdown_tx.send(true);
    if let Some(leadership) = leadership {
        leadership.release().await;
        info!("released the leader lease");
    }
    stop_server(server).await;
    outcome
}

/// What the controllers share with the rest of the process.
struct Runtime {
    client: Client,
    github: Arc<OctocrabGitHub>,
    metrics: Metrics,
    health: Health,
    shutdown: watch::Receiver<bool>,
}

fn trackers_api(client: &Client, namespace: Option<&str>) -> Api<PullRequestTracker> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn run_controllers(
    config: &OperatorConfig,
    runtime: Runtime,
    autotrack: Option<AutoTrack>,
    triggers: mpsc::Receiver<ObjectRef<PullRequestTracker>>,
    leadership: Option<&mut Leadership>,
) -> anyhow::Result<()> {
    let Runtime {
        client,
        github,
        metrics,
        health,
        shutdown,
    } = runtime;
    let trackers = trackers_api(&client, config.namespace.as_deref());
    let monitors: Api<DriftMonitor> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let labels = Arc::new(GitHubLabelManager::new(
        github.clone(),
        config.label_prefix.clone(),
    ));
    let coordinator = Coordinator::new(client.clone(), github.clone(), labels)
        .with_monitor_interval(config.monitor_interval.clone());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "prtracker".into(),
            instance: config.leader_election.as_ref().map(|l| l.identity.clone()),
        },
    );
    let observed = metrics.clone();
    let progress = health.clone();
    let resync = config.resync_interval;
    let ctx_client = client.clone();
    let (controller, store) = tracker_controller(
        trackers,
        monitors,
        move |monitor_store| {
            let mut ctx = Context::new(ctx_client, coordinator, recorder, monitor_store, resync);
            ctx.observer = Box::new(move |controller, duration, error| {
                progress.progress();
                match error {
                    None => observed.reconcile_ok(controller, duration),
                    Some(error) => observed.reconcile_error(controller, error.reason(), duration),
                }
            });
            ctx
        },
        ReceiverStream::new(triggers),
        until_shutdown(shutdown.clone()),
    );

    let checker = DriftChecker::new(
        github.clone(),
        ClusterRegistry::new(client.clone(), config.cluster_secrets_namespace.clone()),
    );
    let monitor_observer = metrics.clone();
    let monitor_progress = health.clone();
    let monitor_api: Api<DriftMonitor> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let monitor_controller = monitor_controller(
        monitor_api,
        MonitorContext {
            client: client.clone(),
            checker,
            observer: Box::new(move |controller, duration, _| {
                monitor_progress.progress();
                monitor_observer.reconcile_ok(controller, duration);
            }),
        },
        until_shutdown(shutdown.clone()),
    );
    let listing = periodic(config.resync_interval, shutdown.clone(), {
        let client = client.clone();
        let github = github.clone();
        move || {
            let autotrack = autotrack.clone();
            let client = client.clone();
            let github = github.clone();
            async move {
                if let Some(autotrack) = autotrack {
                    let created = autotrack.list_and_track(&client, github.as_ref()).await;
                    if created > 0 {
                        info!(
                            created,
                            "auto-tracking: the periodic listing found untracked PRs"
                        );
                    }
                }
            }
        }
    });
    let gauges = periodic(Duration::from_secs(15), shutdown.clone(), {
        let store = store.clone();
        move || {
            metrics.set_trackers_by_state(count_by_state(&store));
            async {}
        }
    });
    let lost = async {
        match leadership {
            Some(leadership) => leadership.lost().await,
            None => futures::future::pending().await,
        }
    };
    tokio::select! {
        () = futures::future::join4(controller, monitor_controller, listing, gauges).map(|_| ()) => {
            info!("controllers stopped");
            Ok(())
        }
        () = lost => {
            error!("lost the leader lease: stopping so that only the new leader writes");
            bail!("lost the leader lease")
        }
    }
}

/// Webhook events into reconciles. Any replica creates the tracker of a new PR of an auto-tracked
/// repository (a create is idempotent, and the leader's watch takes the new tracker up at once, so
/// it needs no more); then the leader triggers the PR's other trackers, and a follower annotates
/// them for the leader's watch.
async fn route_webhooks(
    trackers: Api<PullRequestTracker>,
    client: Client,
    leading: Arc<AtomicBool>,
    autotrack: Option<AutoTrack>,
    triggers: mpsc::Sender<ObjectRef<PullRequestTracker>>,
    mut events: mpsc::Receiver<WebhookEvent>,
) {
    while let Some(WebhookEvent::PullRequest(event)) = events.recv().await {
        let leading = leading.load(Ordering::Acquire);
        let mut created = None;
        if let Some(autotrack) = &autotrack
            && autotrack.tracks(&event.repository)
        {
            match autotrack
                .ensure_tracker(&client, &event.repository, event.number)
                .await
            {
                Ok(true) => {
                    created = Some((
                        autotrack.namespace.clone(),
                        tracker_name(&event.repository, event.number),
                    ));
                }
                Ok(false) => {}
                Err(error) => {
                    warn!(repo = %event.repository, number = event.number, %error, "could not create a tracker");
                }
            }
        }
        let matching = match find_trackers(&trackers, &event).await {
            Ok(matching) => matching,
            Err(error) => {
                warn!(%error, "could not look up the trackers of a webhook's PR; the resync will catch up");
                continue;
            }
        };
        for tracker in matching {
            let just_created = created.as_ref().is_some_and(|(namespace, name)| {
                tracker.metadata.namespace.as_ref() == Some(namespace)
                    && tracker.metadata.name.as_ref() == Some(name)
            });
            if just_created {
                continue;
            }
            if leading {
                let _ = triggers.send(ObjectRef::from_obj(&tracker)).await;
            } else if let Err(error) = pass_on(&client, &tracker, &event.delivery).await {
                warn!(%error, "could not pass a webhook on to the leader; the resync will catch up");
            }
        }
    }
}

async fn find_trackers(
    trackers: &Api<PullRequestTracker>,
    event: &PullRequestEvent,
) -> Result<Vec<PullRequestTracker>, kube::Error> {
    let selector = format!(
        "spec.repository={},spec.number={}",
        event.repository, event.number
    );
    Ok(trackers
        .list(&ListParams::default().fields(&selector))
        .await?
        .items)
}

async fn pass_on(
    client: &Client,
    tracker: &PullRequestTracker,
    delivery: &str,
) -> Result<(), kube::Error> {
    let namespace = kube::ResourceExt::namespace(tracker).unwrap_or_default();
    let api: Api<PullRequestTracker> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({ "metadata": { "annotations": { REFRESH_ANNOTATION: delivery } } });
    api.patch(
        &kube::ResourceExt::name_any(tracker),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}

/// Waits for the HTTP server to finish its requests in flight, but not for ever: a client holding a
/// connection open must not keep the pod from stopping.
async fn stop_server(server: tokio::task::JoinHandle<std::io::Result<()>>) {
    let abort = server.abort_handle();
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(_) => info!("stopped serving"),
        Err(_) => {
            warn!("connections still open after 5s; closing them");
            abort.abort();
        }
    }
}

/// Runs `tick` every `interval` (first at once) until shutdown.
async fn periodic<F, Fut>(interval: Duration, shutdown: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut + Send,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = until_shutdown(shutdown);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = timer.tick() => tick().await,
            () = &mut stop => return,
        }
    }
}

/// Trackers per state, every state present (zero included) so a gauge drops when a state empties.
fn count_by_state(store: &Store<PullRequestTracker>) -> Vec<(PrState, u64)> {
    let trackers = store.state();
    PrState::ALL
        .iter()
        .map(|state| {
            let count = trackers
                .iter()
                .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(*state))
                .count();
            (*state, count as u64)
        })
        .collect()
}

/// Resolves once shutdown is asked for.
async fn until_shutdown(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// SIGTERM (Kubernetes stopping the pod) and Ctrl-C both ask for a graceful shutdown.
async fn forward_signals(shutdown: watch::Sender<bool>) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                futures::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
    info!("shutting down: finishing the reconciles in flight");
    let _ = shutdown.send(true);
    // Kubernetes kills the pod after its grace period (30s in deploy/); a shutdown that has not
    // finished well before then says so and ends, rather than being killed without a word.
    tokio::time::sleep(SHUTDOWN_DEADLINE).await;
    error!(after = ?SHUTDOWN_DEADLINE, "shutdown did not finish; exiting");
    std::process::exit(1);
}

/// How long a graceful shutdown may take.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// The CRDs must be installed before anything runs: their absence is a setup mistake to report.
async fn check_crds(client: &Client, namespace: Option<&str>) -> anyhow::Result<()> {
    match trackers_api(client, namespace)
        .list(&ListParams::default().limit(1))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => bail!(
            "the prtracker CRDs are not installed: `kubectl apply -k deploy/` (or `prtracker crds | kubectl apply -f -`)"
        ),
        Err(kube::Error::Api(status)) if status.code == 403 => bail!(
            "the operator may not list PullRequestTrackers: {} (apply the RBAC in deploy/)",
            status.message
        ),
        Err(error) => Err(error).context("listing PullRequestTrackers"),
    }
}
