//! The layers of the README's table, held against the workspace's manifests (`cargo metadata`):
//! every crate depends only on crates of lower layers, and the test parts (the control-plane harness
//! and the GitHub simulator) reach the shipped binary only through the optional `dev` feature.

use std::{collections::BTreeMap, process::Command};

use serde_json::Value;

/// Each crate's layer, as the README draws them: a crate may depend on lower layers only.
const LAYERS: &[(&str, u8)] = &[
    ("prtracker-domain", 0),
    ("prtracker-api", 1),
    ("prtracker-github", 2),
    ("prtracker-drift", 3),
    ("prtracker-sync", 3),
    ("prtracker-operator", 4),
    ("prtracker", 5),
];

/// Test parts: never a normal dependency of a shipped crate, but for the binary's `dev` feature.
const TEST_PARTS: &[&str] = &["prtracker-testenv", "prtracker-github-sim"];

/// What each test part may know: what it stands in for, below the runtime.
const TEST_PART_MAY_USE: &[&str] = &["prtracker-domain", "prtracker-api"];

struct Dependency {
    name: String,
    kind: Option<String>,
    optional: bool,
}

fn workspace() -> BTreeMap<String, Vec<Dependency>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("name").to_owned();
            let dependencies = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .map(|d| Dependency {
                    name: d["name"].as_str().expect("name").to_owned(),
                    kind: d["kind"].as_str().map(str::to_owned),
                    optional: d["optional"].as_bool().unwrap_or(false),
                })
                .collect();
            (name, dependencies)
        })
        .collect()
}

fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

#[test]
fn every_crate_of_the_workspace_has_a_place_in_the_table() {
    for name in workspace().keys() {
        assert!(
            layer(name).is_some() || TEST_PARTS.contains(&name.as_str()),
            "{name} is in no layer: add it to the README's table and to LAYERS here"
        );
    }
}

#[test]
fn dependencies_point_down_only() {
    let packages = workspace();
    let mut wrong = Vec::new();
    for (name, dependencies) in &packages {
        for dependency in dependencies.iter().filter(|d| d.kind.is_none()) {
            if !packages.contains_key(&dependency.name) {
                continue; // a third-party crate
            }
            if TEST_PARTS.contains(&name.as_str()) {
                if !TEST_PART_MAY_USE.contains(&dependency.name.as_str())
                    && !TEST_PARTS.contains(&dependency.name.as_str())
                {
                    wrong.push(format!("test part {name} uses {}", dependency.name));
                }
                continue;
            }
            if TEST_PARTS.contains(&dependency.name.as_str()) {
                if !(name == "prtracker" && dependency.optional) {
                    wrong.push(format!(
                        "{name} links the test part {} into shipped code",
                        dependency.name
                    ));
                }
                continue;
            }
            match (layer(name), layer(&dependency.name)) {
                (Some(own), Some(theirs)) if theirs < own => {}
                (own, theirs) => wrong.push(format!(
                    "{name} (layer {own:?}) depends on {} (layer {theirs:?})",
                    dependency.name
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that do not point down: {wrong:#?}"
    );
}

#[test]
fn the_binary_links_the_test_parts_only_through_its_dev_feature() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let tree = |features: &[&str]| -> String {
        let output = Command::new(&cargo)
            .args([
                "tree",
                "-p",
                "prtracker",
                "-e",
                "normal",
                "--prefix",
                "none",
                "--offline",
            ])
            .args(features)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shipped = tree(&[]);
    for part in TEST_PARTS {
        assert!(
            !shipped
                .lines()
                .any(|line| line.starts_with(&format!("{part} "))),
            "the shipped binary links {part}"
        );
    }
    // The check itself can see them: with the feature on, both are there.
    let development = tree(&["--features", "dev"]);
    for part in TEST_PARTS {
        assert!(
            development
                .lines()
                .any(|line| line.starts_with(&format!("{part} "))),
            "{part} is not in the development build's tree:\n{development}"
        );
    }
}

/// A source file over this many lines holds more than one concern, unless it says at its top why
/// it does not.
const MAX_LINES: usize = 500;

#[test]
fn no_source_file_is_over_500_lines_without_a_reason_at_its_top() {
    fn visit(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir)
            .expect("a source directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/").flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            visit(&src, &mut sources);
        }
    }
    assert!(
        sources.len() > 50,
        "the walk found too few files: {}",
        sources.len()
    );
    let too_long: Vec<String> = sources
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).expect("a source file");
            let lines = text.lines().count();
            let says_why = text
                .lines()
                .take(10)
                .any(|line| line.contains("Over 500 lines because"));
            (lines > MAX_LINES && !says_why).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split these by concern, or say at their top \"Over 500 lines because ...\": {too_long:?}"
    );
}
