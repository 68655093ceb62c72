//! A real Kubernetes control plane for prtracker's tests: etcd and one or more kube-apiservers, built
//! from their Go modules by `scripts/build-control-plane.sh`, started on free loopback ports with
//! freshly generated certificates.
//!
//! Start-up costs seconds, so a test binary starts one control plane ([`shared`]) and its tests
//! isolate themselves by namespace ([`test_namespace`]). Everything started is stopped, and its
//! directory removed, when the [`ControlPlane`] is dropped or the test process dies.
//!
//! This crate stands in for a cluster; it knows prtracker's CRDs (to install them) and nothing of
//! the runtime.

mod binaries;
mod certs;
mod control_plane;
mod counting;
mod process;
mod supervisor;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client, api::PostParams};

pub use binaries::{
    BUILD_COMMAND, BUILD_RECIPE, BUILD_WITH_HELM_COMMAND, Binaries, ETCD_VERSION,
    KUBERNETES_VERSION, default_dir,
};
pub use control_plane::{
    Cluster, ControlPlane, ControlPlaneConfig, StandInApiserver, install_crds,
};
pub use counting::RequestCounter;

/// The clusters of the [`shared`] control plane.
pub const SHARED_CLUSTERS: [&str; 2] = ["primary", "secondary"];

/// Why the control plane could not be had. Every variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "{name} is not in {dir}: build it with `{command}` (needs Go; the README's test command runs it), or point PRTRACKER_CONTROL_PLANE_DIR at a directory holding etcd, kube-apiserver, kube-controller-manager, kubectl and helm"
    )]
    MissingBinary {
        name: &'static str,
        dir: PathBuf,
        command: &'static str,
    },
    #[error(
        "neither PRTRACKER_CONTROL_PLANE_DIR, PRTRACKER_CACHE_DIR, XDG_CACHE_HOME nor HOME is set: no place to find the control plane"
    )]
    NoCacheDir,
    #[error("could not start {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} exited ({status}) during start-up; its log ends:\n{log_tail}")]
    Exited {
        what: String,
        status: String,
        log_tail: String,
    },
    #[error("{what} was not ready after {waited:?}; its log ends:\n{log_tail}")]
    NotReady {
        what: String,
        waited: Duration,
        log_tail: String,
    },
    #[error("generating certificates: {0}")]
    Certificates(#[from] rcgen::Error),
    #[error("building a client: {0}")]
    Client(kube::Error),
    #[error("installing CRD {name}: {source}")]
    Crd { name: String, source: kube::Error },
    #[error("creating a test namespace: {0}")]
    Namespace(kube::Error),
    #[error("{0}")]
    Config(String),
}

/// The control plane of this test binary, with the clusters of [`SHARED_CLUSTERS`] and the CRDs
/// installed; started by the first test that asks. Panics with the reason (and the command that
/// fixes it) when it cannot start: every test that needs it must fail, none may skip.
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    let started = SHARED.get_or_init(|| {
        // Started on a runtime of its own, so that any test's runtime may ask; clients are made later,
        // in each test's runtime (see Cluster::client).
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(ControlPlane::start(ControlPlaneConfig {
                    clusters: SHARED_CLUSTERS.iter().map(|c| (*c).to_owned()).collect(),
                    install_crds: true,
                    garbage_collection: true,
                }))
                .map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("starting the control plane panicked".to_owned()))
    });
    match started {
        Ok(plane) => plane,
        Err(reason) => panic!("the test control plane could not start: {reason}"),
    }
}

/// Creates a namespace of its own for one test (`PREFIX-xxxxx`, named by the apiserver) and returns its
/// name. Tests need not delete it: the control plane is thrown away with the test binary.
pub async fn test_namespace(client: &Client, prefix: &str) -> Result<String, HarnessError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut namespace = Namespace::default();
    namespace.metadata.generate_name = Some(format!("{prefix}-"));
    let created = api
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(HarnessError::Namespace)?;
    created
        .metadata
        .name
        .ok_or_else(|| HarnessError::Config("the apiserver named no namespace".into()))
}

/// Whether process `pid` is alive: it has a `/proc` entry and is not a zombie (dead, waiting to be
/// reaped). For tests that check the harness left nothing running.
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.split_whitespace()
            .nth(2)
            .is_some_and(|state| state != "Z")
    })
}
