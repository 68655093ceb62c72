//! The target clusters' watches against the real control plane: a monitor following a ConfigMap
//! and a Deployment is named when either changes in what a manifest sets, or is deleted; a status
//! update names no one; a watch closes with its last follower.

use std::time::Duration;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams},
    discovery::ApiResource,
};
use prtracker_drift::{ClusterRegistry, IN_CLUSTER, LiveRef, LiveWatches, MonitorKey};
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
    assert_eq!(live.size().0, 2, "a watch per resource type");
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
    assert_eq!(live.size().0, 1);
    live.forget(&web_monitor);
    assert_eq!(live.size(), (0, 0, 0));
}
