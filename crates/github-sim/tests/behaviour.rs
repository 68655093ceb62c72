//! GitHub semantics the project relies on, checked without fixtures.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use prtracker_github_sim::{Faults, NewPull, SimulatorHandle};
use reqwest::Method;
use serde_json::Value;

async fn setup() -> (SimulatorHandle, Client, u64) {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let n = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let c = Client::new(&sim);
    (sim, c, n)
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn labels_add_is_case_insensitive_and_keeps_first_case() {
    let (sim, c, n) = setup().await;
    let path = format!("/repos/acme/app/issues/{n}/labels");
    let r = c
        .send_json(Method::POST, &path, r#"{"labels":["State/Merged"]}"#)
        .await;
    assert_eq!(r.status().as_u16(), 200);
    // A bare array works too; a differently-cased name is the same label.
    let r = c
        .send_json(Method::POST, &path, r#"["state/merged","keep"]"#)
        .await;
    assert_eq!(names(&r.json().await.unwrap()), ["State/Merged", "keep"]);
    let repo_labels = sim.repo_labels("acme/app").unwrap();
    assert_eq!(
        repo_labels
            .iter()
            .filter(|l| l.eq_ignore_ascii_case("state/merged"))
            .count(),
        1
    );
    assert!(repo_labels.contains(&"State/Merged".to_string()));
}

#[tokio::test]
async fn labels_put_replaces_and_delete_is_case_insensitive() {
    let (_sim, c, n) = setup().await;
    let path = format!("/repos/acme/app/issues/{n}/labels");
    c.send_json(Method::POST, &path, r#"{"labels":["a","b","state/open"]}"#)
        .await;
    let r = c
        .send_json(Method::PUT, &path, r#"{"labels":["b","state/merged"]}"#)
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(names(&r.json().await.unwrap()), ["b", "state/merged"]);
    let r = c
        .req(Method::DELETE, &format!("{path}/STATE%2FMERGED"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(names(&r.json().await.unwrap()), ["b"]);
    let r = c
        .req(Method::DELETE, &format!("{path}/state%2Fmerged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Label does not exist");
    assert_eq!(body["status"], "404");
    assert!(
        body["documentation_url"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.github.com/")
    );
}

#[tokio::test]
async fn unknown_repo_and_pr_are_404_and_bad_tokens_401() {
    let (sim, c, _) = setup().await;
    for path in [
        "/repos/acme/nope/pulls/1",
        "/repos/acme/app/pulls/77",
        "/repos/acme/app/issues/77/labels",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(
            (b["message"].as_str(), b["status"].as_str()),
            (Some("Not Found"), Some("404"))
        );
    }
    let anon = Client {
        token: None,
        ..Client::new(&sim)
    };
    assert_eq!(
        anon.get("/repos/acme/app/pulls/1").await.status().as_u16(),
        401
    );
    let bad = Client {
        token: Some("wrong".into()),
        ..Client::new(&sim)
    };
    let r = bad.get("/repos/acme/app/pulls/1").await;
    assert_eq!(r.status().as_u16(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        (b["message"].as_str(), b["status"].as_str()),
        (Some("Bad credentials"), Some("401"))
    );
    let bearer = c
        .http
        .get(format!("{}/repos/acme/app/pulls/1", sim.api_url()))
        .header("authorization", format!("Bearer {}", sim.token()))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);
}

fn link_rels(r: &reqwest::Response) -> Vec<(String, String)> {
    hdr(r, "link")
        .unwrap_or_default()
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").unwrap();
            let page = url
                .rsplit("page=")
                .next()
                .unwrap()
                .trim_end_matches('>')
                .to_string();
            (rel.trim_matches('"').to_string(), page)
        })
        .collect()
}

#[tokio::test]
async fn pulls_pagination_with_link_and_state_filter() {
    let (sim, c, _) = setup().await;
    for i in 0..34 {
        let n = sim
            .create_pull(
                "acme/app",
                NewPull {
                    title: format!("p{i}"),
                    ..Default::default()
                },
            )
            .unwrap();
        if i % 2 == 0 {
            sim.close_pull("acme/app", n, "octocat").unwrap();
        }
    }
    // 35 PRs: 18 open (incl. the first), 17 closed.
    let r = c.get("/repos/acme/app/pulls?state=all&per_page=10").await;
    assert_eq!(
        link_rels(&r),
        [("next".into(), "2".into()), ("last".into(), "4".into())]
    );
    assert_eq!(
        r.json::<Value>().await.unwrap().as_array().unwrap().len(),
        10
    );
    let r = c
        .get("/repos/acme/app/pulls?state=all&per_page=10&page=2")
        .await;
    let rels: Vec<String> = link_rels(&r).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, ["prev", "next", "last", "first"]);
    let r = c
        .get("/repos/acme/app/pulls?state=all&per_page=10&page=4")
        .await;
    assert!(link_rels(&r).iter().all(|(rel, _)| rel != "next"));
    assert_eq!(
        r.json::<Value>().await.unwrap().as_array().unwrap().len(),
        5
    );
    let open: Value = c
        .get("/repos/acme/app/pulls?per_page=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 18);
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "open")
    );
    let closed: Value = c
        .get("/repos/acme/app/pulls?state=closed&per_page=500")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed.as_array().unwrap().len(), 17);
    // Default page size 30, newest first.
    let all: Value = c
        .get("/repos/acme/app/pulls?state=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 30);
    assert_eq!(all[0]["number"], 35);
    // List items are GitHub's "simple" shape: no `merged`.
    assert!(all[0].get("merged").is_none());
}

#[tokio::test]
async fn etag_304_is_not_counted() {
    let (sim, c, n) = setup().await;
    let path = format!("/repos/acme/app/pulls/{n}");
    let r = c.get(&path).await;
    let tag = hdr(&r, "etag").unwrap();
    let used = sim.budget(sim.token()).used;
    for _ in 0..3 {
        let r = c
            .req(Method::GET, &path)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 304);
    }
    assert_eq!(sim.budget(sim.token()).used, used);
    // A change gives a new tag and a full answer, which counts.
    sim.add_label("acme/app", n, "bug", "octocat").unwrap();
    let r = c
        .req(Method::GET, &path)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_ne!(hdr(&r, "etag").unwrap(), tag);
    assert_eq!(sim.budget(sim.token()).used, used + 1);
    assert_eq!(sim.requests().iter().filter(|r| !r.counted).count(), 3);
}

#[tokio::test]
async fn budget_runs_out_and_resets() {
    let (sim, c, n) = setup().await;
    sim.set_rate_limit(sim.token(), 3);
    let path = format!("/repos/acme/app/pulls/{n}");
    for _ in 0..3 {
        assert_eq!(c.get(&path).await.status().as_u16(), 200);
    }
    let r = c.get(&path).await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(hdr(&r, "x-ratelimit-remaining").as_deref(), Some("0"));
    let reset: i64 = hdr(&r, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > sim.now());
    sim.advance_time(reset - sim.now());
    let r = c.get(&path).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(hdr(&r, "x-ratelimit-remaining").as_deref(), Some("2"));

    // Exhausting with a chosen reset; 429 when so configured.
    sim.exhaust_budget(sim.token(), 30);
    sim.set_faults(Faults {
        primary_status: Some(429),
        ..Faults::default()
    });
    let r = c.get(&path).await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(
        hdr(&r, "x-ratelimit-reset")
            .unwrap()
            .parse::<i64>()
            .unwrap(),
        sim.now() + 30
    );
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for user ID")
    );
}

#[tokio::test]
async fn secondary_limit_for_next_n_requests() {
    let (sim, c, n) = setup().await;
    sim.set_faults(Faults {
        secondary_next: 2,
        secondary_status: Some(429),
        secondary_retry_after: Some(7),
        ..Faults::default()
    });
    let path = format!("/repos/acme/app/pulls/{n}");
    for _ in 0..2 {
        let r = c.get(&path).await;
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(hdr(&r, "retry-after").as_deref(), Some("7"));
    }
    assert_eq!(c.get(&path).await.status().as_u16(), 200);
}

#[tokio::test]
async fn server_errors_every_nth_and_seeded_probability() {
    let (sim, c, n) = setup().await;
    let path = format!("/repos/acme/app/pulls/{n}");
    sim.set_faults(Faults {
        fail_every_nth: Some(2),
        fail_status: Some(503),
        ..Faults::default()
    });
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(c.get(&path).await.status().as_u16());
    }
    assert_eq!(got, [200, 503, 200, 503]);

    let run = |seed| {
        let sim = &sim;
        let c = &c;
        let path = &path;
        async move {
            sim.set_faults(Faults {
                fail_probability: Some(0.5),
                seed: Some(seed),
                ..Faults::default()
            });
            let mut v = Vec::new();
            for _ in 0..20 {
                v.push(c.get(path).await.status().as_u16());
            }
            v
        }
    };
    let a = run(9).await;
    let b = run(9).await;
    assert_eq!(a, b, "same seed, same faults");
    assert!(a.contains(&502) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn webhooks_signed_async_and_sender_is_token_user() {
    let (sim, c, n) = setup().await;
    let (url, rx) = receiver(202).await;
    sim.set_webhook(&url, Some("s3cret"));
    let r = c
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/issues/{n}/labels"),
            r#"["state/open"]"#,
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let got = rx.wait_for(2).await;
    let (h, body) = &got[1];
    assert_eq!(h["x-github-event"], "pull_request");
    let expected = prtracker_github_sim::signature_256(b"s3cret", body);
    assert_eq!(h["x-hub-signature-256"].to_str().unwrap(), expected);
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["action"], "labeled");
    assert_eq!(payload["label"]["name"], "state/open");
    assert_eq!(
        payload["sender"]["login"],
        prtracker_github_sim::DEFAULT_LOGIN
    );
    let log = sim.wait_for_deliveries(2, Duration::from_secs(5)).await;
    assert_eq!(
        log.iter().map(|d| d.status).collect::<Vec<_>>(),
        [Some(202), Some(202)]
    );
    assert_eq!(log[0].event, "ping");
}

#[tokio::test]
async fn dropped_webhooks_are_logged_not_sent() {
    let (sim, _c, n) = setup().await;
    let (url, rx) = receiver(200).await;
    sim.set_webhook(&url, None);
    sim.set_faults(Faults {
        drop_webhooks: 1,
        ..Faults::default()
    });
    sim.add_label("acme/app", n, "bug", "octocat").unwrap();
    sim.add_label("acme/app", n, "question", "octocat").unwrap();
    let log = sim.wait_for_deliveries(3, Duration::from_secs(5)).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2, "ping and the second label only");
    assert!(
        got.iter()
            .all(|(h, _)| !h.contains_key("x-hub-signature-256")),
        "no secret, no signature"
    );
    assert!(log[1].dropped && log[1].status.is_none());
    assert_eq!(log[1].payload()["label"]["name"], "bug");
    assert_eq!(log[2].payload()["label"]["name"], "question");
}

#[tokio::test]
async fn merge_carries_head_files_and_unknown_contents_404() {
    let (sim, c, n) = setup().await;
    let head = sim.pull("acme/app", n).unwrap()["head"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    sim.set_files(
        "acme/app",
        &head,
        [("deploy/app.yaml", "kind: ConfigMap\n")],
    )
    .unwrap();
    let merge = sim.merge_pull("acme/app", n, "octocat").unwrap();
    let r = c
        .get(&format!(
            "/repos/acme/app/contents/deploy/app.yaml?ref={merge}"
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .get(&format!("/repos/acme/app/contents/deploy?ref={merge}"))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()[0]["name"], "app.yaml");
    assert_eq!(
        c.get(&format!("/repos/acme/app/contents/nope.yaml?ref={merge}"))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        c.get("/repos/acme/app/contents/deploy/app.yaml?ref=deadbeef")
            .await
            .status()
            .as_u16(),
        404
    );
    let pr = sim.pull("acme/app", n).unwrap();
    assert_eq!(
        (pr["state"].as_str(), pr["merged"].as_bool()),
        (Some("closed"), Some(true))
    );
    assert_eq!(pr["merge_commit_sha"], merge.as_str());
}

fn parent_shas(commit: &Value) -> Vec<String> {
    commit["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn merge_commit_parents_are_the_base_head_at_merge_time_then_the_pr_head() {
    let (sim, c, n) = setup().await;
    let initial = sim.branch_head("acme/app", "main").unwrap();
    let r: Value = c
        .get(&format!("/repos/acme/app/commits/{initial}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(parent_shas(&r).is_empty(), "the initial commit has none");
    let head = sim.pull("acme/app", n).unwrap()["head"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        sim.commit_parents("acme/app", &head).unwrap(),
        [initial],
        "the PR's head branched off main"
    );
    // Someone pushes to main while the PR is open: the merge's first parent is that push.
    sim.push_commit(
        "acme/app",
        "main",
        "aaaa000000000000000000000000000000000001",
        [("x", "1")],
    )
    .unwrap();
    let merge = sim.merge_pull("acme/app", n, "octocat").unwrap();
    let want = vec![
        "aaaa000000000000000000000000000000000001".to_string(),
        head.clone(),
    ];
    assert_eq!(sim.commit_parents("acme/app", &merge).unwrap(), want);
    assert_eq!(sim.branch_head("acme/app", "main").unwrap(), merge);
    let r = c.get(&format!("/repos/acme/app/commits/{merge}")).await;
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(parent_shas(&body), want);
    assert_eq!(body["committer"]["login"], "web-flow");
    assert!(
        body["commit"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Merge pull request #{n} from acme/"))
    );
    // A branch name, its `refs/heads/` form and an abbreviation name the same commit.
    for reference in ["main", "refs/heads/main", &merge[..10]] {
        let r: Value = c
            .get(&format!("/repos/acme/app/commits/{reference}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["sha"], merge.as_str(), "{reference}");
    }
}

#[tokio::test]
async fn a_push_to_a_branch_records_its_parent_and_moves_the_branch() {
    let (sim, c, n) = setup().await;
    let before = sim.branch_head("acme/app", "main").unwrap();
    let sha = "bbbb000000000000000000000000000000000002";
    sim.push_commit(
        "acme/app",
        "main",
        sha,
        [("deploy/app.yaml", "replicas: 2\n")],
    )
    .unwrap();
    assert_eq!(sim.branch_head("acme/app", "main").as_deref(), Some(sha));
    assert_eq!(sim.commit_parents("acme/app", sha).unwrap(), [before]);
    let body: Value = c
        .get("/repos/acme/app/branches/main")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["commit"]["sha"], sha);
    let commit: Value = c
        .get(&format!("/repos/acme/app/commits/{sha}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(commit["files"][0]["filename"], "deploy/app.yaml");
    assert_eq!(commit["files"][0]["patch"], "@@ -0,0 +1,1 @@\n+replicas: 2");
    let r = c
        .get("/repos/acme/app/contents/deploy/app.yaml?ref=main")
        .await;
    assert_eq!(r.status().as_u16(), 200);

    // A second push changes the file: the diff is against the first push.
    let next = "bbbb000000000000000000000000000000000003";
    sim.push_commit(
        "acme/app",
        "main",
        next,
        [("deploy/app.yaml", "replicas: 3\n")],
    )
    .unwrap();
    let commit: Value = c
        .get(&format!("/repos/acme/app/commits/{next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(parent_shas(&commit), [sha]);
    assert_eq!(commit["files"][0]["status"], "modified");
    assert_eq!(
        (
            commit["stats"]["additions"].clone(),
            commit["stats"]["deletions"].clone()
        ),
        (Value::from(1), Value::from(1))
    );

    // Commits never change, and a push needs a branch.
    let again = sim
        .push_commit("acme/app", "main", sha, [("a", "b")])
        .unwrap_err();
    assert_eq!(again.status.as_u16(), 422);
    let nowhere = sim
        .push_commit("acme/app", "nope", "cccc", [("a", "b")])
        .unwrap_err();
    assert_eq!(nowhere.status.as_u16(), 404);

    // A push to an open PR's branch (here `feature-1`, a name with no `/`) moves the PR's head.
    let head_ref = sim.pull("acme/app", n).unwrap()["head"]["ref"]
        .as_str()
        .unwrap()
        .to_string();
    sim.push_commit("acme/app", &head_ref, "dddd", [("a", "b")])
        .unwrap();
    assert_eq!(sim.pull("acme/app", n).unwrap()["head"]["sha"], "dddd");
}

#[tokio::test]
async fn branch_names_with_a_slash_resolve_encoded_or_not() {
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    sim.create_pull(
        "acme/app",
        NewPull {
            title: "t".into(),
            head_ref: Some("feature/a b".into()),
            head_sha: Some("eeee000000000000000000000000000000000005".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let c = Client::new(&sim);
    for path in ["feature/a%20b", "feature%2Fa%20b"] {
        let r = c.get(&format!("/repos/acme/app/branches/{path}")).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["name"], "feature/a b");
        assert_eq!(
            body["_links"]["self"].as_str().unwrap(),
            format!("{}/repos/acme/app/branches/feature/a%20b", sim.url())
        );
        let r = c.get(&format!("/repos/acme/app/commits/{path}")).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn an_unmoved_branch_answers_a_conditional_get_with_a_free_304() {
    let (sim, c, _) = setup().await;
    let path = "/repos/acme/app/branches/main";
    let r = c.get(path).await;
    assert_eq!(r.status().as_u16(), 200);
    let tag = hdr(&r, "etag").unwrap();
    let used = sim.budget(sim.token()).used;
    let conditional = || {
        let request = c.req(Method::GET, path).header("if-none-match", &tag);
        async move { request.send().await.unwrap() }
    };
    for _ in 0..3 {
        assert_eq!(conditional().await.status().as_u16(), 304);
    }
    assert_eq!(sim.budget(sim.token()).used, used, "304s cost nothing");
    // The same holds for a commit, which never changes.
    let head = sim.branch_head("acme/app", "main").unwrap();
    let commit = format!("/repos/acme/app/commits/{head}");
    let ctag = hdr(&c.get(&commit).await, "etag").unwrap();
    let r = c
        .req(Method::GET, &commit)
        .header("if-none-match", &ctag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    // Once the branch moves, the same tag gets the new head, and that counts.
    sim.push_commit("acme/app", "main", "ffff", [("a", "b")])
        .unwrap();
    let used = sim.budget(sim.token()).used;
    let r = conditional().await;
    assert_eq!(r.status().as_u16(), 200);
    assert_ne!(hdr(&r, "etag").unwrap(), tag);
    assert_eq!(r.json::<Value>().await.unwrap()["commit"]["sha"], "ffff");
    assert_eq!(sim.budget(sim.token()).used, used + 1);
}

#[tokio::test]
async fn unknown_commits_are_422_and_unknown_branches_404_as_on_github() {
    let (_sim, c, _) = setup().await;
    let r = c.get("/repos/acme/app/commits/deadbeef").await;
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "No commit found for SHA: deadbeef");
    assert_eq!(body["status"], "422");
    let r = c.get("/repos/acme/app/branches/nope").await;
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Branch not found");
    assert_eq!(body["status"], "404");
    for path in [
        "/repos/acme/nope/commits/main",
        "/repos/acme/nope/branches/main",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["message"], "Not Found");
    }
}

async fn pull_numbers(c: &Client, query: &str) -> Vec<u64> {
    let v: Value = c
        .get(&format!("/repos/acme/app/pulls?{query}"))
        .await
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn pulls_sort_and_direction_follow_githubs_defaults() {
    let (sim, c, first) = setup().await;
    let mut numbers = vec![first];
    for i in 0..3 {
        sim.advance_time(10);
        numbers.push(
            sim.create_pull(
                "acme/app",
                NewPull {
                    title: format!("p{i}"),
                    ..Default::default()
                },
            )
            .unwrap(),
        );
    }
    let (p1, p2, p3, p4) = (numbers[0], numbers[1], numbers[2], numbers[3]);
    // The oldest PR is updated last: created and updated orders differ.
    sim.advance_time(10);
    sim.add_label("acme/app", p2, "x", "octocat").unwrap();
    sim.advance_time(10);
    sim.add_label("acme/app", p1, "x", "octocat").unwrap();

    let created_desc = vec![p4, p3, p2, p1];
    let created_asc = vec![p1, p2, p3, p4];
    let updated_asc = vec![p3, p4, p2, p1];
    let updated_desc = vec![p1, p2, p4, p3];
    let cases = [
        ("", &created_desc),
        ("sort=created", &created_desc),
        ("direction=asc", &created_asc),
        ("sort=created&direction=asc", &created_asc),
        // GitHub: asc is the default for every sort but created.
        ("sort=updated", &updated_asc),
        ("sort=updated&direction=asc", &updated_asc),
        ("sort=updated&direction=desc", &updated_desc),
        ("sort=popularity", &created_asc),
        ("sort=long-running&direction=desc", &created_desc),
    ];
    for (query, want) in cases {
        assert_eq!(&pull_numbers(&c, query).await, want, "?{query}");
    }
}

#[tokio::test]
async fn every_change_to_a_pull_request_sets_its_updated_at() {
    let (sim, _c, n) = setup().await;
    type Change = Box<dyn Fn(&SimulatorHandle)>;
    let changes: Vec<(&str, Change)> = vec![
        (
            "label added",
            Box::new(move |s| {
                s.add_label("acme/app", n, "a", "octocat").unwrap();
            }),
        ),
        (
            "label removed",
            Box::new(move |s| {
                s.remove_label("acme/app", n, "a", "octocat").unwrap();
            }),
        ),
        (
            "edited",
            Box::new(move |s| {
                let edit = prtracker_github_sim::PullEdit {
                    title: Some("edited".into()),
                    ..Default::default()
                };
                s.edit_pull("acme/app", n, edit, "octocat").unwrap();
            }),
        ),
        (
            "pushed",
            Box::new(move |s| {
                s.push_pull("acme/app", n, "octocat", None).unwrap();
            }),
        ),
        (
            "closed",
            Box::new(move |s| s.close_pull("acme/app", n, "octocat").unwrap()),
        ),
        (
            "reopened",
            Box::new(move |s| s.reopen_pull("acme/app", n, "octocat").unwrap()),
        ),
        (
            "merged",
            Box::new(move |s| {
                s.merge_pull("acme/app", n, "octocat").unwrap();
            }),
        ),
    ];
    let updated = |s: &SimulatorHandle| s.pull("acme/app", n).unwrap()["updated_at"].clone();
    for (what, change) in &changes {
        sim.advance_time(10);
        let before = updated(&sim);
        change(&sim);
        let after = updated(&sim);
        assert_ne!(after, before, "{what}");
        // RFC 3339 UTC sorts as text.
        assert!(
            after.as_str() > before.as_str(),
            "{what}: {before} -> {after}"
        );
    }
}

#[tokio::test]
async fn requests_record_their_arrival_on_a_monotonic_clock() {
    let (sim, c, n) = setup().await;
    for _ in 0..3 {
        c.get(&format!("/repos/acme/app/pulls/{n}")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The simulated clock moving an hour does not move arrival times.
    sim.advance_time(3600);
    c.get("/repos/acme/app/pulls").await;
    let log = sim.requests();
    assert_eq!(log.len(), 4);
    let at: Vec<Duration> = log.iter().map(|r| r.at).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    assert!(at[1] - at[0] >= Duration::from_millis(5), "{at:?}");
    assert!(at[3] < Duration::from_secs(600), "{at:?}");
}

#[tokio::test]
async fn the_most_requests_in_flight_at_once_is_tracked() {
    let (sim, c, n) = setup().await;
    let path = format!("/repos/acme/app/pulls/{n}");
    for _ in 0..3 {
        c.get(&path).await;
    }
    assert_eq!(sim.max_in_flight(), 1, "one after another");

    // Latency holds each request in the simulator while the others arrive.
    sim.set_faults(Faults {
        latency_ms: Some(400),
        ..Faults::default()
    });
    let (a, b, d) = tokio::join!(c.get(&path), c.get(&path), c.get("/repos/acme/app/labels"));
    assert!([a, b, d].iter().all(|r| r.status().as_u16() == 200));
    assert_eq!(sim.max_in_flight(), 3);

    sim.reset_counters();
    assert_eq!(sim.max_in_flight(), 0, "nothing in flight now");
    sim.set_faults(Faults::default());
    c.get(&path).await;
    assert_eq!(sim.max_in_flight(), 1);
}

/// Posts a comment on PR `n` of acme/app through the REST API; returns its JSON.
async fn rest_comment(c: &Client, n: u64, body: &str) -> Value {
    let r = c
        .send_json(
            Method::POST,
            &format!("/repos/acme/app/issues/{n}/comments"),
            &serde_json::json!({ "body": body }).to_string(),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    r.json().await.unwrap()
}

fn bodies(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn comments_list_oldest_first_across_pages() {
    let (sim, c, n) = setup().await;
    for i in 0..35 {
        sim.comment("acme/app", n, &format!("c{i}"), "alice")
            .unwrap();
    }
    // Another PR's comment is not in this one's list.
    let other = sim
        .create_pull(
            "acme/app",
            NewPull {
                title: "other".into(),
                ..Default::default()
            },
        )
        .unwrap();
    sim.comment("acme/app", other, "elsewhere", "alice")
        .unwrap();
    let path = format!("/repos/acme/app/issues/{n}/comments");
    // Default page size 30.
    let r = c.get(&path).await;
    assert_eq!(
        link_rels(&r),
        [("next".into(), "2".into()), ("last".into(), "2".into())]
    );
    let first = r.json::<Value>().await.unwrap();
    let want: Vec<String> = (0..35).map(|i| format!("c{i}")).collect();
    assert_eq!(bodies(&first), want[..30]);
    let r = c.get(&format!("{path}?page=2")).await;
    let rels: Vec<String> = link_rels(&r).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, ["prev", "first"]);
    assert_eq!(bodies(&r.json::<Value>().await.unwrap()), want[30..]);
    // At most 100 a page: one page, no Link.
    let r = c.get(&format!("{path}?per_page=500")).await;
    assert!(hdr(&r, "link").is_none());
    assert_eq!(bodies(&r.json::<Value>().await.unwrap()), want);
    // The control API sees the same list, with authors and times.
    let seen = sim.issue_comments("acme/app", n).unwrap();
    assert_eq!(seen.len(), 35);
    assert!(seen.iter().all(|c| c.user == "alice" && c.issue == n));
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
    // An unknown PR has no comments to list.
    assert_eq!(
        c.get("/repos/acme/app/issues/999/comments")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn a_comment_edit_moves_updated_at_and_is_an_edited_webhook() {
    let (sim, c, n) = setup().await;
    let (url, rx) = receiver(200).await;
    sim.set_webhook(&url, None);
    let pr_updated = sim.pull("acme/app", n).unwrap()["updated_at"].clone();
    sim.advance_time(60);
    let created = rest_comment(&c, n, "first").await;
    // A new comment moves its PR in a listing by update time, as on GitHub.
    assert_ne!(sim.pull("acme/app", n).unwrap()["updated_at"], pr_updated);
    assert_eq!(sim.pull("acme/app", n).unwrap()["comments"], 1);
    let id = created["id"].as_u64().unwrap();
    let path = format!("/repos/acme/app/issues/comments/{id}");
    sim.advance_time(60);
    let r = c
        .send_json(Method::PATCH, &path, r#"{"body":"second"}"#)
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["body"], "second");
    assert_eq!(edited["created_at"], created["created_at"]);
    assert!(edited["updated_at"].as_str().unwrap() > created["updated_at"].as_str().unwrap());
    let got: Value = c.get(&path).await.json().await.unwrap();
    assert_eq!(got, edited);
    // The same body again changes nothing and sends nothing.
    sim.advance_time(60);
    let same: Value = c
        .send_json(Method::PATCH, &path, r#"{"body":"second"}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same, edited);
    // A person's edit, then deletion.
    sim.edit_comment("acme/app", id, "third", "carol").unwrap();
    let r = c.req(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(sim.issue_comments("acme/app", n).unwrap().is_empty());
    // ping, created, edited (by the token's account), edited (by carol), deleted, in order.
    let got = rx.wait_for(5).await;
    let events: Vec<Value> = got
        .iter()
        .map(|(h, b)| {
            let p: Value = serde_json::from_slice(b).unwrap();
            serde_json::json!([
                h["x-github-event"].to_str().unwrap(),
                p["action"],
                p["sender"]["login"],
                p["comment"]["body"],
                p["changes"]["body"]["from"]
            ])
        })
        .collect();
    let bot = prtracker_github_sim::DEFAULT_LOGIN;
    assert_eq!(
        events,
        [
            serde_json::json!(["ping", null, null, null, null]),
            serde_json::json!(["issue_comment", "created", bot, "first", null]),
            serde_json::json!(["issue_comment", "edited", bot, "second", "first"]),
            serde_json::json!(["issue_comment", "edited", "carol", "third", "second"]),
            serde_json::json!(["issue_comment", "deleted", bot, "third", null]),
        ]
    );
    // Gone, or never there: 404 in GitHub's shape, for GET, PATCH and DELETE.
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let r = c
            .req(method.clone(), &path)
            .header("content-type", "application/json")
            .body(r#"{"body":"x"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{method}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["message"], "Not Found");
        assert_eq!(body["status"], "404");
        assert!(
            body["documentation_url"]
                .as_str()
                .unwrap()
                .contains("/rest/issues/comments#")
        );
    }
    // A comment of another repository is not found through this one.
    sim.create_repo("acme/other").unwrap();
    let m = sim
        .create_pull(
            "acme/other",
            NewPull {
                title: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let theirs = sim.comment("acme/other", m, "theirs", "alice").unwrap();
    let r = c
        .get(&format!("/repos/acme/app/issues/comments/{theirs}"))
        .await;
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn an_unchanged_comment_list_answers_a_free_304() {
    let (sim, c, n) = setup().await;
    let id = sim.comment("acme/app", n, "status", "alice").unwrap();
    let path = format!("/repos/acme/app/issues/{n}/comments");
    let r = c.get(&path).await;
    let tag = hdr(&r, "etag").unwrap();
    assert!(tag.starts_with("W/"), "{tag}");
    let used = sim.budget(sim.token()).used;
    let conditional = || {
        c.req(Method::GET, &path)
            .header("if-none-match", &tag)
            .send()
    };
    assert_eq!(conditional().await.unwrap().status().as_u16(), 304);
    assert_eq!(sim.budget(sim.token()).used, used, "a 304 is free");
    // An edit changes the list: a full answer, counted.
    sim.advance_time(1);
    sim.edit_comment("acme/app", id, "status, edited", "alice")
        .unwrap();
    let r = conditional().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_ne!(hdr(&r, "etag").unwrap(), tag);
    assert_eq!(sim.budget(sim.token()).used, used + 1);
}

#[tokio::test]
async fn comment_requests_are_logged_counted_and_validated() {
    let (sim, c, n) = setup().await;
    let path = format!("/repos/acme/app/issues/{n}/comments");
    let r = c
        .send_json(Method::POST, &path, r#"{"body":"hello"}"#)
        .await;
    assert_eq!(r.status().as_u16(), 201);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
    ] {
        assert!(hdr(&r, h).is_some(), "{h}");
    }
    let log = sim.requests();
    let last = log.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("POST", path.as_str())
    );
    assert_eq!(last.status, 201);
    assert!(last.counted);
    // Refused bodies: 422 in GitHub's shape, nothing created; malformed JSON is a 400.
    for (body, code) in [
        (r#"{}"#, "missing_field"),
        (r#"{"body":null}"#, "missing_field"),
        (r#"{"body":""}"#, "missing_field"),
        (r#"{"body":42}"#, "invalid"),
    ] {
        let r = c.send_json(Method::POST, &path, body).await;
        assert_eq!(r.status().as_u16(), 422, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["message"], "Validation Failed");
        assert_eq!(
            (
                &v["errors"][0]["resource"],
                &v["errors"][0]["code"],
                &v["errors"][0]["field"]
            ),
            (
                &Value::from("IssueComment"),
                &Value::from(code),
                &Value::from("body")
            ),
            "{body}"
        );
    }
    assert_eq!(
        c.send_json(Method::POST, &path, "{")
            .await
            .status()
            .as_u16(),
        400
    );
    assert_eq!(sim.issue_comments("acme/app", n).unwrap().len(), 1);
    // A secondary limit refuses the creation too, and nothing is created.
    sim.set_faults(Faults {
        secondary_next: 1,
        ..Faults::default()
    });
    let r = c
        .send_json(Method::POST, &path, r#"{"body":"again"}"#)
        .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(sim.issue_comments("acme/app", n).unwrap().len(), 1);
}
