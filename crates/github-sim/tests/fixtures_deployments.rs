//! Fidelity: the simulator's deployments and deployment statuses (REST and webhooks) against
//! real GitHub responses in github-fixtures. Every test reads the fixtures folder, hence the
//! `fixture_` prefix.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use prtracker_github_sim::{DEFAULT_LOGIN, RepoOptions, SimulatorHandle};
use reqwest::Method;
use serde_json::Value;

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn repo(sim: &SimulatorHandle) {
    sim.create_repo_with(
        "acme/app",
        RepoOptions {
            description: Some("An app".into()),
            ..Default::default()
        },
    )
    .unwrap();
}

fn main_sha(sim: &SimulatorHandle) -> String {
    sim.branch_head("acme/app", "main").unwrap()
}

/// POSTs `body` to `path` of acme/app; checks the headers against `headers`; returns the
/// answer's `Location` and body.
async fn post(c: &Client, path: &str, body: &str, headers: &str) -> (Option<String>, Value) {
    let resp = c
        .send_json(Method::POST, &format!("/repos/acme/app{path}"), body)
        .await;
    assert_headers(headers, &resp);
    let location = hdr(&resp, "location");
    (location, resp.json().await.unwrap())
}

/// The recorded creation: a `payload` sent as a JSON string comes back as that string, `sha`
/// is the commit `ref` names, `original_environment` is `environment`, both flags false.
#[tokio::test]
async fn fixture_deployment_create() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let req = fixture_text("deployment-create.request.json");
    let sent: Value = serde_json::from_str(&req).unwrap();
    let (location, body) = post(&c, "/deployments", &req, "deployment-create.headers.txt").await;
    let fx = fixture_json("deployment-create.json");
    assert_shape("deployment-create.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx), "the recorded members, no others");
    assert_eq!(body["payload"], sent["payload"], "a string stays a string");
    assert!(body["payload"].is_string());
    assert_eq!(body["ref"], "main");
    assert_eq!(body["sha"], main_sha(&sim));
    assert_eq!(body["environment"], sent["environment"]);
    assert_eq!(body["original_environment"], sent["environment"]);
    assert_eq!(body["description"], sent["description"]);
    assert_eq!(body["task"], "deploy");
    assert_eq!(body["transient_environment"], false);
    assert_eq!(body["production_environment"], false);
    assert_eq!(body["performed_via_github_app"], Value::Null);
    assert_eq!(body["creator"]["login"], DEFAULT_LOGIN);
    let url = body["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/deployments/{}", body["id"])));
    assert_eq!(body["statuses_url"], format!("{url}/statuses"));
    assert_eq!(location.as_deref(), Some(url));
    let all = sim.deployments("acme/app").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, body["id"].as_u64().unwrap());
    assert_eq!(all[0].payload, sent["payload"]);
}

/// The other recording: `ref` a sha, `payload` an object, both flags sent and echoed;
/// `auto_merge` and `required_contexts` are not echoed.
#[tokio::test]
async fn fixture_deployment_create_payload_object() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let mut sent: Value = serde_json::from_str(&fixture_text(
        "deployment-create-payload-object.request.json",
    ))
    .unwrap();
    // The recorded sha is PyGithub's; ours is the repository's own.
    sent["ref"] = Value::from(main_sha(&sim));
    let (_, body) = post(
        &c,
        "/deployments",
        &sent.to_string(),
        "deployment-create-payload-object.headers.txt",
    )
    .await;
    let fx = fixture_json("deployment-create-payload-object.json");
    assert_shape("deployment-create-payload-object.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(
        body["payload"], sent["payload"],
        "an object stays an object"
    );
    assert_eq!(body["sha"], sent["ref"]);
    assert_eq!(body["ref"], sent["ref"]);
    assert_eq!(body["task"], sent["task"]);
    assert_eq!(body["transient_environment"], true);
    assert_eq!(body["production_environment"], false);
    for (k, v) in fx.as_object().unwrap() {
        if ["payload", "task", "transient_environment", "description"].contains(&k.as_str()) {
            assert_eq!(&body[k], v, "{k} as recorded");
        }
    }
    assert!(body.get("auto_merge").is_none());
    assert!(body.get("required_contexts").is_none());
}

/// A `ref` that names nothing is refused, and makes no deployment.
#[tokio::test]
async fn fixture_deployment_create_unknown_ref_is_422() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let mut sent: Value =
        serde_json::from_str(&fixture_text("deployment-create.request.json")).unwrap();
    sent["ref"] = Value::from("no-such-branch");
    let resp = c
        .send_json(
            Method::POST,
            "/repos/acme/app/deployments",
            &sent.to_string(),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "No ref found for: no-such-branch");
    assert_eq!(body["status"], "422");
    assert!(sim.deployments("acme/app").unwrap().is_empty());
}

/// Listing with the recorded filters: the one deployment that matches, as recorded; others
/// filtered out; newest first across pages with `Link`; an unchanged list is a 304.
#[tokio::test]
async fn fixture_deployments_list() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let req = fixture_text("deployment-create.request.json");
    let mut other: Value = serde_json::from_str(&req).unwrap();
    other["environment"] = Value::from("staging");
    c.send_json(Method::POST, "/repos/acme/app/deployments", &req)
        .await;
    for _ in 0..2 {
        c.send_json(
            Method::POST,
            "/repos/acme/app/deployments",
            &other.to_string(),
        )
        .await;
    }
    let resp = c
        .get("/repos/acme/app/deployments?ref=main&environment=unittest")
        .await;
    assert_headers("deployments-list.headers.txt", &resp);
    let etag = hdr(&resp, "etag").unwrap();
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("deployments-list.json");
    assert_shape("deployments-list.json", &fx, &body, &[]);
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(keys(&body[0]), keys(&fx[0]));
    assert_eq!(body[0]["environment"], fx[0]["environment"]);
    assert_eq!(body[0]["ref"], fx[0]["ref"]);
    let resp = c
        .req(
            Method::GET,
            "/repos/acme/app/deployments?ref=main&environment=unittest",
        )
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    for q in ["task=deploy:migrations", "sha=0000", "environment=prod"] {
        let body: Value = c
            .get(&format!("/repos/acme/app/deployments?{q}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body, Value::Array(vec![]), "{q}");
    }
    // Newest first, one a page.
    let resp = c.get("/repos/acme/app/deployments?per_page=1").await;
    let link = hdr(&resp, "link").unwrap();
    assert!(link.contains("rel=\"next\"") && link.contains("page=3>; rel=\"last\""));
    let first: Value = resp.json().await.unwrap();
    let all = sim.deployments("acme/app").unwrap();
    assert_eq!(first[0]["id"], all[0].id);
    assert_eq!(first[0]["environment"], "staging");
    let third: Value = c
        .get("/repos/acme/app/deployments?per_page=1&page=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(third[0]["environment"], "unittest");
    // One deployment by id, as listed.
    let id = all[2].id;
    let one: Value = c
        .get(&format!("/repos/acme/app/deployments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, third[0]);
    assert_eq!(
        c.get("/repos/acme/app/deployments/999999999")
            .await
            .status(),
        404
    );
}

async fn one_deployment(c: &Client) -> u64 {
    let resp = c
        .send_json(
            Method::POST,
            "/repos/acme/app/deployments",
            &fixture_text("deployment-create.request.json"),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    body["id"].as_u64().unwrap()
}

/// The recorded status: `target_url` is the `log_url` sent, `environment` moves the deployment,
/// `Location` is the status's URL under its deployment.
#[tokio::test]
async fn fixture_deployment_status_create() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let id = one_deployment(&c).await;
    let req = fixture_text("deployment-status-create.request.json");
    let sent: Value = serde_json::from_str(&req).unwrap();
    let resp = c
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/deployments/{id}/statuses"),
            &req,
        )
        .await;
    assert_headers("deployment-status-create.headers.txt", &resp);
    let location = hdr(&resp, "location").unwrap();
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("deployment-status-create.json");
    assert_shape("deployment-status-create.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(location, body["url"].as_str().unwrap());
    for k in [
        "state",
        "description",
        "environment",
        "environment_url",
        "log_url",
    ] {
        assert_eq!(body[k], sent[k], "{k} as sent");
        assert_eq!(body[k], fx[k], "{k} as recorded");
    }
    assert_eq!(
        body["target_url"], sent["log_url"],
        "target_url is the log_url"
    );
    assert_eq!(fx["target_url"], sent["log_url"]);
    assert!(
        body["deployment_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/deployments/{id}"))
    );
    let d = &sim.deployments("acme/app").unwrap()[0];
    assert_eq!(d.environment, "new-ci-env");
    assert_eq!(d.original_environment, "unittest");
    assert_eq!(d.state(), Some("queued"));
    let one: Value = c
        .get(&location.replace(&sim.api_url(), ""))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, body);
}

/// Statuses listed newest first, as recorded, and paginated.
#[tokio::test]
async fn fixture_deployment_statuses_list() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let id = one_deployment(&c).await;
    let path = format!("/repos/acme/app/deployments/{id}/statuses");
    let mut sent: Value =
        serde_json::from_str(&fixture_text("deployment-status-create.request.json")).unwrap();
    c.send_json(Method::POST, &path, &sent.to_string()).await;
    sim.advance_time(5);
    sent["state"] = Value::from("in_progress");
    c.send_json(Method::POST, &path, &sent.to_string()).await;
    let resp = c.get(&path).await;
    assert_headers("deployment-statuses-list.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("deployment-statuses-list.json");
    assert_shape("deployment-statuses-list.json", &fx, &body, &[]);
    assert_eq!(keys(&body[0]), keys(&fx[0]));
    assert_eq!(body[0]["state"], "in_progress");
    assert_eq!(body[1]["state"], fx[0]["state"]);
    let resp = c.get(&format!("{path}?per_page=1")).await;
    assert!(hdr(&resp, "link").unwrap().contains("rel=\"next\""));
    assert_eq!(
        c.get("/repos/acme/app/deployments/424242/statuses")
            .await
            .status(),
        404
    );
}

/// A description over 140 characters is refused in GitHub's `Validation Failed` form (as
/// clients logged it), and an unknown state too; neither adds a status.
#[tokio::test]
async fn fixture_deployment_status_422() {
    let sim = sim().await;
    repo(&sim).await;
    let c = Client::new(&sim);
    let id = one_deployment(&c).await;
    let path = format!("/repos/acme/app/deployments/{id}/statuses");
    let mut sent: Value =
        serde_json::from_str(&fixture_text("deployment-status-create.request.json")).unwrap();
    sent["description"] = Value::from("x".repeat(140));
    assert_eq!(
        c.send_json(Method::POST, &path, &sent.to_string())
            .await
            .status(),
        201
    );
    sent["description"] = Value::from("é".repeat(141));
    let resp = c.send_json(Method::POST, &path, &sent.to_string()).await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(body["errors"][0]["resource"], "DeploymentStatus");
    assert_eq!(body["errors"][0]["code"], "custom");
    assert_eq!(body["errors"][0]["field"], "description");
    assert_eq!(
        body["errors"][0]["message"],
        "description is too long (maximum is 140 characters)"
    );
    sent["description"] = Value::from("ok");
    sent["state"] = Value::from("done");
    let resp = c.send_json(Method::POST, &path, &sent.to_string()).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(sim.deployments("acme/app").unwrap()[0].statuses.len(), 1);
}

async fn sim_with_hook() -> (SimulatorHandle, Received) {
    let sim = common::app_sim().await;
    let (url, rx) = receiver(200).await;
    repo(&sim).await;
    sim.set_webhook(&url, Some("hook-secret"));
    (sim, rx)
}

/// Fields the simulator does not model, and Actions' members (null when no workflow made the
/// deployment or status).
const LENIENT: [&str; 6] = [
    ".repository.language",
    ".repository.homepage",
    ".repository.topics",
    ".workflow",
    ".workflow_run",
    ".check_run",
];

/// `deployment` and `deployment_status` deliveries, in order, shaped as the examples.
#[tokio::test]
async fn fixture_webhook_deployment_and_status_created() {
    let (sim, rx) = sim_with_hook().await;
    let c = Client::new(&sim);
    // No payload, as in the example (which has `{}`).
    let resp = c
        .send_json(
            Method::POST,
            "/repos/acme/app/deployments",
            r#"{"ref":"main","environment":"unittest"}"#,
        )
        .await;
    let id = resp.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    sim.advance_time(10);
    let status = r#"{"state":"in_progress"}"#;
    let resp = c
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/deployments/{id}/statuses"),
            status,
        )
        .await;
    assert_eq!(resp.status(), 201);
    let got = rx.wait_for(3).await;
    let events: Vec<(String, Value)> = got
        .iter()
        .map(|(h, b)| {
            (
                h["x-github-event"].to_str().unwrap().to_string(),
                serde_json::from_slice(b).unwrap(),
            )
        })
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(kinds, ["ping", "deployment", "deployment_status"]);

    let fx = fixture_json("webhook-deployment-created.json");
    let d = &events[1].1;
    assert_eq!(keys(d), keys(&fx), "the same members");
    assert_eq!(keys(&d["deployment"]), keys(&fx["deployment"]));
    assert_shape("webhook-deployment-created.json", &fx, d, &LENIENT);
    assert_eq!(d["action"], "created");
    assert_eq!(d["deployment"]["id"], id);
    assert_eq!(d["deployment"]["environment"], "unittest");
    assert_eq!(d["deployment"]["payload"], fx["deployment"]["payload"]);
    assert_eq!(d["installation"]["id"], 27_216_354);
    assert_eq!(d["sender"]["login"], DEFAULT_LOGIN);

    let fx = fixture_json("webhook-deployment_status-created.json");
    let s = &events[2].1;
    assert_eq!(keys(s), keys(&fx), "the same members");
    assert_eq!(
        keys(&s["deployment_status"]),
        keys(&fx["deployment_status"])
    );
    assert_shape("webhook-deployment_status-created.json", &fx, s, &LENIENT);
    assert_eq!(s["action"], "created");
    assert_eq!(
        s["deployment_status"]["state"],
        fx["deployment_status"]["state"]
    );
    assert_eq!(s["deployment_status"]["description"], "");
    assert_eq!(s["deployment"]["id"], id);
    // The status moves the deployment's updated_at, as in the example.
    assert_ne!(s["deployment"]["updated_at"], s["deployment"]["created_at"]);
    assert_eq!(
        s["deployment_status"]["deployment_url"],
        s["deployment"]["url"]
    );
}
