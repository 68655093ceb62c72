//! Fidelity: the simulator's check runs (REST and webhooks) against real GitHub responses in
//! github-fixtures. Every test reads the fixtures folder, hence the `fixture_` prefix.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use prtracker_github_sim::{NewPull, RepoOptions, SimulatorHandle};
use reqwest::Method;
use serde_json::{Value, json};

/// The installation token the tests use; it acts as the App's bot, as a bought one does.
const INSTALLATION: &str = "ghs_installation_token_for_tests";

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn app_sim() -> (SimulatorHandle, String) {
    let sim = common::app_sim().await;
    sim.create_repo_with(
        "acme/app",
        RepoOptions {
            description: Some("An app".into()),
            ..Default::default()
        },
    )
    .unwrap();
    sim.add_token(INSTALLATION, "prtracker[bot]");
    let sha = sim.branch_head("acme/app", "main").unwrap();
    (sim, sha)
}

fn app_client(sim: &SimulatorHandle) -> Client {
    Client {
        token: Some(INSTALLATION.into()),
        ..Client::new(sim)
    }
}

/// `fx` with every `app`'s `permissions` and `events` emptied: they are the recorded App's own
/// grants (GitHub Actions' among them), not a shape; ours are the simulator App's.
fn app_grants_aside(mut fx: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(app)) = o.get_mut("app") {
                    app.insert("permissions".into(), json!({}));
                    app.insert("events".into(), json!([]));
                }
                o.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut fx);
    fx
}

/// A recorded request with the recorded head sha replaced by the repository's.
fn request(name: &str, sha: &str) -> Value {
    let mut v: Value = serde_json::from_str(&fixture_text(name)).unwrap();
    if v.get("head_sha").is_some() {
        v["head_sha"] = Value::from(sha);
    }
    v
}

async fn create(c: &Client, body: &Value) -> reqwest::Response {
    c.send_json(
        Method::POST,
        "/repos/acme/app/check-runs",
        &body.to_string(),
    )
    .await
}

async fn update(c: &Client, id: u64, body: &Value) -> reqwest::Response {
    c.send_json(
        Method::PATCH,
        &format!("/repos/acme/app/check-runs/{id}"),
        &body.to_string(),
    )
    .await
}

/// The recorded creation: 201 with `Location`; `output` has title, summary, `text: null`,
/// `annotations_count`, `annotations_url`, and annotations, images and actions are not echoed;
/// `check_suite` is only its id; `app` the App. A token that is not the App's is refused.
#[tokio::test]
async fn fixture_check_run_create() {
    let (sim, sha) = app_sim().await;
    let c = app_client(&sim);
    let sent = request("check-run-create.request.json", &sha);
    let resp = create(&c, &sent).await;
    assert_headers("check-run-create.headers.txt", &resp);
    let location = hdr(&resp, "location").unwrap();
    let body: Value = resp.json().await.unwrap();
    let fx = app_grants_aside(fixture_json("check-run-create.json"));
    assert_shape("check-run-create.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(keys(&body["output"]), keys(&fx["output"]));
    assert_eq!(keys(&body["check_suite"]), ["id"]);
    assert_eq!(body["url"], location);
    for k in [
        "name",
        "head_sha",
        "external_id",
        "details_url",
        "status",
        "conclusion",
        "started_at",
        "completed_at",
    ] {
        assert_eq!(body[k], sent[k], "{k} as sent");
    }
    for k in ["title", "summary"] {
        assert_eq!(body["output"][k], sent["output"][k]);
        assert_eq!(body["output"][k], fx["output"][k]);
    }
    assert_eq!(body["output"]["text"], Value::Null);
    assert_eq!(body["output"]["annotations_count"], 1);
    assert_eq!(body["app"]["slug"], "prtracker");
    assert_eq!(body["pull_requests"], json!([]));
    assert_eq!(sim.check_runs("acme/app", "main").unwrap().len(), 1);

    // A personal token is refused as GitHub refuses it.
    let resp = create(&Client::new(&sim), &sent).await;
    assert_eq!(resp.status(), 403);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["message"], "You must authenticate via a GitHub App.");
    let anon = Client {
        token: None,
        ..Client::new(&sim)
    };
    assert_eq!(create(&anon, &sent).await.status(), 401);
    assert_eq!(sim.check_runs("acme/app", &sha).unwrap().len(), 1);
}

/// The recorded 422: `completed` without a conclusion, in GitHub's JSON-schema form.
#[tokio::test]
async fn fixture_check_run_create_422() {
    let (sim, sha) = app_sim().await;
    let c = app_client(&sim);
    let resp = create(&c, &request("check-run-create-422.request.json", &sha)).await;
    assert_headers("check-run-create-422.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("check-run-create-422.json");
    assert_eq!(body["message"], fx["message"]);
    assert!(body.get("errors").is_none());
    // More than 50 annotations in one request is refused in the same form.
    let mut many = request("check-run-create.request.json", &sha);
    let one = many["output"]["annotations"][0].clone();
    many["output"]["annotations"] = Value::Array(vec![one; 51]);
    let resp = create(&c, &many).await;
    assert_eq!(resp.status(), 422);
    let e: Value = resp.json().await.unwrap();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request.\n\n")
    );
    assert!(sim.check_runs("acme/app", &sha).unwrap().is_empty());
}

/// The recorded update: a run created without `external_id` and `details_url` has `""` and
/// the App's URL; the earlier output is kept; the conclusion completes it.
#[tokio::test]
async fn fixture_check_run_update() {
    let (sim, sha) = app_sim().await;
    let c = app_client(&sim);
    // As recorded: created with one annotation and no external_id or details_url.
    let mut first = request("check-run-create.request.json", &sha);
    for k in [
        "external_id",
        "details_url",
        "conclusion",
        "completed_at",
        "actions",
    ] {
        first.as_object_mut().unwrap().remove(k);
    }
    first["status"] = Value::from("in_progress");
    let created: Value = create(&c, &first).await.json().await.unwrap();
    let id = created["id"].as_u64().unwrap();
    let sent = request("check-run-update.request.json", &sha);
    let resp = update(&c, id, &sent).await;
    assert_headers("check-run-update.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("check-run-update.json");
    assert_shape("check-run-update.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(body["external_id"], "");
    assert_eq!(body["details_url"], body["app"]["external_url"]);
    for k in ["status", "conclusion", "completed_at"] {
        assert_eq!(body[k], sent[k], "{k} as sent");
    }
    assert_eq!(
        body["output"],
        fx["output"].clone().tap(|o| {
            o["annotations_url"] = body["output"]["annotations_url"].clone();
        })
    );
    assert_eq!(body["started_at"], created["started_at"]);
    // The same run by id, and a 404 for another.
    let got: Value = c
        .get(&format!("/repos/acme/app/check-runs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, body);
    assert_eq!(update(&c, 999_999, &sent).await.status(), 404);
    assert_eq!(update(&Client::new(&sim), id, &sent).await.status(), 403);
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

/// Annotations accumulate across requests: 50 at creation and the recorded 50 give 100, as
/// recorded; one more gives 101; 51 in one request are refused and change nothing.
#[tokio::test]
async fn fixture_check_run_update_annotations() {
    let (sim, sha) = app_sim().await;
    let c = app_client(&sim);
    let sent = request("check-run-update-annotations.request.json", &sha);
    let note = |i: usize| {
        json!({"path": "stuff.txt", "start_line": 1, "end_line": 1,
            "annotation_level": "notice", "message": format!("hello #{i}")})
    };
    let first = json!({"name": "big", "head_sha": sha, "conclusion": "success",
        "output": {"title": "Big Run", "summary": "Lots of stuff here »",
            "annotations": (0..50).map(note).collect::<Vec<_>>()}});
    let created: Value = create(&c, &first).await.json().await.unwrap();
    assert_eq!(created["output"]["annotations_count"], 50);
    let id = created["id"].as_u64().unwrap();
    let resp = update(&c, id, &sent).await;
    assert_headers("check-run-update-annotations.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("check-run-update-annotations.json");
    assert_shape("check-run-update-annotations.json", &fx, &body, &[]);
    assert_eq!(
        body["output"]["annotations_count"],
        fx["output"]["annotations_count"]
    );
    let one = json!({"output": {"title": "Big Run", "summary": "s", "annotations": [note(100)]}});
    let body: Value = update(&c, id, &one).await.json().await.unwrap();
    assert_eq!(body["output"]["annotations_count"], 101);
    let too_many = json!({"output": {"title": "Big Run", "summary": "s",
        "annotations": (0..51).map(note).collect::<Vec<_>>()}});
    assert_eq!(update(&c, id, &too_many).await.status(), 422);
    let run = &sim.check_runs("acme/app", &sha).unwrap()[0];
    assert_eq!(run.annotations.len(), 101);
    assert_eq!(run.annotations[100]["message"], "hello #100");
}

/// GET one run, shaped as the newest recording (2025).
#[tokio::test]
async fn fixture_check_run_get() {
    let (sim, sha) = app_sim().await;
    let c = app_client(&sim);
    let run = json!({"name": "test", "head_sha": sha, "conclusion": "success",
        "external_id": "8ece7711", "details_url": "https://ci.example/job/1"});
    let id = create(&c, &run).await.json::<Value>().await.unwrap()["id"].clone();
    // Reading needs no App token.
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/app/check-runs/{id}"))
        .await;
    assert_headers("check-run-get.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = app_grants_aside(fixture_json("check-run-get.json"));
    assert_shape("check-run-get.json", &fx, &body, &[]);
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(keys(&body["app"]), keys(&fx["app"]));
    assert_eq!(body["output"]["title"], Value::Null);
    assert_eq!(
        body["status"], "completed",
        "a conclusion completes the run"
    );
    assert!(body["completed_at"].is_string());
}

/// A ref's runs filtered by name, as recorded: `{"total_count", "check_runs"}`; by default
/// only the newest run of each name, `filter=all` every one; a PR whose head is the commit is
/// listed in `pull_requests`.
#[tokio::test]
async fn fixture_check_runs_for_ref() {
    let (sim, sha) = app_sim().await;
    let c = app_client(&sim);
    let name = "build-only (Java 17)";
    for n in [name, "other", name] {
        let r = json!({"name": n, "head_sha": sha, "conclusion": "success"});
        assert_eq!(create(&c, &r).await.status(), 201);
    }
    let path =
        format!("/repos/acme/app/commits/{sha}/check-runs?check_name=build-only+%28Java+17%29");
    let resp = Client::new(&sim).get(&path).await;
    assert_headers("check-runs-for-ref.headers.txt", &resp);
    let body: Value = resp.json().await.unwrap();
    let fx = app_grants_aside(fixture_json("check-runs-for-ref.json"));
    let lenient = [".check_runs[].output.title", ".check_runs[].output.summary"];
    assert_shape("check-runs-for-ref.json", &fx, &body, &lenient);
    assert_eq!(keys(&body), keys(&fx));
    assert_eq!(keys(&body["check_runs"][0]), keys(&fx["check_runs"][0]));
    assert_eq!(body["total_count"], fx["total_count"]);
    assert_eq!(body["check_runs"][0]["name"], fx["check_runs"][0]["name"]);
    let all: Value = c
        .get(&format!("{path}&filter=all"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total_count"], 2);
    assert!(all["check_runs"][0]["id"].as_u64() > all["check_runs"][1]["id"].as_u64());
    let by_branch: Value = c
        .get("/repos/acme/app/commits/main/check-runs?per_page=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_branch["total_count"], 2);
    assert_eq!(by_branch["check_runs"].as_array().unwrap().len(), 1);
}

const LENIENT: [&str; 3] = [
    ".repository.language",
    ".repository.homepage",
    ".repository.topics",
];

/// `check_run` deliveries: `created` shaped as the documentation example, `rerequested` by a
/// person (from the control API) shaped as the recorded App delivery: the run as it was, its
/// suite `queued`, the person as sender.
#[tokio::test]
async fn fixture_webhook_check_run_created_and_rerequested() {
    let (sim, _) = app_sim().await;
    let (url, rx) = receiver(200).await;
    sim.set_webhook(&url, Some("hook-secret"));
    let c = app_client(&sim);
    // On a PR's head, so the run and its suite list the PR, as in the example.
    let n = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "Feature".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let pr: Value = c
        .get(&format!("/repos/acme/app/pulls/{n}"))
        .await
        .json()
        .await
        .unwrap();
    let sha = pr["head"]["sha"].as_str().unwrap().to_string();
    let run = json!({"name": "prtracker/east", "head_sha": sha, "conclusion": "failure",
        "output": {"title": "Drifted", "summary": "1 object drifted"}});
    let id = create(&c, &run).await.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    sim.rerequest_check_run("acme/app", id, "alice").unwrap();
    let got = rx.wait_for(4).await;
    let events: Vec<(String, Value)> = got
        .iter()
        .map(|(h, b)| {
            (
                h["x-github-event"].to_str().unwrap().to_string(),
                serde_json::from_slice(b).unwrap(),
            )
        })
        .collect();
    let kinds: Vec<(&str, &Value)> = events
        .iter()
        .map(|(e, p)| (e.as_str(), &p["action"]))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ping", &Value::Null),
            ("pull_request", &Value::from("opened")),
            ("check_run", &Value::from("created")),
            ("check_run", &Value::from("rerequested")),
        ]
    );
    let mut fx = app_grants_aside(fixture_json("webhook-check_run-created.json"));
    // The example's run is for a deployment; ours are not (the recorded delivery below has no
    // such member either).
    fx["check_run"]["check_suite"]
        .as_object_mut()
        .unwrap()
        .remove("deployment");
    let created = &events[2].1;
    assert_shape("webhook-check_run-created.json", &fx, created, &LENIENT);
    assert_eq!(keys(&created["check_run"]), keys(&fx["check_run"]));
    assert_eq!(created["check_run"]["id"], id);
    assert_eq!(created["check_run"]["pull_requests"][0]["number"], n);
    assert_eq!(created["sender"]["login"], "prtracker[bot]");

    let fx = app_grants_aside(fixture_json("webhook-check_run-rerequested.json"));
    let again = &events[3].1;
    // The recorded repository belongs to a person; ours to an organization.
    let mut ours = keys(again);
    ours.retain(|k| k != "organization");
    assert_eq!(ours, keys(&fx));
    assert_eq!(keys(&again["check_run"]), keys(&fx["check_run"]));
    assert_eq!(
        keys(&again["check_run"]["check_suite"]),
        keys(&fx["check_run"]["check_suite"])
    );
    assert_shape("webhook-check_run-rerequested.json", &fx, again, &LENIENT);
    assert_eq!(again["sender"]["login"], "alice");
    assert_eq!(again["sender"]["type"], fx["sender"]["type"]);
    assert_eq!(again["check_run"]["status"], fx["check_run"]["status"]);
    assert_eq!(
        again["check_run"]["conclusion"],
        fx["check_run"]["conclusion"]
    );
    assert_eq!(again["check_run"]["check_suite"]["status"], "queued");
    assert_eq!(again["installation"]["id"], 27_216_354);
    // Over HTTP too, and an unknown run is a 404.
    let http = reqwest::Client::new();
    let ok = http
        .post(format!(
            "{}/_sim/repos/acme/app/check-runs/{id}/rerequest?actor=bob",
            sim.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    let missing = http
        .post(format!(
            "{}/_sim/repos/acme/app/check-runs/1/rerequest",
            sim.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
