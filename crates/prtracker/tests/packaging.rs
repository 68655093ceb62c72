//! Packaging: the Dockerfile (checked as text: no Docker engine runs here, the image build itself is
//! not tested), the kustomize and helm it ships (the versions scripts/build-control-plane.sh pins and
//! builds), and the Helm chart under deploy/helm/prtracker, rendered by `helm template` (helm built
//! by scripts/build-control-plane.sh) and accepted by the test control plane's apiserver
//! (`kubectl apply --dry-run=server`).

use std::{
    collections::BTreeSet,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use prtracker_testenv::{Binaries, shared, test_namespace};
use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .expect("the workspace root")
}

fn chart_dir() -> PathBuf {
    root().join("deploy/helm/prtracker")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest(path: &Path) -> toml_lite::Table {
    toml_lite::parse(&read(path))
}

/// Dockerfile instructions with their continuation lines joined, comments dropped.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read(&root().join("Dockerfile"));
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .map(|instruction| {
            let (keyword, rest) = instruction
                .split_once(char::is_whitespace)
                .unwrap_or((&instruction, ""));
            (keyword.to_ascii_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

/// The workspace's members, from the root Cargo.toml.
fn workspace_members() -> Vec<String> {
    let text = read(&root().join("Cargo.toml"));
    let start = text.find("members = [").expect("a members list");
    let end = start + text[start..].find(']').expect("the end of members");
    text[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn dockerfile_copies_what_exists_builds_every_crate_and_runs_the_binary_as_non_root() {
    let instructions = dockerfile_instructions();
    let dockerignore = read(&root().join(".dockerignore"));
    let allowed: Vec<&str> = dockerignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .map(|l| l.trim_end_matches('/'))
        .collect();

    // Every COPY from the build context names a path of the repository that .dockerignore lets in.
    let mut copied = BTreeSet::new();
    for (keyword, rest) in &instructions {
        if keyword != "COPY" || rest.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = rest
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        assert!(words.len() >= 2, "COPY {rest}");
        for source in &words[..words.len() - 1] {
            let path = root().join(source);
            assert!(
                path.exists(),
                "COPY {source}: no such path in the repository"
            );
            assert!(
                allowed
                    .iter()
                    .any(|a| source == a || source.starts_with(&format!("{a}/"))),
                "COPY {source}: .dockerignore leaves it out of the build context (allowed: {allowed:?})"
            );
            copied.insert((*source).to_owned());
        }
    }
    // The dependency layer sees every member's manifest (a new crate must be added there too).
    for member in workspace_members() {
        let manifest = format!("{member}/Cargo.toml");
        assert!(
            copied.contains(&manifest),
            "the Dockerfile's dependency layer does not COPY {manifest}"
        );
        // Its stand-ins are src/lib.rs, src/main.rs for prtracker, and benches/NAME.rs per [[bench]]:
        // any other explicit target would need one too.
        let table = manifest_targets(&root().join(&manifest));
        for (kind, path) in table {
            let ok = match kind.as_str() {
                "bench" => path.starts_with("benches/"),
                "bin" => member == "crates/prtracker" && path == "src/main.rs",
                _ => false,
            };
            assert!(
                ok,
                "{manifest}: [[{kind}]] at {path} has no stand-in in the Dockerfile's dependency layer"
            );
        }
    }
    assert!(
        copied.contains("crates"),
        "the sources are copied: {copied:?}"
    );

    // The musl target is the build stage's own architecture, written down once and used by both
    // builds.
    assert!(
        instructions.iter().any(|(k, rest)| k == "RUN"
            && rest.contains("echo \"$(uname -m)-unknown-linux-musl\" >/rust-target")
            && rest.contains("rustup target add \"$(cat /rust-target)\"")),
        "the build picks its musl target from the architecture"
    );
    // The entrypoint is the binary cargo builds, copied from where cargo puts it for musl.
    let bin_name = manifest(&root().join("crates/prtracker/Cargo.toml"))
        .array_of_tables("bin")
        .first()
        .and_then(|bin| bin.get("name").cloned())
        .expect("crates/prtracker declares its [[bin]]");
    let entrypoint = instructions
        .iter()
        .rev()
        .find(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, rest)| rest.clone())
        .expect("an ENTRYPOINT");
    assert_eq!(entrypoint, format!("[\"/{bin_name}\"]"));
    let build_runs: Vec<&String> = instructions
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, rest)| rest)
        .collect();
    assert!(
        build_runs.iter().any(|run| run.contains(&format!(
            "\"target/$(cat /rust-target)/release/{bin_name}\" /{bin_name}"
        )) && run.contains("-p prtracker")),
        "the build copies the musl binary to /{bin_name}: {build_runs:#?}"
    );
    assert!(
        instructions.iter().any(|(k, rest)| k == "COPY"
            && rest.contains("--from=build")
            && rest.ends_with(&format!("/{bin_name}"))),
        "the final stage takes /{bin_name} from the build stage"
    );

    // Multi-stage, a static final stage, non-root.
    let stages: Vec<&String> = instructions
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, rest)| rest)
        .collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    let last = stages.last().expect("a final stage");
    assert!(
        last.starts_with("scratch") || last.starts_with("gcr.io/distroless/static"),
        "a static final stage: {last}"
    );
    let final_stage_start = instructions
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM");
    let user = instructions[final_stage_start..]
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, rest)| rest.clone())
        .expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap_or_default();
    assert!(
        uid != "0" && uid != "root" && !uid.is_empty(),
        "non-root: USER {user}"
    );
    assert_eq!(uid, "65532", "the uid deploy/ and the chart run as");

    // The Rust image is at least the workspace's rust-version.
    let rust_version = instructions
        .iter()
        .find_map(|(k, rest)| {
            (k == "ARG")
                .then(|| rest.strip_prefix("RUST_VERSION="))
                .flatten()
        })
        .expect("ARG RUST_VERSION=");
    let workspace = read(&root().join("Cargo.toml"));
    let required = workspace
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("the workspace's rust-version")
        .trim_matches('"');
    let minor = |v: &str| -> u32 {
        v.split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("a version 1.N: {v}"))
    };
    assert!(
        minor(rust_version) >= minor(required),
        "RUST_VERSION {rust_version} is older than rust-version {required}"
    );
    for label in [
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
    ] {
        assert!(
            instructions
                .iter()
                .any(|(k, rest)| k == "LABEL" && rest.contains(label)),
            "OCI label {label}"
        );
    }
}

/// `[[bin]]`, `[[bench]]`, `[[test]]`, `[[example]]` targets of a manifest, as (kind, path).
fn manifest_targets(path: &Path) -> Vec<(String, String)> {
    let table = manifest(path);
    let mut targets = Vec::new();
    for kind in ["bin", "bench", "test", "example"] {
        for target in table.array_of_tables(kind) {
            let default = match kind {
                "bench" => format!(
                    "benches/{}.rs",
                    target.get("name").cloned().unwrap_or_default()
                ),
                "bin" => "src/main.rs".to_owned(),
                other => format!(
                    "{other}s/{}.rs",
                    target.get("name").cloned().unwrap_or_default()
                ),
            };
            let path = target.get("path").cloned().unwrap_or(default);
            targets.push((kind.to_owned(), path));
        }
    }
    targets
}

#[test]
fn the_charts_crds_are_deploy_crds() {
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    let deploy = root().join("deploy/crds");
    let chart = chart_dir().join("crds");
    assert_eq!(
        names(&deploy),
        names(&chart),
        "deploy/helm/prtracker/crds holds the files of deploy/crds"
    );
    for name in names(&deploy) {
        assert_eq!(
            read(&deploy.join(&name)),
            read(&chart.join(&name)),
            "deploy/helm/prtracker/crds/{name} differs from deploy/crds/{name}: cp deploy/crds/*.yaml deploy/helm/prtracker/crds/"
        );
    }
}

fn helm() -> Command {
    let helm = shared()
        .binaries()
        .helm()
        .unwrap_or_else(|error| panic!("{error}"));
    Command::new(helm)
}

fn run(mut command: Command) -> Output {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `helm template` of the chart in `namespace`, with these extra arguments.
fn template(namespace: &str, extra: &[&str]) -> String {
    let mut command = helm();
    command
        .args(["template", "prtracker"])
        .arg(chart_dir())
        .args(["--namespace", namespace])
        .args(extra);
    String::from_utf8(run(command).stdout).expect("utf-8")
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("helm renders YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn deployment_args(docs: &[Value]) -> Vec<String> {
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    containers[0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string argument").to_owned())
        .collect()
}

/// `kubectl apply --dry-run=server -f -` of `yaml` on the test control plane.
fn apply_dry_run(yaml: &str) -> String {
    let mut child = shared()
        .primary()
        .kubectl()
        .args(["apply", "--dry-run=server", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("writing the rendering to kubectl");
    let output = child.wait_with_output().expect("kubectl ends");
    assert!(
        output.status.success(),
        "kubectl apply --dry-run=server refused the rendering: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn namespace(prefix: &str) -> String {
    let client = shared().primary().client().expect("a client");
    test_namespace(&client, prefix).await.expect("a namespace")
}

/// The version scripts/build-control-plane.sh pins as `NAME=`.
fn script_pin(name: &str) -> String {
    let script = read(&root().join("scripts/build-control-plane.sh"));
    script
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{name}= in the build script"))
        .to_owned()
}

#[test]
fn helm_is_the_version_the_build_script_pins() {
    let pinned = script_pin("HELM_VERSION");
    let mut command = helm();
    command.args(["version", "--template", "{{.Version}}"]);
    let version = String::from_utf8(run(command).stdout).expect("utf-8");
    assert_eq!(version.trim(), pinned);
    assert!(pinned.starts_with("v3."), "a Helm 3 release: {pinned}");
}

#[test]
fn kustomize_is_the_version_the_build_script_pins() {
    let binaries = Binaries::locate().unwrap_or_else(|error| panic!("{error}"));
    let kustomize = binaries.dir().join("kustomize");
    assert!(
        kustomize.is_file(),
        "{} is missing: build it with scripts/build-control-plane.sh --with-kustomize",
        kustomize.display()
    );
    let mut command = Command::new(&kustomize);
    command.arg("version");
    let version = String::from_utf8(run(command).stdout).expect("utf-8");
    let pinned = script_pin("KUSTOMIZE_VERSION");
    assert_eq!(version.trim(), pinned);
    assert!(pinned.starts_with("v5."), "a kustomize 5 release: {pinned}");
}

/// The image renders targets with the kustomize and helm the tests run: the Dockerfile's versions are
/// the build script's, they are what its Go stage builds, statically, and the final stage puts both on
/// PATH, where the operator's --kustomize and --helm look by default.
#[test]
fn the_image_ships_kustomize_and_helm_at_the_versions_the_build_script_pins() {
    let instructions = dockerfile_instructions();
    let final_stage_start = instructions
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM");
    let copy = instructions[final_stage_start..]
        .iter()
        .find(|(k, rest)| k == "COPY" && rest.contains("/kustomize") && rest.contains("/helm"))
        .map(|(_, rest)| rest.clone())
        .expect("the final stage copies kustomize and helm");
    let words: Vec<&str> = copy.split_whitespace().collect();
    assert_eq!(
        words.last(),
        Some(&"/usr/local/bin/"),
        "kustomize and helm go to /usr/local/bin, on the image's PATH: COPY {copy}"
    );
    let stage = words
        .iter()
        .find_map(|w| w.strip_prefix("--from="))
        .unwrap_or_else(|| panic!("COPY {copy} takes them from a build stage"));
    let stage_start = instructions
        .iter()
        .position(|(k, rest)| {
            k == "FROM"
                && rest
                    .to_ascii_lowercase()
                    .ends_with(&format!(" as {}", stage.to_ascii_lowercase()))
        })
        .unwrap_or_else(|| panic!("a stage named {stage}"));
    let stage_end = instructions[stage_start + 1..]
        .iter()
        .position(|(k, _)| k == "FROM")
        .map_or(instructions.len(), |i| stage_start + 1 + i);
    let tools = &instructions[stage_start..stage_end];
    assert!(
        tools
            .iter()
            .any(|(k, rest)| (k == "ENV" || k == "RUN") && rest.contains("CGO_ENABLED=0")),
        "stage {stage} builds with CGO_ENABLED=0: the final stage has no libc"
    );

    for (name, module) in [
        ("HELM_VERSION", "helm.sh/helm/v3/cmd/helm"),
        ("KUSTOMIZE_VERSION", "sigs.k8s.io/kustomize/kustomize/v5"),
    ] {
        let pinned = script_pin(name);
        let declared: Vec<&str> = instructions
            .iter()
            .filter(|(k, _)| k == "ARG")
            .filter_map(|(_, rest)| rest.strip_prefix(&format!("{name}=")))
            .collect();
        assert!(
            !declared.is_empty(),
            "the Dockerfile pins ARG {name}= (scripts/build-control-plane.sh has {name}={pinned})"
        );
        for version in declared {
            assert_eq!(
                version, pinned,
                "the Dockerfile's {name} differs from scripts/build-control-plane.sh's"
            );
        }
        assert!(
            tools.iter().any(|(k, rest)| k == "ARG" && rest == name),
            "stage {stage} takes ARG {name}"
        );
        let build = tools
            .iter()
            .find(|(k, rest)| k == "RUN" && rest.contains(&format!("{module}@${{{name}}}")))
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("stage {stage} fetches {module}@${{{name}}}"));
        assert!(
            build.contains("go build -trimpath"),
            "stage {stage} builds {module} with -trimpath: {build}"
        );
    }
}

/// A pod whose root filesystem is read-only must mount an emptyDir at /tmp: the renderer's
/// scratch directories (kustomize, helm template) live there.
fn assert_has_writable_tmp(pod: &Value, what: &str) {
    let mounts = pod["containers"][0]["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tmp = mounts
        .iter()
        .find(|m| m["mountPath"] == "/tmp")
        .unwrap_or_else(|| panic!("{what} mounts nothing at /tmp: {mounts:?}"));
    assert_ne!(tmp["readOnly"], true, "{what}: /tmp is read-only");
    let volume = pod["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == tmp["name"]))
        .unwrap_or_else(|| panic!("{what}: no volume {:?}", tmp["name"]));
    assert!(
        volume.get("emptyDir").is_some(),
        "{what}: /tmp is not an emptyDir: {volume:?}"
    );
}

#[test]
fn deploy_gives_the_renderer_a_writable_tmp() {
    let deployment: Value =
        serde_yaml_ng::from_str(&read(&root().join("deploy/deployment.yaml"))).expect("yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    assert_has_writable_tmp(pod, "deploy/deployment.yaml");
}

#[tokio::test]
async fn the_default_rendering_is_accepted_by_the_apiserver() {
    let ns = namespace("helm-default").await;
    let yaml = template(&ns, &["--include-crds"]);
    let docs = documents(&yaml);
    let kinds = kinds(&docs);
    assert!(
        !kinds.iter().any(|k| k == "ServiceMonitor"),
        "the ServiceMonitor is off by default (its CRD is not on every cluster): {kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k == "Secret"),
        "no Secret unless asked: {kinds:?}"
    );
    for kind in [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "ghcr.io/prtracker/prtracker:0.1.0");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["runAsUser"], 65532);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_has_writable_tmp(pod, "the chart's Deployment");
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    let args = deployment_args(&docs);
    assert_eq!(
        args,
        [
            "run",
            "--github-api-url=https://api.github.com",
            "--github-token-file=/etc/prtracker/github/token",
            "--webhook-secret-file=/etc/prtracker/github/webhook-secret",
            "--webhook-max-connections=512",
            "--webhook-header-timeout=10s",
            "--webhook-body-timeout=30s",
            "--webhook-body-budget=32Mi",
            "--webhook-dedup-capacity=10000",
            "--listen=0.0.0.0:8080",
            "--label-prefix=state/",
            "--resync-interval=5m",
            "--github-points-per-minute=800",
            "--manifests-path=.",
            "--monitor-interval=30m",
            "--watch-clusters=true",
            "--settle-window=2m",
            "--render-timeout=60s",
            "--render-max-output=64Mi",
            "--render-concurrency=2",
            &format!("--cluster-secrets-namespace={ns}"),
            "--leader-elect",
            &format!("--lease-namespace={ns}"),
            "--lease-name=prtracker-leader",
            "--lease-duration=15s",
            "--log-format=json",
        ]
    );

    // The same least-privilege rules as deploy/rbac.yaml.
    let deploy_rbac = read(&root().join("deploy/rbac.yaml"));
    let deploy_docs = documents(&deploy_rbac);
    let rules = |docs: &[Value], kind: &str, name_suffix: &str| -> BTreeSet<String> {
        docs.iter()
            .filter(|d| {
                d["kind"] == kind
                    && d["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with(name_suffix))
            })
            .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| r.to_string())
            .collect()
    };
    assert_eq!(
        rules(&docs, "ClusterRole", "prtracker"),
        rules(&deploy_docs, "ClusterRole", "prtracker")
    );
    assert_eq!(
        rules(&docs, "ClusterRole", "drift-in-cluster"),
        rules(&deploy_docs, "ClusterRole", "drift-in-cluster")
    );
    let chart_role: BTreeSet<String> = rules(&docs, "Role", "cluster-secrets")
        .union(&rules(&docs, "Role", "leader-election"))
        .cloned()
        .collect();
    assert_eq!(chart_role, rules(&deploy_docs, "Role", "prtracker"));

    let applied = apply_dry_run(&yaml);
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/pullrequesttrackers.prtracker.io",
        "customresourcedefinition.apiextensions.k8s.io/driftmonitors.prtracker.io",
        "serviceaccount/prtracker",
        "clusterrole.rbac.authorization.k8s.io/prtracker",
        "clusterrole.rbac.authorization.k8s.io/prtracker-drift-in-cluster",
        "role.rbac.authorization.k8s.io/prtracker-leader-election",
        "rolebinding.rbac.authorization.k8s.io/prtracker-cluster-secrets",
        "service/prtracker",
        "deployment.apps/prtracker",
    ] {
        assert!(
            applied.contains(object),
            "{object} not in kubectl's answer:\n{applied}"
        );
    }
}

#[tokio::test]
async fn every_option_reaches_the_deployments_arguments_and_is_accepted() {
    let ns = namespace("helm-all").await;
    let secrets_ns = namespace("helm-clusters").await;
    let lease_ns = namespace("helm-leases").await;
    let values = chart_dir().join("ci/all-options-values.yaml");
    let yaml = template(
        &ns,
        &[
            "--values",
            values.to_str().expect("a utf-8 path"),
            "--set",
            &format!("operator.clusterSecretsNamespace={secrets_ns}"),
            "--set",
            &format!("leaderElection.leaseNamespace={lease_ns}"),
        ],
    );
    let docs = documents(&yaml);
    let kinds = kinds(&docs);
    assert!(!kinds.iter().any(|k| k == "ServiceMonitor"), "{kinds:?}");
    assert!(
        !kinds.iter().any(|k| k == "CustomResourceDefinition"),
        "CRDs only with --include-crds: {kinds:?}"
    );
    assert!(
        !docs
            .iter()
            .any(|d| d["metadata"]["name"].as_str() == Some("prtracker-drift-in-cluster")),
        "rbac.driftInCluster.enabled: false drops the in-cluster drift role"
    );
    let args = deployment_args(&docs);
    let expected = [
        "run".to_owned(),
        "--github-api-url=https://github.example.com/api/v3".to_owned(),
        "--github-app-id=123456789".to_owned(),
        "--github-app-private-key-file=/etc/prtracker/github/app-private-key.pem".to_owned(),
        "--github-app-installation-id=987654321".to_owned(),
        "--webhook-secret-file=/etc/prtracker/github/webhook-secret".to_owned(),
        "--webhook-secret-file=/etc/prtracker/github/webhook-secret-1".to_owned(),
        "--webhook-max-connections=256".to_owned(),
        "--webhook-header-timeout=5s".to_owned(),
        "--webhook-body-timeout=20s".to_owned(),
        "--webhook-body-budget=64Mi".to_owned(),
        "--webhook-dedup-capacity=20000".to_owned(),
        "--listen=0.0.0.0:9090".to_owned(),
        "--namespace=team-a".to_owned(),
        "--label-prefix=pr-state/".to_owned(),
        "--resync-interval=2m".to_owned(),
        "--github-points-per-minute=0".to_owned(),
        "--track-repo=octo-org/shop".to_owned(),
        "--track-repo=octo-org/billing".to_owned(),
        "--tracker-namespace=team-a".to_owned(),
        "--default-clusters=in-cluster,staging".to_owned(),
        "--manifests-path=deploy/k8s".to_owned(),
        "--monitor-interval=1m".to_owned(),
        "--watch-clusters=false".to_owned(),
        "--settle-window=90s".to_owned(),
        "--forget-after=2160h".to_owned(),
        "--pr-comment".to_owned(),
        "--github-deployments".to_owned(),
        "--commit-statuses".to_owned(),
        "--check-runs".to_owned(),
        "--deployment-environment=in-cluster=production".to_owned(),
        "--production-environment=production".to_owned(),
        "--ignore-differences-file=/etc/prtracker/ignore-differences/rules.yaml".to_owned(),
        "--kustomize=/opt/tools/kustomize".to_owned(),
        "--helm=/opt/tools/helm".to_owned(),
        "--render-timeout=2m".to_owned(),
        "--render-max-output=128Mi".to_owned(),
        "--render-concurrency=4".to_owned(),
        format!("--cluster-secrets-namespace={secrets_ns}"),
        "--leader-elect".to_owned(),
        format!("--lease-namespace={lease_ns}"),
        "--lease-name=prtracker-lease".to_owned(),
        "--lease-duration=20s".to_owned(),
        "--log-format=text".to_owned(),
    ];
    assert_eq!(args, expected);
    assert!(
        !args.iter().any(|a| a.starts_with("--github-token")),
        "an App replaces the token: {args:?}"
    );

    // The global ignore rules: a ConfigMap, mounted where the flag says.
    let rules = docs
        .iter()
        .find(|d| {
            d["kind"] == "ConfigMap"
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-ignore-differences"))
        })
        .expect("the ignore rules' ConfigMap");
    let rules: serde_json::Value =
        serde_yaml_ng::from_str(rules["data"]["rules.yaml"].as_str().expect("rules.yaml"))
            .expect("rules as YAML");
    assert_eq!(rules[0]["managedFieldsManagers"][0], "hpa-controller");

    // The files the arguments name are the ones the projected volume mounts.
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "prtracker-operator");
    assert_eq!(
        pod["containers"][0]["image"],
        "registry.example.com/prtracker:0.1.0-test"
    );
    let mut mounted: BTreeSet<String> = pod["volumes"][0]["projected"]["sources"]
        .as_array()
        .expect("projected sources")
        .iter()
        .flat_map(|s| s["secret"]["items"].as_array().cloned().unwrap_or_default())
        .map(|item| {
            format!(
                "/etc/prtracker/github/{}",
                item["path"].as_str().unwrap_or("")
            )
        })
        .collect();
    // The ignore rules' ConfigMap, mounted as a directory of its keys.
    let rules_volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| {
            v["configMap"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-ignore-differences"))
        })
        .expect("the rules' volume");
    let rules_mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == rules_volume["name"])
        .expect("the rules mounted");
    mounted.insert(format!(
        "{}/rules.yaml",
        rules_mount["mountPath"].as_str().expect("a mount path")
    ));
    let named: BTreeSet<String> = args
        .iter()
        .filter_map(|a| a.split_once('='))
        .filter(|(flag, _)| flag.ends_with("-file"))
        .map(|(_, path)| path.to_owned())
        .collect();
    assert_eq!(mounted, named);
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret")
        .expect("github.secret.create renders the Secret");
    assert_eq!(secret["metadata"]["name"], "prtracker-credentials");
    assert_eq!(secret["stringData"]["webhook-secret"], "a-webhook-secret");
    assert!(secret["stringData"]["app.pem"].is_string());

    // The Roles go where the Lease and the cluster Secrets are.
    let role_namespace = |suffix: &str| {
        docs.iter()
            .find(|d| {
                d["kind"] == "Role"
                    && d["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with(suffix))
            })
            .map(|d| d["metadata"]["namespace"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("a Role *{suffix}"))
    };
    assert_eq!(role_namespace("cluster-secrets"), secrets_ns);
    assert_eq!(role_namespace("leader-election"), lease_ns);

    apply_dry_run(&yaml);
}

#[test]
fn every_flag_of_prtracker_run_has_a_value_in_the_chart() {
    let help = Command::new(env!("CARGO_BIN_EXE_prtracker"))
        .args(["run", "--help"])
        .output()
        .expect("prtracker run --help");
    assert!(help.status.success(), "{help:?}");
    let help = String::from_utf8(help.stdout).expect("utf-8");
    let flags: BTreeSet<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect();
    // A plain token in the arguments would show in the process list: the chart mounts a file.
    // --help and --version are not settings.
    let deliberately_absent = ["--help", "--version", "--github-token"];
    let values = chart_dir().join("ci/all-options-values.yaml");
    let mut rendered = BTreeSet::new();
    for extra in [
        vec![],
        vec!["--values", values.to_str().expect("utf-8")],
        // Targets replace defaultClusters, which the all-options values set.
        vec!["--set", "operator.targets.prod=deploy/overlays/prod"],
    ] {
        let docs = documents(&template("prtracker-system", &extra));
        for arg in deployment_args(&docs) {
            rendered.insert(arg.split('=').next().unwrap_or_default().to_owned());
        }
    }
    let missing: Vec<&String> = flags
        .iter()
        .filter(|f| !deliberately_absent.contains(&f.as_str()) && !rendered.contains(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "flags of `prtracker run` the chart cannot set: {missing:?}"
    );
    assert!(flags.contains("--leader-elect") && flags.contains("--log-format"));
}

#[test]
fn the_service_monitor_renders_when_enabled() {
    let docs = documents(&template(
        "monitoring-test",
        &["--set", "serviceMonitor.enabled=true"],
    ));
    let monitor = docs
        .iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .expect("a ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
}

#[test]
fn settings_that_cannot_work_are_refused_at_render_time() {
    for (set, says) in [
        ("github.token.enabled=false", "GitHub credentials"),
        ("github.app.enabled=true", "github.app.id"),
        ("leaderElection.enabled=false", "leaderElection.enabled"),
        ("operator.logFormat=xml", "logFormat"),
        // values.schema.json: a misspelt or malformed value fails instead of being ignored.
        ("operator.manifestPath=deploy", "'manifestPath' not allowed"),
        (
            "operator.resyncInterval=5minutes",
            "/operator/resyncInterval",
        ),
        (
            "operator.defaultClusters={Staging}",
            "/operator/defaultClusters/0",
        ),
        ("operator.trackRepos={shop}", "/operator/trackRepos/0"),
        ("github.app.id=abc", "/github/app/id"),
        (
            "github.secret.create=true",
            "github.secret.token is required",
        ),
    ] {
        let output = helm()
            .args(["template", "prtracker"])
            .arg(chart_dir())
            .args(["--set", set])
            .output()
            .expect("helm runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--set {set} rendered");
        assert!(stderr.contains(says), "--set {set}: {stderr}");
    }
    // One replica may run without leader election.
    template(
        "single",
        &[
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=1",
        ],
    );
}

#[test]
fn the_notes_tell_the_webhook_url_and_the_secret_to_create() {
    // helm template leaves NOTES.txt out: render it as a template of a copy of the chart.
    let copy = tempfile::tempdir().expect("a temp dir");
    let status = Command::new("cp")
        .arg("-r")
        .arg(chart_dir())
        .arg(copy.path())
        .status()
        .expect("cp runs");
    assert!(status.success());
    let chart = copy.path().join("prtracker");
    let notes = read(&chart.join("templates/NOTES.txt"));
    std::fs::write(
        chart.join("templates/notes-check.yaml"),
        format!(
            "{{{{- define \"notes-check\" -}}}}\n{notes}{{{{- end -}}}}\ntext: {{{{ include \"notes-check\" . | toJson }}}}\n"
        ),
    )
    .expect("writing the notes template");
    let notes_with = |values: &[&str]| {
        let mut command = helm();
        command.args(["template", "rel"]).arg(&chart).args([
            "--namespace",
            "ops",
            "--show-only",
            "templates/notes-check.yaml",
        ]);
        for value in values {
            command.args(["--set", value]);
        }
        let rendered = String::from_utf8(run(command).stdout).expect("utf-8");
        let docs = documents(&rendered);
        docs[0]["text"]
            .as_str()
            .expect("the notes' text")
            .to_owned()
    };
    let text = notes_with(&[]);
    for needle in [
        "http://rel-prtracker.ops.svc:8080/webhook",
        "kubectl -n ops create secret generic prtracker-github",
        "--from-file=token=",
        "--from-file=webhook-secret=",
        "application/json",
        "\"Pull requests\" events",
    ] {
        assert!(text.contains(needle), "NOTES.txt lacks {needle:?}:\n{text}");
    }
    assert!(!text.contains("Check runs"), "{text}");
    // With check runs, their Re-run button needs the App's "Check runs" events.
    let text = notes_with(&[
        "operator.checkRuns=true",
        "github.app.enabled=true",
        "github.app.id=1",
    ]);
    assert!(text.contains("\"Check runs\""), "{text}");
}

/// Just enough TOML for Cargo manifests' `[[target]]` tables: `key = "string"` pairs by section.
mod toml_lite {
    use std::collections::BTreeMap;

    pub struct Table {
        sections: Vec<(String, bool, BTreeMap<String, String>)>,
    }

    pub fn parse(text: &str) -> Table {
        let mut sections = vec![(String::new(), false, BTreeMap::new())];
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                sections.push((name.to_owned(), true, BTreeMap::new()));
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push((name.to_owned(), false, BTreeMap::new()));
            } else if let Some((key, value)) = line.split_once('=') {
                let value = value.trim();
                if let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))
                    && let Some(section) = sections.last_mut()
                {
                    section.2.insert(key.trim().to_owned(), value.to_owned());
                }
            }
        }
        Table { sections }
    }

    impl Table {
        pub fn array_of_tables(&self, name: &str) -> Vec<BTreeMap<String, String>> {
            self.sections
                .iter()
                .filter(|(n, array, _)| *array && n == name)
                .map(|(_, _, t)| t.clone())
                .collect()
        }
    }
}
