//! What the demo sets up in its clusters: the sample app's manifests, the namespaces, the cluster
//! Secret, and the way it asks the monitors for a check.

use std::{io::Write, process::Stdio};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::DriftMonitor;
use prtracker_testenv::Cluster;

use super::{APP_NAMESPACE, NAMESPACE};

/// The manifests the PR changes: a Deployment and its ConfigMap.
pub(super) fn manifests(replicas: u32, version: &str) -> String {
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
          image: registry.example/shop:{version}
"
    )
}

/// The demo's namespace, the app's namespace in both clusters, and the Secret that makes
/// `secondary` reachable as a target cluster.
pub(super) async fn prepare_clusters(client: &Client, clusters: &[&Cluster]) -> anyhow::Result<()> {
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
pub(super) fn kubectl_apply(cluster: &Cluster, yaml: &str) -> anyhow::Result<()> {
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
pub(super) async fn request_checks(monitors: &Api<DriftMonitor>) -> anyhow::Result<()> {
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
