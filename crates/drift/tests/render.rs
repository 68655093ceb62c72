//! Targets rendered with kustomize (the control plane's `kubectl kustomize`) and Helm (its `helm`),
//! from files the GitHub simulator holds at a commit: a base and two overlays render per overlay,
//! the base read from the same commit; a chart renders with each target's values files; the
//! output is the objects the tool gives on the same tree checked out by hand; a remote base, an
//! escaping path, a broken kustomization and an unvendored chart dependency are errors naming
//! the cause, with nothing fetched; a render past its time or output limit is stopped; renders
//! beyond the concurrency limit wait their turn.

use std::{path::Path, sync::Arc, time::Duration};

use prtracker_drift::{ManifestError, ParseLimits, Renderer, parse_manifests};
use prtracker_github::{GitHubApi, GitHubAuth, GitHubConfig, OctocrabGitHub, RepoFile};
use prtracker_github_sim::{Simulator, SimulatorHandle};
use prtracker_testenv::shared;

const REPO: &str = "octo-org/gitops";
const COMMIT: &str = "1c0ffee1c0ffee1c0ffee1c0ffee1c0ffee1c0f0";

const BASE_KUSTOMIZATION: &str = "resources:\n  - deployment.yaml\n  - config.yaml\n";
const BASE_DEPLOYMENT: &str = "apiVersion: apps/v1
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
          image: registry.example/shop:1.0
";
const BASE_CONFIG: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: base
";

fn overlay(namespace: &str, replicas: u32) -> String {
    format!(
        "namespace: {namespace}
resources:
  - ../../base
patches:
  - path: replicas.yaml
configMapGenerator:
  - name: extra
    literals: [env={namespace}]
---REPLICAS---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: {replicas}
"
    )
}

fn tree() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "deploy/base/kustomization.yaml".into(),
            BASE_KUSTOMIZATION.into(),
        ),
        ("deploy/base/deployment.yaml".into(), BASE_DEPLOYMENT.into()),
        ("deploy/base/config.yaml".into(), BASE_CONFIG.into()),
    ];
    for (env, replicas) in [("staging", 2), ("prod", 3)] {
        let text = overlay(env, replicas);
        let (kustomization, patch) = text.split_once("---REPLICAS---\n").expect("two parts");
        files.push((
            format!("deploy/overlays/{env}/kustomization.yaml"),
            kustomization.into(),
        ));
        files.push((format!("deploy/overlays/{env}/replicas.yaml"), patch.into()));
    }
    files
}

fn kubectl() -> std::path::PathBuf {
    shared().binaries().kubectl()
}

async fn github(sim: &SimulatorHandle) -> Arc<OctocrabGitHub> {
    let mut config = GitHubConfig::for_local_tests(sim.api_url());
    config.auth = GitHubAuth::Token(sim.token().to_owned());
    Arc::new(OctocrabGitHub::new(config).expect("client"))
}

async fn rendered(
    renderer: &Renderer,
    github: &OctocrabGitHub,
    path: &str,
) -> Result<Vec<RepoFile>, ManifestError> {
    rendered_with(renderer, github, path, &[]).await
}

async fn rendered_with(
    renderer: &Renderer,
    github: &OctocrabGitHub,
    path: &str,
    values: &[String],
) -> Result<Vec<RepoFile>, ManifestError> {
    let repo = REPO.parse().expect("repository");
    let files = github
        .read_files(&repo, path, COMMIT)
        .await
        .expect("files read");
    renderer
        .render(github, &repo, COMMIT, path, values, files)
        .await
        .expect("no GitHub error")
}

/// (kind, namespace, name) and the whole object, sorted.
fn objects(files: &[RepoFile]) -> Vec<(String, String)> {
    let mut objects: Vec<(String, String)> = parse_manifests(files, ParseLimits::default())
        .expect("parses")
        .into_iter()
        .map(|o| {
            (
                o.display_name(),
                serde_json::to_string(&o.body).expect("json"),
            )
        })
        .collect();
    objects.sort();
    objects
}

#[tokio::test]
async fn overlays_render_with_their_base_as_kubectl_kustomize_renders_them_by_hand() {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(REPO, COMMIT, tree()).expect("files");
    let github = github(&sim).await;
    let renderer = Renderer::default().with_kustomize(&kubectl());

    // The same tree checked out by hand.
    let checkout = tempfile::tempdir().expect("dir");
    for (path, content) in tree() {
        let target = checkout.path().join(&path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dirs");
        std::fs::write(target, content).expect("file");
    }
    for (env, replicas) in [("staging", 2), ("prod", 3)] {
        let path = format!("deploy/overlays/{env}");
        let ours = rendered(&renderer, &github, &path).await.expect("rendered");
        let by_hand = std::process::Command::new(kubectl())
            .arg("kustomize")
            .arg(checkout.path().join(&path))
            .output()
            .expect("kubectl kustomize runs");
        assert!(by_hand.status.success(), "{by_hand:?}");
        let by_hand = [RepoFile {
            path: "by-hand.yaml".into(),
            sha: String::new(),
            content: by_hand.stdout,
        }];
        assert_eq!(objects(&ours), objects(&by_hand), "{env}");
        let shown: Vec<String> = objects(&ours).into_iter().map(|(name, _)| name).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        let deployment = parse_manifests(&ours, ParseLimits::default())
            .expect("parses")
            .into_iter()
            .find(|o| o.kind == "Deployment")
            .expect("the deployment");
        assert_eq!(deployment.namespace.as_deref(), Some(env));
        assert_eq!(deployment.body["spec"]["replicas"], replicas);
    }

    // A plain directory is read as it is: nothing is run.
    let plain = rendered(&renderer, &github, "deploy/base/deployment.yaml")
        .await
        .expect("read");
    assert_eq!(plain.len(), 1);
}

async fn render_error(files: Vec<(String, Vec<u8>)>, path: &str, renderer: &Renderer) -> String {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(REPO, COMMIT, files).expect("files");
    let github = github(&sim).await;
    let error = rendered(renderer, &github, path)
        .await
        .expect_err("a render error");
    let ManifestError::Render { path: at, .. } = &error else {
        panic!("not a render error: {error:?}");
    };
    assert_eq!(at, path);
    error.to_string()
}

#[tokio::test]
async fn remote_bases_escapes_and_broken_kustomizations_are_errors_naming_the_cause() {
    let renderer = Renderer::default().with_kustomize(&kubectl());
    let file = |path: &str, text: &str| (path.to_owned(), text.as_bytes().to_vec());

    let remote = render_error(
        vec![file(
            "deploy/kustomization.yaml",
            "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n",
        )],
        "deploy",
        &renderer,
    )
    .await;
    assert!(
        remote.contains("a remote base") && remote.contains("vendor it"),
        "{remote}"
    );

    let escaping = render_error(
        vec![file(
            "deploy/kustomization.yaml",
            "resources: [../../../etc]\n",
        )],
        "deploy",
        &renderer,
    )
    .await;
    assert!(
        escaping.contains("leads out of the repository"),
        "{escaping}"
    );

    let cycle = render_error(
        vec![file("deploy/prod/kustomization.yaml", "resources: [..]\n")],
        "deploy/prod",
        &renderer,
    )
    .await;
    assert!(cycle.contains("holds the target itself"), "{cycle}");

    let fetching = render_error(
        vec![file(
            "deploy/kustomization.yaml",
            "configMapGenerator: [{name: x, files: ['k=http://169.254.169.254/latest/meta-data']}]\n",
        )],
        "deploy",
        &renderer,
    )
    .await;
    assert!(
        fetching.contains("never fetches from the network"),
        "{fetching}"
    );

    let missing = render_error(
        vec![file("deploy/kustomization.yaml", "resources: [../base]\n")],
        "deploy",
        &renderer,
    )
    .await;
    assert!(
        missing.contains("base, which a kustomization refers to"),
        "{missing}"
    );

    let broken = render_error(
        vec![file(
            "deploy/kustomization.yaml",
            "resources: [nothere.yaml]\n",
        )],
        "deploy",
        &renderer,
    )
    .await;
    assert!(
        broken.contains("kustomize failed") && broken.contains("nothere.yaml"),
        "{broken}"
    );
    assert!(
        !broken.contains("/tmp/"),
        "the scratch directory leaks into {broken}"
    );

    let without = render_error(
        vec![file("deploy/kustomization.yaml", "resources: []\n")],
        "deploy",
        &Renderer::default(),
    )
    .await;
    assert!(without.contains("--kustomize"), "{without}");
}

#[tokio::test]
async fn a_render_past_its_time_or_output_limit_is_stopped() {
    let dir = tempfile::tempdir().expect("dir");
    // A stand-in kustomize: one that never ends, one that prints without end.
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        std::process::Command::new("chmod")
            .args(["+x"])
            .arg(&path)
            .status()
            .expect("chmod");
        path
    };
    let slow = script("slow-kustomize", "exec sleep 600");
    let loud = script("loud-kustomize", "exec yes 'a: b'");
    let files = vec![(
        "deploy/kustomization.yaml".to_owned(),
        b"resources: []\n".to_vec(),
    )];

    let started = std::time::Instant::now();
    let stopped = render_error(
        files.clone(),
        "deploy",
        &Renderer::default()
            .with_kustomize(Path::new(&slow))
            .with_limits(Duration::from_secs(2), 1024 * 1024),
    )
    .await;
    assert!(stopped.contains("ran longer than"), "{stopped}");
    assert!(started.elapsed() < Duration::from_secs(30));

    let flooded = render_error(
        files,
        "deploy",
        &Renderer::default()
            .with_kustomize(Path::new(&loud))
            .with_limits(Duration::from_secs(60), 1024 * 1024),
    )
    .await;
    assert!(flooded.contains("more than 1048576 bytes"), "{flooded}");
}

#[tokio::test]
async fn renders_beyond_the_concurrency_limit_wait_their_turn() {
    let dir = tempfile::tempdir().expect("dir");
    let running = dir.path().join("running");
    std::fs::create_dir(&running).expect("running dir");
    let seen = dir.path().join("seen");
    // A stand-in kustomize that writes down how many renders run while it does.
    let script = dir.path().join("counting-kustomize");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
touch '{running}'/$$
set -- '{running}'/*; echo $# >> '{seen}'
sleep 0.5
set -- '{running}'/*; echo $# >> '{seen}'
rm '{running}'/$$
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n'
"#,
            running = running.display(),
            seen = seen.display()
        ),
    )
    .expect("script");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");

    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(
        REPO,
        COMMIT,
        vec![(
            "deploy/kustomization.yaml".to_owned(),
            b"resources: []\n".to_vec(),
        )],
    )
    .expect("files");
    let github = github(&sim).await;
    let renderer = Renderer::default()
        .with_kustomize(&script)
        .with_concurrency(2);
    let renders = (0..6).map(|_| rendered(&renderer, &github, "deploy"));
    for render in futures::future::join_all(renders).await {
        assert_eq!(objects(&render.expect("rendered")).len(), 1);
    }

    let seen = std::fs::read_to_string(&seen).expect("counts");
    let counts: Vec<usize> = seen
        .lines()
        .map(|l| l.trim().parse().expect("a count"))
        .collect();
    assert_eq!(counts.len(), 12, "{seen}");
    assert!(
        counts.iter().all(|&n| (1..=2).contains(&n)),
        "more than 2 at once: {counts:?}"
    );
}

fn helm() -> std::path::PathBuf {
    shared().binaries().helm().unwrap_or_else(|e| panic!("{e}"))
}

fn chart_tree() -> Vec<(String, Vec<u8>)> {
    let file = |path: &str, text: &str| (path.to_owned(), text.as_bytes().to_vec());
    vec![
        file(
            "deploy/chart/Chart.yaml",
            "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
        ),
        file("deploy/chart/values.yaml", "replicas: 1\nmode: base\n"),
        file(
            "deploy/chart/templates/app.yaml",
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-shop
  namespace: shop
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
          image: registry.example/shop:1.0
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
  namespace: shop
data:
  mode: {{ .Values.mode | quote }}
",
        ),
        file("deploy/values/prod.yaml", "replicas: 3\nmode: prod\n"),
    ]
}

#[tokio::test]
async fn a_chart_renders_with_its_targets_values_as_helm_template_renders_it_by_hand() {
    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(REPO, COMMIT, chart_tree()).expect("files");
    let github = github(&sim).await;
    let renderer = Renderer::default().with_helm(&helm());
    let values = ["deploy/values/prod.yaml".to_owned()];
    let ours = rendered_with(&renderer, &github, "deploy/chart", &values)
        .await
        .expect("rendered");

    let checkout = tempfile::tempdir().expect("dir");
    for (path, content) in chart_tree() {
        let target = checkout.path().join(&path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dirs");
        std::fs::write(target, content).expect("file");
    }
    let by_hand = std::process::Command::new(helm())
        .args(["template", "prtracker"])
        .arg(checkout.path().join("deploy/chart"))
        .arg("--values")
        .arg(checkout.path().join("deploy/values/prod.yaml"))
        .env("HOME", checkout.path())
        .output()
        .expect("helm template runs");
    assert!(by_hand.status.success(), "{by_hand:?}");
    let by_hand = [RepoFile {
        path: "by-hand.yaml".into(),
        sha: String::new(),
        content: by_hand.stdout,
    }];
    assert_eq!(objects(&ours), objects(&by_hand));
    let deployment = parse_manifests(&ours, ParseLimits::default())
        .expect("parses")
        .into_iter()
        .find(|o| o.kind == "Deployment")
        .expect("the deployment");
    assert_eq!(deployment.body["spec"]["replicas"], 3);

    // Without the values file, the chart's own values.
    let plain = rendered(&renderer, &github, "deploy/chart")
        .await
        .expect("rendered");
    let deployment = parse_manifests(&plain, ParseLimits::default())
        .expect("parses")
        .into_iter()
        .find(|o| o.kind == "Deployment")
        .expect("the deployment");
    assert_eq!(deployment.body["spec"]["replicas"], 1);
}

#[tokio::test]
async fn an_unvendored_dependency_or_a_missing_values_file_is_an_error_naming_it() {
    let renderer = Renderer::default().with_helm(&helm());
    let mut tree = chart_tree();
    tree[0].1 = b"apiVersion: v2\nname: shop\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 17.0.0\n    repository: https://charts.bitnami.com/bitnami\n".to_vec();
    let unvendored = render_error(tree, "deploy/chart", &renderer).await;
    assert!(
        unvendored.contains("\"redis\"") && unvendored.contains("not vendored"),
        "{unvendored}"
    );

    let sim = Simulator::start().await.expect("simulator");
    sim.create_repo(REPO).expect("repository");
    sim.set_files(REPO, COMMIT, chart_tree()).expect("files");
    let github = github(&sim).await;
    let missing = rendered_with(
        &renderer,
        &github,
        "deploy/chart",
        &["deploy/values/nothere.yaml".to_owned()],
    )
    .await
    .expect_err("a missing values file");
    assert!(
        missing
            .to_string()
            .contains("deploy/values/nothere.yaml is not in the repository"),
        "{missing}"
    );
    let without = render_error(chart_tree(), "deploy/chart", &Renderer::default()).await;
    assert!(without.contains("--helm"), "{without}");
}
