//! The target clusters' watches against the real control plane: a monitor following a ConfigMap
//! and a Deployment is named when either changes in what a manifest sets, or is deleted; a status
//! update names no one; a watch closes with its last follower. A comparison the watches serve asks
//! the apiserver nothing but the dry runs of what differs.

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams},
    discovery::ApiResource,
};
use prtracker_drift::{
    ClusterRegistry, CompareOptions, Comparer, DiscoveryCache, IN_CLUSTER, LiveRef, LiveWatches,
    MonitorKey, Seen, manifests::parse_file,
};
use prtracker_testenv::{shared, test_namespace};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

/// The next monitor named, within a minute.
async fn next(named: &mut UnboundedReceiver<MonitorKey>, what: &str) -> MonitorKey {
    tokio::time::timeout(Duration::from_secs(60), named.recv())
        .await
        .unwrap_or_else(|_| panic!("no monitor named after {what}"))
        .expect("the channel is open")
}

#[tokio::test]
async fn a_followed_object_changed_or_deleted_names_its_monitor_and_status_does_not() {
    let client = shared().primary().client().expect("client");
    let ns = test_namespace(&client, "live").await.expect("namespace");
    let apply = PatchParams::apply("cd").force();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    configmaps
        .patch(
            "settings",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings"}, "data": {"mode": "a"}})),
        )
        .await
        .expect("configmap");
    deployments
        .patch(
            "web",
            &apply,
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "registry.example/web:1"}]}}}})),
        )
        .await
        .expect("deployment");

    // The test control plane runs no Deployment controller: nothing but this test changes `web`.
    let (live, mut named) = LiveWatches::new(ClusterRegistry::new(client.clone(), &ns));
    let object = |resource: ApiResource, name: &str| LiveRef {
        resource,
        namespace: Some(ns.clone()),
        name: name.to_owned(),
        seen: Seen::Unknown,
    };
    let settings_monitor: MonitorKey = (ns.clone(), "shop-1-in-cluster".to_owned());
    let web_monitor: MonitorKey = (ns.clone(), "shop-2-in-cluster".to_owned());
    live.follow(
        settings_monitor.clone(),
        IN_CLUSTER,
        &[object(ApiResource::erase::<ConfigMap>(&()), "settings")],
    );
    live.follow(
        web_monitor.clone(),
        IN_CLUSTER,
        &[object(ApiResource::erase::<Deployment>(&()), "web")],
    );
    assert_eq!(live.size().watches, 2, "a watch per resource type");
    for _ in 0..600 {
        if live.listed() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live.listed(), 2, "both watches listed their objects");

    // A status update of the Deployment names no one: the first name after it and a later
    // ConfigMap edit is the ConfigMap's follower.
    deployments
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .expect("status");
    let edit = PatchParams::apply("kubectl-edit").force();
    configmaps
        .patch(
            "settings",
            &edit,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings"}, "data": {"mode": "b"}})),
        )
        .await
        .expect("hand edit");
    assert_eq!(
        next(&mut named, "a ConfigMap key edited").await,
        settings_monitor
    );

    // A hand scale of the Deployment names its follower.
    deployments
        .patch(
            "web",
            &edit,
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"}, "spec": {"replicas": 4}})),
        )
        .await
        .expect("scaled");
    assert_eq!(next(&mut named, "a Deployment scaled").await, web_monitor);

    configmaps
        .delete("settings", &DeleteParams::default())
        .await
        .expect("deleted");
    assert_eq!(
        next(&mut named, "a ConfigMap deleted").await,
        settings_monitor
    );

    // Followed by nobody: both watches close.
    live.forget(&settings_monitor);
    assert_eq!(live.size().watches, 1);
    live.forget(&web_monitor);
    assert_eq!(live.size(), prtracker_drift::WatchSizes::default());
}

/// A check a watch starts is served from what the watch keeps: after the first comparison (which
/// reads the apiserver) and the watch's listing, comparing again asks the apiserver nothing, not
/// even its API; after a hand edit, only the dry run the live object cannot settle.
#[tokio::test]
async fn a_comparison_served_by_the_watches_reads_nothing_from_the_apiserver() {
    let client = shared().primary().client().expect("client");
    let ns = test_namespace(&client, "cached").await.expect("namespace");
    let manifests = format!(
        "apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}}}
data: {{mode: a}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: registry.example/web:1}}]}}
"
    );
    let objects = parse_file("app.yaml", manifests.as_bytes()).expect("manifests parse");
    let apply = PatchParams::apply("cd").force();
    let dynamic = |o: &prtracker_drift::DesiredObject| o.body.clone();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    configmaps
        .patch("settings", &apply, &Patch::Apply(dynamic(&objects[0])))
        .await
        .expect("configmap");
    deployments
        .patch("web", &apply, &Patch::Apply(dynamic(&objects[1])))
        .await
        .expect("deployment");

    let (counted, requests) = shared().primary().counting_client().expect("client");
    let (live, mut named) = LiveWatches::new(ClusterRegistry::new(client.clone(), &ns));
    let live = Arc::new(live);
    let comparer = Comparer::new(counted, IN_CLUSTER, CompareOptions::default())
        .with_discovery(Arc::new(DiscoveryCache::default()))
        .with_cache(live.clone());

    let first = comparer.compare(&objects).await.expect("compared");
    assert!(first.in_sync(), "{first:?}");
    let first_cost = requests.requests();
    assert!(
        first_cost >= 4,
        "two discoveries and two reads: {first_cost}"
    );
    let monitor: MonitorKey = (ns.clone(), "shop-1-in-cluster".to_owned());
    live.follow(monitor.clone(), IN_CLUSTER, &first.watched);
    for _ in 0..600 {
        if live.listed() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live.listed(), 2, "both watches listed their objects");
    assert!(live.size().kept_bytes > 0);

    // Both live objects hold their manifests' values (the containers with the server's
    // defaults too): no dry run either.
    let reads = requests.requests();
    let again = comparer.compare(&objects).await.expect("compared");
    assert!(again.in_sync(), "{again:?}");
    assert_eq!(
        requests.requests(),
        reads,
        "a comparison served by the watches asks the apiserver nothing"
    );

    deployments
        .patch(
            "web",
            &PatchParams::apply("kubectl-edit").force(),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"}, "spec": {"replicas": 5}})),
        )
        .await
        .expect("scaled");
    assert_eq!(next(&mut named, "a Deployment scaled").await, monitor);
    let drifted = comparer.compare(&objects).await.expect("compared");
    assert_eq!(drifted.drifted, 1, "{drifted:?}");
    let fields: Vec<&str> = drifted.resources[0]
        .fields
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(fields, ["spec.replicas"]);
    assert_eq!(
        (requests.requests() - reads, requests.writes()),
        (1, 1),
        "the dry run of the Deployment, whose live object differs, and no read"
    );
}

/// An edit made after a check read an object and before a watch follows it is not missed: the
/// watch's first listing finds the object otherwise than the check saw it, and names the monitor.
#[tokio::test]
async fn an_edit_between_a_check_and_its_watch_names_the_monitor() {
    let client = shared().primary().client().expect("client");
    let ns = test_namespace(&client, "gap").await.expect("namespace");
    let manifests = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{mode: a}}\n"
    );
    let objects = parse_file("settings.yaml", manifests.as_bytes()).expect("manifests parse");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    configmaps
        .patch(
            "settings",
            &PatchParams::apply("cd").force(),
            &Patch::Apply(objects[0].body.clone()),
        )
        .await
        .expect("configmap");
    let comparer = Comparer::new(client.clone(), IN_CLUSTER, CompareOptions::default());
    let checked = comparer.compare(&objects).await.expect("compared");
    assert!(checked.in_sync(), "{checked:?}");

    configmaps
        .patch(
            "settings",
            &PatchParams::apply("kubectl-edit").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings"}, "data": {"mode": "b"}})),
        )
        .await
        .expect("hand edit");
    let (live, mut named) = LiveWatches::new(ClusterRegistry::new(client.clone(), &ns));
    let monitor: MonitorKey = (ns.clone(), "shop-1-in-cluster".to_owned());
    live.follow(monitor.clone(), IN_CLUSTER, &checked.watched);
    assert_eq!(
        next(
            &mut named,
            "the first listing after an edit the check missed"
        )
        .await,
        monitor
    );
}
