//! `read_files` through git trees and blobs, against the GitHub simulator: what each read costs
//! (counted in the simulator's request log), single files, missing paths, limits, and the
//! contents walk it falls back to for a truncated tree, which must give the same files.
//!
//! The `fixture_*` tests read real GitHub responses from `PRTRACKER_GITHUB_FIXTURES`.

// Helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use prtracker_domain::Repository;
use prtracker_github::{
    ContentsLimits, GitHubApi, GitHubAuth, GitHubConfig, GitHubError, OctocrabGitHub, RepoFile,
    models::{Blob, ObjectKind, Tree},
};
use prtracker_github_sim::{RequestRecord, Simulator, SimulatorHandle};

const REPO: &str = "acme/app";
const C1: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
const C2: &str = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2";
const C3: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";

fn repo() -> Repository {
    REPO.parse().unwrap()
}

fn manifests() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "deploy/app.yaml",
            b"kind: Deployment\nmetadata:\n  name: app\n".to_vec(),
        ),
        (
            "deploy/svc.yaml",
            b"kind: Service\nmetadata:\n  name: app\n".to_vec(),
        ),
        ("deploy/nested/cm.yaml", b"kind: ConfigMap\n".to_vec()),
        (
            "deploy/nested/deeper/secret.yaml",
            b"kind: Secret\n".to_vec(),
        ),
        ("docs/README.md", b"not a manifest\n".to_vec()),
    ]
}

/// `manifests` with `path` holding `content` instead.
fn with(path: &str, content: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    manifests()
        .into_iter()
        .map(|(p, b)| {
            if p == path {
                (p, content.to_vec())
            } else {
                (p, b)
            }
        })
        .collect()
}

/// A simulator with `acme/app` and [`manifests`] at C1.
async fn sim() -> SimulatorHandle {
    let sim = Simulator::start().await.unwrap();
    sim.create_repo(REPO).unwrap();
    sim.set_files(REPO, C1, manifests()).unwrap();
    sim
}

fn client(sim: &SimulatorHandle) -> OctocrabGitHub {
    client_with(sim, ContentsLimits::default())
}

fn client_with(sim: &SimulatorHandle, limits: ContentsLimits) -> OctocrabGitHub {
    let config = GitHubConfig::for_local_tests(sim.api_url())
        .with_auth(GitHubAuth::Token(sim.token().to_owned()))
        .with_contents_limits(limits);
    OctocrabGitHub::new(config).unwrap()
}

/// What a request was, by its path: a contents listing or file, a tree, a blob.
fn kind(r: &RequestRecord) -> &'static str {
    if r.path.contains("/contents") {
        "contents"
    } else if r.path.contains("/git/trees/") {
        "tree"
    } else if r.path.contains("/git/blobs/") {
        "blob"
    } else {
        "other"
    }
}

/// The requests since `from`, as (kind, status).
fn since(sim: &SimulatorHandle, from: usize) -> Vec<(&'static str, u16)> {
    sim.requests()[from..]
        .iter()
        .map(|r| (kind(r), r.status))
        .collect()
}

fn cost(kinds: &[(&'static str, u16, usize)]) -> Vec<(&'static str, u16)> {
    kinds
        .iter()
        .flat_map(|(k, s, n)| std::iter::repeat_n((*k, *s), *n))
        .collect()
}

/// The files under `dir/` of a file list, sorted by path.
fn under(files: Vec<(&'static str, Vec<u8>)>, dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(p, _)| dir.is_empty() || p.starts_with(&format!("{dir}/")))
        .map(|(p, b)| (p.to_owned(), b))
        .collect();
    out.sort();
    out
}

fn contents(files: &[RepoFile]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect()
}

#[tokio::test]
async fn a_nested_directory_costs_its_parents_listing_one_tree_and_a_blob_per_file() {
    let sim = sim().await;
    let gh = client(&sim);
    let files = gh.read_files(&repo(), "deploy", C1).await.unwrap();
    assert_eq!(contents(&files), under(manifests(), "deploy"));
    assert_eq!(
        since(&sim, 0),
        cost(&[("contents", 200, 1), ("tree", 200, 1), ("blob", 200, 4)])
    );
    let log = sim.requests();
    assert!(
        log[0].path.ends_with(&format!("/contents?ref={C1}")),
        "{}",
        log[0].path
    );
    assert!(log[1].path.ends_with("?recursive=1"), "{}", log[1].path);

    // The same commit again: the listing is a 304, the tree and blobs are kept by sha.
    let used = sim.budget(sim.token()).used;
    let again = gh.read_files(&repo(), "deploy", C1).await.unwrap();
    assert_eq!(again, files);
    assert_eq!(since(&sim, 6), cost(&[("contents", 304, 1)]));
    assert_eq!(
        sim.budget(sim.token()).used,
        used,
        "a repeated read costs no budget"
    );
}

#[tokio::test]
async fn a_later_commit_costs_its_listing_its_tree_and_only_the_blobs_that_changed() {
    let sim = sim().await;
    let gh = client(&sim);
    let first = gh.read_files(&repo(), "deploy", C1).await.unwrap();

    // One manifest changed.
    let changed = b"kind: Deployment\nmetadata:\n  name: app2\n";
    sim.set_files(REPO, C2, with("deploy/app.yaml", changed))
        .unwrap();
    let from = sim.requests().len();
    let second = gh.read_files(&repo(), "deploy", C2).await.unwrap();
    assert_eq!(
        contents(&second),
        under(with("deploy/app.yaml", changed), "deploy")
    );
    assert_eq!(
        since(&sim, from),
        cost(&[("contents", 200, 1), ("tree", 200, 1), ("blob", 200, 1)])
    );
    let sha = |files: &[RepoFile], path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.sha.clone())
            .unwrap()
    };
    assert_ne!(
        sha(&first, "deploy/app.yaml"),
        sha(&second, "deploy/app.yaml")
    );
    assert_eq!(
        sha(&first, "deploy/svc.yaml"),
        sha(&second, "deploy/svc.yaml")
    );

    // Only a file outside the path changed: the directory's tree is the one already read.
    sim.set_files(REPO, C3, with("docs/README.md", b"other\n"))
        .unwrap();
    let from = sim.requests().len();
    let third = gh.read_files(&repo(), "deploy", C3).await.unwrap();
    assert_eq!(third, first);
    assert_eq!(since(&sim, from), cost(&[("contents", 200, 1)]));
}

#[tokio::test]
async fn the_root_is_the_commits_own_tree_without_a_listing() {
    let sim = sim().await;
    let gh = client(&sim);
    for root in ["", ".", "/"] {
        let files = gh.read_files(&repo(), root, C1).await.unwrap();
        assert_eq!(contents(&files), under(manifests(), ""), "{root:?}");
    }
    // The first read asked for the tree by the commit's sha, and it was kept for good.
    assert_eq!(since(&sim, 0), cost(&[("tree", 200, 1), ("blob", 200, 5)]));
    assert!(
        sim.requests()[0]
            .path
            .ends_with(&format!("/git/trees/{C1}?recursive=1"))
    );

    // A branch moves: its tree is asked for again, conditionally.
    sim.push_commit(REPO, "main", C2, manifests()).unwrap();
    let from = sim.requests().len();
    let by_branch = gh.read_files(&repo(), "", "main").await.unwrap();
    assert_eq!(contents(&by_branch), under(manifests(), ""));
    assert_eq!(since(&sim, from), cost(&[("tree", 200, 1)]));
    gh.read_files(&repo(), "", "main").await.unwrap();
    assert_eq!(since(&sim, from + 1), cost(&[("tree", 304, 1)]));
}

#[tokio::test]
async fn a_single_file_costs_its_directorys_listing_and_its_blob() {
    let sim = sim().await;
    let gh = client(&sim);
    let one = gh
        .read_files(&repo(), "deploy/nested/cm.yaml", C1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].path, "deploy/nested/cm.yaml");
    assert_eq!(one[0].content, b"kind: ConfigMap\n");
    assert!(!one[0].sha.is_empty());
    assert_eq!(
        since(&sim, 0),
        cost(&[("contents", 200, 1), ("blob", 200, 1)])
    );
    assert!(
        sim.requests()[0]
            .path
            .ends_with(&format!("/contents/deploy/nested?ref={C1}"))
    );
    // Again: a 304, the blob from the cache. And the directory it is in shares that blob.
    let again = gh
        .read_files(&repo(), "./deploy/nested/cm.yaml", C1)
        .await
        .unwrap();
    assert_eq!(again, one);
    assert_eq!(since(&sim, 2), cost(&[("contents", 304, 1)]));
    let dir = gh.read_files(&repo(), "deploy/nested", C1).await.unwrap();
    assert_eq!(dir[0], one[0]);
    assert_eq!(
        since(&sim, 3),
        cost(&[("contents", 200, 1), ("tree", 200, 1), ("blob", 200, 1)]),
        "only deeper/secret.yaml is new"
    );
}

#[tokio::test]
async fn a_missing_path_or_commit_is_not_found_naming_it() {
    let sim = sim().await;
    let gh = client(&sim);
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let cases = [
        // The parent is listed, without it.
        ("deploy/nope", C1, cost(&[("contents", 200, 1)])),
        // The parent itself is missing.
        ("no/such/dir", C1, cost(&[("contents", 404, 1)])),
        // Under a file.
        ("deploy/app.yaml/x", C1, cost(&[("contents", 200, 1)])),
        // The root of an unknown commit.
        ("", unknown, cost(&[("tree", 404, 1)])),
        ("deploy", unknown, cost(&[("contents", 404, 1)])),
    ];
    for (path, commit, requests) in cases {
        let from = sim.requests().len();
        let err = gh.read_files(&repo(), path, commit).await.unwrap_err();
        let what = format!("{path:?} at {commit} in {REPO}");
        assert!(
            matches!(&err, GitHubError::NotFound { what: w, .. } if *w == what),
            "{path:?}: {err:?}"
        );
        assert!(err.to_string().contains("not found"), "{err}");
        assert!(!err.is_transient());
        assert_eq!(since(&sim, from), requests, "{path:?} at {commit}");
    }
}

#[tokio::test]
async fn a_truncated_tree_falls_back_to_the_contents_walk_with_the_same_files() {
    let sim = sim().await;
    let by_tree = client(&sim)
        .read_files(&repo(), "deploy", C1)
        .await
        .unwrap();
    let root_by_tree = client(&sim).read_files(&repo(), "", C1).await.unwrap();

    sim.set_tree_entry_limit(2);
    let gh = client(&sim);
    let from = sim.requests().len();
    let walked = gh.read_files(&repo(), "deploy", C1).await.unwrap();
    // Files and blob shas are what the contents API gives.
    assert_eq!(walked, by_tree);
    let requests = since(&sim, from);
    assert_eq!(requests[..2], [("contents", 200), ("tree", 200)]);
    assert!(!requests.contains(&("blob", 200)), "{requests:?}");
    // Directory by directory: deploy, nested, deeper, and a request per file.
    assert_eq!(requests[2..], cost(&[("contents", 200, 3 + 4)]));
    let root_walked = gh.read_files(&repo(), "", C1).await.unwrap();
    assert_eq!(root_walked, root_by_tree);

    // The truncated tree is not asked for again.
    let from = sim.requests().len();
    assert_eq!(gh.read_files(&repo(), "deploy", C1).await.unwrap(), by_tree);
    let requests = since(&sim, from);
    assert!(
        requests.iter().all(|r| *r == ("contents", 304)),
        "{requests:?}"
    );
}

#[tokio::test]
async fn the_limits_hold_and_are_checked_before_any_blob_is_read() {
    let sim = sim().await;
    let roomy = ContentsLimits::default();
    let cases = [
        (
            ContentsLimits {
                max_files: 3,
                ..roomy
            },
            "files",
            3,
        ),
        (
            ContentsLimits {
                max_total_bytes: 60,
                ..roomy
            },
            "bytes",
            60,
        ),
        (
            ContentsLimits {
                max_depth: 1,
                ..roomy
            },
            "directory levels",
            1,
        ),
    ];
    for (limits, what_over, limit_over) in cases {
        let from = sim.requests().len();
        let err = client_with(&sim, limits)
            .read_files(&repo(), "deploy", C1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, GitHubError::ContentsTooLarge { what, limit, .. } if what == what_over && limit == limit_over),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("deploy")
                && text.contains(C1)
                && text.contains(&format!("limit of {limit_over} ({what_over})")),
            "{text}"
        );
        assert_eq!(
            since(&sim, from),
            cost(&[("contents", 200, 1), ("tree", 200, 1)]),
            "{what_over}"
        );
    }
    // A single file is held to the byte limit too.
    let err = client_with(
        &sim,
        ContentsLimits {
            max_total_bytes: 10,
            ..roomy
        },
    )
    .read_files(&repo(), "deploy/app.yaml", C1)
    .await
    .unwrap_err();
    assert!(
        matches!(err, GitHubError::ContentsTooLarge { what: "bytes", .. }),
        "{err:?}"
    );
    // Exactly at the limits is fine: 4 files, 2 levels below `deploy`.
    let exact = ContentsLimits {
        max_files: 4,
        max_depth: 2,
        ..roomy
    };
    let files = client_with(&sim, exact)
        .read_files(&repo(), "deploy", C1)
        .await
        .unwrap();
    assert_eq!(files.len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Real GitHub answers

const ENV: &str = "PRTRACKER_GITHUB_FIXTURES";

fn fixture(name: &str) -> String {
    let dir = std::env::var_os(ENV).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/github-fixtures")
    });
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} cannot be read ({e}): set {ENV} to the folder of real GitHub responses",
            path.display()
        )
    })
}

/// A tree entry named `..` (GitHub never lists one; a proxy or a fake could): refused with an
/// error naming it, through the trees API and through the contents walk alike, and no request is
/// built from it.
#[tokio::test]
async fn an_entry_named_dot_dot_is_refused_and_no_request_carries_it() {
    for truncated in [false, true] {
        let sim = sim().await;
        let mut files = manifests();
        files.push(("deploy/../../etc/passwd", b"root:x:0:0\n".to_vec()));
        sim.set_files(REPO, C2, files).unwrap();
        if truncated {
            sim.set_tree_entry_limit(2);
        }
        let gh = client(&sim);
        let error = gh.read_files(&repo(), "deploy", C2).await.unwrap_err();
        assert!(
            matches!(&error, GitHubError::UnsafeEntryName { entry, path, .. }
                if entry.starts_with("..") && path == "deploy"),
            "truncated {truncated}: {error}"
        );
        assert!(error.to_string().contains("\"..\""), "{error}");
        let sent: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
        assert!(
            sent.iter()
                .all(|p| !p.contains("..") && !p.contains("%2E%2E") && !p.contains("etc")),
            "truncated {truncated}: {sent:#?}"
        );
    }
}

#[test]
fn fixture_git_tree_recursive() {
    let tree: Tree = serde_json::from_str(&fixture("git-tree-recursive.json")).unwrap();
    assert_eq!(tree.sha, "172349212fb19ffa4f33dcced3263c6963dc750a");
    assert!(!tree.truncated);
    assert_eq!(tree.entries.len(), 1);
    let readme = &tree.entries[0];
    assert_eq!(
        (readme.path.as_str(), readme.kind, readme.size),
        ("README.md", ObjectKind::Blob, Some(19))
    );
    assert!(readme.is_file() && !readme.is_symlink());
    assert_eq!(readme.sha, "958337fe1f522a58e5e7098cc61a2917db1c9643");
}

#[test]
fn fixture_git_blob() {
    let blob: Blob = serde_json::from_str(&fixture("git-blob.json")).unwrap();
    assert_eq!(blob.sha, "baad7a7c4cf409f610a0e8c7eba17664eb655c44");
    let bytes = blob.decoded().unwrap();
    assert_eq!(bytes.len() as u64, blob.size);
    assert_eq!(blob.size, 35946);
    assert!(bytes.starts_with(b"package org.kohsuke.github;"));
}
