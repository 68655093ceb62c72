//! What `prtracker run` checks before it writes anything: the apiserver, the CRDs, GitHub's
//! acceptance of the credentials.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use kube::{Api, Client, api::ListParams};
use prtracker_api::PullRequestTracker;
use prtracker_github::OctocrabGitHub;
use tracing::info;

use crate::args::OperatorConfig;

/// The clients the operator runs with, each checked.
pub struct Connected {
    pub kube: Client,
    pub github: Arc<OctocrabGitHub>,
}

pub async fn connect(config: &OperatorConfig) -> anyhow::Result<Connected> {
    let kube = Client::try_default()
        .await
        .context("no Kubernetes configuration: set KUBECONFIG, or run in a cluster")?;
    let version = kube
        .apiserver_version()
        .await
        .context("the Kubernetes apiserver cannot be reached")?;
    info!(kubernetes = %version.git_version, "connected to the apiserver");
    check_crds(&kube, config.namespace.as_deref()).await?;

    let github = Arc::new(
        OctocrabGitHub::new(config.github.clone()).context("configuring the GitHub client")?,
    );
    let identity = github
        .verify_credentials()
        .await
        .context("GitHub refused the configured credentials")?;
    info!(github = %config.github.base_url, credentials = %identity, "connected to GitHub");
    Ok(Connected { kube, github })
}

/// Trackers in the watched namespace, or in all.
pub fn trackers_api(client: &Client, namespace: Option<&str>) -> Api<PullRequestTracker> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The CRDs must be installed before anything runs: their absence is a setup mistake to report.
async fn check_crds(client: &Client, namespace: Option<&str>) -> anyhow::Result<()> {
    match trackers_api(client, namespace)
        .list(&ListParams::default().limit(1))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => bail!(
            "the prtracker CRDs are not installed: `kubectl apply -k deploy/` (or `prtracker crds | kubectl apply -f -`)"
        ),
        Err(kube::Error::Api(status)) if status.code == 403 => bail!(
            "the operator may not list PullRequestTrackers: {} (apply the RBAC in deploy/)",
            status.message
        ),
        Err(error) => Err(error).context("listing PullRequestTrackers"),
    }
}
