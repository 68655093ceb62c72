//! What the demo shows at each step: the PR's labels beside the tracker's state and each monitor's
//! verdict, once both sides have settled.

use std::time::{Duration, Instant};

use anyhow::bail;
use kube::Api;
use prtracker_api::{DriftMonitor, DriftPhase, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::SimulatorHandle;

use super::{REPO, STEP_TIMEOUT};

pub(super) struct World<'a> {
    pub(super) sim: &'a SimulatorHandle,
    pub(super) trackers: &'a Api<PullRequestTracker>,
    pub(super) monitors: &'a Api<DriftMonitor>,
}

/// What one look at both sides shows.
pub(super) struct Snapshot {
    pub(super) labels: Vec<String>,
    pub(super) state: Option<PrState>,
    pub(super) monitors: Vec<MonitorView>,
}

/// One monitor as the demo shows it: its cluster, the path it renders, its verdict, and what
/// differs.
pub(super) struct MonitorView {
    pub(super) cluster: String,
    pub(super) path: String,
    pub(super) phase: Option<DriftPhase>,
    pub(super) drift: Vec<String>,
}

impl MonitorView {
    pub(super) fn of(monitor: DriftMonitor) -> Self {
        let status = monitor.status.unwrap_or_default();
        let drift = status
            .drifted_resources
            .iter()
            .map(|resource| {
                let object = format!(
                    "{} {}{}",
                    resource.kind,
                    resource
                        .namespace
                        .as_ref()
                        .map_or_else(String::new, |ns| format!("{ns}/")),
                    resource.name
                );
                match resource.fields.first() {
                    _ if resource.missing => format!("{object} missing"),
                    Some(field) => format!(
                        "{object} {}: {} -> {}",
                        field.path,
                        field.desired.as_deref().unwrap_or("(unset)"),
                        field.live.as_deref().unwrap_or("(unset)")
                    ),
                    None => format!("{object} differs"),
                }
            })
            .collect();
        Self {
            cluster: monitor.spec.cluster,
            path: monitor.spec.source.path,
            phase: status.phase,
            drift,
        }
    }
}

impl Snapshot {
    pub(super) async fn take(world: &World<'_>, number: u64) -> anyhow::Result<Self> {
        let labels = world
            .sim
            .pull_labels(REPO, number)
            .map_err(|e| anyhow::anyhow!(e.message))?
            .into_iter()
            .filter(|l| l.starts_with("state/"))
            .collect();
        let tracker = world
            .trackers
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .find(|t| t.spec.number == number);
        let tracker_name = tracker.as_ref().and_then(|t| t.metadata.name.clone());
        let state = tracker.and_then(|t| t.status.and_then(|s| s.state));
        // This PR's monitors only: another PR's have their own story.
        let mut monitors: Vec<_> = world
            .monitors
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter(|m| Some(&m.spec.tracker) == tracker_name.as_ref())
            .map(MonitorView::of)
            .collect();
        monitors.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok(Self {
            labels,
            state,
            monitors,
        })
    }

    /// One line: the PR's labels on GitHub, the tracker's state, each monitor's verdict.
    pub(super) fn line(&self) -> String {
        let state = self
            .state
            .map_or_else(|| "-".to_owned(), |s| format!("{s:?}"));
        let monitors = if self.monitors.is_empty() {
            "none".to_owned()
        } else {
            self.monitors
                .iter()
                .map(|monitor| {
                    format!(
                        "{}={}",
                        monitor.cluster,
                        monitor
                            .phase
                            .map_or("Pending".to_owned(), |p| format!("{p:?}"))
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "github labels [{}] | tracker {state} | monitors {monitors}",
            self.labels.join(", ")
        )
    }
}

/// Waits until `done` holds, with a progress line, then prints the step and what both sides show.
pub(super) async fn step(
    world: &World<'_>,
    number: u64,
    title: &str,
    done: impl Fn(&Snapshot) -> bool,
) -> anyhow::Result<()> {
    settle(world, number, title, done, false).await
}

/// As [`step`], and names the path each monitor renders: the overlay of its cluster.
pub(super) async fn step_with_targets(
    world: &World<'_>,
    number: u64,
    title: &str,
    done: impl Fn(&Snapshot) -> bool,
) -> anyhow::Result<()> {
    settle(world, number, title, done, true).await
}

async fn settle(
    world: &World<'_>,
    number: u64,
    title: &str,
    done: impl Fn(&Snapshot) -> bool,
    targets: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let snapshot = Snapshot::take(world, number).await?;
        // At rest: the step's outcome, and exactly one state label on the PR, the tracker's.
        let at_rest = snapshot.labels.len() == 1
            && snapshot
                .state
                .is_some_and(|s| snapshot.labels[0] == format!("state/{}", s.name()));
        if done(&snapshot) && at_rest {
            eprint!("\r\x1b[K");
            println!("step {title}");
            println!("     {}", snapshot.line());
            if targets {
                let paths: Vec<String> = snapshot
                    .monitors
                    .iter()
                    .map(|m| format!("{}={}", m.cluster, m.path))
                    .collect();
                println!(
                    "     targets {}, each rendered with kubectl kustomize",
                    paths.join(" ")
                );
            }
            for monitor in &snapshot.monitors {
                if !monitor.drift.is_empty() {
                    // Merged and not applied yet is not drift: the demo says which it is.
                    let what = if monitor.phase == Some(DriftPhase::Waiting) {
                        "not live yet in"
                    } else {
                        "drift in"
                    };
                    println!(
                        "     {what} {}: {}",
                        monitor.cluster,
                        monitor.drift.join("; ")
                    );
                }
            }
            return Ok(());
        }
        if started.elapsed() > STEP_TIMEOUT {
            bail!(
                "step {title:?} did not settle in {STEP_TIMEOUT:?}; last seen: {}",
                snapshot.line()
            );
        }
        eprint!(
            "\r\x1b[K  waiting {:>4.1}s  {}",
            started.elapsed().as_secs_f64(),
            snapshot.line()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
