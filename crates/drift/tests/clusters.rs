//! The cluster registry against the real control plane: a Secret holding the `secondary` cluster's
//! kubeconfig resolves to a client of that cluster; every broken Secret has its own error.

use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString,
    api::core::v1::{Namespace, Secret},
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use prtracker_drift::{
    CLUSTER_LABEL, ClusterError, ClusterRegistry, CompareOptions, Comparer, DriftError, IN_CLUSTER,
    KUBECONFIG_KEY, manifests::parse_file,
};
use prtracker_testenv::{shared, test_namespace};

async fn operator_namespace(prefix: &str) -> (Client, String) {
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, prefix).await.expect("namespace");
    (client, namespace)
}

async fn put_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    cluster: &str,
    data: Option<&str>,
) {
    let mut secret = Secret::default();
    secret.metadata.name = Some(name.to_owned());
    secret.metadata.labels = Some(BTreeMap::from([(
        CLUSTER_LABEL.to_owned(),
        cluster.to_owned(),
    )]));
    secret.data = Some(
        data.map(|text| {
            (
                KUBECONFIG_KEY.to_owned(),
                ByteString(text.as_bytes().to_vec()),
            )
        })
        .into_iter()
        .collect(),
    );
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    api.patch(
        name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(serde_json::to_value(&secret).expect("json")),
    )
    .await
    .expect("secret applied");
}

fn kubeconfig(cluster: &str) -> String {
    std::fs::read_to_string(shared().cluster(cluster).kubeconfig_path()).expect("kubeconfig")
}

async fn namespaces(client: &Client) -> Vec<String> {
    let api: Api<Namespace> = Api::all(client.clone());
    api.list(&ListParams::default())
        .await
        .expect("namespaces")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect()
}

/// A namespace only the secondary cluster has, and a Secret in `namespace` naming that cluster
/// `staging`; returns the namespace.
async fn staging_is_the_secondary(client: &Client, namespace: &str) -> String {
    let secondary = shared().cluster("secondary").client().expect("client");
    let only_there = test_namespace(&secondary, "only-secondary")
        .await
        .expect("namespace");
    put_secret(
        client,
        namespace,
        "staging",
        "staging",
        Some(&kubeconfig("secondary")),
    )
    .await;
    only_there
}

#[tokio::test]
async fn a_secret_with_a_kubeconfig_resolves_to_that_cluster_and_follows_its_changes() {
    let (client, namespace) = operator_namespace("registry").await;
    let only_there = staging_is_the_secondary(&client, &namespace).await;

    let registry = ClusterRegistry::new(client.clone(), &namespace);
    let staging = registry.client("staging").await.expect("resolved");
    assert!(namespaces(&staging).await.contains(&only_there));
    assert!(!namespaces(&client).await.contains(&only_there));

    // The Secret now points at the primary cluster: the client is rebuilt.
    put_secret(
        &client,
        &namespace,
        "staging",
        "staging",
        Some(&kubeconfig("primary")),
    )
    .await;
    let staging = registry.client("staging").await.expect("resolved");
    assert!(!namespaces(&staging).await.contains(&only_there));

    let own = registry.client(IN_CLUSTER).await.expect("in-cluster");
    assert!(namespaces(&own).await.contains(&namespace));
}

/// A registry watching the cluster Secrets looks a cluster up without a request, and still
/// follows a Secret's change (once its watch has seen it).
#[tokio::test]
async fn a_registry_watching_its_secrets_looks_clusters_up_without_a_request() {
    let (client, namespace) = operator_namespace("watching").await;
    let only_there = staging_is_the_secondary(&client, &namespace).await;
    let (counted, requests) = shared().primary().counting_client().expect("client");
    let registry = ClusterRegistry::new(counted, &namespace).watching_secrets();
    let mut resolved = None;
    for _ in 0..300 {
        // Until the watch has listed the Secrets, a lookup lists them.
        let staging = registry.client("staging").await.expect("resolved");
        let before = requests.requests();
        registry.client("staging").await.expect("resolved");
        if requests.requests() == before {
            resolved = Some(staging);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let staging = resolved.expect("a lookup without a request once the watch listed the Secrets");
    assert!(namespaces(&staging).await.contains(&only_there));

    put_secret(
        &client,
        &namespace,
        "staging",
        "staging",
        Some(&kubeconfig("primary")),
    )
    .await;
    let mut moved = false;
    for _ in 0..300 {
        let staging = registry.client("staging").await.expect("resolved");
        if !namespaces(&staging).await.contains(&only_there) {
            moved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(moved, "the registry follows the Secret's change");
}

#[tokio::test]
async fn a_missing_secret_says_what_to_create() {
    let (client, namespace) = operator_namespace("registry-missing").await;
    let registry = ClusterRegistry::new(client, &namespace);
    let error = registry.client("staging").await.err().expect("no secret");
    assert!(matches!(error, ClusterError::NoSecret { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "no Secret labelled prtracker.io/cluster=staging in namespace {namespace}: create one with key kubeconfig holding the cluster's kubeconfig"
        )
    );
}

#[tokio::test]
async fn a_secret_without_the_key_or_with_a_broken_kubeconfig_is_its_own_error() {
    let (client, namespace) = operator_namespace("registry-broken").await;
    put_secret(&client, &namespace, "no-key", "nokey", None).await;
    put_secret(
        &client,
        &namespace,
        "garbage",
        "garbage",
        Some("clusters: [: nope"),
    )
    .await;
    let registry = ClusterRegistry::new(client.clone(), &namespace);

    let error = registry.client("nokey").await.err().expect("no key");
    assert!(
        matches!(error, ClusterError::NoKubeconfigKey { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("has no key kubeconfig"),
        "{error}"
    );

    let error = registry.client("garbage").await.err().expect("broken");
    assert!(
        matches!(error, ClusterError::BadKubeconfig { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("Secret {namespace}/garbage")),
        "{error}"
    );

    // Two Secrets for one cluster: ambiguous.
    put_secret(
        &client,
        &namespace,
        "twin-a",
        "twin",
        Some(&kubeconfig("secondary")),
    )
    .await;
    put_secret(
        &client,
        &namespace,
        "twin-b",
        "twin",
        Some(&kubeconfig("secondary")),
    )
    .await;
    let error = registry.client("twin").await.err().expect("ambiguous");
    assert!(
        matches!(error, ClusterError::SeveralSecrets { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_reported_as_such() {
    let (client, namespace) = operator_namespace("registry-unreachable").await;
    // The secondary's credentials, at a port nothing listens on.
    let text =
        kubeconfig("secondary").replace(shared().cluster("secondary").url(), "https://127.0.0.1:9");
    put_secret(&client, &namespace, "gone", "gone", Some(&text)).await;
    let registry = ClusterRegistry::new(client.clone(), &namespace);

    let error = registry
        .reachable_client("gone")
        .await
        .err()
        .expect("unreachable");
    assert!(
        matches!(error, ClusterError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("cluster gone is unreachable"),
        "{error}"
    );

    let objects = parse_file(
        "cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .expect("parses");
    let unreachable = registry.client("gone").await.expect("built");
    let error = Comparer::new(unreachable, "gone", CompareOptions::default())
        .compare(&objects)
        .await
        .expect_err("unreachable");
    assert!(
        matches!(error, DriftError::Cluster(ClusterError::Unreachable { .. })),
        "{error:?}"
    );
    assert_eq!(error.reason(), "ClusterUnreachable");
}

/// An object of a kind the cluster does not serve is an error naming the kind, the version and the
/// object, not a missing object (which would read as drift); the objects a PR removed of such a
/// kind are simply absent.
#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_is_an_error_naming_it() {
    let client = shared().primary().client().expect("client");
    let objects = parse_file(
        "widget.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine, namespace: default}\n---\napiVersion: widgets.example.com/v1\nkind: Widget\nmetadata: {name: gizmo, namespace: default}\n",
    )
    .expect("parses");
    let comparer = Comparer::new(client, "primary", CompareOptions::default());
    let error = comparer.compare(&objects).await.expect_err("unknown kind");
    assert!(
        matches!(&error, DriftError::UnknownKind { kind, api_version, name, .. }
            if kind == "Widget" && api_version == "widgets.example.com/v1" && name == "gizmo"),
        "{error:?}"
    );
    assert_eq!(error.reason(), "UnknownKind");
    assert!(
        error.to_string().contains("does not serve kind Widget"),
        "{error}"
    );
    assert!(!error.is_final(), "a CRD may be installed later");
    let present = comparer.presence(&objects[1..]).await.expect("presence");
    assert_eq!(present, [false]);
}
