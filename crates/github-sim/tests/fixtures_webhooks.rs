//! Fidelity: webhook deliveries against GitHub's payloads and documented delivery headers.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use prtracker_github_sim::{NewPull, RepoOptions, SimulatorHandle, signature_256};
use serde_json::Value;

const SECRET: &str = "hook-secret";

async fn sim_with_hook() -> (SimulatorHandle, Received) {
    let sim = common::app_sim().await;
    let (url, rx) = receiver(200).await;
    sim.create_repo("acme/app").unwrap();
    sim.set_webhook(&url, Some(SECRET));
    (sim, rx)
}

/// Fields the simulator does not model (assignees, reviewers, milestones, topics, language,
/// homepage).
const LENIENT: [&str; 13] = [
    ".pull_request.head.repo.language",
    ".pull_request.base.repo.language",
    ".repository.language",
    ".pull_request.head.repo.homepage",
    ".pull_request.base.repo.homepage",
    ".repository.homepage",
    ".pull_request.assignee",
    ".pull_request.assignees",
    ".pull_request.requested_reviewers",
    ".pull_request.milestone",
    ".pull_request.head.repo.topics",
    ".pull_request.base.repo.topics",
    ".repository.topics",
];

fn event(events: &[Value], action: &str) -> Value {
    events
        .iter()
        .find(|e| e["action"] == action)
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no {action} delivery among {:?}",
                events.iter().map(|e| &e["action"]).collect::<Vec<_>>()
            )
        })
}

#[tokio::test]
async fn fixture_webhook_pull_request_payloads() {
    let (sim, rx) = sim_with_hook().await;
    let n = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "Feature".into(),
                body: Some("b".into()),
                user: Some("alice".into()),
                ..Default::default()
            },
        )
        .unwrap();
    sim.add_label("acme/app", n, "bug", "alice").unwrap();
    sim.add_label("acme/app", n, "enhancement", "alice")
        .unwrap();
    sim.remove_label("acme/app", n, "enhancement", "alice")
        .unwrap();
    sim.merge_pull("acme/app", n, "bob").unwrap();
    let m = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "Other".into(),
                body: Some("b".into()),
                ..Default::default()
            },
        )
        .unwrap();
    sim.add_label("acme/app", m, "bug", "alice").unwrap();
    sim.close_pull("acme/app", m, "bob").unwrap();
    // ping + opened + 2 labeled + unlabeled + closed + opened + labeled + closed
    let got = rx.wait_for(9).await;
    assert_eq!(got.len(), 9, "deliveries received");
    let events = rx.pull_request_events();

    let opened = event(&events, "opened");
    assert_shape(
        "webhook-pull_request-opened.json",
        &fixture_json("webhook-pull_request-opened.json"),
        &opened,
        &LENIENT,
    );
    assert_eq!(opened["installation"]["id"], 27_216_354);

    let labeled = event(&events, "labeled");
    assert_shape(
        "webhook-pull_request-labeled.json",
        &fixture_json("webhook-pull_request-labeled.json"),
        &labeled,
        &LENIENT,
    );
    assert_eq!(labeled["label"]["name"], "bug");

    let unlabeled = event(&events, "unlabeled");
    assert_shape(
        "webhook-pull_request-unlabeled.json",
        &fixture_json("webhook-pull_request-unlabeled.json"),
        &unlabeled,
        &LENIENT,
    );
    // As in the recording: the removed label is top-level, and no longer in pull_request.labels.
    assert_eq!(unlabeled["label"]["name"], "enhancement");
    let left: Vec<&Value> = unlabeled["pull_request"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["name"])
        .collect();
    assert_eq!(left, [&Value::from("bug")]);

    let closed: Vec<&Value> = events.iter().filter(|e| e["action"] == "closed").collect();
    let merged = closed
        .iter()
        .find(|e| e["pull_request"]["merged"] == true)
        .unwrap();
    assert_shape(
        "webhook-pull_request-closed-merged.json",
        &fixture_json("webhook-pull_request-closed-merged.json"),
        merged,
        &LENIENT,
    );
    assert_eq!(merged["pull_request"]["merged_by"]["login"], "bob");
    let unmerged = closed
        .iter()
        .find(|e| e["pull_request"]["merged"] == false)
        .unwrap();
    assert_shape(
        "webhook-pull_request-closed-unmerged.json",
        &fixture_json("webhook-pull_request-closed-unmerged.json"),
        unmerged,
        &LENIENT,
    );
    assert_eq!(unmerged["pull_request"]["merged_at"], Value::Null);
}

/// Pulls a backquoted or double-quoted value following `key` out of the docs text.
fn docs_value(text: &str, key: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("{key} not in docs"));
    let rest = &line[line.find(key).unwrap() + key.len()..];
    rest.trim_start_matches(['`', ':', ' '])
        .trim_matches(|c| c == '"' || c == '`' || c == ' ')
        .to_string()
}

#[tokio::test]
async fn fixture_webhook_signature_test_vector() {
    let text = fixture_text("webhook-delivery-headers.txt");
    let secret = docs_value(&text, "`secret`");
    let payload = docs_value(&text, "`payload`");
    let expected = docs_value(&text, "* X-Hub-Signature-256:");
    assert_eq!(secret, "It's a Secret to Everybody");
    assert_eq!(
        signature_256(secret.as_bytes(), payload.as_bytes()),
        expected
    );
}

#[tokio::test]
async fn fixture_webhook_delivery_headers() {
    let text = fixture_text("webhook-delivery-headers.txt");
    let documented: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim().to_lowercase()))
        .filter(|k| {
            k.starts_with("x-github-") && !k.contains("enterprise")
                || k == "x-hub-signature-256"
                || k == "user-agent"
                || k == "content-type"
        })
        .collect();
    assert!(
        documented.len() >= 5,
        "parsed documented headers: {documented:?}"
    );
    let (sim, rx) = sim_with_hook().await;
    sim.create_pull(
        "acme/app",
        NewPull {
            title: "t".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let got = rx.wait_for(2).await;
    let (headers, body) = got
        .iter()
        .find(|(h, _)| h["x-github-event"] == "pull_request")
        .unwrap();
    for name in &documented {
        assert!(
            headers.contains_key(name.as_str()),
            "delivery lacks documented header {name}"
        );
    }
    assert!(
        headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("GitHub-Hookshot/")
    );
    assert_eq!(headers["content-type"], "application/json");
    let id = headers["x-github-delivery"].to_str().unwrap();
    assert_eq!(
        id.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert_eq!(
        headers["x-hub-signature-256"].to_str().unwrap(),
        signature_256(SECRET.as_bytes(), body)
    );
    // The real ping capture shows these too.
    assert!(headers.contains_key("x-github-hook-id"));
    assert_eq!(
        headers["x-github-hook-installation-target-type"],
        "repository"
    );
}

#[tokio::test]
async fn fixture_webhook_issue_comment_created() {
    let (sim, rx) = sim_with_hook().await;
    // The recording's repository belongs to a person, so its payload has no `organization`.
    sim.create_repo_with(
        "alice/app",
        RepoOptions {
            owner_is_user: true,
            description: Some("An app".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let n = sim
        .create_pull(
            "alice/app",
            NewPull {
                title: "Feature".into(),
                body: Some("b".into()),
                user: Some("alice".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let id = sim
        .comment("alice/app", n, "/validate param=value", "alice")
        .unwrap();
    sim.advance_time(30);
    sim.edit_comment("alice/app", id, "/validate param=other", "bob")
        .unwrap();
    // ping + opened + created + edited, in that order.
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
            ("issue_comment", &Value::from("created")),
            ("issue_comment", &Value::from("edited")),
        ]
    );
    let fx = fixture_json("webhook-issue_comment-created.json");
    let created = &events[2].1;
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(created), keys(&fx), "the same members");
    assert_eq!(keys(&created["issue"]), keys(&fx["issue"]), "issue members");
    assert_eq!(
        keys(&created["issue"]["pull_request"]),
        keys(&fx["issue"]["pull_request"])
    );
    assert_eq!(keys(&created["comment"]), keys(&fx["comment"]));
    let lenient = [
        ".repository.language",
        ".repository.homepage",
        ".repository.topics",
        ".issue.assignee",
        ".issue.assignees",
        ".issue.milestone",
    ];
    assert_shape("webhook-issue_comment-created.json", &fx, created, &lenient);
    assert_eq!(created["comment"]["body"], fx["comment"]["body"]);
    assert_eq!(created["comment"]["user"]["login"], "alice");
    assert_eq!(created["sender"]["login"], "alice");
    assert_eq!(created["installation"]["id"], 27_216_354);
    // On a PR, as recorded: the issue links to the PR, and the comment to the PR's conversation.
    for (name, p) in [("fixture", &fx), ("simulator", created)] {
        let number = p["issue"]["number"].as_u64().unwrap();
        let html = p["comment"]["html_url"].as_str().unwrap();
        assert!(
            html.starts_with(p["issue"]["html_url"].as_str().unwrap()),
            "{name}"
        );
        assert!(
            html.contains(&format!("/pull/{number}#issuecomment-")),
            "{name}"
        );
        assert_eq!(p["comment"]["issue_url"], p["issue"]["url"], "{name}");
        assert_eq!(
            p["issue"]["pull_request"]["merged_at"],
            Value::Null,
            "{name}"
        );
    }
    assert_eq!(created["issue"]["comments"], 1);

    // An edit carries the former body in `changes`, the comment as it is now, and its editor.
    let edited = &events[3].1;
    assert_eq!(edited["changes"]["body"]["from"], "/validate param=value");
    assert_eq!(edited["comment"]["body"], "/validate param=other");
    assert_eq!(edited["comment"]["id"], created["comment"]["id"]);
    assert_eq!(edited["sender"]["login"], "bob");
    assert_ne!(
        edited["comment"]["updated_at"],
        created["comment"]["updated_at"]
    );
    assert_shape("webhook-issue_comment-created.json", &fx, edited, &lenient);
}
