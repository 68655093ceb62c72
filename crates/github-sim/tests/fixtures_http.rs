//! Fidelity: rate limits, conditional requests and contents against recorded GitHub responses.

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use prtracker_github_sim::{Faults, NewPull};
use serde_json::Value;

#[tokio::test]
async fn fixture_headers_rate_limit_core() {
    let text = fixture_text("headers-rate-limit.txt");
    // The recorded core limit for authenticated requests.
    assert!(
        text.contains("X-RateLimit-Limit: 5000") && text.contains("X-RateLimit-Resource: core")
    );
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    let resp = Client::new(&sim).get("/repos/acme/app/labels").await;
    let limit: u64 = hdr(&resp, "x-ratelimit-limit").unwrap().parse().unwrap();
    let remaining: u64 = hdr(&resp, "x-ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    let used: u64 = hdr(&resp, "x-ratelimit-used").unwrap().parse().unwrap();
    let reset: i64 = hdr(&resp, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert_eq!((limit, remaining, used), (5000, 4999, 1));
    assert_eq!(hdr(&resp, "x-ratelimit-resource").as_deref(), Some("core"));
    assert!(reset > sim.now() && reset <= sim.now() + 3600);
}

#[tokio::test]
async fn fixture_rate_limit_403_primary() {
    let name = "rate-limit-403-primary.headers.txt";
    let fx = fixture_headers(name);
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    sim.exhaust_budget(sim.token(), 120);
    let resp = Client::new(&sim).get("/repos/acme/app/labels").await;
    assert_eq!(resp.status().as_u16(), fixture_status(name));
    assert_eq!(
        hdr(&resp, "x-ratelimit-remaining").as_deref(),
        header(&fx, "x-ratelimit-remaining")
    );
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        header(&fx, "content-type")
    );
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "rate-limit-403-primary.json",
        &fixture_json("rate-limit-403-primary.json"),
        &body,
        &[],
    );
    // Current wording (rate-limit-docs-examples.txt): "API rate limit exceeded for ...".
    let docs = fixture_text("rate-limit-docs-examples.txt");
    assert!(docs.contains("API rate limit exceeded for"));
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.starts_with("API rate limit exceeded for user ID "),
        "{msg}"
    );
    assert_eq!(body["status"], "403");
}

#[tokio::test]
async fn fixture_rate_limit_403_secondary() {
    let name = "rate-limit-403-secondary.headers.txt";
    let fx = fixture_headers(name);
    let sim = sim().await;
    sim.create_repo("acme/app").unwrap();
    sim.set_faults(Faults {
        secondary_next: 1,
        ..Faults::default()
    });
    let resp = Client::new(&sim).get("/repos/acme/app/labels").await;
    assert_eq!(resp.status().as_u16(), fixture_status(name));
    assert_eq!(
        hdr(&resp, "retry-after").as_deref(),
        header(&fx, "retry-after")
    );
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        header(&fx, "content-type")
    );
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "rate-limit-403-secondary.json",
        &fixture_json("rate-limit-403-secondary.json"),
        &body,
        &[],
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
}

#[tokio::test]
async fn fixture_conditional_request_304() {
    let text = fixture_text("conditional-request-304.txt");
    assert!(text.contains("# response status: 304"));
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
    let path = format!("/repos/acme/app/pulls/{n}");
    let first = c.get(&path).await;
    let tag = hdr(&first, "etag").unwrap();
    assert!(
        tag.starts_with("W/\""),
        "weak ETag as in recording A: {tag}"
    );
    let before = (
        hdr(&first, "x-ratelimit-remaining"),
        hdr(&first, "x-ratelimit-used"),
    );
    let second = c
        .req(reqwest::Method::GET, &path)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 304);
    // Echoed without W/, as GitHub does.
    assert_eq!(hdr(&second, "etag").unwrap(), tag.trim_start_matches("W/"));
    assert_eq!(
        (
            hdr(&second, "x-ratelimit-remaining"),
            hdr(&second, "x-ratelimit-used")
        ),
        before
    );
    assert!(second.text().await.unwrap().is_empty());
    let log = sim.requests();
    assert_eq!(
        log.last().map(|r| (r.status, r.counted)),
        Some((304, false))
    );
}

async fn repo_with_files(sim: &prtracker_github_sim::SimulatorHandle) -> String {
    sim.create_repo("acme/site").unwrap();
    let sha = "72f8876112ba029111c739871e3e4d7bce66b95d";
    let readme = vec![b'x'; 200];
    sim.set_files(
        "acme/site",
        sha,
        [
            ("README.md", b"# hello-world".to_vec()),
            ("js/tests/unit.js", b"test".to_vec()),
            ("js/index.js", b"console.log(1)".to_vec()),
            ("docs/big.md", readme),
        ],
    )
    .unwrap();
    sha.to_string()
}

#[tokio::test]
async fn fixture_contents_directory() {
    let sim = sim().await;
    let sha = repo_with_files(&sim).await;
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/site/contents/js?ref={sha}"))
        .await;
    assert_eq!(
        resp.status().as_u16(),
        fixture_status("contents-directory.headers.txt")
    );
    assert!(hdr(&resp, "etag").unwrap().starts_with("W/"));
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("contents-directory.json");
    let find = |v: &Value, t: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == t)
            .cloned()
            .unwrap()
    };
    for t in ["dir", "file"] {
        assert_shape(
            "contents-directory.json",
            &find(&fx, t),
            &find(&body, t),
            &[],
        );
    }
    let dir = find(&body, "dir");
    assert_eq!(
        (dir["size"].clone(), dir["download_url"].clone()),
        (Value::from(0), Value::Null)
    );
    assert_eq!(dir["path"], "js/tests");
    assert!(
        find(&body, "file")["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?ref={sha}"))
    );
}

/// A renamed repository: the old name answers 302 with an empty body and `Location` on the
/// repository's id (as recorded), and the id's path serves what the new name does.
#[tokio::test]
async fn fixture_contents_directory_redirect_302() {
    let name = "contents-directory-redirect-302.headers.txt";
    let fx = fixture_headers(name);
    let sim = sim().await;
    let sha = repo_with_files(&sim).await;
    sim.rename_repo("acme/site", "acme/website").unwrap();
    let client = Client::new(&sim);
    let id = client
        .get("/repos/acme/website")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap();

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = Client {
        http: no_redirects,
        ..client
    };
    // The recorded request ended with a slash, which the Location drops.
    let resp = client.get("/repos/acme/site/contents/js/").await;
    assert_eq!(resp.status().as_u16(), fixture_status(name));
    for h in ["content-type", "content-length", "x-ratelimit-resource"] {
        assert_eq!(hdr(&resp, h).as_deref(), header(&fx, h), "{h}");
    }
    let recorded = header(&fx, "location").unwrap();
    assert!(recorded.ends_with("/contents/js") && recorded.contains("/repositories/"));
    assert_eq!(
        hdr(&resp, "location").unwrap(),
        format!("{}/repositories/{id}/contents/js", sim.api_url())
    );
    assert!(resp.bytes().await.unwrap().is_empty());

    // The query survives the redirect, and the id's path answers as the new name does.
    let resp = client
        .get(&format!("/repos/acme/site/contents/js?ref={sha}"))
        .await;
    let location = hdr(&resp, "location").unwrap();
    assert!(
        location.ends_with(&format!("/contents/js?ref={sha}")),
        "{location}"
    );
    let moved = client
        .get(location.strip_prefix(&sim.api_url()).unwrap())
        .await;
    assert_eq!(moved.status().as_u16(), 200);
    let direct = client
        .get(&format!("/repos/acme/website/contents/js?ref={sha}"))
        .await;
    assert_eq!(
        moved.json::<Value>().await.unwrap(),
        direct.json::<Value>().await.unwrap()
    );

    // A write to the old name is redirected with 307, which keeps its method and body.
    let resp = client
        .req(reqwest::Method::POST, "/repos/acme/site/issues/1/labels")
        .json(&serde_json::json!({"labels": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 307);
    assert_eq!(
        hdr(&resp, "location").unwrap(),
        format!("{}/repositories/{id}/issues/1/labels", sim.api_url())
    );
    // An unknown name is still a 404.
    assert_eq!(
        client
            .get("/repos/acme/nothing/contents/js")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn fixture_contents_directory_root() {
    let sim = sim().await;
    let sha = repo_with_files(&sim).await;
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/site/contents/?ref={sha}"))
        .await;
    assert_eq!(
        resp.status().as_u16(),
        fixture_status("contents-directory-root.headers.txt")
    );
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("contents-directory-root.json");
    let readme = body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "README.md")
        .cloned()
        .unwrap();
    assert_shape("contents-directory-root.json", &fx[0], &readme, &[]);
    assert_eq!(readme["size"], fx[0]["size"]);
}

#[tokio::test]
async fn fixture_contents_file_base64() {
    let sim = sim().await;
    let sha = repo_with_files(&sim).await;
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/site/contents/docs/big.md?ref={sha}"))
        .await;
    let name = "contents-file-base64.headers.txt";
    assert_eq!(resp.status().as_u16(), fixture_status(name));
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        header(&fixture_headers(name), "content-type")
    );
    assert!(hdr(&resp, "etag").unwrap().starts_with("W/"));
    let body: Value = resp.json().await.unwrap();
    let fx = fixture_json("contents-file-base64.json");
    assert_shape("contents-file-base64.json", &fx, &body, &[]);
    let content = body["content"].as_str().unwrap();
    // Same wrapping as the recording: 60-character lines, trailing newline.
    let fx_lines: Vec<usize> = fx["content"]
        .as_str()
        .unwrap()
        .split_terminator('\n')
        .map(str::len)
        .collect();
    let lines: Vec<usize> = content.split_terminator('\n').map(str::len).collect();
    assert_eq!(fx_lines[0], lines[0]);
    assert!(content.ends_with('\n') && fx["content"].as_str().unwrap().ends_with('\n'));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content.replace('\n', ""))
        .unwrap();
    assert_eq!(decoded, vec![b'x'; 200]);
    assert_eq!(body["encoding"], fx["encoding"]);
}

#[tokio::test]
async fn fixture_contents_file_at_ref() {
    let sim = sim().await;
    let sha = repo_with_files(&sim).await;
    let resp = Client::new(&sim)
        .get(&format!("/repos/acme/site/contents/js/index.js?ref={sha}"))
        .await;
    assert_eq!(
        resp.status().as_u16(),
        fixture_status("contents-file-at-ref.headers.txt")
    );
    let body: Value = resp.json().await.unwrap();
    assert_shape(
        "contents-file-at-ref.json",
        &fixture_json("contents-file-at-ref.json"),
        &body,
        &[],
    );
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .contains(&format!("ref={sha}"))
    );
    assert!(
        body["_links"]["self"]
            .as_str()
            .unwrap()
            .contains(&format!("ref={sha}"))
    );
}

#[tokio::test]
async fn fixture_contents_file_raw() {
    let name = "contents-file-raw.headers.txt";
    let fx = fixture_headers(name);
    let sim = sim().await;
    let sha = repo_with_files(&sim).await;
    let resp = Client::new(&sim)
        .req(
            reqwest::Method::GET,
            &format!("/repos/acme/site/contents/README.md?ref={sha}"),
        )
        .header("accept", "application/vnd.github.v3.raw")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), fixture_status(name));
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        header(&fx, "content-type")
    );
    let tag = hdr(&resp, "etag").unwrap();
    assert_eq!(
        tag.starts_with("W/"),
        header(&fx, "etag").unwrap().starts_with("W/")
    );
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        fixture_text("contents-file-raw.txt").as_bytes()
    );
}
