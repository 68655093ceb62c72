//! The `/_sim` control endpoints and GitHub App installation tokens.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use prtracker_github_sim::{AppConfig, SimConfig, Simulator};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn control_endpoints_drive_a_pull_request() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let ctl = |m: Method, p: &str, b: Value| {
        c.http
            .request(m, format!("{}{p}", sim.url()))
            .json(&b)
            .send()
    };
    assert_eq!(
        ctl(
            Method::POST,
            "/_sim/repos",
            json!({"owner": "acme", "name": "web"})
        )
        .await
        .unwrap()
        .status()
        .as_u16(),
        201
    );
    let pr: Value = ctl(
        Method::POST,
        "/_sim/repos/acme/web/pulls",
        json!({"title": "x", "draft": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(pr["draft"], true);
    let n = pr["number"].as_u64().unwrap();
    ctl(
        Method::PATCH,
        &format!("/_sim/repos/acme/web/pulls/{n}"),
        json!({"draft": false}),
    )
    .await
    .unwrap();
    ctl(
        Method::POST,
        &format!("/_sim/repos/acme/web/pulls/{n}/labels"),
        json!({"name": "state/approved", "actor": "carol"}),
    )
    .await
    .unwrap();
    ctl(
        Method::PUT,
        "/_sim/repos/acme/web/commits/abc123/files",
        json!({"files": {"a.yaml": "x: 1"}}),
    )
    .await
    .unwrap();
    let merged: Value = ctl(
        Method::POST,
        &format!("/_sim/repos/acme/web/pulls/{n}/merge"),
        json!({"actor": "dave"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(merged["merged"], true);
    // The REST API sees it, and the request is logged and counted.
    let rest: Value = c
        .get(&format!("/repos/acme/web/pulls/{n}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["merged_by"]["login"], "dave");
    assert_eq!(rest["draft"], false);
    assert_eq!(rest["labels"][0]["name"], "state/approved");
    let log: Value = c
        .http
        .get(format!("{}/_sim/requests", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        log.as_array().unwrap().len(),
        1,
        "control calls are not logged: {log}"
    );
    assert_eq!(log[0]["counted"], true);
    let budgets: Value = c
        .http
        .get(format!("{}/_sim/budgets", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(budgets[sim.token()]["used"], 1);
    ctl(Method::POST, "/_sim/reset", json!({})).await.unwrap();
    assert!(sim.requests().is_empty());
    let raw = c
        .http
        .get(format!("{}/_sim/raw/acme/web/abc123/a.yaml", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), "x: 1");
}

fn jwt(iss: Value, iat: i64, exp: i64) -> String {
    let e = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        e(json!({"alg": "RS256", "typ": "JWT"})),
        e(json!({"iss": iss, "iat": iat, "exp": exp}))
    )
}

#[tokio::test]
async fn app_jwt_buys_an_installation_token() {
    let sim = Simulator::start_with(SimConfig {
        app: Some(AppConfig {
            app_id: 42,
            slug: "prtracker".into(),
            installation_id: 7,
            public_key_pem: None,
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.create_repo("acme/app").unwrap();
    let now = sim.now();
    let http = reqwest::Client::new();
    let call = |m: Method, path: &str, token: String| {
        http.request(m, format!("{}{path}", sim.api_url()))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let r = call(
        Method::GET,
        "/repos/acme/app/installation",
        jwt(json!(42), now - 30, now + 540),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], 7);
    let r = call(
        Method::POST,
        "/app/installations/7/access_tokens",
        jwt(json!("42"), now, now + 600),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let body: Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    // Wrong issuer, expired, or too long-lived JWTs are refused.
    for bad in [
        jwt(json!(43), now, now + 60),
        jwt(json!(42), now - 700, now - 100),
        jwt(json!(42), now, now + 3600),
    ] {
        let r = call(Method::POST, "/app/installations/7/access_tokens", bad)
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // The installation token acts as the app's bot.
    let n = sim
        .create_pull(
            "acme/app",
            prtracker_github_sim::NewPull {
                title: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let (url, rx) = receiver(200).await;
    sim.set_webhook(&url, None);
    let r = http
        .post(format!(
            "{}/repos/acme/app/issues/{n}/labels",
            sim.api_url()
        ))
        .header("authorization", format!("token {token}"))
        .body(r#"{"labels":["state/open"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    rx.wait_for(2).await;
    assert_eq!(
        rx.pull_request_events()[0]["sender"]["login"],
        "prtracker[bot]"
    );
    // Its comments are the bot's.
    let r = http
        .post(format!(
            "{}/repos/acme/app/issues/{n}/comments",
            sim.api_url()
        ))
        .header("authorization", format!("token {token}"))
        .body(r#"{"body":"deployed"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let comment: Value = r.json().await.unwrap();
    assert_eq!(comment["user"]["login"], "prtracker[bot]");
    assert_eq!(comment["user"]["type"], "Bot");
    assert_eq!(
        sim.issue_comments("acme/app", n).unwrap()[0].user,
        "prtracker[bot]"
    );
    // Installation tokens expire after an hour.
    sim.advance_time(3601);
    let r = http
        .get(format!("{}/repos/acme/app/pulls/{n}", sim.api_url()))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn control_push_to_a_branch_and_read_its_head() {
    let sim = sim().await;
    sim.create_repo("acme/web").unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}/_sim/repos/acme/web/branches/{p}", sim.url());
    let before = sim.branch_head("acme/web", "main").unwrap();
    let r = http
        .post(url("main"))
        .json(&json!({
            "sha": "abc123",
            "files": {"a.yaml": "x: 2"},
            "files_base64": {"b.bin": "AAE="},
            "actor": "carol",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"name": "main", "sha": "abc123"})
    );
    let r: Value = http
        .get(url("main"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["sha"], "abc123");
    assert_eq!(sim.commit_parents("acme/web", "abc123").unwrap(), [before]);
    let raw = http
        .get(format!("{}/_sim/raw/acme/web/main/b.bin", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.bytes().await.unwrap().as_ref(), [0u8, 1]);
    let missing = http
        .post(url("release/1.x"))
        .json(&json!({"sha": "def456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let missing = http.get(url("release/1.x")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert!(sim.requests().is_empty(), "control calls are not logged");
}

#[tokio::test]
async fn control_comments_as_a_person_and_reads_them() {
    let sim = sim().await;
    sim.create_repo("acme/web").unwrap();
    let n = sim
        .create_pull(
            "acme/web",
            prtracker_github_sim::NewPull {
                title: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}/_sim/repos/acme/web{p}", sim.url());
    let r = http
        .post(url(&format!("/pulls/{n}/comments")))
        .json(&json!({"body": "looks good", "actor": "carol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["user"]["login"], "carol");
    let id = created["id"].as_u64().unwrap();
    let r = http
        .patch(url(&format!("/comments/{id}")))
        .json(&json!({"body": "looks better"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["body"], "looks better");
    let list: Value = http
        .get(url(&format!("/pulls/{n}/comments")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["user"], "carol");
    assert_eq!(list[0]["body"], "looks better");
    assert!(list[0]["updated_at"].as_i64().unwrap() >= list[0]["created_at"].as_i64().unwrap());
    let r = http
        .get(url(&format!("/comments/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["body"], "looks better");
    let r = http
        .delete(url(&format!("/comments/{id}?actor=carol")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(sim.issue_comments("acme/web", n).unwrap().is_empty());
    let r = http
        .get(url(&format!("/comments/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(sim.requests().is_empty(), "control calls are not logged");
}
