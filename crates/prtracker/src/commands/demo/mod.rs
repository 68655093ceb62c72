//! `prtracker demo`: the whole system on one machine, and a pull request's life played through it.
//!
//! It starts the project's control plane (two clusters), the GitHub simulator with a sample
//! repository laid out as real ones are (a kustomize base, and an overlay per cluster), and the
//! operator (this binary's `run`, a target per cluster); then opens a PR, approves it as a person
//! would, merges it, deploys each cluster's overlay, edits one cluster by hand (drift) and undoes
//! the edit, printing at each step the PR's labels beside the tracker's state and each monitor's
//! verdict.

use std::time::{Duration, Instant};

use anyhow::Context;
use kube::Api;
use prtracker_api::{DriftMonitor, DriftPhase, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::{NewPull, Simulator, SimulatorHandle};
use prtracker_testenv::{ControlPlane, ControlPlaneConfig};

mod operator;
mod setup;
mod view;

use operator::Operator;
use setup::{deploy, prepare_clusters, repository, request_checks, scale_by_hand};
use view::{World, step, step_with_targets};

const REPO: &str = "octo-org/shop";
const NAMESPACE: &str = "prtracker-demo";
const APP_NAMESPACE: &str = "shop";
const PERSON: &str = "octocat";
const WEBHOOK_SECRET: &str = "demo-webhook-secret";
/// Each cluster as the operator names it (the one it runs in is `in-cluster`), and the overlay
/// rendered for it.
const TARGETS: [(&str, &str); 2] = [
    ("in-cluster", "deploy/overlays/primary"),
    ("secondary", "deploy/overlays/secondary"),
];
/// How long any one step may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

pub fn demo(keep: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(play(keep))
}

async fn play(keep: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    say("starting a control plane with two clusters (primary, secondary)");
    let plane = ControlPlane::start(ControlPlaneConfig {
        clusters: vec!["primary".into(), "secondary".into()],
        install_crds: true,
        garbage_collection: true,
    })
    .await
    .context("starting the control plane (scripts/build-control-plane.sh builds it)")?;
    let primary = plane.cluster("primary");
    let secondary = plane.cluster("secondary");
    let client = primary.client()?;
    prepare_clusters(&client, &[primary, secondary]).await?;

    say("starting the GitHub simulator with the repository octo-org/shop");
    let sim = Simulator::start()
        .await
        .context("starting the GitHub simulator")?;
    sim.create_repo(REPO)
        .map_err(|e| anyhow::anyhow!(e.message))?;

    say("starting the operator (prtracker run)");
    let work = tempfile::tempdir().context("a working directory")?;
    let mut operator = Operator::start(&sim, primary, &plane.binaries().kubectl(), work.path())?;
    sim.set_webhook(&operator.webhook_url(), Some(WEBHOOK_SECRET));
    operator.wait_ready().await?;

    let trackers: Api<PullRequestTracker> = Api::namespaced(client.clone(), NAMESPACE);
    let monitors: Api<DriftMonitor> = Api::namespaced(client.clone(), NAMESPACE);
    let world = World {
        sim: &sim,
        trackers: &trackers,
        monitors: &monitors,
    };

    // 1. Opened.
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Run the shop: a kustomize base, 3 replicas in primary, 2 in secondary"
                    .into(),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let head = sim
        .pull(REPO, number)
        .and_then(|pr| pr["head"]["sha"].as_str().map(str::to_owned))
        .context("the PR's head commit")?;
    sim.set_files(REPO, &head, repository("1.4.2"))
        .map_err(|e| anyhow::anyhow!(e.message))?;
    step(&world, number, "1/7 a person opens PR #1", |s| {
        s.state == Some(PrState::Open)
    })
    .await?;

    // 2. Approved, by a person's label.
    sim.add_label(REPO, number, "state/approved", PERSON)
        .and_then(|_| sim.remove_label(REPO, number, "state/open", PERSON))
        .map_err(|e| anyhow::anyhow!(e.message))?;
    step(
        &world,
        number,
        "2/7 a reviewer labels it state/approved",
        |s| s.state == Some(PrState::Approved),
    )
    .await?;

    // 3. Merged: a monitor per target, each rendering its cluster's overlay.
    let merged = sim
        .merge_pull(REPO, number, PERSON)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    // Settled once both monitors have checked: nothing is deployed yet, so both say what is missing.
    step_with_targets(&world, number, "3/7 it is merged", |s| {
        s.state == Some(PrState::Merged)
            && s.monitors.len() == 2
            && s.monitors
                .iter()
                .all(|m| !matches!(m.phase, None | Some(DriftPhase::Pending)))
    })
    .await?;

    // 4. Deployed to both clusters, each its own overlay at the merge commit.
    for cluster in [primary, secondary] {
        deploy(&sim, &merged, cluster)?;
    }
    request_checks(&monitors).await?;
    step(
        &world,
        number,
        "4/7 CD applies each cluster's overlay (kubectl apply -k)",
        |s| s.state == Some(PrState::Deployed),
    )
    .await?;

    // 5. A hand edit in one cluster, of a field the PR set there (its overlay's 2 replicas).
    scale_by_hand(secondary, 5)?;
    request_checks(&monitors).await?;
    step(
        &world,
        number,
        "5/7 someone scales it to 5 by hand in secondary",
        |s| s.state == Some(PrState::Drifted),
    )
    .await?;

    // 6. The edit undone: CD applies the overlay again, taking the field back.
    deploy(&sim, &merged, secondary)?;
    request_checks(&monitors).await?;
    step(
        &world,
        number,
        "6/7 CD applies secondary's overlay again: the hand edit is undone",
        |s| s.state == Some(PrState::Deployed),
    )
    .await?;

    // 7. A later PR changes the same Deployment: PR #1 is not drifted by it.
    let second = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Ship the shop 1.5.0 (the base's image tag)".into(),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let second_head = sim
        .pull(REPO, second)
        .and_then(|pr| pr["head"]["sha"].as_str().map(str::to_owned))
        .context("the second PR's head commit")?;
    sim.set_files(REPO, &second_head, repository("1.5.0"))
        .map_err(|e| anyhow::anyhow!(e.message))?;
    step(
        &world,
        second,
        "7/7 PR #2 opens, to ship the shop 1.5.0: a change to the base, so to both overlays",
        |s| s.state == Some(PrState::Open),
    )
    .await?;
    let second_merged = sim
        .merge_pull(REPO, second, PERSON)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    step(&world, second, "    it is merged", |s| {
        s.state == Some(PrState::Merged)
            && s.monitors.len() == 2
            && s.monitors
                .iter()
                .all(|m| !matches!(m.phase, None | Some(DriftPhase::Pending)))
    })
    .await?;
    for cluster in [primary, secondary] {
        deploy(&sim, &second_merged, cluster)?;
    }
    request_checks(&monitors).await?;
    step(
        &world,
        second,
        "    CD applies it: PR #2 is deployed",
        |s| s.state == Some(PrState::Deployed),
    )
    .await?;
    request_checks(&monitors).await?;
    step(
        &world,
        number,
        "    PR #1 stays deployed: its image is PR #2's to watch now, not drift",
        |s| s.state == Some(PrState::Deployed),
    )
    .await?;

    println!();
    println!("demo complete in {:.0}s", started.elapsed().as_secs_f64());
    for cluster in [primary, secondary] {
        println!(
            "kubeconfig {} {}",
            cluster.name(),
            cluster.kubeconfig_path().display()
        );
    }
    println!("github {} (token {})", sim.api_url(), sim.token());
    for pr in [number, second] {
        println!("page #{pr} {}", sim.pr_page_url(REPO, pr));
    }
    if keep {
        // Listening first: a SIGTERM right after the hint must still stop everything cleanly.
        let stop = stop_signals()?;
        print_try_it(&plane, &sim, number);
        stop.await?;
    }
    operator.stop();
    drop(sim);
    drop(plane);
    say("stopped everything the demo started");
    Ok(())
}

/// What a person can do with the system the demo left running: commands to paste as they are.
fn print_try_it(plane: &ControlPlane, sim: &SimulatorHandle, number: u64) {
    let primary = plane.cluster("primary");
    let pulls = format!("{}/_sim/repos/{REPO}/pulls", sim.url());
    let json = "-H 'content-type: application/json'";
    println!();
    println!("still running; open the PRs' pages in a browser (they follow along):");
    println!("  {}", sim.pulls_page_url(REPO));
    println!("in another terminal, try:");
    println!(
        "  export KUBECONFIG={}",
        primary.kubeconfig_path().display()
    );
    // The control plane's kubectl, for a person who has none.
    println!("  export PATH={}:$PATH", plane.binaries().dir().display());
    println!("  kubectl get prt,dm -n {NAMESPACE} -w");
    println!("  # a person removes the state label; the operator puts it back:");
    println!("  curl -X DELETE {pulls}/{number}/labels/state/deployed");
    println!(
        "  curl -s -H 'Authorization: token {}' {}/repos/{REPO}/issues/{number}/labels",
        sim.token(),
        sim.api_url()
    );
    println!("  # a new PR is tracked at its first webhook:");
    println!("  curl -X POST {pulls} {json} -d '{{\"title\": \"Try it\"}}'");
    println!("Ctrl-C stops everything.");
}

/// Listens for Ctrl-C and SIGTERM now; the future ends at the first of them.
fn stop_signals() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        Ok(())
    })
}

fn say(text: &str) {
    eprintln!("· {text}");
}
