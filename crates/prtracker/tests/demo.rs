//! `prtracker demo`, run as a newcomer would but without a terminal: it plays the PR's life to the
//! end (a kustomize base and an overlay per cluster, a target each), reports each state in order,
//! and leaves nothing running.

mod common;

use std::{path::PathBuf, process::Command};

use common::KillOnDrop;

#[test]
fn the_demo_plays_a_prs_life_and_cleans_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_prtracker"))
        .arg("demo")
        .output()
        .expect("prtracker demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Each step's line: the PR's labels on GitHub beside the tracker's state and the monitors.
    let seen: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("github labels [")?;
            let (labels, rest) = line.split_once("] | tracker ")?;
            let (state, _) = rest.split_once(" | monitors ")?;
            Some((labels.to_owned(), state.to_owned()))
        })
        .collect();
    let expected = [
        ("state/open", "Open"),
        ("state/approved", "Approved"),
        ("state/merged", "Merged"),
        ("state/deployed", "Deployed"),
        ("state/drifted", "Drifted"),
        ("state/deployed", "Deployed"),
        // PR #2: opened, merged, deployed; then PR #1, still deployed.
        ("state/open", "Open"),
        ("state/merged", "Merged"),
        ("state/deployed", "Deployed"),
        ("state/deployed", "Deployed"),
    ];
    assert_eq!(
        seen,
        expected.map(|(l, s)| (l.to_owned(), s.to_owned())),
        "the demo reported:\n{stdout}"
    );
    assert!(
        stdout.contains("monitors in-cluster=InSync secondary=Drifted"),
        "{stdout}"
    );
    // Each cluster's monitor renders its own overlay of the kustomize base.
    assert!(
        stdout.contains(
            "targets in-cluster=deploy/overlays/primary secondary=deploy/overlays/secondary"
        ),
        "{stdout}"
    );
    // What drifted: the secondary overlay's 2 replicas, scaled to 5 by hand.
    assert!(
        stdout.contains("drift in secondary: Deployment shop/shop spec.replicas: 2 -> 5"),
        "{stdout}"
    );
    // Merged and not applied yet is not drift: what is not there yet.
    assert!(
        stdout.contains("not live yet in in-cluster: ") && stdout.contains(" missing"),
        "{stdout}"
    );
    assert!(stdout.contains("PR #1 stays deployed"), "{stdout}");
    assert!(stdout.contains("demo complete"), "{stdout}");

    // It printed where things were, and removed them all.
    let kubeconfigs: Vec<PathBuf> = stdout
        .lines()
        .filter_map(|line| {
            line.strip_prefix("kubeconfig ")?
                .split_whitespace()
                .nth(1)
                .map(PathBuf::from)
        })
        .collect();
    assert_eq!(kubeconfigs.len(), 2, "{stdout}");
    assert_removed(&kubeconfigs[0]);
}

/// The control plane of a printed kubeconfig is gone (its processes stopped, its directory removed).
fn assert_removed(kubeconfig: &std::path::Path) {
    let root = kubeconfig
        .ancestors()
        .nth(3)
        .expect("the control plane's directory")
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while root.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!root.exists(), "{} was left behind", root.display());
}

/// `prtracker demo --keep`: what it prints to try works as printed (kubectl with the printed
/// KUBECONFIG and PATH; removing the state label, which the operator puts back), and SIGTERM stops
/// it with everything removed.
#[tokio::test]
async fn the_kept_demo_can_be_explored_as_it_says_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    // Killed, with all it started, if an assertion fails before the SIGTERM below.
    let mut demo = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_prtracker"))
            .args(["demo", "--keep"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("prtracker demo --keep runs"),
    );
    let stdout = demo.0.stdout.take().expect("stdout");
    let printed: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            let done = line.starts_with("Ctrl-C stops everything");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .expect("read the demo's output");
    let text = printed.join("\n");
    assert!(text.contains("still running"), "{text}");
    let after = |prefix: &str| {
        printed
            .iter()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
            .to_owned()
    };

    // kubectl, as printed.
    let kubeconfig = after("export KUBECONFIG=");
    let path = after("export PATH=").replace("$PATH", &std::env::var("PATH").unwrap_or_default());
    let get = Command::new("kubectl")
        .args(["get", "prt,dm", "-n", "prtracker-demo"])
        .env("KUBECONFIG", &kubeconfig)
        .env("PATH", &path)
        .output()
        .expect("kubectl from the printed PATH runs");
    let listing = String::from_utf8_lossy(&get.stdout);
    assert!(get.status.success(), "{get:?}");
    assert!(
        listing.contains("Deployed") && listing.contains("InSync"),
        "{listing}"
    );

    // The PR's page, as printed: what a person sees on the PR, the comment and the deployments
    // the demo turned on among it.
    let page_url = after("page #1 ");
    let page = common::eventually(
        "the PR page to show the comment and the deployments",
        std::time::Duration::from_secs(60),
        || async {
            let page = reqwest::get(&page_url).await.ok()?.text().await.ok()?;
            (page.contains("state/deployed")
                && page.contains("deployed to")
                && page.contains("prtracker-bot</b> commented"))
            .then_some(page)
        },
    )
    .await;
    assert!(page.contains("secondary"), "{page}");

    // A person removes the state label, as printed; the operator puts it back.
    let delete_url = after("curl -X DELETE ");
    let labels_line = after("curl -s -H 'Authorization: ");
    let (token, labels_url) = labels_line
        .strip_prefix("token ")
        .and_then(|rest| rest.split_once("' "))
        .unwrap_or_else(|| panic!("a token and a URL in {labels_line:?}"));
    let http = reqwest::Client::new();
    let removed = http.delete(&delete_url).send().await.expect("DELETE");
    assert!(removed.status().is_success(), "{removed:?}");
    let remaining = removed.text().await.expect("the labels that remain");
    assert!(
        !remaining.contains("\"state/deployed\""),
        "the DELETE removed nothing: {remaining}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let labels = http
            .get(labels_url)
            .header("Authorization", format!("token {token}"))
            .send()
            .await
            .expect("GET labels")
            .text()
            .await
            .expect("a body");
        if labels.contains("\"state/deployed\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the operator did not put state/deployed back: {labels}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // SIGTERM: a clean stop, and nothing left behind.
    let killed = Command::new("kill")
        .args(["-TERM", &demo.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.0.try_wait().expect("the demo's status") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo did not stop on SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "SIGTERM ended the demo with {status}");
    assert_removed(&PathBuf::from(&kubeconfig));
}
