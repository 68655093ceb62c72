//! `prtracker demo`: the whole system on one machine, and a pull request's life played through it.
//!
//! It starts the project's control plane (two clusters), the GitHub simulator with a sample
//! repository, and the operator (this binary's `run`); then opens a PR, approves it as a person
//! would, merges it, deploys it to both clusters, edits one cluster by hand (drift) and undoes the
//! edit, printing at each step the PR's labels beside the tracker's state and each monitor's verdict.

use std::{
    io::Write,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{DriftMonitor, DriftPhase, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::{NewPull, Simulator, SimulatorHandle};
use prtracker_testenv::{Cluster, ControlPlane, ControlPlaneConfig};

const REPO: &str = "octo-org/shop";
const NAMESPACE: &str = "prtracker-demo";
const APP_NAMESPACE: &str = "shop";
const PERSON: &str = "octocat";
const WEBHOOK_SECRET: &str = "demo-webhook-secret";
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
    let mut operator = Operator::start(&sim, primary, work.path())?;
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
                title: "Run the shop with three replicas".into(),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let head = sim
        .pull(REPO, number)
        .and_then(|pr| pr["head"]["sha"].as_str().map(str::to_owned))
        .context("the PR's head commit")?;
    sim.set_files(
        REPO,
        &head,
        [("deploy/shop.yaml", manifests(3).into_bytes())],
    )
    .map_err(|e| anyhow::anyhow!(e.message))?;
    step(&world, number, "1/6 a person opens PR #1", |s| {
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
        "2/6 a reviewer labels it state/approved",
        |s| s.state == Some(PrState::Approved),
    )
    .await?;

    // 3. Merged: a monitor per cluster.
    sim.merge_pull(REPO, number, PERSON)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    // Settled once both monitors have checked: nothing is deployed yet, so both say what is missing.
    step(&world, number, "3/6 it is merged", |s| {
        s.state == Some(PrState::Merged)
            && s.monitors.len() == 2
            && s.monitors
                .iter()
                .all(|m| !matches!(m.phase, None | Some(DriftPhase::Pending)))
    })
    .await?;

    // 4. Deployed to both clusters.
    for cluster in [primary, secondary] {
        kubectl_apply(cluster, &manifests(3))?;
    }
    request_checks(&monitors).await?;
    step(&world, number, "4/6 CD applies it to both clusters", |s| {
        s.state == Some(PrState::Deployed)
    })
    .await?;

    // 5. A hand edit in one cluster.
    kubectl_apply(secondary, &manifests(5))?;
    request_checks(&monitors).await?;
    step(
        &world,
        number,
        "5/6 someone scales it to 5 by hand in secondary",
        |s| s.state == Some(PrState::Drifted),
    )
    .await?;

    // 6. The edit undone.
    kubectl_apply(secondary, &manifests(3))?;
    request_checks(&monitors).await?;
    step(&world, number, "6/6 the hand edit is undone", |s| {
        s.state == Some(PrState::Deployed)
    })
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
    println!("still running; in another terminal, try:");
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

/// The manifests the PR changes: a Deployment and its ConfigMap.
fn manifests(replicas: u32) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
  namespace: {APP_NAMESPACE}
data:
  checkout: enabled
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {APP_NAMESPACE}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      containers:
        - name: shop
          image: registry.example/shop:1.4.2
"
    )
}

/// The demo's namespace, the app's namespace in both clusters, and the Secret that makes
/// `secondary` reachable as a target cluster.
async fn prepare_clusters(client: &Client, clusters: &[&Cluster]) -> anyhow::Result<()> {
    let mut namespaces = vec![(client.clone(), NAMESPACE)];
    for cluster in clusters {
        namespaces.push((cluster.client()?, APP_NAMESPACE));
    }
    for (client, name) in namespaces {
        let api: Api<Namespace> = Api::all(client);
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(name.to_owned());
        api.create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
    }
    let secondary = clusters
        .iter()
        .find(|c| c.name() == "secondary")
        .context("a secondary cluster")?;
    let kubeconfig =
        std::fs::read_to_string(secondary.kubeconfig_path()).context("reading a kubeconfig")?;
    let mut secret = Secret::default();
    secret.metadata.name = Some("cluster-secondary".into());
    secret.metadata.labels =
        Some([("prtracker.io/cluster".to_owned(), "secondary".to_owned())].into());
    secret.string_data = Some([("kubeconfig".to_owned(), kubeconfig)].into());
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .context("creating the secondary cluster's Secret")?;
    Ok(())
}

/// What a CD system does: apply the manifests, as its own field manager.
fn kubectl_apply(cluster: &Cluster, yaml: &str) -> anyhow::Result<()> {
    let mut child = cluster
        .kubectl()
        .args(["apply", "--server-side", "--field-manager=cd", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running kubectl")?;
    child
        .stdin
        .take()
        .context("kubectl's stdin")?
        .write_all(yaml.as_bytes())
        .context("writing to kubectl")?;
    if !child.wait().context("waiting for kubectl")?.success() {
        bail!("kubectl apply to {} failed", cluster.name());
    }
    Ok(())
}

/// Asks every monitor to check now rather than at its next interval.
async fn request_checks(monitors: &Api<DriftMonitor>) -> anyhow::Result<()> {
    let stamp = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    for monitor in monitors.list(&Default::default()).await?.items {
        let patch = serde_json::json!({ "metadata": { "annotations": { "prtracker.io/check-requested": stamp } } });
        monitors
            .patch(
                &monitor.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
    }
    Ok(())
}

struct World<'a> {
    sim: &'a SimulatorHandle,
    trackers: &'a Api<PullRequestTracker>,
    monitors: &'a Api<DriftMonitor>,
}

/// What one look at both sides shows.
struct Snapshot {
    labels: Vec<String>,
    state: Option<PrState>,
    monitors: Vec<MonitorView>,
}

/// One monitor as the demo shows it: its cluster, verdict, and what differs.
struct MonitorView {
    cluster: String,
    phase: Option<DriftPhase>,
    drift: Vec<String>,
}

impl MonitorView {
    fn of(monitor: DriftMonitor) -> Self {
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
            phase: status.phase,
            drift,
        }
    }
}

impl Snapshot {
    async fn take(world: &World<'_>, number: u64) -> anyhow::Result<Self> {
        let labels = world
            .sim
            .pull_labels(REPO, number)
            .map_err(|e| anyhow::anyhow!(e.message))?
            .into_iter()
            .filter(|l| l.starts_with("state/"))
            .collect();
        let state = world
            .trackers
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .find(|t| t.spec.number == number)
            .and_then(|t| t.status.and_then(|s| s.state));
        let mut monitors: Vec<_> = world
            .monitors
            .list(&Default::default())
            .await?
            .items
            .into_iter()
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
    fn line(&self) -> String {
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
async fn step(
    world: &World<'_>,
    number: u64,
    title: &str,
    done: impl Fn(&Snapshot) -> bool,
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
            for monitor in &snapshot.monitors {
                if !monitor.drift.is_empty() {
                    println!(
                        "     drift in {}: {}",
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

/// The operator, this binary's `run`, as a child process.
struct Operator {
    child: Child,
    port: u16,
}

impl Operator {
    fn start(
        sim: &SimulatorHandle,
        cluster: &Cluster,
        dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let token = dir.join("github-token");
        let secret = dir.join("webhook-secret");
        std::fs::write(&token, sim.token())?;
        std::fs::write(&secret, WEBHOOK_SECRET)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.join("operator.log"))?;
        let child = Command::new(std::env::current_exe().context("finding this binary")?)
            .arg("run")
            .arg(format!("--github-api-url={}", sim.api_url()))
            .arg(format!("--github-token-file={}", token.display()))
            .arg(format!("--webhook-secret-file={}", secret.display()))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--namespace={NAMESPACE}"))
            .arg(format!("--cluster-secrets-namespace={NAMESPACE}"))
            .arg(format!("--track-repo={REPO}"))
            .arg("--default-clusters=in-cluster,secondary")
            .arg("--manifests-path=deploy")
            .arg("--resync-interval=30s")
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting prtracker run")?;
        Ok(Self { child, port })
    }

    fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.port)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the operator exited during start-up ({status})");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the operator did not start listening within a minute");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(25);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
