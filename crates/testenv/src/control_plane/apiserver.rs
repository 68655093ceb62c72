//! A cluster's kube-apiserver: its flags, its start, its readiness, and stopping and starting it
//! again while the rest of the control plane runs on.

use std::{
    fs,
    path::Path,
    process::Command,
    sync::Mutex,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};

use super::{Cluster, ControlPlane, READY_TIMEOUT, lock, write_file};
use crate::{
    HarnessError,
    certs::Pki,
    process::{ManagedProcess, free_port},
};

/// Where one apiserver listens and keeps its files.
pub(super) struct Placement<'a> {
    /// The cluster it serves: its etcd prefix.
    pub cluster: &'a str,
    pub port: u16,
    /// Its own directory: generated certificates, log, kubeconfig.
    pub dir: &'a Path,
    /// The cluster's service-account issuer: the URL of the cluster's usual apiserver, also for a
    /// stand-in, so that both accept the same tokens.
    pub issuer: &'a str,
}

impl ControlPlane {
    /// Starts the usual apiserver of cluster `name` (without waiting until it is ready).
    pub(super) async fn start_apiserver(&self, name: &str) -> Result<Cluster, HarnessError> {
        let port = free_port()?;
        let url = format!("https://127.0.0.1:{port}");
        let dir = self.root.join("clusters").join(name);
        let args = self.apiserver_args(&Placement {
            cluster: name,
            port,
            dir: &dir,
            issuer: &url,
        });
        let apiserver = self.spawn_apiserver(&format!("kube-apiserver {name}"), &args, &dir)?;
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, name, &url, &self.pki)?;
        let config = config_from_kubeconfig(&kubeconfig).await?;
        Ok(Cluster {
            name: name.to_owned(),
            url,
            kubeconfig,
            config,
            apiserver: Mutex::new(apiserver),
            apiserver_args: args,
            controller_manager: None,
            kubectl: self.binaries.kubectl(),
        })
    }

    /// The flags of an apiserver serving `placement.cluster` from this control plane's etcd and PKI.
    pub(super) fn apiserver_args(&self, placement: &Placement<'_>) -> Vec<String> {
        let pki_file = |file: &str| self.root.join("pki").join(file).display().to_string();
        vec![
            format!("--etcd-servers={}", self.etcd_url),
            // Clusters share one etcd, each under a prefix of its own: separate clusters, one etcd's memory.
            format!("--etcd-prefix=/clusters/{}", placement.cluster),
            "--bind-address=127.0.0.1".to_owned(),
            "--advertise-address=127.0.0.1".to_owned(),
            format!("--secure-port={}", placement.port),
            format!("--cert-dir={}", placement.dir.join("certs").display()),
            format!("--tls-cert-file={}", pki_file("serving.crt")),
            format!("--tls-private-key-file={}", pki_file("serving.key")),
            format!("--client-ca-file={}", pki_file("ca.crt")),
            format!("--service-account-issuer={}", placement.issuer),
            format!(
                "--service-account-key-file={}",
                pki_file("service-account.pub")
            ),
            format!(
                "--service-account-signing-key-file={}",
                pki_file("service-account.key")
            ),
            "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
            "--authorization-mode=RBAC".to_owned(),
            "--allow-privileged=true".to_owned(),
            // No controller-manager mints service-account tokens here; pods need not wait for one.
            "--disable-admission-plugins=ServiceAccount".to_owned(),
            "--profiling=false".to_owned(),
        ]
    }

    /// Starts a kube-apiserver with `args`, logging to `dir/kube-apiserver.log`.
    pub(super) fn spawn_apiserver(
        &self,
        what: &str,
        args: &[String],
        dir: &Path,
    ) -> Result<ManagedProcess, HarnessError> {
        fs::create_dir_all(dir).map_err(|source| HarnessError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let mut command = Command::new(self.binaries.kube_apiserver());
        command.args(args);
        ManagedProcess::spawn(
            what,
            command,
            dir.join("kube-apiserver.log"),
            &mut lock(&self.supervisor),
        )
    }

    /// Stops cluster `name`'s kube-apiserver, as a crash or an upgrade would: killed, not drained.
    /// Its clients' requests fail until [`Self::start_apiserver_again`]; etcd keeps the cluster.
    pub fn stop_apiserver(&self, name: &str) -> Result<(), HarnessError> {
        let cluster = self.find(name)?;
        lock(&cluster.apiserver).stop(&mut lock(&self.supervisor));
        Ok(())
    }

    /// Starts cluster `name`'s stopped kube-apiserver again, with the same flags (so on the same
    /// port, with the same certificates: its kubeconfig and clients work again), and waits until it
    /// is ready.
    pub async fn start_apiserver_again(&self, name: &str) -> Result<(), HarnessError> {
        let cluster = self.find(name)?;
        {
            let mut apiserver = lock(&cluster.apiserver);
            if apiserver.is_running() {
                return Err(HarnessError::Config(format!(
                    "the kube-apiserver of {name} is running: stop it before starting it again"
                )));
            }
            *apiserver = self.spawn_apiserver(
                &format!("kube-apiserver {name}"),
                &cluster.apiserver_args,
                &self.root.join("clusters").join(name),
            )?;
        }
        wait_until_ready(name, &cluster.client()?, &cluster.apiserver).await
    }

    /// The cluster of that name, or an error saying there is none.
    pub(super) fn find(&self, name: &str) -> Result<&Cluster, HarnessError> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                HarnessError::Config(format!("the control plane has no cluster {name:?}"))
            })
    }
}

/// Waits until the apiserver answers `/readyz` with `ok`; an error, with its log's end, if it exits
/// or takes longer than [`READY_TIMEOUT`].
pub(super) async fn wait_until_ready(
    name: &str,
    client: &Client,
    apiserver: &Mutex<ManagedProcess>,
) -> Result<(), HarnessError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        lock(apiserver).check_alive()?;
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| HarnessError::Config(e.to_string()))?;
        if let Ok(body) = client.request_text(request).await
            && body.trim() == "ok"
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HarnessError::NotReady {
                what: format!("kube-apiserver {name}"),
                waited: READY_TIMEOUT,
                log_tail: lock(apiserver).log_tail(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An admin kubeconfig for the apiserver at `url`.
pub(super) fn write_kubeconfig(
    path: &Path,
    name: &str,
    url: &str,
    pki: &Pki,
) -> Result<(), HarnessError> {
    let ca = BASE64.encode(&pki.ca_cert);
    let cert = BASE64.encode(&pki.admin_cert);
    let key = BASE64.encode(&pki.admin_key);
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: {name}-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}-admin
    namespace: default
current-context: {name}
"
    );
    write_file(path, &text)
}

pub(super) async fn config_from_kubeconfig(path: &Path) -> Result<Config, HarnessError> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| HarnessError::Config(format!("kubeconfig: {e}")))?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| HarnessError::Config(format!("kubeconfig: {e}")))
}
