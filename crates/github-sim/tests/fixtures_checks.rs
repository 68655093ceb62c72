//! Fidelity: the simulator's commit statuses and check runs (REST and webhooks) against real
//! GitHub responses in github-fixtures. Every test reads the fixtures folder, hence the
//! `fixture_` prefix.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use prtracker_github_sim::{CommitStatus, DEFAULT_LOGIN, RepoOptions, SimulatorHandle};
use reqwest::Method;
use serde_json::Value;

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn repo(sim: &SimulatorHandle) -> String {
    sim.create_repo_with(
        "acme/app",
        RepoOptions {
            description: Some("An app".into()),
            ..Default::default()
        },
    )
    .unwrap();
    sim.branch_head("acme/app", "main").unwrap()
}

/// The recorded status request, with `state` and `context` replaced when given.
fn status_request(state: Option<&str>, context: Option<&str>) -> String {
    let mut v: Value =
        serde_json::from_str(&fixture_text("commit-status-create.request.json")).unwrap();
    if let Some(s) = state {
        v["state"] = Value::from(s);
        v["description"] = Value::from(format!("create-status {s} test"));
    }
    if let Some(c) = context {
        v["context"] = Value::from(c);
    }
    v.to_string()
}

async fn post_status(c: &Client, sha: &str, body: &str) -> reqwest::Response {
    c.send_json(
        Method::POST,
        &format!("/repos/acme/app/statuses/{sha}"),
        body,
    )
    .await
}

/// The recorded creation: 201, `Location` and `url` are the commit's statuses URL (the sha, not
/// the status id), the creator's avatar at the top, the request's members echoed.
#[tokio::test]
async fn fixture_commit_status_create() {
    let sim = sim().await;
    let sha = repo(&sim).await;
    let c = Client::new(&sim);
    let req = fixture_text("commit-status-create.request.json");
    let sent: Value = serde_json::from_str(&req).unwrap();
    let resp = post_status(&c, &sha, &req).await;
    assert_headers("commit-status-create.headers.txt", &resp);
    let location = hdr(&resp, "location").unwrap();
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("commit-status-create.json");
    assert_shape("commit-status-create.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx));
    for k in ["state", "target_url", "description", "context"] {
        assert_eq!(body[k], sent[k], "{k} as sent");
        assert_eq!(body[k], fx[k], "{k} as recorded");
    }
    assert!(location.ends_with(&format!("/repos/acme/app/statuses/{sha}")));
    assert_eq!(body["url"], location);
    assert!(
        fx["url"]
            .as_str()
            .unwrap()
            .ends_with("/statuses/2a6c97f6f5dc9166cc2e5d0d95415a386805ca07")
    );
    assert_eq!(body["avatar_url"], body["creator"]["avatar_url"]);
    assert_eq!(body["creator"]["login"], DEFAULT_LOGIN);
    assert_eq!(body["created_at"], body["updated_at"]);
    // A branch names its head commit too; an unknown commit is refused.
    let resp = post_status(&c, "main", &req).await;
    assert_eq!(resp.status(), 201);
    let resp = post_status(&c, &"0".repeat(40), &req).await;
    assert_eq!(resp.status(), 422);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(
        e["message"],
        format!("No commit found for SHA: {}", "0".repeat(40))
    );
    let all = sim.commit_statuses("acme/app", &sha).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].context, "example/1");
}

/// Two contexts, listed newest first as recorded; pagination with `Link`; by branch name.
#[tokio::test]
async fn fixture_commit_statuses_list() {
    let sim = sim().await;
    let sha = repo(&sim).await;
    let c = Client::new(&sim);
    post_status(&c, &sha, &status_request(None, None)).await;
    sim.advance_time(3);
    post_status(
        &c,
        &sha,
        &status_request(Some("success"), Some("example/2")),
    )
    .await;
    let resp = c
        .get(&format!("/repos/acme/app/commits/{sha}/statuses"))
        .await;
    assert_headers("commit-statuses-list.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("commit-statuses-list.json");
    assert_shape("commit-statuses-list.json", &fx, &body, &[]);
    assert_eq!(keys(&body[0]), keys(&fx[0]));
    let order = |v: &Value| -> Vec<(Value, Value)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| (s["context"].clone(), s["state"].clone()))
            .collect()
    };
    assert_eq!(order(&body), order(&fx), "newest first, as recorded");
    let by_branch: Value = c
        .get("/repos/acme/app/commits/main/statuses")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_branch, body);
    let resp = c
        .get(&format!(
            "/repos/acme/app/commits/{sha}/statuses?per_page=1"
        ))
        .await;
    assert!(hdr(&resp, "link").unwrap().contains("rel=\"last\""));
}

/// The combined status after a `failure` in example/1 and a `success` in example/2, as
/// recorded: `failure`, the newest of each context (without `creator`), `total_count` 2.
#[tokio::test]
async fn fixture_commit_status_combined() {
    let sim = sim().await;
    let sha = repo(&sim).await;
    let c = Client::new(&sim);
    let path = format!("/repos/acme/app/commits/{sha}/status");
    let empty: Value = c.get(&path).await.json().await.unwrap();
    assert_eq!(empty["state"], "pending", "no status yet");
    assert_eq!(empty["total_count"], 0);
    post_status(&c, &sha, &status_request(Some("pending"), None)).await;
    post_status(&c, &sha, &status_request(None, None)).await;
    post_status(
        &c,
        &sha,
        &status_request(Some("success"), Some("example/2")),
    )
    .await;
    let resp = c.get(&path).await;
    assert_headers("commit-status-combined.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("commit-status-combined.json");
    assert_shape(
        "commit-status-combined.json",
        &fx,
        &body,
        &[".repository.description"],
    );
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(keys(&body["statuses"][0]), keys(&fx["statuses"][0]));
    for k in ["state", "total_count"] {
        assert_eq!(body[k], fx[k], "{k} as recorded");
    }
    let contexts = |v: &Value| -> Vec<(Value, Value)> {
        v["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["context"].clone(), s["state"].clone()))
            .collect()
    };
    assert_eq!(contexts(&body), contexts(&fx));
    assert_eq!(body["sha"], sha);
    assert_eq!(body["url"], format!("{}{path}", sim.api_url()));
    assert_eq!(body["repository"]["full_name"], "acme/app");
    post_status(&c, &sha, &status_request(Some("success"), None)).await;
    let (state, latest) = sim.combined_status("acme/app", "main").unwrap();
    assert_eq!(state, "success");
    assert_eq!(latest.len(), 2);
    post_status(&c, &sha, &status_request(Some("error"), Some("example/3"))).await;
    let body: Value = c.get(&path).await.json().await.unwrap();
    assert_eq!(body["state"], "failure", "an error fails the whole");
}

/// Refusals in GitHub's `Validation Failed` form for statuses (resource `Status`, code
/// `custom`, as clients logged them): a description over 140 characters, and the 1,001st
/// status of a commit and context (an error without `field`). Other contexts still take one.
#[tokio::test]
async fn fixture_commit_status_422() {
    let sim = sim().await;
    let sha = repo(&sim).await;
    let c = Client::new(&sim);
    let mut long: Value = serde_json::from_str(&status_request(None, None)).unwrap();
    long["description"] = Value::from("d".repeat(141));
    let resp = post_status(&c, &sha, &long.to_string()).await;
    assert_eq!(resp.status(), 422);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["message"], "Validation Failed");
    assert_eq!(e["errors"][0]["resource"], "Status");
    assert_eq!(e["errors"][0]["field"], "description");
    let resp = post_status(&c, &sha, r#"{"state":"done"}"#).await;
    assert_eq!(resp.status(), 422);
    // 999 statuses in context `default`, then the 1,000th by the API, then one too many.
    sim.with_world(|w| {
        let repo = w.repo_mut("acme", "app").unwrap();
        for i in 0..999 {
            repo.statuses.push(CommitStatus {
                id: 10_000_000 + i,
                sha: sha.clone(),
                state: "pending".into(),
                context: "default".into(),
                description: None,
                target_url: None,
                creator: "ci".into(),
                created_at: 0,
            });
        }
    });
    let resp = post_status(&c, &sha, r#"{"state":"success"}"#).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["context"], "default", "the default context");
    assert_eq!(body["description"], Value::Null);
    let resp = post_status(&c, &sha, r#"{"state":"success"}"#).await;
    assert_eq!(resp.status(), 422);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(
        e["errors"],
        serde_json::json!([{
            "resource": "Status",
            "code": "custom",
            "message": "This SHA and context has reached the maximum number of statuses."
        }])
    );
    let resp = post_status(&c, &sha, r#"{"state":"success","context":"other"}"#).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(sim.commit_statuses("acme/app", &sha).unwrap().len(), 1_001);
}
