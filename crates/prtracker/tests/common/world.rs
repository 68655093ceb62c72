//! One operator (or two replicas) against its own simulator, namespace and app namespace, with
//! two clusters (`in-cluster` and `secondary`): what the drift and PR-surface tests share. A CD
//! system is played by `kubectl apply --server-side --field-manager=cd`.

use std::{
    cell::RefCell,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    coordination::v1::Lease,
    core::v1::{Namespace, Secret},
};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{DriftMonitor, DriftPhase, PullRequestTracker};
use prtracker_domain::PrState;
use prtracker_github_sim::{AppConfig, NewPull, SimConfig, Simulator, SimulatorHandle};
use prtracker_testenv::{shared, test_namespace};
use serde_json::json;

use super::{
    KillOnDrop, OPERATOR_NAMESPACE, eventually, free_port, operator_kubeconfig, state_labels,
};

pub const REPO: &str = "octo-org/shop";
pub const PERSON: &str = "octocat";
pub const CLUSTERS: [&str; 2] = ["primary", "secondary"];
/// The GitHub App the operator acts as, with `Options::app`.
pub const APP_ID: u64 = 4_242;

/// A fresh App key pair: the private half written to `dir/app.pem` for the operator, the public
/// half returned for the simulator, which verifies the App's JWTs with it.
fn app_key(dir: &Path) -> String {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("an RSA key");
    let private = key.to_pkcs1_pem(LineEnding::LF).expect("PEM");
    std::fs::write(dir.join("app.pem"), private.as_bytes()).expect("key file");
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM")
}

/// The app as the base branch holds it before the tests' PRs.
pub struct App {
    pub namespace: String,
    pub replicas: u32,
    pub image: &'static str,
    pub setting: &'static str,
    /// Whether the `extra` ConfigMap is there.
    pub extra: bool,
}

impl App {
    pub fn base(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            replicas: 2,
            image: "registry.example/shop:1.0",
            setting: "1",
            extra: true,
        }
    }

    pub fn yaml(&self) -> String {
        let ns = &self.namespace;
        let mut yaml = format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  mode: \"{setting}\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      containers:
        - name: app
          image: {image}
",
            setting = self.setting,
            replicas = self.replicas,
            image = self.image,
        );
        if self.extra {
            yaml.push_str(&format!(
                "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: {ns}
data:
  note: kept
"
            ));
        }
        yaml
    }

    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        vec![("deploy/app.yaml".to_owned(), self.yaml().into_bytes())]
    }
}

/// How the operator runs in a test.
#[derive(Default)]
pub struct Options {
    pub settle: Option<&'static str>,
    /// The monitors' check interval (30s unless given).
    pub monitor_interval: Option<&'static str>,
    pub ignore_file: Option<String>,
    /// Authenticate as a GitHub App (the simulator knows its public key) instead of a token.
    pub app: bool,
    /// More flags of `prtracker run`.
    pub flags: Vec<&'static str>,
    /// Two replicas electing a leader through a Lease, instead of one.
    pub two_replicas: bool,
    /// Targets, a kustomize overlay per cluster (`deploy/overlays/primary` for in-cluster,
    /// `deploy/overlays/secondary`), built with the control plane's kubectl, instead of one path.
    pub overlays: bool,
    /// With `overlays`, this kustomize instead of the control plane's kubectl.
    pub kustomize: Option<PathBuf>,
    /// Targets, one Helm chart (`deploy/chart`) with a values file per cluster
    /// (`deploy/values/primary.yaml`, `deploy/values/secondary.yaml`), rendered with the control
    /// plane's helm, instead of one path.
    pub chart: bool,
}

/// One running `prtracker run`.
pub struct Operator {
    pub name: String,
    pub port: u16,
    process: KillOnDrop,
}

impl Operator {
    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook", self.port)
    }
}

pub struct World {
    pub sim: SimulatorHandle,
    pub namespace: String,
    pub app_namespace: String,
    /// The second cluster's name (one per test).
    pub secondary: String,
    pub trackers: Api<PullRequestTracker>,
    pub monitors: Api<DriftMonitor>,
    pub dir: tempfile::TempDir,
    /// The flags every replica runs with, and its kubeconfig.
    launch: (Vec<String>, PathBuf),
    pub operators: RefCell<Vec<Operator>>,
    commits: std::cell::Cell<u32>,
}

impl World {
    pub async fn start(prefix: &str, options: Options) -> World {
        let client: Client = shared().primary().client().expect("client");
        let namespace = test_namespace(&client, prefix).await.expect("namespace");
        let app_namespace = format!("{namespace}-app");
        for cluster in CLUSTERS {
            let namespaces: Api<Namespace> =
                Api::all(shared().cluster(cluster).client().expect("client"));
            let mut ns = Namespace::default();
            ns.metadata.name = Some(app_namespace.clone());
            namespaces
                .create(&PostParams::default(), &ns)
                .await
                .expect("app namespace");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // deploy/ applied (its namespace holds the cluster Secrets), and the operator's identity.
        let kubeconfig_path = operator_kubeconfig(dir.path());
        // The secondary cluster, reached through its Secret (one per test: the name is the test's).
        let secondary = format!(
            "secondary-{}",
            &namespace[namespace.len().saturating_sub(5)..]
        );
        let kubeconfig = std::fs::read_to_string(shared().cluster("secondary").kubeconfig_path())
            .expect("kubeconfig");
        let mut secret = Secret::default();
        secret.metadata.name = Some(format!("cluster-{secondary}"));
        secret.metadata.labels =
            Some([("prtracker.io/cluster".to_owned(), secondary.clone())].into());
        secret.string_data = Some([("kubeconfig".to_owned(), kubeconfig)].into());
        Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE)
            .create(&PostParams::default(), &secret)
            .await
            .expect("cluster Secret");

        let sim = if options.app {
            Simulator::start_with(SimConfig {
                app: Some(AppConfig {
                    app_id: APP_ID,
                    slug: "prtracker".into(),
                    installation_id: 7_001,
                    public_key_pem: Some(app_key(dir.path())),
                }),
                ..SimConfig::default()
            })
            .await
            .expect("simulator")
        } else {
            Simulator::start().await.expect("simulator")
        };
        sim.create_repo(REPO).expect("repository");
        let base = App::base(&app_namespace);
        sim.push_commit(REPO, "main", &sha(0, 1), base.files())
            .expect("base commit");
        for cluster in CLUSTERS {
            apply(cluster, &base.yaml(), "cd");
        }

        std::fs::write(dir.path().join("token"), sim.token()).expect("token");
        std::fs::write(dir.path().join("secret"), "s3cret").expect("secret");
        let credentials = if options.app {
            vec![
                format!("--github-app-id={APP_ID}"),
                format!(
                    "--github-app-private-key-file={}",
                    dir.path().join("app.pem").display()
                ),
            ]
        } else {
            vec![format!(
                "--github-token-file={}",
                dir.path().join("token").display()
            )]
        };
        let mut args: Vec<String> = [
            "run".to_owned(),
            format!("--github-api-url={}", sim.api_url()),
            format!(
                "--webhook-secret-file={}",
                dir.path().join("secret").display()
            ),
            format!("--namespace={namespace}"),
            format!("--cluster-secrets-namespace={OPERATOR_NAMESPACE}"),
            format!("--track-repo={REPO}"),
            "--resync-interval=10s".to_owned(),
            format!(
                "--monitor-interval={}",
                options.monitor_interval.unwrap_or("30s")
            ),
            format!("--settle-window={}", options.settle.unwrap_or("0s")),
        ]
        .into_iter()
        .chain(credentials)
        .chain(if options.chart {
            vec![
                "--target=in-cluster=deploy/chart:deploy/values/primary.yaml".to_owned(),
                format!("--target={secondary}=deploy/chart:deploy/values/secondary.yaml"),
                format!(
                    "--helm={}",
                    shared()
                        .binaries()
                        .helm()
                        .unwrap_or_else(|e| panic!("{e}"))
                        .display()
                ),
            ]
        } else if options.overlays {
            vec![
                "--target=in-cluster=deploy/overlays/primary".to_owned(),
                format!("--target={secondary}=deploy/overlays/secondary"),
                format!(
                    "--kustomize={}",
                    options
                        .kustomize
                        .clone()
                        .unwrap_or_else(|| shared().binaries().kubectl())
                        .display()
                ),
            ]
        } else {
            vec![
                format!("--default-clusters=in-cluster,{secondary}"),
                "--manifests-path=deploy".to_owned(),
            ]
        })
        .chain(options.flags.iter().map(|f| (*f).to_owned()))
        .collect();
        if let Some(rules) = &options.ignore_file {
            let path = dir.path().join("ignore.yaml");
            std::fs::write(&path, rules).expect("rules");
            args.push(format!("--ignore-differences-file={}", path.display()));
        }
        if options.two_replicas {
            // deploy/ grants Leases in the operator's own namespace only; one Lease per test.
            args.extend([
                "--leader-elect".to_owned(),
                // Long enough that a renewal late by a few seconds on a loaded machine keeps the
                // lease; a replica that loses it exits.
                "--lease-duration=10s".to_owned(),
                format!("--lease-namespace={OPERATOR_NAMESPACE}"),
                format!("--lease-name=e2e-{namespace}"),
            ]);
        }
        let world = World {
            sim,
            trackers: Api::namespaced(client.clone(), &namespace),
            monitors: Api::namespaced(client, &namespace),
            namespace,
            app_namespace,
            secondary,
            dir,
            launch: (args, kubeconfig_path),
            operators: RefCell::new(Vec::new()),
            commits: std::cell::Cell::new(1),
        };
        let names: &[&str] = if options.two_replicas {
            &["replica-a", "replica-b"]
        } else {
            &["operator"]
        };
        for name in names {
            world.start_operator(name);
        }
        let first = world.operators.borrow()[0].webhook_url();
        world.sim.set_webhook(&first, Some("s3cret"));
        world
    }

    /// One sample of the first replica's `/metrics` (a family without labels, or a whole sample
    /// with them); 0 when absent.
    pub async fn operator_metric(&self, sample: &str) -> f64 {
        let port = self.operators.borrow()[0].port;
        super::operator_metric_at(port, sample).await
    }

    /// The process id of the first replica.
    pub fn operator_pid(&self) -> Option<u32> {
        self.operators.borrow().first().map(|o| o.process.0.id())
    }

    /// Starts one more replica, named `name` (its log is `name.log`).
    pub fn start_operator(&self, name: &str) {
        let process = self.spawn_operator(name, free_port());
        self.operators.borrow_mut().push(process);
    }

    /// Starts again, on the same port, each replica whose process has ended, as a Deployment's
    /// pods are restarted: a replica that lost the Lease exits by design (so that two never
    /// write), and on a loaded machine a renewal can come late. Returns the restarted names.
    pub fn restart_exited_operators(&self) -> Vec<String> {
        let exited: Vec<(String, u16)> = self
            .operators
            .borrow_mut()
            .iter_mut()
            .filter_map(|o| {
                matches!(o.process.0.try_wait(), Ok(Some(_))).then(|| (o.name.clone(), o.port))
            })
            .collect();
        for (name, port) in &exited {
            let restarted = self.spawn_operator(name, *port);
            let mut operators = self.operators.borrow_mut();
            if let Some(slot) = operators.iter_mut().find(|o| &o.name == name) {
                *slot = restarted;
            }
        }
        exited.into_iter().map(|(name, _)| name).collect()
    }

    fn spawn_operator(&self, name: &str, port: u16) -> Operator {
        // Appended to, so that a restarted replica's log follows the one that exited.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))
            .expect("log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_prtracker"));
        command
            .args(&self.launch.0)
            .arg(format!("--listen=127.0.0.1:{port}"))
            .env("KUBECONFIG", &self.launch.1)
            .env("POD_NAME", name)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        Operator {
            name: name.to_owned(),
            port,
            process: KillOnDrop(command.spawn().expect("prtracker runs")),
        }
    }

    /// Stops the replica named `name`, as a killed pod stops.
    pub fn stop_operator(&self, name: &str) {
        self.operators.borrow_mut().retain(|o| o.name != name);
    }

    /// The replica holding the Lease, with two replicas; replicas that exited are restarted
    /// first, as their pods would be.
    pub async fn leader(&self) -> Option<String> {
        for name in self.restart_exited_operators() {
            eprintln!("{name} had exited (see {name}.log): restarted, as its pod would be");
        }
        let leases: Api<Lease> = Api::namespaced(
            shared().primary().client().expect("client"),
            OPERATOR_NAMESPACE,
        );
        leases
            .get_opt(&format!("e2e-{}", self.namespace))
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec.and_then(|s| s.holder_identity))
            .filter(|h| !h.is_empty())
    }

    pub fn app(&self) -> App {
        App::base(&self.app_namespace)
    }

    pub fn next_sha(&self, kind: u32) -> String {
        let n = self.commits.get() + 1;
        self.commits.set(n);
        sha(kind, n)
    }

    /// A PR whose head holds `app`, merged: its number and merge commit.
    pub async fn merged_pr(&self, title: &str, app: &App) -> (u64, String) {
        self.merged_pr_with(title, app.files()).await
    }

    /// A PR whose head holds `app`, merged, applied by CD to both clusters, checked, and
    /// `state/deployed`: its number.
    pub async fn deployed_pr(&self, title: &str, app: &App) -> u64 {
        let (number, _) = self.merged_pr(title, app).await;
        apply_everywhere(&app.yaml());
        // The first check after the apply is asked for (a watch follows only what was checked).
        self.check_now(number).await;
        self.wait_for_state(number, PrState::Deployed).await;
        number
    }

    /// Creates `count` DriftMonitors outside any tracker (tracker `bulk`), named `PREFIX-N`, each
    /// with `spec_of(N)`, 16 at a time.
    pub async fn create_monitors(
        &self,
        prefix: &str,
        count: usize,
        spec_of: impl Fn(usize) -> prtracker_api::DriftMonitorSpec,
    ) {
        use futures::{StreamExt, stream};
        let created: Vec<Result<DriftMonitor, kube::Error>> = stream::iter(0..count)
            .map(|n| {
                let mut spec = spec_of(n);
                spec.tracker = "bulk".to_owned();
                let monitor = DriftMonitor::new(&format!("{prefix}-{n}"), spec);
                let monitors = self.monitors.clone();
                async move { monitors.create(&PostParams::default(), &monitor).await }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        for result in created {
            result.expect("monitor created");
        }
    }

    /// A PR whose head holds `files`, merged: its number and merge commit.
    pub async fn merged_pr_with(
        &self,
        title: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> (u64, String) {
        let head = self.next_sha(1);
        self.sim.set_files(REPO, &head, files).expect("head files");
        let number = self
            .sim
            .create_pull(
                REPO,
                NewPull {
                    title: title.into(),
                    head_sha: Some(head),
                    ..Default::default()
                },
            )
            .expect("PR");
        self.wait_for_state(number, PrState::Open).await;
        let merge = self.next_sha(2);
        self.sim
            .merge_pull_as(REPO, number, PERSON, Some(&merge))
            .expect("merge");
        self.wait_for_state(number, PrState::Merged).await;
        (number, merge)
    }

    pub async fn tracker(&self, number: u64) -> Option<PullRequestTracker> {
        self.trackers
            .list(&Default::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|t| t.spec.number == number)
    }

    pub async fn state(&self, number: u64) -> Option<PrState> {
        self.tracker(number).await?.status?.state
    }

    pub async fn wait_for_state(&self, number: u64, state: PrState) {
        eventually(
            &format!("#{number} {state}, on the PR too"),
            Duration::from_secs(60),
            || async {
                (self.state(number).await == Some(state)
                    && state_labels(&self.sim, REPO, number) == [format!("state/{}", state.name())])
                .then_some(())
            },
        )
        .await;
    }

    /// The monitors of PR `number`.
    pub async fn monitors_of(&self, number: u64) -> Vec<DriftMonitor> {
        let Some(tracker) = self.tracker(number).await else {
            return Vec::new();
        };
        self.monitors
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.spec.tracker == tracker.name_any())
            .collect()
    }

    pub async fn phases(&self, number: u64) -> Vec<Option<DriftPhase>> {
        self.monitors_of(number)
            .await
            .iter()
            .map(|m| m.status.as_ref().and_then(|s| s.phase))
            .collect()
    }

    /// Asks PR `number`'s monitors to check now, and waits until both have (a monitor that has
    /// stopped checking for good answers nothing).
    pub async fn check_now(&self, number: u64) {
        let names: Vec<_> = self
            .monitors_of(number)
            .await
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        let stamp = format!("{:?}", Instant::now());
        for name in &names {
            let patch =
                json!({ "metadata": { "annotations": { "prtracker.io/check-requested": stamp } } });
            self.monitors
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("annotated");
        }
        eventually("the checks asked for", Duration::from_secs(60), || async {
            let now = self.monitors_of(number).await;
            names
                .iter()
                .all(|name| {
                    now.iter().find(|m| &m.name_any() == name).is_some_and(|m| {
                        is_final(m)
                            || m.status
                                .as_ref()
                                .and_then(|s| s.answered_check_request.as_deref())
                                == Some(stamp.as_str())
                    })
                })
                .then_some(())
        })
        .await;
    }

    pub async fn wait_for_phases(&self, number: u64, phase: DriftPhase) {
        eventually(
            &format!("#{number}'s monitors {phase:?}"),
            Duration::from_secs(90),
            || async {
                let phases = self.phases(number).await;
                (phases.len() == 2 && phases.iter().all(|p| *p == Some(phase))).then_some(())
            },
        )
        .await;
    }

    pub fn log(&self) -> PathBuf {
        let name = self
            .operators
            .borrow()
            .first()
            .map_or_else(|| "operator".to_owned(), |o| o.name.clone());
        self.dir.path().join(format!("{name}.log"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the monitors said, read with kubectl (no runtime is at hand in a drop).
            let output = shared()
                .primary()
                .kubectl()
                .args(["get", "dm,prt", "-n", &self.namespace, "-o", "yaml"])
                .output();
            if let Ok(output) = output {
                eprintln!("--- monitors and trackers of {} ---", self.namespace);
                eprintln!("{}", String::from_utf8_lossy(&output.stdout));
            }
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- operator log of {} (last lines) ---", self.namespace);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

pub fn last_check(monitor: &DriftMonitor) -> Option<String> {
    monitor
        .status
        .as_ref()
        .and_then(|s| s.last_check_time.as_ref())
        .map(|t| t.0.to_string())
}

pub fn is_final(monitor: &DriftMonitor) -> bool {
    monitor
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(DriftPhase::is_final)
}

/// A commit sha of the test's own: kind and number, padded to 40 hex digits.
pub fn sha(kind: u32, n: u32) -> String {
    format!("{kind:08x}{n:032x}")
}

/// What a CD system (or a person, as another manager) does: server-side apply.
pub fn apply(cluster: &str, yaml: &str, manager: &str) {
    super::server_side_apply(
        shared().cluster(cluster),
        &["--force-conflicts", &format!("--field-manager={manager}")],
        yaml,
    );
}

pub fn apply_everywhere(yaml: &str) {
    for cluster in CLUSTERS {
        apply(cluster, yaml, "cd");
    }
}

/// A hand edit of the Deployment's replicas in one cluster, as `manager`.
pub fn scale(cluster: &str, namespace: &str, replicas: u32, manager: &str) {
    apply(
        cluster,
        &format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {namespace}
spec:
  replicas: {replicas}
"
        ),
        manager,
    );
}

pub fn delete(cluster: &str, namespace: &str, kind: &str, name: &str) {
    let status = shared()
        .cluster(cluster)
        .kubectl()
        .args(["delete", "-n", namespace, kind, name, "--wait=true"])
        .stdout(Stdio::null())
        .status()
        .expect("kubectl runs");
    assert!(
        status.success(),
        "kubectl delete {kind}/{name} in {cluster}"
    );
}

/// Every label the PR ever carried, as the webhooks told it.
pub fn label_history(sim: &SimulatorHandle, number: u64) -> Vec<String> {
    sim.deliveries()
        .iter()
        .filter(|d| d.event == "pull_request" && d.payload()["number"].as_u64() == Some(number))
        .filter_map(|d| d.payload()["label"]["name"].as_str().map(str::to_owned))
        .collect()
}
