//! Leader election on a coordination.k8s.io Lease: one replica works, the others wait; a replica
//! that loses the lease stops at once (the process exits and is restarted as a follower), so two
//! never write at the same time.

use std::time::Duration;

use anyhow::Context;
use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tracing::info;

use crate::args::LeaderElection;

/// Holds (or waits for) the lease; dropping the returned receiver releases it.
pub struct Leadership {
    /// Never cloned: the lease manager releases the lease when this, its only receiver, is dropped.
    is_leader: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<Result<LeaseManager, kube_lease_manager::LeaseManagerError>>,
}

impl Leadership {
    pub async fn start(client: Client, config: &LeaderElection) -> anyhow::Result<Self> {
        let seconds = config.duration.as_secs().max(2);
        let manager = LeaseManagerBuilder::new(client, &config.lease_name)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_duration(seconds)
            .with_grace(seconds / 3)
            .with_field_manager("prtracker")
            .build()
            .await
            .context("setting up leader election")?;
        let (is_leader, task) = manager.watch().await;
        info!(identity = %config.identity, lease = %config.lease_name, namespace = %config.namespace, "waiting to lead");
        Ok(Self { is_leader, task })
    }

    /// Waits until this replica holds the lease.
    pub async fn acquired(&mut self) -> anyhow::Result<()> {
        self.is_leader
            .wait_for(|leader| *leader)
            .await
            .context("leader election stopped")?;
        Ok(())
    }

    /// Resolves when the lease is lost.
    pub async fn lost(&mut self) {
        let _ = self.is_leader.wait_for(|leader| !*leader).await;
    }

    /// Gives the lease up (on shutdown), so another replica takes over at once.
    pub async fn release(self) {
        drop(self.is_leader);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}
