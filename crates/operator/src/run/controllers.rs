//! What the leader runs: the tracker and monitor controllers over their watches, auto-tracking's
//! periodic listing, and the chores. Built when the lease is won, stopped at shutdown.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use kube::{
    Api, Client,
    runtime::{
        events::{Recorder, Reporter},
        reflector::{ObjectRef, Store},
    },
};
use prtracker_api::{DriftMonitor, PullRequestTracker};
use prtracker_domain::Repository;
use prtracker_drift::{ClusterRegistry, DriftChecker, LiveWatches, Renderer};
use prtracker_github::OctocrabGitHub;
use prtracker_sync::{
    ChangeFeed, CheckRunKeeper, CommitStatusKeeper, Coordinator, DeploymentKeeper,
    GitHubLabelManager, MergedBy, PrCommentKeeper, Surfaces,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::{
    StreamExt as _,
    wrappers::{ReceiverStream, UnboundedReceiverStream},
};
use tracing::info;

use super::{
    checks::trackers_api,
    signals::until_shutdown,
    tasks::{Workload, count_by_state, periodic},
};
use crate::{
    args::OperatorConfig,
    autotrack::{AutoTrack, same_repository},
    backoff::MAX_BACKOFF,
    feed::{FeedPoller, tracked_in},
    ledger::ChangeLedger,
    metrics::{Health, Metrics},
    monitors::{MonitorContext, monitor_controller},
    reach::ReachByChange,
    trackers::{TrackerContext, tracker_controller, tracker_watch},
    watches::monitor_feed,
};

/// What the controllers share with the rest of the process.
pub struct Runtime {
    pub client: Client,
    pub github: Arc<OctocrabGitHub>,
    pub metrics: Metrics,
    pub health: Health,
    pub shutdown: watch::Receiver<bool>,
    /// Where the webhook routing finds the leader's tracker cache.
    pub leader_cache: Arc<OnceLock<Store<PullRequestTracker>>>,
    /// Set once the caches are filled: the liveness chore reads it.
    pub workload: Arc<OnceLock<Workload>>,
    /// The changes heard of per PR, which the webhook endpoint also tells.
    pub ledger: Arc<ChangeLedger>,
    /// Where reconciles are asked for: the feed's changes join the webhooks' here.
    pub triggers: mpsc::Sender<ObjectRef<PullRequestTracker>>,
}

/// Runs the controllers until shutdown.
pub async fn run_controllers(
    config: &OperatorConfig,
    runtime: Runtime,
    autotrack: Option<AutoTrack>,
    webhook_triggers: mpsc::Receiver<ObjectRef<PullRequestTracker>>,
) {
    let Runtime {
        client,
        github,
        metrics,
        health,
        shutdown,
        leader_cache,
        workload,
        ledger,
        triggers: retrigger,
    } = runtime;
    let monitors_api: Api<DriftMonitor> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let feed = monitor_feed(monitors_api);
    let trackers = tracker_watch(
        trackers_api(&client, config.namespace.as_deref()),
        ledger.clone(),
    );
    let tracker_store = trackers.store.clone();
    let monitor_store = feed.store.clone();

    let labels = Arc::new(GitHubLabelManager::new(
        github.clone(),
        config.label_prefix.clone(),
    ));
    // PRs are read from the repositories' change feeds, not one by one.
    let changes = Arc::new(ChangeFeed::new(github.clone(), ledger.clone(), {
        let store = tracker_store.clone();
        Arc::new(move |repo: &Repository| tracked_in(&store, repo))
    }));
    // One checker, its caches shared: the tracker controller asks it which targets a merged PR
    // reaches, and the monitors' first checks then find those renders.
    let checker = DriftChecker::new(
        github.clone(),
        ClusterRegistry::new(client.clone(), config.cluster_secrets_namespace.clone())
            .watching_secrets(),
    )
    .with_ignore_rules(config.ignore_differences.clone())
    .with_renderer({
        let mut renderer = Renderer::default()
            .with_limits(config.render.timeout, config.render.max_output)
            .with_concurrency(config.render.concurrency);
        if let Some(kustomize) = &config.render.kustomize {
            renderer = renderer.with_kustomize(kustomize);
        }
        if let Some(helm) = &config.render.helm {
            renderer = renderer.with_helm(helm);
        }
        renderer
    })
    // A base branch's head is asked at most once per resync per repository and branch.
    .with_head_max_age(config.resync_interval);
    let coordinator = Coordinator::new(client.clone(), github.clone(), labels)
        .with_reach(Arc::new(ReachByChange(checker.clone())))
        .with_reads(changes.clone())
        .with_monitor_interval(config.monitor_interval.clone())
        .with_settle_window(config.settle_window)
        .with_freshness(ledger)
        .with_merges(Arc::new(MergesOf(tracker_store.clone())));
    let surfaces = &config.surfaces;
    let coordinator = coordinator.with_surfaces(Surfaces {
        comments: surfaces
            .pr_comment
            .then(|| Arc::new(PrCommentKeeper::new(github.clone()))),
        deployments: surfaces.github_deployments.then(|| {
            Arc::new(DeploymentKeeper::new(
                github.clone(),
                surfaces.deployment_environments.clone(),
            ))
        }),
        commit_statuses: surfaces
            .commit_statuses
            .then(|| Arc::new(CommitStatusKeeper::new(github.clone()))),
        check_runs: surfaces
            .check_runs
            .then(|| Arc::new(CheckRunKeeper::new(github.clone()))),
        written: Arc::default(),
    });
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "prtracker".into(),
            instance: config.leader_election.as_ref().map(|l| l.identity.clone()),
        },
    );
    let mut tracker_ctx = TrackerContext::new(
        coordinator,
        recorder,
        monitor_store.clone(),
        config.resync_interval,
    );
    tracker_ctx.observer = observer(&metrics, &health);
    tracker_ctx.forget_after = config.forget_after;
    tracker_ctx.client = Some(client.clone());
    let tracker_ctx = Arc::new(tracker_ctx);
    // The target clusters' watches name the monitors to check when an object they follow changes.
    // Checks they start read what they keep.
    let (live, changed_in_clusters) = LiveWatches::new(checker.clusters().clone());
    let live = Arc::new(live);
    let changed_in_clusters = UnboundedReceiverStream::new(changed_in_clusters)
        .map(|(namespace, name)| ObjectRef::new(&name).within(&namespace));
    let checker = if config.watch_clusters {
        checker.with_object_cache(live.clone())
    } else {
        checker
    };
    let mut monitor_ctx = MonitorContext::new(client.clone(), checker);
    monitor_ctx.live = config.watch_clusters.then(|| live.clone());
    monitor_ctx.on_check = {
        let metrics = metrics.clone();
        Box::new(move |reads| metrics.drift_check(reads))
    };
    monitor_ctx.observer = observer(&metrics, &health);
    let monitor_ctx = Arc::new(monitor_ctx);

    let triggers = futures::stream::select(ReceiverStream::new(webhook_triggers), feed.owners);
    let tracker_controller = tracker_controller(
        trackers,
        tracker_ctx.clone(),
        triggers,
        until_shutdown(shutdown.clone()),
    );
    let monitor_controller = monitor_controller(
        feed.checks,
        changed_in_clusters,
        monitor_store.clone(),
        monitor_ctx.clone(),
        until_shutdown(shutdown.clone()),
    );
    let feed_driver = feed.driver;

    // The caches serve the webhook routing and the liveness chore once filled.
    let caches_ready = {
        let (trackers, monitors) = (tracker_store.clone(), monitor_store.clone());
        let shutdown = shutdown.clone();
        async move {
            let filled =
                async { futures::join!(trackers.wait_until_ready(), monitors.wait_until_ready()) };
            tokio::select! {
                (Ok(()), Ok(())) = filled => {
                    let _ = leader_cache.set(trackers.clone());
                    let _ = workload.set(Workload { trackers, monitors });
                    info!("caches filled: webhooks are routed through the leader's cache");
                }
                () = until_shutdown(shutdown) => {},
            }
        }
    };

    // Every resync interval, each repository's feed once: what changed is reconciled, new open PRs
    // of auto-tracked repositories get trackers. Auto-tracking first lists the open PRs once, for
    // those the feed would not reach (open, but untouched for long).
    let poller = Arc::new(FeedPoller::new(
        changes,
        tracker_store.clone(),
        autotrack.clone(),
        client.clone(),
        retrigger.clone(),
        MAX_BACKOFF,
        metrics.clone(),
    ));
    let after_outages = resync_after_outages(
        github.clone(),
        poller.clone(),
        tracker_ctx.clone(),
        retrigger,
        shutdown.clone(),
    );
    let polling = {
        let (shutdown, known, github, client) = (
            shutdown.clone(),
            tracker_store.clone(),
            github.clone(),
            client.clone(),
        );
        let resync = config.resync_interval;
        async move {
            tokio::select! {
                Ok(()) = known.wait_until_ready() => {},
                () = until_shutdown(shutdown.clone()) => return,
            }
            if let Some(autotrack) = &autotrack {
                let created = autotrack
                    .list_and_track(&client, github.as_ref(), &known)
                    .await;
                if created > 0 {
                    info!(
                        created,
                        "auto-tracking: the open PRs listed at start had no tracker"
                    );
                }
            }
            let poller = &*poller;
            periodic(resync, shutdown, move || poller.poll_all()).await;
        }
    };
    let chores = periodic(Duration::from_secs(15), shutdown.clone(), {
        let (trackers, monitors) = (tracker_store.clone(), monitor_store.clone());
        move || {
            metrics.set_trackers_by_state(count_by_state(&trackers));
            tracker_ctx.failures.forget_gone(&trackers);
            monitor_ctx.failures.forget_gone(&monitors);
            monitor_ctx.cluster_reads.forget_gone(&monitors);
            // Deleted monitors follow nothing (the controller hears of no deletion).
            live.retain(|(namespace, name)| {
                monitors
                    .get(&ObjectRef::new(name).within(namespace))
                    .is_some()
            });
            metrics.set_cluster_watches(live.size());
            async {}
        }
    });
    // The monitor watch stops with the controllers it feeds.
    let feed = {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = feed_driver => {},
                () = until_shutdown(shutdown) => {},
            }
        }
    };
    futures::join!(
        tracker_controller,
        monitor_controller,
        feed,
        polling,
        chores,
        caches_ready,
        after_outages
    );
    info!("controllers stopped");
}

/// While GitHub fails broadly, probes it on the circuit's schedule even when nothing else would
/// call it (a cheap `GET /rate_limit`, which GitHub does not count). When it answers again (the
/// circuit closes), what missed a sync is synced at once rather than when each backoff ends:
/// every repository's feed, then every tracker whose last reconcile failed. The pacing budget
/// spreads the burst.
async fn resync_after_outages(
    github: Arc<OctocrabGitHub>,
    poller: Arc<FeedPoller>,
    trackers: Arc<TrackerContext>,
    retrigger: mpsc::Sender<ObjectRef<PullRequestTracker>>,
    shutdown: watch::Receiver<bool>,
) {
    let mut outage_ends = github.outage_ends();
    loop {
        let look_again = github.outage().map_or(Duration::from_secs(1), |wait| {
            wait.max(Duration::from_millis(100))
        });
        tokio::select! {
            changed = outage_ends.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(look_again) => {
                if github.outage().is_some_and(|wait| wait.is_zero()) {
                    let _ = github.verify_credentials().await;
                }
                continue;
            }
            () = until_shutdown(shutdown.clone()) => return,
        }
        let missed = trackers.failures.failing();
        info!(
            trackers = missed.len(),
            "GitHub answers again: resyncing the feeds and the trackers that failed during the outage"
        );
        poller.end_backoffs();
        poller.poll_all().await;
        for tracker in missed {
            if retrigger.send(tracker).await.is_err() {
                return;
            }
        }
    }
}

/// Which tracked PR merged a commit: the trackers' merge commits in the leader's cache.
struct MergesOf(Store<PullRequestTracker>);

impl MergedBy for MergesOf {
    fn pull_request(&self, repo: &Repository, commit: &str) -> Option<u64> {
        self.0
            .find(|t| {
                same_repository(&t.spec.repository, repo)
                    && t.status
                        .as_ref()
                        .and_then(|s| s.merge_commit_sha.as_deref())
                        == Some(commit)
            })
            .map(|t| t.spec.number)
    }
}

/// Reconcile outcomes into the metrics, and progress into liveness.
fn observer(metrics: &Metrics, health: &Health) -> crate::trackers::ReconcileObserver {
    let (metrics, health) = (metrics.clone(), health.clone());
    Box::new(move |controller, duration, failure| {
        health.progress();
        match failure {
            None => metrics.reconcile_ok(controller, duration),
            Some(reason) => metrics.reconcile_error(controller, reason, duration),
        }
    })
}
