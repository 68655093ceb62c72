//! prtracker's CRDs on a real kube-apiserver: installed and Established, objects that round-trip,
//! status only through the status subresource, and validation the apiserver enforces.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use prtracker_api::{
    DriftMonitor, DriftMonitorSpec, DriftMonitorStatus, DriftPhase, ManifestSource,
    PullRequestTracker, PullRequestTrackerSpec, PullRequestTrackerStatus,
};
use prtracker_domain::PrState;
use prtracker_testenv::{shared, test_namespace};
use serde_json::json;

const COMMIT: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

async fn namespaced<K>(prefix: &str) -> (Api<K>, Client, String)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, prefix).await.expect("namespace");
    (
        Api::namespaced(client.clone(), &namespace),
        client,
        namespace,
    )
}

fn tracker(name: &str, number: u64) -> PullRequestTracker {
    PullRequestTracker::new(
        name,
        PullRequestTrackerSpec {
            repository: "octo-org/hello-world".parse().expect("valid repository"),
            number,
            clusters: vec!["in-cluster".into(), "staging".into()],
            manifests_path: "deploy/app".into(),
            targets: Vec::new(),
            settle_window: None,
            ignore_differences: Vec::new(),
        },
    )
}

fn monitor(name: &str) -> DriftMonitor {
    DriftMonitor::new(
        name,
        DriftMonitorSpec {
            tracker: "pr-1347".into(),
            cluster: "staging".into(),
            source: ManifestSource {
                repository: "octo-org/hello-world".parse().expect("valid repository"),
                commit: COMMIT.into(),
                path: "deploy/app".into(),
                base_branch: None,
                values: Vec::new(),
            },
            interval: "1m".into(),
            ignore_differences: Vec::new(),
        },
    )
}

#[tokio::test]
async fn both_crds_are_established_in_every_cluster() {
    for cluster in shared().clusters() {
        let crds: Api<CustomResourceDefinition> = Api::all(cluster.client().expect("client"));
        for name in [
            "pullrequesttrackers.prtracker.io",
            "driftmonitors.prtracker.io",
        ] {
            let crd = crds.get(name).await.expect("CRD installed");
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .into_iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            assert!(
                established,
                "{name} is not Established in {}",
                cluster.name()
            );
        }
    }
}

#[tokio::test]
async fn a_tracker_round_trips_and_its_status_changes_only_through_the_subresource() {
    let (api, _, _) = namespaced::<PullRequestTracker>("tracker-round-trip").await;
    let mut sent = tracker("pr-1347", 1347);
    // A status sent with the object is dropped: the status subresource owns it.
    sent.status = Some(PullRequestTrackerStatus {
        state: Some(PrState::Deployed),
        ..Default::default()
    });
    let created = api
        .create(&PostParams::default(), &sent)
        .await
        .expect("create");
    assert_eq!(created.spec, sent.spec);
    assert_eq!(created.status.as_ref().and_then(|s| s.state), None);

    let status = PullRequestTrackerStatus {
        state: Some(PrState::Merged),
        title: Some("Amazing new feature".into()),
        merge_commit_sha: Some(COMMIT.into()),
        state_labels: vec!["state/merged".into()],
        observed_generation: created.metadata.generation,
        ..Default::default()
    };
    let patched = api
        .patch_status(
            "pr-1347",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("status patch");
    assert_eq!(patched.status.as_ref(), Some(&status));
    assert_eq!(
        patched.metadata.generation, created.metadata.generation,
        "a status write does not bump the generation"
    );

    // A write to the main resource cannot change the status.
    let mut replaced = patched.clone();
    replaced.spec.clusters = vec!["production".into()];
    replaced.status = Some(PullRequestTrackerStatus {
        state: Some(PrState::Closed),
        ..Default::default()
    });
    let after = api
        .replace("pr-1347", &PostParams::default(), &replaced)
        .await
        .expect("replace");
    assert_eq!(after.spec.clusters, vec!["production".to_owned()]);
    assert_eq!(
        after.status.as_ref().and_then(|s| s.state),
        Some(PrState::Merged)
    );
    assert!(after.metadata.generation > created.metadata.generation);
    assert_eq!(api.get("pr-1347").await.expect("get"), after);
}

#[tokio::test]
async fn a_monitor_round_trips_with_its_defaults_and_status() {
    let (api, _, _) = namespaced::<DriftMonitor>("monitor-round-trip").await;
    let mut sent = monitor("pr-1347-staging");
    let created = api
        .create(&PostParams::default(), &sent)
        .await
        .expect("create");
    assert_eq!(created.spec, sent.spec);

    // The interval defaults when omitted.
    sent.metadata.name = Some("defaulted".into());
    let mut raw = serde_json::to_value(&sent).expect("json");
    raw["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("interval");
    let defaulted: DriftMonitor = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(raw).expect("object"),
        )
        .await
        .expect("create without interval");
    assert_eq!(
        defaulted.spec.interval,
        prtracker_api::interval::DEFAULT_INTERVAL
    );

    let status = DriftMonitorStatus {
        phase: Some(DriftPhase::Drifted),
        checked_commit: Some(COMMIT.into()),
        resources_checked: 3,
        resources_drifted: 1,
        resources_missing: 0,
        drifted_resources: vec![prtracker_api::DriftedResource {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("app".into()),
            name: "web".into(),
            missing: false,
            fields: vec![prtracker_api::FieldDrift {
                path: "spec.replicas".into(),
                desired: Some("3".into()),
                live: Some("5".into()),
            }],
            file: Some("deploy/web.yaml".into()),
            line: Some(12),
        }],
        ..Default::default()
    };
    let patched = api
        .patch_status(
            "pr-1347-staging",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("status patch");
    assert_eq!(patched.status, Some(status));
}

/// Sends `object` and expects the apiserver to refuse it (422), naming `field` in its message.
async fn assert_refused<K>(api: &Api<K>, object: serde_json::Value, field: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object.clone())
        .unwrap_or_else(|e| panic!("test object does not deserialize ({e}): {object}"));
    match api.create(&PostParams::default(), &object).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains(field),
                "the refusal does not name {field}: {}",
                status.message
            );
        }
        other => panic!("expected the apiserver to refuse {field}, got {other:?}"),
    }
}

fn as_json<K: serde::Serialize>(object: &K) -> serde_json::Value {
    serde_json::to_value(object).expect("json")
}

#[tokio::test]
async fn the_apiserver_refuses_invalid_trackers_naming_the_field() {
    let (api, _, _) = namespaced::<PullRequestTracker>("tracker-invalid").await;
    let valid = as_json(&tracker("invalid", 1));

    let mut zero = valid.clone();
    zero["spec"]["number"] = json!(0);
    assert_refused(&api, zero, "spec.number").await;

    // `bad name/!!` never passes our own parser, so it is sent as raw JSON, as kubectl would.
    let mut bad_repo = valid.clone();
    bad_repo["spec"]["repository"] = json!("bad name/!!");
    let raw = kube::core::DynamicObject::new(
        "invalid",
        &kube::core::ApiResource::erase::<PullRequestTracker>(&()),
    )
    .data(json!({ "spec": bad_repo["spec"].clone() }));
    let dynamic: Api<kube::core::DynamicObject> = Api::namespaced_with(
        api.clone().into_client(),
        api.namespace().expect("namespaced"),
        &kube::core::ApiResource::erase::<PullRequestTracker>(&()),
    );
    match dynamic.create(&PostParams::default(), &raw).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422);
            assert!(
                status.message.contains("spec.repository"),
                "{}",
                status.message
            );
        }
        other => panic!("expected `bad name/!!` to be refused, got {other:?}"),
    }

    let mut too_many = valid.clone();
    too_many["spec"]["clusters"] = json!((0..33).map(|i| format!("c{i}")).collect::<Vec<_>>());
    assert_refused(&api, too_many, "spec.clusters").await;

    let mut bad_cluster = valid.clone();
    bad_cluster["spec"]["clusters"] = json!(["Not_A_Name"]);
    assert_refused(&api, bad_cluster, "spec.clusters[0]").await;

    let mut escaping = valid.clone();
    escaping["spec"]["manifestsPath"] = json!("deploy/../../etc");
    assert_refused(&api, escaping, "spec.manifestsPath").await;

    // Targets: each a cluster and its own path, held to the same rules; not beside clusters.
    let mut targets = valid.clone();
    targets["spec"]["clusters"] = json!([]);
    targets["spec"]["targets"] = json!([
        { "cluster": "staging", "path": "deploy/overlays/staging" },
        { "cluster": "prod", "path": "deploy/overlays/prod" },
    ]);
    let mut both = targets.clone();
    both["spec"]["clusters"] = json!(["staging"]);
    assert_refused(&api, both, "give either targets or clusters").await;
    let mut escaping = targets.clone();
    escaping["spec"]["targets"][1]["path"] = json!("deploy/../../etc");
    assert_refused(&api, escaping, "spec.targets[1].path").await;
    let mut bad_values = targets.clone();
    bad_values["spec"]["targets"][0]["values"] = json!(["deploy/../../secrets.yaml"]);
    assert_refused(&api, bad_values, "spec.targets[0].values").await;
    let mut twice = targets.clone();
    twice["spec"]["targets"][1]["cluster"] = json!("staging");
    assert_refused(&api, twice, "spec.targets[1]").await;
    let mut bad_cluster = targets.clone();
    bad_cluster["spec"]["targets"][0]["cluster"] = json!("Not_A_Name");
    assert_refused(&api, bad_cluster, "spec.targets[0].cluster").await;
    let object: PullRequestTracker = serde_json::from_value(targets).expect("a tracker");
    let created = api
        .create(&PostParams::default(), &object)
        .await
        .expect("a tracker with targets is taken");
    assert_eq!(
        created
            .spec
            .targets()
            .iter()
            .map(|t| (t.cluster.as_str(), t.path.as_str()))
            .collect::<Vec<_>>(),
        [
            ("staging", "deploy/overlays/staging"),
            ("prod", "deploy/overlays/prod")
        ]
    );
}

#[tokio::test]
async fn the_apiserver_refuses_invalid_monitors_naming_the_field() {
    let (api, _, _) = namespaced::<DriftMonitor>("monitor-invalid").await;
    let valid = as_json(&monitor("invalid"));

    for (interval, why) in [
        ("10s", "too short"),
        ("48h", "too long"),
        ("5 minutes", "not a duration"),
    ] {
        let mut bad = valid.clone();
        bad["spec"]["interval"] = json!(interval);
        eprintln!("interval {interval}: {why}");
        assert_refused(&api, bad, "spec.interval").await;
    }

    let mut short_commit = valid.clone();
    short_commit["spec"]["source"]["commit"] = json!("6dcb09b");
    assert_refused(&api, short_commit, "spec.source.commit").await;

    // The source path is held to the tracker's manifestsPath rules.
    for path in ["deploy/../../etc", "/etc", ".."] {
        let mut escaping = valid.clone();
        escaping["spec"]["source"]["path"] = json!(path);
        eprintln!("path {path}");
        assert_refused(&api, escaping, "spec.source.path").await;
    }
}

#[tokio::test]
async fn a_trackers_repository_and_number_are_immutable() {
    let (api, _, _) = namespaced::<PullRequestTracker>("tracker-immutable").await;
    api.create(&PostParams::default(), &tracker("pr-7", 7))
        .await
        .expect("create");
    let patch = |field: serde_json::Value| Patch::Merge(json!({ "spec": field }));
    for (field, message) in [
        (json!({ "number": 8 }), "number is immutable"),
        (
            json!({ "repository": "octo-org/other" }),
            "repository is immutable",
        ),
    ] {
        match api
            .patch("pr-7", &PatchParams::default(), &patch(field))
            .await
        {
            Err(kube::Error::Api(status)) => {
                assert!(status.message.contains(message), "{}", status.message)
            }
            other => panic!("expected {message}, got {other:?}"),
        }
    }
    // Everything else may change.
    api.patch(
        "pr-7",
        &PatchParams::default(),
        &patch(json!({ "clusters": ["a", "b"] })),
    )
    .await
    .expect("clusters are mutable");
}

#[tokio::test]
async fn kubectl_get_prt_shows_the_printer_columns() {
    let (api, _, namespace) = namespaced::<PullRequestTracker>("tracker-columns").await;
    api.create(&PostParams::default(), &tracker("pr-1347", 1347))
        .await
        .expect("create");
    api.patch_status(
        "pr-1347",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "state": "Approved" } })),
    )
    .await
    .expect("status");

    let output = shared()
        .primary()
        .kubectl()
        .args(["get", "prt", "-n", &namespace])
        .output()
        .expect("kubectl runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(header, ["NAME", "REPOSITORY", "NUMBER", "STATE", "AGE"]);
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(
        row[..4],
        ["pr-1347", "octo-org/hello-world", "1347", "Approved"]
    );

    // The short name and the category work too.
    for resource in ["pullrequesttrackers", "prtracker"] {
        let output = shared()
            .primary()
            .kubectl()
            .args(["get", resource, "-n", &namespace, "-o", "name"])
            .output()
            .expect("kubectl runs");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("pr-1347"),
            "{output:?}"
        );
    }
}

/// The names the operator gives auto-tracked PRs' trackers and their monitors, for repositories
/// whose names Kubernetes cannot hold as they are: the apiserver, the judge, takes every one.
#[tokio::test]
async fn the_apiserver_takes_the_names_of_trackers_and_monitors_of_awkward_repositories() {
    use prtracker_api::names::{monitor_name, tracker_name, tracker_name_unique};

    let (trackers, client, namespace) = namespaced::<PullRequestTracker>("awkward-names").await;
    let monitors: Api<DriftMonitor> = Api::namespaced(client, &namespace);
    let long = format!("{}/{}", "o".repeat(39), "n.-".repeat(33));
    for (text, number) in [
        ("octo-org/.github", 1),
        ("Octo_Org/Hello.World", 1347),
        ("a/-x.y", 2),
        ("a/x_.y", 3),
        ("a/x..y", 4),
        ("a/_", 5),
        ("a/...", 6),
        (long.as_str(), 2_147_483_647),
    ] {
        let repo: prtracker_api::Repository = text.parse().expect("a GitHub repository");
        for name in [
            tracker_name(&repo, number),
            tracker_name_unique(&repo, number),
        ] {
            let mut object = tracker(&name, number);
            object.spec.repository = repo.clone();
            trackers
                .create(&PostParams::default(), &object)
                .await
                .unwrap_or_else(|e| panic!("{text}: the tracker {name} was refused: {e}"));
            let monitor_name = monitor_name(&name, "in-cluster");
            monitors
                .create(&PostParams::default(), &monitor(&monitor_name))
                .await
                .unwrap_or_else(|e| panic!("{text}: the monitor {monitor_name} was refused: {e}"));
        }
    }
}
