//! Fidelity: the simulator's REST answers against real GitHub responses in github-fixtures.
//! Every test here reads the fixtures folder, hence the `fixture_` prefix.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use prtracker_github_sim::{NewPull, RepoOptions};
use reqwest::Method;
use serde_json::Value;

async fn repo_with_pr(sim: &prtracker_github_sim::SimulatorHandle, labels: &[&str]) -> u64 {
    sim.create_repo_with(
        "acme/app",
        RepoOptions {
            description: Some("An app".into()),
            ..Default::default()
        },
    )
    .unwrap();
    sim.create_pull(
        "acme/app",
        NewPull {
            title: "Add a thing".into(),
            body: Some("Body".into()),
            user: Some("alice".into()),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// Repository fields the simulator does not model (no homepage or primary language).
const REPO_LENIENT: [&str; 6] = [
    ".head.repo.topics",
    ".base.repo.topics",
    ".head.repo.homepage",
    ".base.repo.homepage",
    ".head.repo.language",
    ".base.repo.language",
];

#[tokio::test]
async fn fixture_pull_request_open() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/app/pulls/{n}"))
        .await;
    assert_headers("pull-request-open.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "pull-request-open.json",
        &fixture_json("pull-request-open.json"),
        &body,
        &REPO_LENIENT,
    );
    assert_eq!(body["state"], "open");
    assert_eq!(body["merged"], false);
}

#[tokio::test]
async fn fixture_pull_request_merged() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    for name in ["dependencies", "github-actions"] {
        sim.with_world(|w| {
            w.create_label(
                "acme",
                "app",
                name,
                Some("0366d6"),
                Some("Pull requests that update a dependency"),
            )
        })
        .unwrap();
        sim.add_label("acme/app", n, name, "dependabot[bot]")
            .unwrap();
    }
    sim.merge_pull("acme/app", n, "bob").unwrap();
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/app/pulls/{n}"))
        .await;
    assert_headers("pull-request-merged.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "pull-request-merged.json",
        &fixture_json("pull-request-merged.json"),
        &body,
        &REPO_LENIENT,
    );
    assert_eq!(body["state"], "closed");
    assert_eq!(body["merged"], true);
    assert_eq!(body["merged_by"]["login"], "bob");
    assert!(
        body["merge_commit_sha"]
            .as_str()
            .is_some_and(|s| s.len() == 40)
    );
}

#[tokio::test]
async fn fixture_issue_labels_add_creates_missing_labels() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    let req = fixture_text("issue-labels-add.request.json");
    let resp = Client::new(&sim)
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/issues/{n}/labels"),
            req.trim(),
        )
        .await;
    assert_headers("issue-labels-add.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("issue-labels-add.json");
    assert_shape("issue-labels-add.json", &fx, &body, &[]);
    // Same names (case kept), colour and null description as GitHub created them.
    let pick = |v: &Value| -> Vec<(Value, Value, Value, Value)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["name"].clone(),
                    l["color"].clone(),
                    l["description"].clone(),
                    l["default"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(pick(&body), pick(&fx));
}

#[tokio::test]
async fn fixture_repo_labels_list_defaults() {
    let sim = sim().await;
    sim.create_repo("acme/fresh").unwrap();
    let resp = Client::new(&sim).get("/repos/acme/fresh/labels").await;
    assert_headers("repo-labels-list.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("repo-labels-list.json");
    assert_shape("repo-labels-list.json", &fx, &body, &[]);
    let pick = |v: &Value| -> Vec<(Value, Value, Value, Value)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["name"].clone(),
                    l["color"].clone(),
                    l["description"].clone(),
                    l["default"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(pick(&body), pick(&fx), "GitHub's nine default labels");
}

#[tokio::test]
async fn fixture_label_create_201() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let req = fixture_text("label-create.request.json");
    let resp = Client::new(&sim)
        .send_json(Method::POST, "/repos/acme/app/labels", req.trim())
        .await;
    assert_headers("label-create.headers.txt", &resp);
    let location = hdr(&resp, "location").unwrap();
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("label-create.json");
    assert_shape("label-create.json", &fx, &body, &[]);
    assert_eq!(body["url"], location.as_str());
    assert_eq!(body["name"], fx["name"]);
    assert_eq!(body["color"], fx["color"]);
    assert_eq!(body["description"], Value::Null);
}

fn error_parts(v: &Value) -> (Value, Value) {
    (v["message"].clone(), v["errors"].clone())
}

#[tokio::test]
async fn fixture_label_create_422_invalid_color() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let req = fixture_text("label-create-422-invalid.request.json");
    let resp = Client::new(&sim)
        .send_json(Method::POST, "/repos/acme/app/labels", req.trim())
        .await;
    assert_headers("label-create-422-invalid.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("label-create-422-invalid.json");
    assert_shape("label-create-422-invalid.json", &fx, &body, &[]);
    assert_eq!(error_parts(&body), error_parts(&fx));
    assert_eq!(body["status"], "422");
}

#[tokio::test]
async fn fixture_label_create_422_already_exists() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let c = Client::new(&sim);
    // "BUG" collides with the default "bug": names are unique case-insensitively.
    let resp = c
        .send_json(
            Method::POST,
            "/repos/acme/app/labels",
            r#"{"name":"BUG","color":"ff0000"}"#,
        )
        .await;
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("label-create-422-already-exists.json");
    assert_shape("label-create-422-already-exists.json", &fx, &body, &[]);
    assert_eq!(error_parts(&body), error_parts(&fx));
    assert_eq!(body["status"], "422");

    // The recorded already_exists body (a ReleaseAsset, from uploads.github.com) has the same
    // errors[] member shape; its extra `request_id` is specific to the uploads host.
    let mut asset = fixture_json("release-asset-422-already-exists.json");
    asset.as_object_mut().unwrap().remove("request_id");
    assert_shape("release-asset-422-already-exists.json", &asset, &body, &[]);
    assert_eq!(asset["errors"][0]["code"], body["errors"][0]["code"]);
    assert_eq!(asset["errors"][0]["field"], body["errors"][0]["field"]);
}

const STRANGE: &str = "Label with spaces and strange characters (&*#$)";

#[tokio::test]
async fn fixture_issue_labels_list_and_remove_strange_name() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &["Bug", STRANGE, "RequestedByUser"]).await;
    let c = Client::new(&sim);
    let resp = c.get(&format!("/repos/acme/app/issues/{n}/labels")).await;
    assert_headers("issue-labels-list.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "issue-labels-list.json",
        &fixture_json("issue-labels-list.json"),
        &body,
        &[],
    );

    // The recorded DELETE path, percent-encoded exactly as PyGithub sent it.
    let encoded = "Label%20with%20spaces%20and%20strange%20characters%20%28%26%2A%23%24%29";
    let resp = c
        .req(
            Method::DELETE,
            &format!("/repos/acme/app/issues/{n}/labels/{encoded}"),
        )
        .send()
        .await
        .unwrap();
    assert_headers("issue-label-remove.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("issue-label-remove.json");
    assert_shape("issue-label-remove.json", &fx, &body, &[]);
    // Compared case-insensitively: "Bug" matched the repository's default "bug", whose case wins.
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_lowercase())
            .collect()
    };
    assert_eq!(names(&body), names(&fx));
}

#[tokio::test]
async fn fixture_issue_label_remove_last_is_empty_array() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &["bug"]).await;
    let resp = Client::new(&sim)
        .req(
            Method::DELETE,
            &format!("/repos/acme/app/issues/{n}/labels/bug"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.unwrap();
    assert_eq!(body, fixture_text("issue-label-remove-last.json").trim());
}

#[tokio::test]
async fn fixture_error_404_with_status() {
    let sim = sim().await;
    repo_with_pr(&sim, &[]).await;
    let resp = Client::new(&sim).get("/repos/acme/app/pulls/999").await;
    assert_eq!(
        resp.status().as_u16(),
        fixture_status("error-404-with-status.headers.txt")
    );
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        header(
            &fixture_headers("error-404-with-status.headers.txt"),
            "content-type"
        )
    );
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "error-404-with-status.json",
        &fixture_json("error-404-with-status.json"),
        &body,
        &[],
    );
    assert_eq!(body["message"], "Not Found");
    assert_eq!(body["status"], "404");
}

/// The simulator signs no commit: GitHub's body for an unsigned one has nulls where these
/// recordings, of signed commits, have a signature.
const UNSIGNED: [&str; 3] = [
    ".commit.verification.signature",
    ".commit.verification.payload",
    ".commit.verification.verified_at",
];

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// A merged PR whose head carried two manifests: the merge commit, the PR's head sha, and the
/// base branch's head before the merge.
async fn merged_with_files(
    sim: &prtracker_github_sim::SimulatorHandle,
) -> (String, String, String) {
    let n = repo_with_pr(sim, &[]).await;
    let base = sim.branch_head("acme/app", "main").unwrap();
    let head = sim.pull("acme/app", n).unwrap()["head"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    sim.set_files(
        "acme/app",
        &head,
        [
            ("deploy/app.yaml", "kind: ConfigMap\n"),
            ("deploy/svc.yaml", "kind: Service\n"),
        ],
    )
    .unwrap();
    (sim.merge_pull("acme/app", n, "bob").unwrap(), head, base)
}

#[tokio::test]
async fn fixture_commit_get() {
    let sim = sim().await;
    let (merge, head, base) = merged_with_files(&sim).await;
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/app/commits/{merge}"))
        .await;
    assert_headers("commit-get.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("commit-get.json");
    assert_eq!(keys(&body), keys(&fx), "top-level members");
    assert_eq!(keys(&body["commit"]), keys(&fx["commit"]), "commit members");
    assert_shape("commit-get.json", &fx, &body, &UNSIGNED);
    assert_eq!(body["sha"], merge.as_str());
    let parents: Vec<&str> = body["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha"].as_str().unwrap())
        .collect();
    assert_eq!(parents, [base.as_str(), head.as_str()], "base first");
    // The merge added both files to the (empty) first parent.
    assert_eq!(body["files"].as_array().unwrap().len(), 2);
    assert_eq!(body["stats"]["additions"], 2);
    assert_eq!(body["files"][0]["status"], "added");
}

#[tokio::test]
async fn fixture_branch_get() {
    let sim = sim().await;
    let (merge, _, _) = merged_with_files(&sim).await;
    let resp = Client::new(&sim).get("/repos/acme/app/branches/main").await;
    assert_headers("branch-get.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("branch-get.json");
    assert_eq!(keys(&body), keys(&fx), "top-level members");
    assert_eq!(keys(&body["commit"]), keys(&fx["commit"]), "commit members");
    let unsigned: Vec<String> = UNSIGNED.iter().map(|p| format!(".commit{p}")).collect();
    let unsigned: Vec<&str> = unsigned.iter().map(String::as_str).collect();
    assert_shape("branch-get.json", &fx, &body, &unsigned);
    assert_eq!(body["name"], "main");
    assert_eq!(body["commit"]["sha"], merge.as_str());
    assert_eq!(body["protected"], fx["protected"]);
    assert_eq!(body["protection"], fx["protection"]);
}

#[tokio::test]
async fn fixture_git_tree_recursive() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let head = "7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e";
    sim.push_commit(
        "acme/app",
        "main",
        head,
        [
            ("README.md", "# app\n"),
            ("deploy/app.yaml", "kind: Deployment\n"),
        ],
    )
    .unwrap();
    // Requested by branch name, as the recording was.
    let resp = Client::new(&sim)
        .get("/repos/acme/app/git/trees/main?recursive=1")
        .await;
    assert_headers("git-tree-recursive.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("git-tree-recursive.json");
    assert_eq!(keys(&body), keys(&fx), "top-level members");
    assert_shape("git-tree-recursive.json", &fx, &body, &[]);
    let blob = body["tree"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "blob")
        .unwrap();
    assert_eq!(keys(blob), keys(&fx["tree"][0]), "blob entry members");
    assert_eq!(blob["mode"], fx["tree"][0]["mode"]);
    assert_eq!(body["truncated"], fx["truncated"]);
    // The answer names the tree by its sha, not by the branch asked for.
    let sha = body["sha"].as_str().unwrap();
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/git/trees/{sha}"))
    );
    assert!(
        fx["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/git/trees/{}", fx["sha"].as_str().unwrap()))
    );
}

#[tokio::test]
async fn fixture_git_blob() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    // Long enough for several 60-character lines of base64.
    let text = "package org.kohsuke.github;\n\nimport java.io.IOException;\n".repeat(4);
    sim.push_commit(
        "acme/app",
        "main",
        "7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e",
        [("src/A.java", text.clone())],
    )
    .unwrap();
    let c = Client::new(&sim);
    let tree: Value = c
        .get("/repos/acme/app/git/trees/main?recursive=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tree["tree"][1]["path"], "src/A.java");
    let sha = tree["tree"][1]["sha"].as_str().unwrap().to_string();
    let resp = c.get(&format!("/repos/acme/app/git/blobs/{sha}")).await;
    assert_headers("git-blob.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("git-blob.json");
    assert_eq!(keys(&body), keys(&fx), "members");
    assert_shape("git-blob.json", &fx, &body, &[]);
    assert_eq!(body["encoding"], fx["encoding"]);
    // Both wrap base64 every 60 characters, each line ending in `\n`.
    for (name, content) in [("fixture", &fx["content"]), ("simulator", &body["content"])] {
        let lines: Vec<&str> = content.as_str().unwrap().split_terminator('\n').collect();
        assert!(lines.len() > 1, "{name}");
        assert!(
            lines[..lines.len() - 1].iter().all(|l| l.len() == 60),
            "{name}"
        );
    }
    let compact: String = body["content"].as_str().unwrap().split('\n').collect();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap();
    assert_eq!(decoded, text.as_bytes());
    assert_eq!(body["size"], text.len());
}

#[tokio::test]
async fn fixture_pulls_list_sort_updated() {
    let sim = sim().await;
    let first = repo_with_pr(&sim, &[]).await;
    sim.advance_time(60);
    let second = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "Second".into(),
                body: Some("Body".into()),
                ..Default::default()
            },
        )
        .unwrap();
    // The older PR changes last, as #176 did in the recording.
    sim.advance_time(60);
    sim.add_label("acme/app", first, "bug", "alice").unwrap();
    let resp = Client::new(&sim)
        .get("/repos/acme/app/pulls?sort=updated&direction=asc&per_page=100")
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let fx_headers = fixture_headers("pulls-list-sort-updated.headers.txt");
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        header(&fx_headers, "content-type")
    );
    // A single page: no Link, as recorded.
    assert!(header(&fx_headers, "link").is_none() && hdr(&resp, "link").is_none());
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("pulls-list-sort-updated.json");

    // The recording is in ascending `updated_at`, which is not the creation order.
    let times = |list: &Value, field: &str| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| p[field].as_str().unwrap().to_string())
            .collect()
    };
    for (name, list) in [("fixture", &fx), ("simulator", &body)] {
        let updated = times(list, "updated_at");
        assert!(
            updated.windows(2).all(|w| w[0] <= w[1]),
            "{name}: {updated:?}"
        );
        let created = times(list, "created_at");
        assert!(
            !created.windows(2).all(|w| w[0] <= w[1]),
            "{name}: {created:?}"
        );
    }
    let numbers: Vec<u64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [second, first]);

    // The same members as GitHub's list items, but those the `full+json` media type of the
    // recording added.
    let full_only = ["body_html", "body_text"];
    for item in fx.as_array().unwrap() {
        let mut want = keys(item);
        want.retain(|k| !full_only.contains(&k.as_str()));
        assert_eq!(keys(&body[0]), want, "list item members");
    }
    let mut item = fx[0].clone();
    if let Some(obj) = item.as_object_mut() {
        obj.retain(|k, _| !full_only.contains(&k.as_str()));
    }
    for ours in body.as_array().unwrap() {
        assert_shape("pulls-list-sort-updated.json", &item, ours, &REPO_LENIENT);
    }
}

/// Posts `body` as a comment on PR `n` of acme/app through the REST API; returns the answer.
async fn post_comment(c: &Client, n: u64, body: &str) -> reqwest::Response {
    c.send_json(
        Method::POST,
        &format!("/repos/acme/app/issues/{n}/comments"),
        &serde_json::json!({ "body": body }).to_string(),
    )
    .await
}

#[tokio::test]
async fn fixture_issue_comment_create() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    let c = Client::new(&sim);
    let req = fixture_text("issue-comment-create.request.json");
    let resp = c
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/issues/{n}/comments"),
            req.trim(),
        )
        .await;
    assert_headers("issue-comment-create.headers.txt", &resp);
    let location = hdr(&resp, "location").unwrap();
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("issue-comment-create.json");
    assert_eq!(keys(&body), keys(&fx), "members");
    assert_shape("issue-comment-create.json", &fx, &body, &[]);
    let sent: Value = serde_json::from_str(&req).unwrap();
    assert_eq!(body["body"], sent["body"]);
    // The author is the token's account.
    assert_eq!(body["user"]["login"], prtracker_github_sim::DEFAULT_LOGIN);
    assert_eq!(body["url"], location.as_str());
    // On a pull request, as recorded: `html_url` is the PR's conversation, `issue_url` the issue.
    for (name, v, number) in [("fixture", &fx, 2), ("simulator", &body, n)] {
        let id = v["id"].as_u64().unwrap();
        let html = v["html_url"].as_str().unwrap();
        assert!(
            html.ends_with(&format!("/pull/{number}#issuecomment-{id}")),
            "{name}: {html}"
        );
        let issue = v["issue_url"].as_str().unwrap();
        assert!(issue.ends_with(&format!("/issues/{number}")), "{name}");
        let url = v["url"].as_str().unwrap();
        assert!(url.ends_with(&format!("/issues/comments/{id}")), "{name}");
        assert_eq!(v["reactions"]["url"], format!("{url}/reactions"), "{name}");
        assert_eq!(v["created_at"], v["updated_at"], "{name}: never edited");
    }
    let mut reactions = body["reactions"].clone();
    let mut fx_reactions = fx["reactions"].clone();
    reactions.as_object_mut().unwrap().remove("url");
    fx_reactions.as_object_mut().unwrap().remove("url");
    assert_eq!(reactions, fx_reactions, "no reaction yet");
    assert_eq!(
        body["performed_via_github_app"],
        fx["performed_via_github_app"]
    );
    // The Location answers the same comment.
    let path = location.strip_prefix(&sim.api_url()).unwrap();
    let again: Value = c.get(path).await.json().await.unwrap();
    assert_eq!(again, body);
}

/// The only recorded PATCH of a comment is from 2012 (SOURCES.md, "Not found" 10), in the 2012
/// schema: it lacks `node_id`, `html_url`, `issue_url`, `author_association`, `reactions` and
/// `performed_via_github_app`, which GitHub's comment object has had for years (the 2023
/// creation, issue-comment-create.json, has them, and a PATCH answers the same object). So the
/// recording's members must all be in the answer, with their types; the answer's others must be
/// exactly those six, and its members exactly the current object's.
#[tokio::test]
async fn fixture_issue_comment_edit() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    let c = Client::new(&sim);
    let created: Value = post_comment(&c, n, "Comment created by PyGithub")
        .await
        .json()
        .await
        .unwrap();
    sim.advance_time(437);
    let id = created["id"].as_u64().unwrap();
    // As PyGithub sent it, with Python's `", "` spacing.
    let req = fixture_text("issue-comment-edit.request.json");
    let resp = c
        .send_json(
            Method::PATCH,
            &format!("/repos/acme/app/issues/comments/{id}"),
            req.trim(),
        )
        .await;
    assert_headers("issue-comment-edit.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("issue-comment-edit.json");
    assert_shape("issue-comment-edit.json", &fx, &body, &[]);
    let added_since_2012 = [
        "author_association",
        "html_url",
        "issue_url",
        "node_id",
        "performed_via_github_app",
        "reactions",
    ];
    let mut extra = keys(&body);
    extra.retain(|k| fx.get(k).is_none());
    assert_eq!(extra, added_since_2012);
    assert_eq!(
        keys(&body),
        keys(&fixture_json("issue-comment-create.json"))
    );
    let sent: Value = serde_json::from_str(&req).unwrap();
    assert_eq!(body["body"], sent["body"]);
    assert_eq!(body["body"], fx["body"]);
    assert_eq!(body["id"], created["id"]);
    assert_eq!(body["url"], created["url"]);
    // An edit moves `updated_at` past `created_at`, as in the recording.
    for (name, v) in [("fixture", &fx), ("simulator", &body)] {
        let (c, u) = (
            v["created_at"].as_str().unwrap(),
            v["updated_at"].as_str().unwrap(),
        );
        assert!(u > c, "{name}: {c} -> {u}");
    }
    assert_eq!(body["created_at"], created["created_at"]);
}

#[tokio::test]
async fn fixture_issue_comments_list() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    // Eight comments, three to a page, as the recorded issue had: Link to page 2 and last page 3.
    for i in 0..8 {
        sim.comment("acme/app", n, &format!("comment {i}"), "engn33r")
            .unwrap();
        sim.advance_time(60);
    }
    let c = Client::new(&sim);
    let path = format!("/repos/acme/app/issues/{n}/comments");
    let resp = c.get(&format!("{path}?per_page=3")).await;
    assert_headers("issue-comments-list.headers.txt", &resp);
    let fx_headers = fixture_headers("issue-comments-list.headers.txt");
    // rel and query of each link, and the path it names: /repos/... here, /repositories/{id}/...
    // in the recording, both ending in the issue's comments.
    let links = |link: &str, number: u64| -> Vec<(String, String)> {
        link.split(", ")
            .map(|part| {
                let (url, rel) = part.split_once("; rel=").unwrap();
                let url = url.trim_matches(|c| c == '<' || c == '>');
                let (path, query) = url.split_once('?').unwrap();
                assert!(
                    path.ends_with(&format!("/issues/{number}/comments")),
                    "{path}"
                );
                (rel.trim_matches('"').to_string(), query.to_string())
            })
            .collect()
    };
    let ours = links(&hdr(&resp, "link").unwrap(), n);
    let recorded = links(header(&fx_headers, "link").unwrap(), 1136);
    assert_eq!(ours, recorded);
    assert_eq!(
        recorded,
        [
            ("next".to_string(), "per_page=3&page=2".to_string()),
            ("last".to_string(), "per_page=3&page=3".to_string()),
        ]
    );
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("issue-comments-list.json");
    assert_eq!(body.as_array().unwrap().len(), fx.as_array().unwrap().len());
    for item in fx.as_array().unwrap() {
        assert_eq!(keys(&body[0]), keys(item), "item members");
    }
    for ours in body.as_array().unwrap() {
        assert_shape("issue-comments-list.json", &fx[0], ours, &[]);
        assert_eq!(ours["user"]["login"], "engn33r");
    }
    // Oldest first, in the recording and here.
    for (name, list) in [("fixture", &fx), ("simulator", &body)] {
        let created: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["created_at"].as_str().unwrap())
            .collect();
        assert!(created.windows(2).all(|w| w[0] < w[1]), "{name}");
    }
    assert_eq!(body[0]["body"], "comment 0");
    // The last page holds what is left.
    let last: Value = c
        .get(&format!("{path}?per_page=3&page=3"))
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = last
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["comment 6", "comment 7"]);
}

/// No 422 for a comment was recorded (SOURCES.md, "Not found" 9): the recorded `Validation
/// Failed` of a refused PR creation gives the shape (message, `errors[]` with `resource`, `code`
/// and the error's own `message`, `documentation_url`) and the headers; the error itself is as
/// clients have logged GitHub's answer to a body over 65,536 characters.
#[tokio::test]
async fn fixture_issue_comment_create_422_body_too_long() {
    let sim = sim().await;
    let n = repo_with_pr(&sim, &[]).await;
    let c = Client::new(&sim);
    let resp = post_comment(&c, n, &"x".repeat(65_537)).await;
    assert_headers("pull-request-create-422.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("pull-request-create-422.json");
    assert_shape("pull-request-create-422.json", &fx, &body, &[]);
    assert_eq!(body["message"], fx["message"]);
    assert_eq!(body["status"], "422");
    let error = &body["errors"][0];
    assert_eq!(error["resource"], "IssueComment");
    assert_eq!(error["code"], "unprocessable");
    assert_eq!(error["field"], "data");
    assert_eq!(
        error["message"],
        "Body is too long (maximum is 65536 characters)"
    );
    assert!(
        body["documentation_url"]
            .as_str()
            .unwrap()
            .ends_with("/rest/issues/comments#create-an-issue-comment")
    );
    // The limit counts characters, not bytes: 65,536 of them pass, even at two bytes each.
    assert_eq!(
        post_comment(&c, n, &"é".repeat(65_536))
            .await
            .status()
            .as_u16(),
        201
    );
    assert_eq!(sim.issue_comments("acme/app", n).unwrap().len(), 1);
    // An edit is held to the same limit.
    let id = sim.issue_comments("acme/app", n).unwrap()[0].id;
    let resp = c
        .send_json(
            Method::PATCH,
            &format!("/repos/acme/app/issues/comments/{id}"),
            &serde_json::json!({ "body": "y".repeat(65_537) }).to_string(),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], error["message"]);
}
