//! What the demo sets up: the sample repository (a kustomize base and an overlay per cluster), the
//! namespaces, the cluster Secret; what CD and a person do to the clusters; and the way it asks the
//! monitors for a check.

use std::{
    path::{Component, Path},
    process::Stdio,
};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::DriftMonitor;
use prtracker_github_sim::SimulatorHandle;
use prtracker_testenv::Cluster;

use super::{APP_NAMESPACE, NAMESPACE, REPO};

/// Each overlay of the sample repository (named as the cluster it is for) and the shop's replicas
/// there.
pub(super) const OVERLAYS: [(&str, u32); 2] = [("primary", 3), ("secondary", 2)];

/// The sample repository's tree with the shop at `version`: a kustomize base (the app's
/// manifests, and its image tag in the kustomization, as `kustomize edit set image` writes it)
/// and an overlay per cluster that sets its replicas.
pub(super) fn repository(version: &str) -> Vec<(String, Vec<u8>)> {
    let base_kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {APP_NAMESPACE}
resources:
  - shop.yaml
images:
  - name: registry.example/shop
    newTag: {version}
"
    );
    let base_manifests = "apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  checkout: enabled
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: shop
          image: registry.example/shop
";
    let mut files = vec![
        (
            "deploy/base/kustomization.yaml".to_owned(),
            base_kustomization.into_bytes(),
        ),
        (
            "deploy/base/shop.yaml".to_owned(),
            base_manifests.as_bytes().to_vec(),
        ),
    ];
    for (overlay, replicas) in OVERLAYS {
        files.push((
            format!("deploy/overlays/{overlay}/kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
replicas:
  - name: shop
    count: {replicas}
"
            )
            .into_bytes(),
        ));
    }
    files
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

/// What a CD system does: checks out `commit` and applies the cluster's overlay, built by
/// kustomize (`kubectl apply -k`), as its own field manager, taking back any field changed by hand.
pub(super) fn deploy(sim: &SimulatorHandle, commit: &str, cluster: &Cluster) -> anyhow::Result<()> {
    let (owner, name) = REPO
        .split_once('/')
        .context("the repository's owner/name")?;
    let tree = sim
        .with_world(|world| {
            world
                .repo(owner, name)
                .and_then(|repo| repo.files.get(commit).cloned())
        })
        .with_context(|| format!("the files of {REPO} at {commit}"))?;
    let checkout = tempfile::tempdir().context("a directory to check the commit out in")?;
    for (path, content) in tree {
        // Only plain relative paths: nothing is written outside the checkout.
        if !Path::new(&path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            bail!("the commit holds a path that is not plain: {path:?}");
        }
        let file = checkout.path().join(&path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("checking out {path}"))?;
        }
        std::fs::write(&file, content).with_context(|| format!("checking out {path}"))?;
    }
    let overlay = checkout.path().join("deploy/overlays").join(cluster.name());
    let status = cluster
        .kubectl()
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=cd",
            "-k",
        ])
        .arg(&overlay)
        .stdout(Stdio::null())
        .status()
        .context("running kubectl")?;
    if !status.success() {
        bail!(
            "kubectl apply -k deploy/overlays/{} to {} failed",
            cluster.name(),
            cluster.name()
        );
    }
    Ok(())
}

/// What a person does by hand: scales the shop in one cluster.
pub(super) fn scale_by_hand(cluster: &Cluster, replicas: u32) -> anyhow::Result<()> {
    let status = cluster
        .kubectl()
        .args(["scale", "deployment/shop", "-n", APP_NAMESPACE])
        .arg(format!("--replicas={replicas}"))
        .stdout(Stdio::null())
        .status()
        .context("running kubectl")?;
    if !status.success() {
        bail!("kubectl scale in {} failed", cluster.name());
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
