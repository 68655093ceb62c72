//! The `prtracker` binary as a person runs it.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

fn prtracker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prtracker"))
}

#[test]
fn version_and_help() {
    let version = prtracker().arg("--version").output().expect("runs");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("prtracker {}", env!("CARGO_PKG_VERSION"))
    );
    let help = prtracker().arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for command in ["run", "demo", "crds", "dev"] {
        assert!(
            help.contains(command),
            "--help does not list {command}:\n{help}"
        );
    }
}

/// The README's table of `prtracker run`'s flags names every flag, and every environment variable.
#[test]
fn the_readme_documents_every_flag_of_run() {
    let help = prtracker().args(["run", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let flags: Vec<&str> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && *word != "--help" && *word != "--version")
        .collect();
    assert!(flags.len() >= 20, "too few flags in: {help}");
    for flag in flags {
        assert!(
            readme.contains(&format!("`{flag}`")),
            "the README's flag table lacks `{flag}`"
        );
    }
    let variables: Vec<&str> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .collect();
    assert!(variables.len() >= 20, "too few variables in: {help}");
    for variable in variables {
        // A row may name a family of variables: `PRTRACKER_LEASE_*`.
        let in_family = variable
            .match_indices('_')
            .any(|(at, _)| readme.contains(&format!("`{}_*`", &variable[..at])));
        assert!(
            readme.contains(&format!("`{variable}`")) || in_family,
            "the README's flag table lacks `{variable}`"
        );
    }
}

#[test]
fn a_bad_command_is_refused_with_usage() {
    let output = prtracker().arg("no-such-command").output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage"));
}

#[test]
fn crds_prints_every_crd_as_yaml() {
    let output = prtracker().arg("crds").output().expect("runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let printed: Vec<CustomResourceDefinition> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("a CRD"))
        .collect();
    assert_eq!(printed, prtracker_api::crds());
}

#[test]
fn crds_out_dir_writes_the_files_deploy_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = prtracker()
        .args(["crds", "--out-dir"])
        .arg(dir.path())
        .status()
        .expect("runs");
    assert!(status.success());
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    for crd in prtracker_api::crds() {
        let file = prtracker_api::crd_file_name(&crd);
        let written = std::fs::read_to_string(dir.path().join(&file)).expect("written");
        let checked_in = std::fs::read_to_string(deploy.join(&file)).expect("checked in");
        assert_eq!(written, checked_in, "{file}");
    }
}

/// `prtracker dev control-plane`, running; killed on drop so a failing test leaves nothing.
struct DevControlPlane {
    child: Child,
    kubeconfigs: Vec<(String, PathBuf)>,
}

impl DevControlPlane {
    fn start(clusters: &[&str], extra_args: &[&str]) -> Self {
        let mut command = prtracker();
        command.args(["dev", "control-plane"]).args(extra_args);
        for cluster in clusters {
            command.args(["--cluster", cluster]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("prtracker runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut kubeconfigs = Vec::new();
        while kubeconfigs.len() < clusters.len() {
            let line = lines
                .next()
                .expect("the dev control plane printed its kubeconfigs before exiting")
                .expect("utf-8 line");
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "unexpected line {line:?}");
            assert_eq!(fields[0], "kubeconfig");
            kubeconfigs.push((fields[1].to_owned(), PathBuf::from(fields[2])));
        }
        Self { child, kubeconfigs }
    }

    fn root(&self) -> PathBuf {
        // <root>/clusters/<name>/kubeconfig
        self.kubeconfigs[0]
            .1
            .ancestors()
            .nth(3)
            .expect("a root above the kubeconfig")
            .to_owned()
    }
}

impl Drop for DevControlPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path) -> Command {
    let dir = prtracker_testenv::Binaries::locate().expect("the control plane is built");
    let mut command = Command::new(dir.kubectl());
    command.arg("--kubeconfig").arg(kubeconfig);
    command
}

/// Processes whose command line mentions `needle`: what the dev control plane started.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .into_string()
                .ok()?
                .parse::<u32>()
                .ok()
        })
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
        })
        .filter(|pid| prtracker_testenv::is_running(*pid))
        .collect()
}

#[test]
fn dev_control_plane_takes_prtracker_crds_through_kubectl() {
    // Without the CRDs, so that `kubectl apply` is what installs them.
    let plane = DevControlPlane::start(&["alpha", "beta"], &["--no-crds"]);
    assert_eq!(
        plane
            .kubeconfigs
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    for (cluster, kubeconfig) in &plane.kubeconfigs {
        // `prtracker crds | kubectl apply -f -`, as the README says.
        let crds = prtracker().arg("crds").output().expect("runs");
        let mut apply = kubectl(kubeconfig)
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        apply
            .stdin
            .take()
            .expect("stdin")
            .write_all(&crds.stdout)
            .expect("piped");
        let applied = apply.wait_with_output().expect("kubectl finishes");
        assert!(applied.status.success(), "{cluster}: {applied:?}");
        let text = String::from_utf8_lossy(&applied.stdout);
        assert!(
            text.contains("pullrequesttrackers.prtracker.io created"),
            "{text}"
        );
        assert!(
            text.contains("driftmonitors.prtracker.io created"),
            "{text}"
        );
        let established = kubectl(kubeconfig)
            .args(["wait", "--for=condition=Established", "--timeout=60s"])
            .args([
                "crd/pullrequesttrackers.prtracker.io",
                "crd/driftmonitors.prtracker.io",
            ])
            .output()
            .expect("kubectl runs");
        assert!(established.status.success(), "{cluster}: {established:?}");

        let listed = kubectl(kubeconfig)
            .args(["get", "prt,dm", "-A"])
            .output()
            .expect("kubectl runs");
        assert!(listed.status.success(), "{cluster}: {listed:?}");
    }
}

#[test]
fn a_killed_dev_control_plane_leaves_no_process_and_no_directory() {
    let mut plane = DevControlPlane::start(&["doomed"], &[]);
    let root = plane.root();
    let needle = root.display().to_string();
    assert!(root.is_dir());
    assert!(
        processes_mentioning(&needle).len() >= 2,
        "etcd and the apiserver should be running"
    );

    // SIGKILL: no handler runs, no destructor; only the supervisor can clean up.
    plane.child.kill().expect("kill");
    plane.child.wait().expect("reaped");

    let deadline = Instant::now() + Duration::from_secs(30);
    while (root.exists() || !processes_mentioning(&needle).is_empty()) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        processes_mentioning(&needle).is_empty(),
        "orphans: {:?}",
        processes_mentioning(&needle)
    );
    assert!(!root.exists(), "{} was left behind", root.display());
}
