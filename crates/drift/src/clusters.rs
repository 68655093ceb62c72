//! Named clusters. A cluster `NAME` is a Secret in the operator's namespace labelled
//! `prtracker.io/cluster: NAME`, holding a kubeconfig under the key `kubeconfig`; the reserved name
//! `in-cluster` is the operator's own cluster. Clients are cached per cluster and rebuilt when the
//! Secret changes (its uid or resourceVersion). An operator reads the Secrets from a watch of them
//! ([`ClusterRegistry::watching_secrets`]), so a lookup costs its cluster no request.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client, Config, ResourceExt,
    api::ListParams,
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, reflector, watcher},
};

use crate::error::{ClusterError, is_unreachable};

/// The label that names the cluster of a Secret.
pub const CLUSTER_LABEL: &str = "prtracker.io/cluster";
/// The key of the kubeconfig in a cluster Secret.
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// The operator's own cluster.
pub const IN_CLUSTER: &str = "in-cluster";

/// A hook to shape every client the registry builds (a tower layer, timeouts).
pub type ClientBuilder = Arc<dyn Fn(Config) -> Result<Client, kube::Error> + Send + Sync>;

/// Clients of named clusters.
#[derive(Clone)]
pub struct ClusterRegistry {
    own: Client,
    namespace: String,
    build: ClientBuilder,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    /// The cluster Secrets as a watch keeps them, when one runs.
    secrets: Option<reflector::Store<Secret>>,
}

#[derive(Clone)]
struct Cached {
    /// The Secret's uid and resourceVersion the client was built from.
    version: (String, String),
    client: Client,
}

impl ClusterRegistry {
    /// Secrets are looked up in `namespace` (the operator's) with the operator's client `own`.
    pub fn new(own: Client, namespace: impl Into<String>) -> Self {
        Self {
            own,
            namespace: namespace.into(),
            build: Arc::new(Client::try_from),
            cache: Arc::default(),
            secrets: None,
        }
    }

    /// The same registry, reading the cluster Secrets from a watch of them (started here, on
    /// the current runtime, for as long as it runs) rather than listing them at each lookup;
    /// until the watch has listed them, and while it cannot, lookups list.
    pub fn watching_secrets(mut self) -> Self {
        let api: Api<Secret> = Api::namespaced(self.own.clone(), &self.namespace);
        let (store, writer) = reflector::store();
        let secrets = reflector(
            writer,
            watcher(api, watcher::Config::default().labels(CLUSTER_LABEL)),
        )
        .default_backoff()
        .applied_objects();
        tokio::spawn(secrets.for_each(|_| async {}));
        self.secrets = Some(store);
        self
    }

    /// The same registry, building clients with `build`.
    pub fn with_client_builder(mut self, build: ClientBuilder) -> Self {
        self.build = build;
        self
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The client of `cluster`, from the cache while its Secret is unchanged. One request (the
    /// Secret's lookup) for a named cluster; none for `in-cluster`.
    pub async fn client(&self, cluster: &str) -> Result<Client, ClusterError> {
        if cluster == IN_CLUSTER {
            return Ok(self.own.clone());
        }
        let secret = self.secret(cluster).await?;
        let version = (
            secret.metadata.uid.clone().unwrap_or_default(),
            secret.resource_version().unwrap_or_default(),
        );
        if let Some(cached) = self.cached(cluster)
            && cached.version == version
        {
            return Ok(cached.client);
        }
        let client = self.build_client(cluster, &secret).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                cluster.to_owned(),
                Cached {
                    version,
                    client: client.clone(),
                },
            );
        }
        Ok(client)
    }

    /// The client of `cluster`, after asking the cluster for its version: an unreachable cluster is
    /// [`ClusterError::Unreachable`].
    pub async fn reachable_client(&self, cluster: &str) -> Result<Client, ClusterError> {
        let client = self.client(cluster).await?;
        match client.apiserver_version().await {
            Ok(_) => Ok(client),
            Err(error) if is_unreachable(&error) || !matches!(error, kube::Error::Api(_)) => {
                Err(ClusterError::Unreachable {
                    cluster: cluster.to_owned(),
                    reason: error.to_string(),
                })
            }
            // The server answered (with a refusal): it is reachable; the check will say the rest.
            Err(_) => Ok(client),
        }
    }

    /// Forgets the client of `cluster` (after it failed, to rebuild it next time).
    pub fn forget(&self, cluster: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(cluster);
        }
    }

    fn cached(&self, cluster: &str) -> Option<Cached> {
        self.cache.lock().ok()?.get(cluster).cloned()
    }

    async fn secret(&self, cluster: &str) -> Result<Secret, ClusterError> {
        if let Some(store) = &self.secrets
            && matches!(store.wait_until_ready().now_or_never(), Some(Ok(())))
        {
            let found = store
                .state()
                .iter()
                .filter(|s| s.labels().get(CLUSTER_LABEL).map(String::as_str) == Some(cluster))
                .map(|s| (**s).clone())
                .collect();
            return self.only_one(cluster, found);
        }
        let api: Api<Secret> = Api::namespaced(self.own.clone(), &self.namespace);
        let params = ListParams::default().labels(&format!("{CLUSTER_LABEL}={cluster}"));
        let list = api
            .list(&params)
            .await
            .map_err(|source| ClusterError::ReadSecret {
                cluster: cluster.to_owned(),
                namespace: self.namespace.clone(),
                source: Box::new(source),
            })?;
        self.only_one(cluster, list.items)
    }

    /// The one Secret of `cluster` among `secrets`.
    fn only_one(&self, cluster: &str, mut secrets: Vec<Secret>) -> Result<Secret, ClusterError> {
        match secrets.len() {
            0 => Err(ClusterError::NoSecret {
                cluster: cluster.to_owned(),
                namespace: self.namespace.clone(),
                label: CLUSTER_LABEL,
                key: KUBECONFIG_KEY,
            }),
            1 => Ok(secrets.remove(0)),
            _ => Err(ClusterError::SeveralSecrets {
                cluster: cluster.to_owned(),
                namespace: self.namespace.clone(),
                label: CLUSTER_LABEL,
                names: secrets
                    .iter()
                    .map(ResourceExt::name_any)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    async fn build_client(&self, cluster: &str, secret: &Secret) -> Result<Client, ClusterError> {
        let name = secret.name_any();
        let bad = |reason: String| ClusterError::BadKubeconfig {
            cluster: cluster.to_owned(),
            namespace: self.namespace.clone(),
            secret: name.clone(),
            reason,
        };
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(KUBECONFIG_KEY))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|data| data.get(KUBECONFIG_KEY))
                    .map(|s| s.clone().into_bytes())
            })
            .ok_or_else(|| ClusterError::NoKubeconfigKey {
                cluster: cluster.to_owned(),
                namespace: self.namespace.clone(),
                secret: name.clone(),
                key: KUBECONFIG_KEY,
            })?;
        let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
        let kubeconfig = Kubeconfig::from_yaml(&text).map_err(|e| bad(e.to_string()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| bad(e.to_string()))?;
        (self.build)(config).map_err(|e| bad(e.to_string()))
    }
}
