//! Starting and stopping etcd and the kube-apiservers of one test control plane.

mod apiserver;
mod stand_in;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client, Config,
    api::{Patch, PatchParams},
    runtime::wait::{await_condition, conditions},
};

pub use stand_in::StandInApiserver;

use crate::{
    HarnessError,
    binaries::Binaries,
    certs::Pki,
    process::{ManagedProcess, free_port},
    supervisor::Supervisor,
};

/// How long a process may take to become ready. Generous: CI machines are shared and slow.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How many times start-up is tried afresh when a port turned out to be taken.
const START_ATTEMPTS: usize = 3;
/// The field manager the harness applies CRDs with.
const FIELD_MANAGER: &str = "prtracker-testenv";

/// What to start.
#[derive(Clone, Debug)]
pub struct ControlPlaneConfig {
    /// One kube-apiserver per name; each is a separate cluster (its own etcd prefix).
    pub clusters: Vec<String>,
    /// Install prtracker's CRDs in every cluster and wait until they are Established.
    pub install_crds: bool,
    /// Run a kube-controller-manager per cluster with only the garbage collector and the namespace
    /// controller: owned objects go with their owner, and namespaces can be deleted. An apiserver
    /// alone does neither.
    pub garbage_collection: bool,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        Self {
            clusters: vec!["primary".to_owned()],
            install_crds: true,
            garbage_collection: true,
        }
    }
}

/// One cluster: a kube-apiserver, and how to reach it.
pub struct Cluster {
    name: String,
    url: String,
    kubeconfig: PathBuf,
    config: Config,
    /// Behind a lock so that a test holding the shared `&'static ControlPlane` can stop and start it.
    apiserver: Mutex<ManagedProcess>,
    /// The flags it was started with, and so is started again with.
    apiserver_args: Vec<String>,
    controller_manager: Option<ManagedProcess>,
    kubectl: PathBuf,
}

impl Cluster {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig file with admin credentials for this cluster.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The client configuration, for callers that want their own `Client` settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new admin client. Call it inside the tokio runtime that will use it: a client's connections
    /// belong to the runtime it was made in, and each `#[tokio::test]` has its own.
    pub fn client(&self) -> Result<Client, HarnessError> {
        Client::try_from(self.config.clone()).map_err(HarnessError::Client)
    }

    /// `kubectl`, built with the control plane, pointed at this cluster.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(&self.kubectl);
        command.env("KUBECONFIG", &self.kubeconfig);
        command
    }

    /// The process id of this cluster's kube-apiserver (to measure it, or to kill it in a test); once
    /// it is stopped, the id it had.
    pub fn apiserver_pid(&self) -> u32 {
        lock(&self.apiserver).pid()
    }
}

/// etcd and one or more kube-apiservers on loopback, stopped (and their directory removed) on drop,
/// or by the supervisor if the process dies first.
pub struct ControlPlane {
    root: PathBuf,
    binaries: Binaries,
    etcd: ManagedProcess,
    etcd_url: String,
    /// Kept to write kubeconfigs for apiservers started later (stand-ins).
    pki: Pki,
    clusters: Vec<Cluster>,
    supervisor: Mutex<Supervisor>,
}

impl ControlPlane {
    /// Starts etcd and the apiservers, waits until each is ready, and installs the CRDs.
    pub async fn start(config: ControlPlaneConfig) -> Result<Self, HarnessError> {
        if config.clusters.is_empty() {
            return Err(HarnessError::Config(
                "a control plane needs at least one cluster".into(),
            ));
        }
        let binaries = Binaries::locate()?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binaries, &config).await {
                Ok(plane) => return Ok(plane),
                // A taken port makes a process exit at once; anything else will not get better.
                Err(error @ HarnessError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error
            .unwrap_or_else(|| HarnessError::Config("no start-up attempt was made".into())))
    }

    async fn start_once(
        binaries: &Binaries,
        config: &ControlPlaneConfig,
    ) -> Result<Self, HarnessError> {
        let root = tempfile::Builder::new()
            .prefix("prtracker-testenv-")
            .tempdir()
            .map_err(|source| HarnessError::Io {
                what: "creating the control plane's directory".into(),
                source,
            })?
            .keep();
        let mut supervisor = Supervisor::start(&root)?;
        let pki = Pki::generate()?;
        let pki_dir = root.join("pki");
        write_pki(&pki_dir, &pki)?;

        let (etcd, etcd_url) = start_etcd(binaries, &root, &mut supervisor)?;
        let mut plane = Self {
            root,
            binaries: binaries.clone(),
            etcd,
            etcd_url,
            pki,
            clusters: Vec::new(),
            supervisor: Mutex::new(supervisor),
        };
        wait_for_etcd(&mut plane.etcd, &plane.etcd_url).await?;

        // Start every apiserver before waiting for any: they boot in parallel.
        for name in &config.clusters {
            let cluster = plane.start_apiserver(name).await?;
            plane.clusters.push(cluster);
        }
        for cluster in &plane.clusters {
            apiserver::wait_until_ready(&cluster.name, &cluster.client()?, &cluster.apiserver)
                .await?;
            if config.install_crds {
                install_crds(&cluster.client()?, &prtracker_api::crds()).await?;
            }
        }
        if config.garbage_collection {
            for index in 0..plane.clusters.len() {
                plane.start_controller_manager(index)?;
            }
        }
        Ok(plane)
    }

    fn start_controller_manager(&mut self, index: usize) -> Result<(), HarnessError> {
        let cluster = &self.clusters[index];
        let mut command = Command::new(self.binaries.kube_controller_manager());
        let pki_file = |file: &str| self.root.join("pki").join(file).display().to_string();
        command.args([
            format!("--kubeconfig={}", cluster.kubeconfig.display()),
            // The token controller fills service-account-token Secrets, as deploy/target-cluster/
            // relies on in a real cluster.
            "--controllers=garbagecollector,namespace,serviceaccount-token".to_owned(),
            format!(
                "--service-account-private-key-file={}",
                pki_file("service-account.key")
            ),
            format!("--root-ca-file={}", pki_file("ca.crt")),
            "--leader-elect=false".to_owned(),
            // Nothing scrapes it: no port to find, no serving certificate to make.
            "--secure-port=0".to_owned(),
            "--use-service-account-credentials=false".to_owned(),
        ]);
        let log = self
            .root
            .join("clusters")
            .join(&cluster.name)
            .join("kube-controller-manager.log");
        let name = format!("kube-controller-manager {}", cluster.name);
        let mut process = ManagedProcess::spawn(
            &name,
            command,
            log,
            self.supervisor
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        )?;
        process.check_alive()?;
        self.clusters[index].controller_manager = Some(process);
        Ok(())
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster of that name; panics if there is none, as a test that asks for one it did not
    /// start is wrong.
    pub fn cluster(&self, name: &str) -> &Cluster {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("the control plane has no cluster named {name:?}"))
    }

    /// The first cluster.
    pub fn primary(&self) -> &Cluster {
        &self.clusters[0]
    }

    /// The directory holding the PKI, logs, kubeconfigs and etcd's data; removed on drop.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// The process ids of etcd, every apiserver and every controller-manager.
    pub fn pids(&self) -> Vec<u32> {
        std::iter::once(self.etcd.pid())
            .chain(self.clusters.iter().map(Cluster::apiserver_pid))
            .chain(
                self.clusters
                    .iter()
                    .filter_map(|c| c.controller_manager.as_ref().map(ManagedProcess::pid)),
            )
            .collect()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let supervisor = self
            .supervisor
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for cluster in &mut self.clusters {
            if let Some(controller_manager) = cluster.controller_manager.as_mut() {
                controller_manager.stop(supervisor);
            }
            cluster
                .apiserver
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .stop(supervisor);
        }
        self.etcd.stop(supervisor);
        supervisor.finish();
        // The supervisor removes the directory; this covers a supervisor that could not run.
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A lock that a panic elsewhere did not spoil: a process handle stays usable after a test panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_file(path: &Path, contents: &str) -> Result<(), HarnessError> {
    fs::write(path, contents).map_err(|source| HarnessError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

fn write_pki(dir: &Path, pki: &Pki) -> Result<(), HarnessError> {
    fs::create_dir_all(dir).map_err(|source| HarnessError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    write_file(&dir.join("ca.crt"), &pki.ca_cert)?;
    write_file(&dir.join("serving.crt"), &pki.serving_cert)?;
    write_file(&dir.join("serving.key"), &pki.serving_key)?;
    write_file(&dir.join("service-account.key"), &pki.service_account_key)?;
    write_file(
        &dir.join("service-account.pub"),
        &pki.service_account_public_key,
    )
}

fn start_etcd(
    binaries: &Binaries,
    root: &Path,
    supervisor: &mut Supervisor,
) -> Result<(ManagedProcess, String), HarnessError> {
    let client_port = free_port()?;
    let peer_port = free_port()?;
    let url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut command = Command::new(binaries.etcd());
    command.args([
        "--name=testenv".to_owned(),
        format!("--data-dir={}", root.join("etcd").display()),
        format!("--listen-client-urls={url}"),
        format!("--advertise-client-urls={url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=testenv={peer_url}"),
        // Test data is thrown away: durability would only cost time on a shared disk.
        "--unsafe-no-fsync=true".to_owned(),
        "--log-level=warn".to_owned(),
    ]);
    let process = ManagedProcess::spawn("etcd", command, root.join("etcd.log"), supervisor)?;
    Ok((process, url))
}

async fn wait_for_etcd(etcd: &mut ManagedProcess, url: &str) -> Result<(), HarnessError> {
    let address = url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        etcd.check_alive()?;
        if tokio::net::TcpStream::connect(&address).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HarnessError::NotReady {
                what: "etcd".into(),
                waited: READY_TIMEOUT,
                log_tail: etcd.log_tail(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Applies the CRDs (server-side, so installing twice is harmless) and waits until the apiserver
/// serves them.
pub async fn install_crds(
    client: &Client,
    crds: &[CustomResourceDefinition],
) -> Result<(), HarnessError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(crd),
        )
        .await
        .map_err(|e| HarnessError::Crd {
            name: name.clone(),
            source: e,
        })?;
    }
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        tokio::time::timeout(
            READY_TIMEOUT,
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .map_err(|_| HarnessError::NotReady {
            what: format!("CRD {name}"),
            waited: READY_TIMEOUT,
            log_tail: String::new(),
        })?
        .map_err(|e| HarnessError::Config(format!("watching CRD {name}: {e}")))?;
    }
    Ok(())
}
