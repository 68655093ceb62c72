//! `prtracker demo`, run as a newcomer would but without a terminal: it plays the PR's life to the
//! end, reports each state in order, and leaves nothing running.

use std::{path::PathBuf, process::Command};

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
    // What drifted, and before the deployment, what is not there yet.
    assert!(
        stdout.contains("drift in secondary: Deployment shop/shop spec.replicas: 3 -> 5"),
        "{stdout}"
    );
    assert!(
        stdout.contains("drift in in-cluster: ") && stdout.contains(" missing"),
        "{stdout}"
    );
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
    let root = kubeconfigs[0]
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
