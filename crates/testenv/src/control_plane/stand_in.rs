//! A second kube-apiserver of one cluster, as in a highly available control plane: through it a
//! test changes the cluster while the cluster's usual apiserver is down.

use std::{fs, sync::Mutex};

use super::{
    Cluster, ControlPlane, START_ATTEMPTS,
    apiserver::{Placement, config_from_kubeconfig, wait_until_ready, write_kubeconfig},
    lock,
};
use crate::{HarnessError, process::free_port};

/// A stand-in kube-apiserver of one cluster: the same etcd prefix, client CA and service-account
/// keys as the cluster's usual apiserver (so the same admin credentials work and both serve one
/// cluster), on a port and in a directory of its own. Stopped on drop.
pub struct StandInApiserver<'plane> {
    plane: &'plane ControlPlane,
    cluster: Cluster,
}

impl StandInApiserver<'_> {
    /// The cluster as seen through the stand-in: its URL, kubeconfig, clients and kubectl reach
    /// the stand-in, not the usual apiserver.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
}

impl Drop for StandInApiserver<'_> {
    fn drop(&mut self) {
        lock(&self.cluster.apiserver).stop(&mut lock(&self.plane.supervisor));
    }
}

impl ControlPlane {
    /// Starts a stand-in kube-apiserver for cluster `name` and waits until it is ready.
    pub async fn start_stand_in_apiserver(
        &self,
        name: &str,
    ) -> Result<StandInApiserver<'_>, HarnessError> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match self.start_stand_in_once(name).await {
                Ok(stand_in) => return Ok(stand_in),
                // A taken port makes the apiserver exit at once: another port may do.
                Err(error @ HarnessError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error
            .unwrap_or_else(|| HarnessError::Config("no start-up attempt was made".into())))
    }

    async fn start_stand_in_once(&self, name: &str) -> Result<StandInApiserver<'_>, HarnessError> {
        let usual = self.find(name)?;
        let port = free_port()?;
        let url = format!("https://127.0.0.1:{port}");
        let dir = self
            .root
            .join("clusters")
            .join(name)
            .join(format!("stand-in-{port}"));
        let args = self.apiserver_args(&Placement {
            cluster: name,
            port,
            dir: &dir,
            issuer: &usual.url,
        });
        // The kubeconfig first: the process, once started, is owned by the stand-in, whose drop
        // stops it whatever fails after.
        fs::create_dir_all(&dir).map_err(|source| HarnessError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, name, &url, &self.pki)?;
        let config = config_from_kubeconfig(&kubeconfig).await?;
        let process =
            self.spawn_apiserver(&format!("stand-in kube-apiserver {name}"), &args, &dir)?;
        let stand_in = StandInApiserver {
            plane: self,
            cluster: Cluster {
                name: name.to_owned(),
                url,
                kubeconfig,
                config,
                apiserver: Mutex::new(process),
                apiserver_args: args,
                controller_manager: None,
                kubectl: self.binaries.kubectl(),
            },
        };
        wait_until_ready(
            &format!("stand-in kube-apiserver {name}"),
            &stand_in.cluster.client()?,
            &stand_in.cluster.apiserver,
        )
        .await?;
        Ok(stand_in)
    }
}
