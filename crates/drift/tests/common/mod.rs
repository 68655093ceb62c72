//! Helpers shared by the integration tests: kubectl as a person runs it, and clients.

#![allow(dead_code)]

use std::{
    io::Write,
    process::{Output, Stdio},
};

use prtracker_testenv::shared;

/// Runs the project's kubectl against `cluster` with `args`, feeding `stdin`.
pub fn kubectl(cluster: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = shared().cluster(cluster).kubectl();
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("kubectl starts");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or_default().as_bytes())
            .expect("kubectl reads its input");
    }
    child.wait_with_output().expect("kubectl ends")
}

/// Like [`kubectl`], failing the test when kubectl fails.
pub fn kubectl_ok(cluster: &str, args: &[&str], stdin: Option<&str>) -> String {
    let output = kubectl(cluster, args, stdin);
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
