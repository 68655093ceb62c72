//! Git trees and blobs: named by branch, commit or tree sha, recursive or not, with shas that
//! agree with the contents API and commits, and the truncation knob.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use prtracker_github_sim::{NewPull, SimulatorHandle};
use serde_json::Value;

const REPO: &str = "acme/app";
const C1: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
const C2: &str = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2";

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("README.md", "# app\n"),
        ("deploy/app.yaml", "kind: Deployment\n"),
        ("deploy/svc.yaml", "kind: Service\n"),
        ("deploy/nested/cm.yaml", "kind: ConfigMap\n"),
        ("deploy/nested/deeper/secret.yaml", "kind: Secret\n"),
        ("docs/README.md", "docs\n"),
    ]
}

/// `acme/app` whose `main` is at C1 with [`files`].
async fn setup() -> (SimulatorHandle, Client) {
    let sim = sim().await;
    sim.create_repo(REPO).unwrap();
    sim.push_commit(REPO, "main", C1, files()).unwrap();
    let c = Client::new(&sim);
    (sim, c)
}

async fn get_json(c: &Client, path: &str) -> Value {
    let r = c.get(path).await;
    assert_eq!(r.status().as_u16(), 200, "GET {path}");
    r.json().await.unwrap()
}

fn paths(tree: &Value) -> Vec<String> {
    tree["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

fn entry<'a>(tree: &'a Value, path: &str) -> &'a Value {
    tree["tree"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {tree}"))
}

/// The `sha` of the entry `name` in a contents listing.
fn listed_sha(listing: &Value, name: &str) -> String {
    listing
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed"))["sha"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_tree_by_branch_or_commit_is_the_commits_root_one_level_unless_recursive() {
    let (_sim, c) = setup().await;
    let by_branch = get_json(&c, "/repos/acme/app/git/trees/main").await;
    assert_eq!(paths(&by_branch), ["README.md", "deploy", "docs"]);
    assert_eq!(by_branch["truncated"], false);
    let by_commit = get_json(&c, &format!("/repos/acme/app/git/trees/{C1}")).await;
    assert_eq!(by_commit, by_branch);

    // The commit names the same tree.
    let commit = get_json(&c, &format!("/repos/acme/app/commits/{C1}")).await;
    let sha = by_branch["sha"].as_str().unwrap();
    assert_eq!(commit["commit"]["tree"]["sha"], sha);
    assert!(
        by_branch["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/repos/acme/app/git/trees/{sha}"))
    );
    assert_eq!(
        get_json(&c, &format!("/repos/acme/app/git/trees/{sha}")).await,
        by_branch
    );

    let recursive = get_json(&c, "/repos/acme/app/git/trees/main?recursive=1").await;
    assert_eq!(
        paths(&recursive),
        [
            "README.md",
            "deploy",
            "deploy/app.yaml",
            "deploy/nested",
            "deploy/nested/cm.yaml",
            "deploy/nested/deeper",
            "deploy/nested/deeper/secret.yaml",
            "deploy/svc.yaml",
            "docs",
            "docs/README.md",
        ]
    );
    assert_eq!(recursive["sha"], sha);
    assert_eq!(recursive["truncated"], false);
    // GitHub takes any value of `recursive`, even 0.
    assert_eq!(
        get_json(&c, "/repos/acme/app/git/trees/main?recursive=0").await,
        recursive
    );

    let blob = entry(&recursive, "deploy/app.yaml");
    assert_eq!(
        (blob["mode"].as_str(), blob["type"].as_str()),
        (Some("100644"), Some("blob"))
    );
    assert_eq!(blob["size"], "kind: Deployment\n".len());
    let blob_sha = blob["sha"].as_str().unwrap();
    assert!(
        blob["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/git/blobs/{blob_sha}"))
    );
    let dir = entry(&recursive, "deploy/nested");
    assert_eq!(
        (dir["mode"].as_str(), dir["type"].as_str()),
        (Some("040000"), Some("tree"))
    );
    assert!(dir.get("size").is_none(), "trees have no size: {dir}");
    let dir_sha = dir["sha"].as_str().unwrap();
    assert!(
        dir["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/git/trees/{dir_sha}"))
    );
}

#[tokio::test]
async fn a_subdirectorys_tree_sha_is_its_contents_sha_and_lists_relative_paths() {
    let (_sim, c) = setup().await;
    let root_listing = get_json(&c, &format!("/repos/acme/app/contents?ref={C1}")).await;
    let deploy_sha = listed_sha(&root_listing, "deploy");
    let root_tree = get_json(&c, "/repos/acme/app/git/trees/main").await;
    assert_eq!(entry(&root_tree, "deploy")["sha"], deploy_sha.as_str());

    let deploy = get_json(&c, &format!("/repos/acme/app/git/trees/{deploy_sha}")).await;
    assert_eq!(deploy["sha"], deploy_sha.as_str());
    assert_eq!(paths(&deploy), ["app.yaml", "nested", "svc.yaml"]);
    let deploy_all = get_json(
        &c,
        &format!("/repos/acme/app/git/trees/{deploy_sha}?recursive=1"),
    )
    .await;
    assert_eq!(
        paths(&deploy_all),
        [
            "app.yaml",
            "nested",
            "nested/cm.yaml",
            "nested/deeper",
            "nested/deeper/secret.yaml",
            "svc.yaml"
        ]
    );

    // One level down, files and directories agree too.
    let deploy_listing = get_json(&c, &format!("/repos/acme/app/contents/deploy?ref={C1}")).await;
    assert_eq!(
        entry(&deploy, "nested")["sha"],
        listed_sha(&deploy_listing, "nested").as_str()
    );
    assert_eq!(
        entry(&deploy, "app.yaml")["sha"],
        listed_sha(&deploy_listing, "app.yaml").as_str()
    );
    let file = get_json(
        &c,
        &format!("/repos/acme/app/contents/deploy/app.yaml?ref={C1}"),
    )
    .await;
    assert_eq!(entry(&deploy, "app.yaml")["sha"], file["sha"]);
}

#[tokio::test]
async fn a_directory_keeps_its_tree_sha_while_a_sibling_changes() {
    let (sim, c) = setup().await;
    let before = get_json(&c, "/repos/acme/app/git/trees/main").await;
    let mut changed = files();
    changed.retain(|(p, _)| *p != "docs/README.md");
    changed.push(("docs/README.md", "more docs\n"));
    sim.push_commit(REPO, "main", C2, changed).unwrap();
    let after = get_json(&c, "/repos/acme/app/git/trees/main").await;
    assert_ne!(after["sha"], before["sha"]);
    assert_eq!(
        entry(&after, "deploy")["sha"],
        entry(&before, "deploy")["sha"]
    );
    assert_ne!(entry(&after, "docs")["sha"], entry(&before, "docs")["sha"]);
    // Both commits' trees still resolve.
    let old = before["sha"].as_str().unwrap();
    assert_eq!(
        get_json(&c, &format!("/repos/acme/app/git/trees/{old}")).await,
        before
    );
}

#[tokio::test]
async fn a_blob_round_trips_its_bytes_as_wrapped_base64() {
    let (sim, c) = setup().await;
    let big: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    sim.push_commit(REPO, "main", C2, [("bin/data", big.clone())])
        .unwrap();
    let tree = get_json(&c, "/repos/acme/app/git/trees/main?recursive=1").await;
    let sha = entry(&tree, "bin/data")["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = get_json(&c, &format!("/repos/acme/app/git/blobs/{sha}")).await;
    assert_eq!(blob["sha"], sha.as_str());
    assert_eq!(blob["size"], 1000);
    assert_eq!(blob["encoding"], "base64");
    assert!(
        blob["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/repos/acme/app/git/blobs/{sha}"))
    );
    let content = blob["content"].as_str().unwrap();
    assert!(content.split_terminator('\n').all(|l| l.len() <= 60));
    assert!(content.ends_with('\n'));
    let compact: String = content.split('\n').collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap();
    assert_eq!(decoded, big);
    let node = base64::engine::general_purpose::STANDARD
        .decode(blob["node_id"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8(node).unwrap().starts_with("04:Blob"));

    // A blob of an older commit is still served, with the sha the contents API gives.
    let file = get_json(
        &c,
        &format!("/repos/acme/app/contents/deploy/app.yaml?ref={C1}"),
    )
    .await;
    let old = get_json(
        &c,
        &format!(
            "/repos/acme/app/git/blobs/{}",
            file["sha"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(old["content"], file["content"]);
}

#[tokio::test]
async fn unknown_trees_and_blobs_are_404_not_found() {
    let (_sim, c) = setup().await;
    let blob_sha = entry(
        &get_json(&c, "/repos/acme/app/git/trees/main").await,
        "README.md",
    )["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let tree_sha = get_json(&c, "/repos/acme/app/git/trees/main").await["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = [
        "/repos/acme/app/git/trees/0123456789012345678901234567890123456789".to_string(),
        "/repos/acme/app/git/trees/no-such-branch?recursive=1".to_string(),
        "/repos/acme/app/git/trees/not%20a%20sha".to_string(),
        format!("/repos/acme/app/git/trees/{blob_sha}"),
        "/repos/acme/app/git/blobs/0123456789012345678901234567890123456789".to_string(),
        format!("/repos/acme/app/git/blobs/{tree_sha}"),
        "/repos/acme/missing/git/trees/main".to_string(),
        "/repos/acme/missing/git/blobs/0123456789012345678901234567890123456789".to_string(),
    ];
    for path in missing {
        let r = c.get(&path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["message"], "Not Found", "{path}");
        assert!(
            body["documentation_url"]
                .as_str()
                .unwrap()
                .starts_with("https://docs.github.com/rest"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_branch_with_a_slash_and_a_commit_without_files_name_trees_too() {
    let (sim, c) = setup().await;
    sim.create_pull(
        REPO,
        NewPull {
            title: "t".into(),
            head_ref: Some("feature/a".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // The PR's head has no files: the empty tree, as the contents API shows it.
    let empty = get_json(&c, "/repos/acme/app/git/trees/feature/a?recursive=1").await;
    assert!(paths(&empty).is_empty());
    assert_eq!(empty["truncated"], false);
    let head = sim.branch_head(REPO, "feature/a").unwrap();
    assert_eq!(
        get_json(&c, &format!("/repos/acme/app/git/trees/{head}")).await,
        empty
    );
}

#[tokio::test]
async fn files_replaced_at_a_commit_retire_the_old_trees() {
    let (sim, c) = setup().await;
    let sha = "5e75e75e75e75e75e75e75e75e75e75e75e75e75";
    sim.set_files(REPO, sha, [("only/a.yaml", "a: 1\n")])
        .unwrap();
    let first = get_json(&c, &format!("/repos/acme/app/git/trees/{sha}")).await;
    let only = entry(&first, "only")["sha"].as_str().unwrap().to_string();
    assert_eq!(
        paths(&get_json(&c, &format!("/repos/acme/app/git/trees/{only}")).await),
        ["a.yaml"]
    );
    sim.set_files(REPO, sha, [("only/a.yaml", "a: 2\n")])
        .unwrap();
    let r = c.get(&format!("/repos/acme/app/git/trees/{only}")).await;
    assert_eq!(
        r.status().as_u16(),
        404,
        "no commit has that directory any more"
    );
    let second = get_json(&c, &format!("/repos/acme/app/git/trees/{sha}")).await;
    let now = entry(&second, "only")["sha"].as_str().unwrap().to_string();
    assert_ne!(now, only);
    assert_eq!(
        paths(&get_json(&c, &format!("/repos/acme/app/git/trees/{now}")).await),
        ["a.yaml"]
    );
}

#[tokio::test]
async fn the_entry_limit_truncates_recursive_answers_only() {
    let (sim, c) = setup().await;
    sim.set_tree_entry_limit(4);
    let cut = get_json(&c, "/repos/acme/app/git/trees/main?recursive=1").await;
    assert_eq!(cut["truncated"], true);
    assert_eq!(
        paths(&cut),
        ["README.md", "deploy", "deploy/app.yaml", "deploy/nested"],
        "the first entries, in order"
    );
    let one_level = get_json(&c, "/repos/acme/app/git/trees/main").await;
    assert_eq!(one_level["truncated"], false);
    assert_eq!(paths(&one_level).len(), 3);
    // Exactly at the limit is whole.
    sim.set_tree_entry_limit(6);
    let deploy = entry(&one_level, "deploy")["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let whole = get_json(
        &c,
        &format!("/repos/acme/app/git/trees/{deploy}?recursive=1"),
    )
    .await;
    assert_eq!(
        (whole["truncated"].clone(), paths(&whole).len()),
        (Value::Bool(false), 6)
    );
}
