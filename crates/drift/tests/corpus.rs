//! The corpus: each directory of `tests/corpus/` is one case, named after what it checks.
//!
//! - `live.yaml` (absent: nothing) is applied to a fresh namespace of the `primary` cluster, by
//!   server-side apply under the field manager `person` (no last-applied annotation, as
//!   `kubectl apply --server-side` leaves it), or by client-side `kubectl apply` where
//!   `expected.yaml` says `live_apply: client-side`;
//! - the checker compares `desired.yaml` with it, with and without the no-dry-run shortcut
//!   ([`CompareOptions::skip_held`]), and must give the same verdict both ways;
//! - `kubectl diff -f desired.yaml` is run on the same namespace: its exit code (0 no diff, 1 diff)
//!   must match the verdict, and the objects its `diff -u` headers show must be those the checker
//!   reports, unless the case says `kubectl: differs` (or `kubectl: fails`, where kubectl diff
//!   cannot diff at all) and explains why in `note`.
//!
//! `expected.yaml`: `verdict` (InSync or Drifted), `objects` (`Kind/name` reported), optionally
//! `fields` (`Kind/name path`, every field reported), `missing` (`Kind/name` reported missing).

mod common;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use kube::Client;
use prtracker_drift::{
    CompareOptions, Comparer, DriftReport, diff::REDACTED, manifests::parse_file,
};
use prtracker_testenv::{shared, test_namespace};
use serde::Deserialize;

use common::{kubectl, kubectl_ok};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    verdict: String,
    #[serde(default)]
    objects: BTreeSet<String>,
    #[serde(default)]
    fields: Option<BTreeSet<String>>,
    #[serde(default)]
    missing: BTreeSet<String>,
    #[serde(default = "agree")]
    kubectl: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    live_apply: Option<String>,
    /// The values every reported field must show (e.g. `<redacted>` for Secrets).
    #[serde(default)]
    values: Option<String>,
}

fn agree() -> String {
    "agree".to_owned()
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn verdict(report: &DriftReport) -> &'static str {
    if report.in_sync() {
        "InSync"
    } else {
        "Drifted"
    }
}

fn objects(report: &DriftReport) -> BTreeSet<String> {
    report
        .resources
        .iter()
        .map(|r| format!("{}/{}", r.kind, r.name))
        .collect()
}

/// `Kind/name` of every object `kubectl diff`'s `diff -u` output shows: its `+++` headers name
/// files `[group.]version.Kind.namespace.name`.
fn kubectl_objects(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("+++ "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|path| path.rsplit('/').next())
        .filter_map(|file| {
            let parts: Vec<&str> = file.split('.').collect();
            let n = parts.len();
            (n >= 4).then(|| format!("{}/{}", parts[n - 3], parts[n - 1]))
        })
        .collect()
}

async fn run_case(client: &Client, dir: &Path) -> Vec<String> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_owned();
    let mut failures = Vec::new();
    let text = std::fs::read_to_string(dir.join("expected.yaml")).expect("expected.yaml");
    let expected: Expected = serde_yaml_ng::from_str(&text).expect("expected.yaml parses");
    let namespace = test_namespace(client, "corpus").await.expect("namespace");
    let live = dir.join("live.yaml");
    if live.exists() {
        let live = live.display().to_string();
        match expected.live_apply.as_deref() {
            Some("client-side") => {
                kubectl_ok("primary", &["apply", "-n", &namespace, "-f", &live], None)
            }
            _ => kubectl_ok(
                "primary",
                &[
                    "apply",
                    "--server-side",
                    "--field-manager=person",
                    "-n",
                    &namespace,
                    "-f",
                    &live,
                ],
                None,
            ),
        };
    }
    let desired_path = dir.join("desired.yaml");
    let desired = std::fs::read(&desired_path).expect("desired.yaml");
    let objects_desired = parse_file("desired.yaml", &desired).expect("desired parses");

    let mut reports = Vec::new();
    for skip_held in [true, false] {
        let options = CompareOptions {
            default_namespace: namespace.clone(),
            skip_held,
            ..CompareOptions::default()
        };
        match Comparer::new(client.clone(), "primary", options)
            .compare(&objects_desired)
            .await
        {
            Ok(report) => reports.push(report),
            Err(error) => failures.push(format!("{name}: the check failed: {error}")),
        }
    }
    let [fast, full] = reports.as_slice() else {
        return failures;
    };
    if (verdict(fast), objects(fast)) != (verdict(full), objects(full)) {
        failures.push(format!(
            "{name}: with and without the shortcut the verdicts differ: {fast:?} / {full:?}"
        ));
    }
    let report = full;
    if verdict(report) != expected.verdict || objects(report) != expected.objects {
        failures.push(format!(
            "{name}: expected {} {:?}, the checker says {} {:?}: {report:#?}",
            expected.verdict,
            expected.objects,
            verdict(report),
            objects(report)
        ));
    }
    let fields: BTreeSet<String> = report
        .resources
        .iter()
        .flat_map(|r| {
            r.fields
                .iter()
                .map(move |f| format!("{}/{} {}", r.kind, r.name, f.path))
        })
        .collect();
    if let Some(want) = &expected.fields
        && &fields != want
    {
        failures.push(format!("{name}: expected fields {want:?}, got {fields:?}"));
    }
    let missing: BTreeSet<String> = report
        .resources
        .iter()
        .filter(|r| r.missing)
        .map(|r| format!("{}/{}", r.kind, r.name))
        .collect();
    if missing != expected.missing {
        failures.push(format!(
            "{name}: expected missing {:?}, got {missing:?}",
            expected.missing
        ));
    }
    if let Some(value) = &expected.values {
        let values_ok = report.resources.iter().flat_map(|r| &r.fields).all(|f| {
            f.desired.as_deref().is_none_or(|d| d == value)
                && f.live.as_deref().is_none_or(|l| l == value)
        });
        if !values_ok || (value == REDACTED && fields.is_empty()) {
            failures.push(format!(
                "{name}: every value should be {value}: {report:#?}"
            ));
        }
    }

    let output = kubectl(
        "primary",
        &[
            "diff",
            "-n",
            &namespace,
            "-f",
            &desired_path.display().to_string(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let kubectl_verdict = match output.status.code() {
        Some(0) => "InSync",
        Some(1) => "Drifted",
        _ if expected.kubectl == "fails" => {
            if expected.note.is_none() {
                failures.push(format!("{name}: a failing kubectl diff needs a note"));
            }
            return failures;
        }
        _ => {
            failures.push(format!(
                "{name}: kubectl diff failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
            return failures;
        }
    };
    let agrees = kubectl_verdict == verdict(report) && kubectl_objects(&stdout) == objects(report);
    match expected.kubectl.as_str() {
        "agree" if !agrees => failures.push(format!(
            "{name}: kubectl diff says {kubectl_verdict} {:?}, the checker {} {:?}:\n{stdout}",
            kubectl_objects(&stdout),
            verdict(report),
            objects(report)
        )),
        "differs" if agrees => failures.push(format!(
            "{name}: documented as differing from kubectl diff, but they agree"
        )),
        "differs" if expected.note.is_none() => failures.push(format!(
            "{name}: a difference from kubectl diff needs a note"
        )),
        "fails" => failures.push(format!(
            "{name}: documented as failing kubectl diff, but it says {kubectl_verdict}"
        )),
        "agree" | "differs" => {}
        other => failures.push(format!(
            "{name}: kubectl: {other:?} is neither agree nor differs"
        )),
    }
    failures
}

#[tokio::test]
async fn the_corpus_agrees_with_kubectl_diff() {
    let client = shared().primary().client().expect("client");
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        failures.extend(run_case(&client, case).await);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
