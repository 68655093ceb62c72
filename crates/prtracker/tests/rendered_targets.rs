//! Real GitOps layouts end to end through the real `prtracker run` (issue #15): a kustomize base
//! and an overlay per cluster, and a Helm chart with a values file per cluster, auto-tracked with
//! `--target`. Merged and applied per cluster (as a CD tool renders and applies each target),
//! both targets are live and the PR is `state/deployed`; a hand edit in one cluster drifts that
//! target only.

mod common;

use std::time::Duration;

use common::eventually;
use common::world::*;
use prtracker_api::DriftPhase;
use prtracker_domain::PrState;
use prtracker_testenv::shared;

/// The base, and an overlay per cluster setting the namespace and the replicas.
fn layout(namespace: &str) -> Vec<(String, Vec<u8>)> {
    layout_with(namespace, "4.0", [3, 2])
}

/// The base at image `tag`, and the overlays with `replicas` (primary, secondary).
fn layout_with(namespace: &str, tag: &str, replicas: [u32; 2]) -> Vec<(String, Vec<u8>)> {
    let base = "apiVersion: apps/v1
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
        - name: app
          image: registry.example/shop:TAG
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: \"4\"
"
    .replace("TAG", tag);
    let mut files = vec![
        (
            "deploy/base/kustomization.yaml".to_owned(),
            b"resources: [app.yaml]\n".to_vec(),
        ),
        ("deploy/base/app.yaml".to_owned(), base.into_bytes()),
        ("README.md".to_owned(), b"# shop\n".to_vec()),
    ];
    for (overlay, replicas) in [("primary", replicas[0]), ("secondary", replicas[1])] {
        files.push((
            format!("deploy/overlays/{overlay}/kustomization.yaml"),
            format!(
                "namespace: {namespace}\nresources: [../../base]\npatches:\n  - path: replicas.yaml\n"
            )
            .into_bytes(),
        ));
        files.push((
            format!("deploy/overlays/{overlay}/replicas.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: {replicas}\n"
            )
            .into_bytes(),
        ));
    }
    files
}

/// What a CD tool applies to `cluster`: its overlay, built with kubectl kustomize.
fn build(files: &[(String, Vec<u8>)], overlay: &str) -> String {
    let checkout = tempfile::tempdir().expect("dir");
    for (path, content) in files {
        let target = checkout.path().join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dirs");
        std::fs::write(target, content).expect("file");
    }
    let output = std::process::Command::new(shared().binaries().kubectl())
        .arg("kustomize")
        .arg(checkout.path().join("deploy/overlays").join(overlay))
        .output()
        .expect("kubectl kustomize runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test]
async fn a_kustomize_overlay_per_cluster_is_rendered_deployed_and_drifts_per_target() {
    let world = World::start(
        "overlays",
        Options {
            overlays: true,
            ..Options::default()
        },
    )
    .await;
    let files = layout(&world.app_namespace);
    let (number, _) = world
        .merged_pr_with("Shop 4.0, per overlay", files.clone())
        .await;
    for cluster in CLUSTERS {
        apply(cluster, &build(&files, cluster), "cd");
    }
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Deployed).await;

    // Each target's monitor read its own overlay, rendered (the replicas differ per cluster,
    // and both hold: InSync).
    let monitors = world.monitors_of(number).await;
    let mut paths: Vec<(String, String)> = monitors
        .iter()
        .map(|m| (m.spec.cluster.clone(), m.spec.source.path.clone()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            (
                "in-cluster".to_owned(),
                "deploy/overlays/primary".to_owned()
            ),
            (
                world.secondary.clone(),
                "deploy/overlays/secondary".to_owned()
            ),
        ]
    );
    for monitor in &monitors {
        let status = monitor.status.clone().unwrap_or_default();
        assert_eq!(
            status.phase,
            Some(DriftPhase::InSync),
            "{}",
            monitor.spec.cluster
        );
        // The overlay's namespace is on every object: what was compared is kustomize's output.
        let deployment = format!("Deployment {}/shop: added", world.app_namespace);
        assert!(
            status.change.iter().any(|c| c.starts_with(&deployment)),
            "the rendered change: {:?}",
            status.change
        );
    }

    // A hand edit in the second cluster: that target drifts, the first stays live.
    scale("secondary", &world.app_namespace, 7, "kubectl-edit");
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Drifted).await;
    let phases = eventually("the phases per target", Duration::from_secs(30), || async {
        let mut phases: Vec<(String, Option<DriftPhase>)> = world
            .monitors_of(number)
            .await
            .into_iter()
            .map(|m| (m.spec.cluster, m.status.and_then(|s| s.phase)))
            .collect();
        phases.sort_by(|a, b| a.0.cmp(&b.0));
        (phases.len() == 2).then_some(phases)
    })
    .await;
    assert_eq!(
        phases,
        [
            ("in-cluster".to_owned(), Some(DriftPhase::InSync)),
            (world.secondary.clone(), Some(DriftPhase::Drifted)),
        ]
    );
}

/// The clusters `number`'s tracker decided its change reaches, once it has decided, and the
/// clusters of its monitors.
async fn reached_and_monitored(world: &World, number: u64) -> (Vec<String>, Vec<String>) {
    let reached = eventually("the reach decided", Duration::from_secs(60), || async {
        let reach = world.tracker(number).await?.status?.reach?;
        let mut reached: Vec<String> = reach
            .targets
            .into_iter()
            .filter(|t| t.reached)
            .map(|t| t.cluster)
            .collect();
        reached.sort();
        Some(reached)
    })
    .await;
    let mut monitored: Vec<String> = world
        .monitors_of(number)
        .await
        .into_iter()
        .map(|m| m.spec.cluster)
        .collect();
    monitored.sort();
    (reached, monitored)
}

#[tokio::test]
async fn a_pr_gets_a_monitor_only_for_the_targets_its_rendered_change_reaches() {
    let world = World::start(
        "reach",
        Options {
            overlays: true,
            ..Options::default()
        },
    )
    .await;
    let both = {
        let mut both = vec!["in-cluster".to_owned(), world.secondary.clone()];
        both.sort();
        both
    };
    let ns = world.app_namespace.clone();
    let (first, _) = world
        .merged_pr_with("Shop 4.0", layout_with(&ns, "4.0", [3, 2]))
        .await;
    assert_eq!(
        reached_and_monitored(&world, first).await,
        (both.clone(), both.clone())
    );

    // Only the secondary overlay changes (2 → 4 replicas): a monitor for that cluster alone.
    let (second, _) = world
        .merged_pr_with("Secondary: 4 replicas", layout_with(&ns, "4.0", [3, 4]))
        .await;
    let secondary = vec![world.secondary.clone()];
    assert_eq!(
        reached_and_monitored(&world, second).await,
        (secondary.clone(), secondary)
    );

    // The base changes (a new image): it reaches both overlays.
    let (third, _) = world
        .merged_pr_with("Shop 4.1", layout_with(&ns, "4.1", [3, 4]))
        .await;
    assert_eq!(
        reached_and_monitored(&world, third).await,
        (both.clone(), both)
    );

    // Only the README changes: no target renders anything new, so no monitor, and the tracker
    // says there is nothing to deploy.
    let mut docs = layout_with(&ns, "4.1", [3, 4]);
    docs.retain(|(path, _)| path != "README.md");
    docs.push(("README.md".to_owned(), b"# shop, the shop\n".to_vec()));
    let (fourth, _) = world.merged_pr_with("Docs", docs).await;
    assert_eq!(
        reached_and_monitored(&world, fourth).await,
        (Vec::new(), Vec::new())
    );
    let live = world
        .tracker(fourth)
        .await
        .and_then(|t| t.status)
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Live"))
        .expect("a Live condition");
    assert_eq!(live.reason, "NothingToDeploy", "{}", live.message);
    assert!(
        live.message.contains("deploy/overlays/secondary"),
        "{}",
        live.message
    );
    assert_eq!(world.state(fourth).await, Some(PrState::Merged));
}

/// The Ready message of each of `number`'s monitors, by cluster, once both say `Error`.
async fn errors_of(world: &World, number: u64) -> Vec<(String, String)> {
    world.wait_for_phases(number, DriftPhase::Error).await;
    let mut errors: Vec<(String, String)> = world
        .monitors_of(number)
        .await
        .into_iter()
        .map(|m| {
            let ready = m
                .status
                .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
                .map(|c| c.message)
                .unwrap_or_default();
            (m.spec.cluster, ready)
        })
        .collect();
    errors.sort();
    errors
}

#[tokio::test]
async fn a_remote_base_and_a_path_out_of_the_repository_are_errors_naming_them_and_fetch_nothing() {
    let world = World::start(
        "refused",
        Options {
            overlays: true,
            ..Options::default()
        },
    )
    .await;
    // The remote base is served by the simulator itself, so a fetch would show in its log.
    let remote = format!("{}/remote/base?ref=v1", world.sim.url());
    let mut files = layout(&world.app_namespace);
    for (path, content) in &mut files {
        if path == "deploy/overlays/primary/kustomization.yaml" {
            *content = format!("resources:\n  - {remote}\n").into_bytes();
        } else if path == "deploy/overlays/secondary/kustomization.yaml" {
            *content = b"resources: [../../../../etc]\n".to_vec();
        }
    }
    let (number, _) = world.merged_pr_with("Refused", files).await;
    let errors = errors_of(&world, number).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (primary, secondary) = (&errors[0].1, &errors[1].1);
    assert!(
        primary.contains("deploy/overlays/primary/kustomization.yaml")
            && primary.contains("a remote base"),
        "{primary}"
    );
    assert!(
        secondary.contains("deploy/overlays/secondary/kustomization.yaml")
            && secondary.contains("leads out of the repository"),
        "{secondary}"
    );
    assert!(
        !world
            .sim
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/remote")),
        "the remote base was fetched"
    );
    assert_eq!(world.state(number).await, Some(PrState::Merged));
}

#[tokio::test]
async fn a_render_that_would_print_without_end_or_never_end_is_stopped_at_the_limits() {
    // A stand-in kustomize: for the primary overlay it prints without end (hundreds of MB), for
    // the secondary it would run ten minutes.
    let tools = tempfile::tempdir().expect("dir");
    let kustomize = tools.path().join("kustomize");
    std::fs::write(
        &kustomize,
        "#!/bin/sh\ncase \"$2\" in\n  *primary*) exec yes 'a: b' ;;\n  *) exec sleep 600 ;;\nesac\n",
    )
    .expect("script");
    let made_executable = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&kustomize)
        .status()
        .expect("chmod");
    assert!(made_executable.success());
    let world = World::start(
        "limits",
        Options {
            overlays: true,
            kustomize: Some(kustomize),
            flags: vec!["--render-timeout=3s", "--render-max-output=1Mi"],
            ..Options::default()
        },
    )
    .await;
    let (number, _) = world
        .merged_pr_with("Endless", layout(&world.app_namespace))
        .await;
    let errors = errors_of(&world, number).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (primary, secondary) = (&errors[0].1, &errors[1].1);
    assert!(
        primary.contains("more than 1048576 bytes") && primary.contains("deploy/overlays/primary"),
        "{primary}"
    );
    assert!(
        secondary.contains("ran longer than") && secondary.contains("deploy/overlays/secondary"),
        "{secondary}"
    );
}

/// A chart whose values file per cluster sets the namespace and the replicas.
fn chart(namespace: &str) -> Vec<(String, Vec<u8>)> {
    let file = |path: &str, text: String| (path.to_owned(), text.into_bytes());
    vec![
        file(
            "deploy/chart/Chart.yaml",
            "apiVersion: v2\nname: shop\nversion: 0.1.0\n".to_owned(),
        ),
        file(
            "deploy/chart/values.yaml",
            format!("namespace: {namespace}\nreplicas: 1\n"),
        ),
        file(
            "deploy/chart/templates/shop.yaml",
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: {{ .Values.namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: app
          image: registry.example/shop:5.0
"
            .to_owned(),
        ),
        file("deploy/values/primary.yaml", "replicas: 3\n".to_owned()),
        file("deploy/values/secondary.yaml", "replicas: 2\n".to_owned()),
    ]
}

/// What a CD tool applies to `cluster`: the chart with its values file, from helm template.
fn template(files: &[(String, Vec<u8>)], cluster: &str) -> String {
    let checkout = tempfile::tempdir().expect("dir");
    for (path, content) in files {
        let target = checkout.path().join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dirs");
        std::fs::write(target, content).expect("file");
    }
    let helm = shared().binaries().helm().unwrap_or_else(|e| panic!("{e}"));
    let output = std::process::Command::new(helm)
        .args(["template", "prtracker"])
        .arg(checkout.path().join("deploy/chart"))
        .arg("--values")
        .arg(
            checkout
                .path()
                .join(format!("deploy/values/{cluster}.yaml")),
        )
        .env("HOME", checkout.path())
        .output()
        .expect("helm template runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test]
async fn a_chart_with_a_values_file_per_cluster_is_rendered_deployed_and_drifts_per_target() {
    let world = World::start(
        "chart",
        Options {
            chart: true,
            ..Options::default()
        },
    )
    .await;
    let files = chart(&world.app_namespace);
    let (number, _) = world
        .merged_pr_with("Shop 5.0, a chart", files.clone())
        .await;
    for cluster in CLUSTERS {
        apply(cluster, &template(&files, cluster), "cd");
    }
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Deployed).await;
    let mut values: Vec<(String, Vec<String>)> = world
        .monitors_of(number)
        .await
        .into_iter()
        .map(|m| (m.spec.cluster, m.spec.source.values))
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            (
                "in-cluster".to_owned(),
                vec!["deploy/values/primary.yaml".to_owned()]
            ),
            (
                world.secondary.clone(),
                vec!["deploy/values/secondary.yaml".to_owned()]
            ),
        ]
    );

    scale("primary", &world.app_namespace, 9, "kubectl-edit");
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Drifted).await;
    let mut phases: Vec<(String, Option<DriftPhase>)> = world
        .monitors_of(number)
        .await
        .into_iter()
        .map(|m| (m.spec.cluster, m.status.and_then(|s| s.phase)))
        .collect();
    phases.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        phases,
        [
            ("in-cluster".to_owned(), Some(DriftPhase::Drifted)),
            (world.secondary.clone(), Some(DriftPhase::InSync)),
        ]
    );

    // Only the secondary's values file changes: a monitor for that target alone.
    let mut files = chart(&world.app_namespace);
    for (path, content) in &mut files {
        if path == "deploy/values/secondary.yaml" {
            *content = b"replicas: 4\n".to_vec();
        }
    }
    let (second, _) = world.merged_pr_with("Secondary: 4 replicas", files).await;
    let secondary = vec![world.secondary.clone()];
    assert_eq!(
        reached_and_monitored(&world, second).await,
        (secondary.clone(), secondary)
    );

    // A dependency the chart does not vendor, from a repository the simulator serves (so a
    // fetch would show in its log): an error naming it in both targets, nothing fetched.
    let mut files = chart(&world.app_namespace);
    files[0].1 = format!(
        "apiVersion: v2\nname: shop\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 17.0.0\n    repository: {}/charts\n",
        world.sim.url()
    )
    .into_bytes();
    let (third, _) = world.merged_pr_with("Redis, not vendored", files).await;
    for (cluster, message) in errors_of(&world, third).await {
        assert!(
            message.contains("\"redis\"") && message.contains("not vendored"),
            "{cluster}: {message}"
        );
    }
    assert!(
        !world
            .sim
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/charts")),
        "the dependency was fetched"
    );
}
