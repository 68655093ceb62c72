//! Behaviour of deployments, commit statuses and check runs beyond what a recording shows:
//! GitHub's documented rules (auto-inactive, caps, filters) and the control API.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn deploy(c: &Client, body: Value) -> u64 {
    let resp = c
        .send_json(
            Method::POST,
            "/repos/acme/app/deployments",
            &body.to_string(),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["id"].as_u64().unwrap()
}

async fn set_state(c: &Client, id: u64, body: Value) {
    let resp = c
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/deployments/{id}/statuses"),
            &body.to_string(),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

fn states(sim: &prtracker_github_sim::SimulatorHandle) -> Vec<(u64, Option<String>)> {
    let mut v: Vec<(u64, Option<String>)> = sim
        .deployments("acme/app")
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.state().map(str::to_string)))
        .collect();
    v.reverse();
    v
}

/// A `success` makes the earlier successful deployments of its environment `inactive`, unless
/// they are transient or production, or the status says `auto_inactive: false`; other
/// environments are untouched.
#[tokio::test]
async fn deployment_success_marks_earlier_ones_inactive() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let c = Client::new(&sim);
    let env = |e: &str| json!({"ref": "main", "environment": e, "auto_merge": false, "required_contexts": []});
    let a = deploy(&c, env("east")).await;
    let other = deploy(&c, env("west")).await;
    let prod = deploy(
        &c,
        json!({"ref": "main", "environment": "east", "production_environment": true}),
    )
    .await;
    let transient = deploy(
        &c,
        json!({"ref": "main", "environment": "east", "transient_environment": true}),
    )
    .await;
    for id in [a, other, prod, transient] {
        set_state(&c, id, json!({"state": "success"})).await;
    }
    // `a` was success when `prod` and `transient` succeeded: it became inactive.
    assert_eq!(
        sim.deployments("acme/app")
            .unwrap()
            .last()
            .unwrap()
            .statuses
            .len(),
        2
    );
    let b = deploy(&c, env("east")).await;
    set_state(&c, b, json!({"state": "in_progress"})).await;
    set_state(&c, b, json!({"state": "success", "auto_inactive": false})).await;
    let c2 = deploy(&c, env("east")).await;
    set_state(&c, c2, json!({"state": "success"})).await;
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        states(&sim),
        [
            (a, s("inactive")),
            (other, s("success")),
            (prod, s("success")),
            (transient, s("success")),
            (b, s("inactive")),
            (c2, s("success")),
        ]
    );
    // The added inactive status is listed first among `b`'s statuses.
    let listed: Value = c
        .get(&format!("/repos/acme/app/deployments/{b}/statuses"))
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["state"])
        .collect();
    assert_eq!(listed, ["inactive", "success", "in_progress"]);
}

/// Writes need a token; unknown repositories and deployments are 404s; the control API over
/// HTTP lists deployments with their statuses.
#[tokio::test]
async fn deployment_requests_and_control() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let c = Client::new(&sim);
    let anon = Client {
        token: None,
        ..Client::new(&sim)
    };
    let body = r#"{"ref":"main"}"#;
    let resp = anon
        .send_json(Method::POST, "/repos/acme/app/deployments", body)
        .await;
    assert_eq!(resp.status(), 401);
    let resp = c
        .send_json(Method::POST, "/repos/acme/nope/deployments", body)
        .await;
    assert_eq!(resp.status(), 404);
    let resp = c
        .send_json(Method::POST, "/repos/acme/app/deployments", "{")
        .await;
    assert_eq!(resp.status(), 400);
    let resp = c
        .send_json(Method::POST, "/repos/acme/app/deployments", "{}")
        .await;
    assert_eq!(resp.status(), 422);
    let resp = c
        .send_json(
            Method::POST,
            "/repos/acme/app/deployments/77/statuses",
            r#"{"state":"success"}"#,
        )
        .await;
    assert_eq!(resp.status(), 404);
    let id = deploy(&c, json!({"ref": "main"})).await;
    set_state(
        &c,
        id,
        json!({"state": "queued", "log_url": "https://ci/1"}),
    )
    .await;
    let d = &sim.deployments("acme/app").unwrap()[0];
    assert_eq!(d.environment, "production");
    assert!(
        d.production_environment,
        "production by default for `production`"
    );
    assert_eq!(d.payload, json!({}));
    let over_http: Value =
        reqwest::get(format!("{}/_sim/repos/acme/app/deployments", sim.api_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(over_http[0]["id"], id);
    assert_eq!(over_http[0]["statuses"][0]["state"], "queued");
    assert_eq!(over_http[0]["statuses"][0]["target_url"], "https://ci/1");
}
