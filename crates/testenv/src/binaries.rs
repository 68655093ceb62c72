//! Where the control-plane binaries live: a cache outside the repository, filled by
//! `scripts/build-control-plane.sh`, whose versions these constants repeat (a test holds the two equal).

use std::{
    env,
    path::{Path, PathBuf},
};

use crate::HarnessError;

/// The Kubernetes release the tests run against; k8s-openapi's `v1_35` feature matches it.
pub const KUBERNETES_VERSION: &str = "v1.35.4";
/// The etcd release that Kubernetes 1.35 is tested with.
pub const ETCD_VERSION: &str = "v3.6.16";
/// Bumped with the build script's RECIPE when it builds differently.
pub const BUILD_RECIPE: &str = "r1";
/// The command that builds the binaries, named in every error about them.
pub const BUILD_COMMAND: &str = "scripts/build-control-plane.sh";
/// The command that also builds helm, which only the packaging tests use (scripts/test.sh runs it).
pub const BUILD_WITH_HELM_COMMAND: &str = "scripts/build-control-plane.sh --with-helm";

/// The directory holding `etcd`, `kube-apiserver`, `kube-controller-manager` and `kubectl`, and, when
/// built for the tests, `helm`.
#[derive(Clone, Debug)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// The binaries in `$PRTRACKER_CONTROL_PLANE_DIR`, or in the cache where the build script puts them;
    /// an error naming the build command if any is missing.
    pub fn locate() -> Result<Self, HarnessError> {
        Self::in_dir(default_dir()?)
    }

    /// The binaries in `dir`; an error naming the build command if any is missing.
    pub fn in_dir(dir: PathBuf) -> Result<Self, HarnessError> {
        let binaries = Self { dir };
        for name in [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kubectl",
        ] {
            binaries.require(name, BUILD_COMMAND)?;
        }
        Ok(binaries)
    }

    fn require(&self, name: &'static str, command: &'static str) -> Result<PathBuf, HarnessError> {
        let path = self.dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::MissingBinary {
                name,
                dir: self.dir.clone(),
                command,
            })
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn etcd(&self) -> PathBuf {
        self.dir.join("etcd")
    }

    pub fn kube_apiserver(&self) -> PathBuf {
        self.dir.join("kube-apiserver")
    }

    pub fn kube_controller_manager(&self) -> PathBuf {
        self.dir.join("kube-controller-manager")
    }

    pub fn kubectl(&self) -> PathBuf {
        self.dir.join("kubectl")
    }

    /// Renders deploy/helm/prtracker in the packaging tests (its version: the script's HELM_VERSION).
    /// Built only with `--with-helm`, since the demo does not need it: an error naming that command
    /// when it is missing.
    pub fn helm(&self) -> Result<PathBuf, HarnessError> {
        self.require("helm", BUILD_WITH_HELM_COMMAND)
    }
}

/// The directory the build script fills, computed the way the script computes it.
pub fn default_dir() -> Result<PathBuf, HarnessError> {
    if let Some(dir) = env::var_os("PRTRACKER_CONTROL_PLANE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let cache_root = match env::var_os("PRTRACKER_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match env::var_os("XDG_CACHE_HOME") {
            Some(dir) => PathBuf::from(dir).join("prtracker"),
            None => env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache").join("prtracker"))
                .ok_or(HarnessError::NoCacheDir)?,
        },
    };
    Ok(cache_root.join("control-plane").join(format!(
        "kubernetes-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}-{BUILD_RECIPE}"
    )))
}
