//! The PR's web page, what a person looks at on github.com: over plain HTTP (each section shows
//! what the API put there, user text is inert, the page is no API request), and in headless
//! Chromium (the rendered DOM a person reads, and a screenshot that is not blank).

// Test helpers outside #[test] fns unwrap too; clippy.toml only covers the test fns.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::*;
use prtracker_github_sim::page::chromium;
use prtracker_github_sim::{Faults, NewPull, SimulatorHandle};
use reqwest::Method;
use serde_json::{Value, json};

const REPO: &str = "acme/app";
/// The App's installation token (check runs need it); it acts as `prtracker[bot]`.
const INSTALLATION: &str = "ghs_installation_token_for_pages";
/// What the comment's script would do if it ran: the tests look for it in the DOM and title.
const PWNED: &str = "pwned-by-script";

/// prtracker's comment as it writes one (marker, table, details), with a person's script after.
fn prtracker_comment(merge: &str) -> String {
    format!(
        "<!-- prtracker:status acme/app#1 -->\n**prtracker** · `state/drifted`\n\n\
         The change merged as `{}`, in each cluster:\n\n\
         | cluster | verdict | fields of the change | since |\n| --- | --- | --- | --- |\n\
         | prod-eu | ⚠️ changed by hand | 1 of 3 changed | 2024-05-01 10:00 UTC |\n\
         | staging | ✅ live | 3 held | 2024-05-01 09:58 UTC |\n\n\
         <details><summary>Changed by hand in prod-eu</summary>\n\n\
         - `Deployment shop/web` `spec.replicas`: the PR set `3`, the cluster holds `5`\n\n\
         </details>\n\n\
         Seen by a person: <script>document.title='{PWNED}'</script>\n",
        &merge[..12]
    )
}

/// A person's comment with a script block and an image that would run one.
fn persons_comment() -> String {
    format!(
        "Why is prod-eu red?\n\n<script>\ndocument.body.setAttribute('data-x', '{PWNED}');\n\
         document.body.append('{PWNED}');\n</script>\n\n\
         <img src=x onerror=\"document.title='{PWNED}'\"> [click](javascript:alert(1))\n"
    )
}

/// A merged PR with two labels, prtracker's comment and a person's, deployments to two
/// environments (one active, one failed), commit statuses and a check run on its merge commit.
async fn world() -> (SimulatorHandle, String) {
    let sim = common::app_sim().await;
    sim.create_repo(REPO).unwrap();
    sim.add_token(INSTALLATION, "prtracker[bot]");
    let number = sim
        .create_pull(
            REPO,
            NewPull {
                title: "Raise web to 3 replicas".into(),
                body: Some("Sets `spec.replicas` of **web** to 3.".into()),
                head_ref: Some("scale-web".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(number, 1);
    let merge = sim.merge_pull(REPO, number, "octocat").unwrap();

    let api = Client::new(&sim);
    let app = Client {
        token: Some(INSTALLATION.into()),
        ..Client::new(&sim)
    };
    post(
        &api,
        "/repos/acme/app/labels",
        json!({"name": "state/drifted", "color": "fbca04", "description": "Changed by hand"}),
    )
    .await;
    post(
        &api,
        "/repos/acme/app/issues/1/labels",
        json!({"labels": ["state/drifted", "bug"]}),
    )
    .await;
    post(
        &api,
        "/repos/acme/app/issues/1/comments",
        json!({"body": prtracker_comment(&merge)}),
    )
    .await;
    sim.comment(REPO, number, &persons_comment(), "hubot")
        .unwrap();

    for (env, states) in [
        (
            "staging",
            [
                ("in_progress", "rolling out"),
                ("success", "live in staging"),
            ],
        ),
        (
            "prod-eu",
            [
                ("in_progress", "rolling out"),
                (
                    "failure",
                    "Deployment shop/web: spec.replicas changed by hand",
                ),
            ],
        ),
    ] {
        let d = post(
            &api,
            "/repos/acme/app/deployments",
            json!({"ref": merge, "environment": env, "auto_merge": false,
                   "required_contexts": [], "description": format!("prtracker: {env}")}),
        )
        .await;
        let id = d["id"].as_u64().unwrap();
        for (state, description) in states {
            post(
                &api,
                &format!("/repos/acme/app/deployments/{id}/statuses"),
                json!({"state": state, "description": description,
                       "environment_url": "https://staging.example.com/"}),
            )
            .await;
        }
    }
    for (state, context, description) in [
        ("success", "prtracker/staging", "live"),
        ("pending", "prtracker/prod-eu", "not live yet"),
        (
            "failure",
            "prtracker/prod-eu",
            "spec.replicas changed by hand",
        ),
    ] {
        post(
            &api,
            &format!("/repos/acme/app/statuses/{merge}"),
            json!({"state": state, "context": context, "description": description}),
        )
        .await;
    }
    let annotation = |line: u64| {
        json!({"path": "deploy/web.yaml", "start_line": line, "end_line": line,
               "annotation_level": "failure", "message": "spec.replicas: 3 in the PR, 5 live"})
    };
    post(
        &app,
        "/repos/acme/app/check-runs",
        json!({"name": "prtracker / prod-eu", "head_sha": merge, "status": "completed",
               "conclusion": "failure",
               "output": {"title": "Changed by hand in prod-eu",
                          "summary": "`spec.replicas`: the PR set **3**, the cluster holds **5**",
                          "annotations": [annotation(7), annotation(9)]}}),
    )
    .await;
    (sim, merge)
}

/// POSTs `body` as JSON; the answer must be a success.
async fn post(c: &Client, path: &str, body: Value) -> Value {
    let r = c.send_json(Method::POST, path, &body.to_string()).await;
    assert!(r.status().is_success(), "POST {path}: {}", r.status());
    r.json::<Value>().await.unwrap()
}

/// The part of `html` from the element with `id` to the end of its `</section>`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no id=\"{id}\" in the page:\n{html}"));
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// What a person reads: the body's text, without tags, entities decoded.
fn visible_text(html: &str) -> String {
    let body = html.find("<body").map_or(html, |b| &html[b..]);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => {
                in_tag = false;
                text.push(' ');
            }
            (false, c) => text.push(c),
            (true, _) => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_page_shows_labels_conversation_deployments_and_checks_and_is_no_api_request() {
    let (sim, merge) = world().await;
    let url = sim.pr_page_url(REPO, 1);
    let pull = Client::new(&sim).get("/repos/acme/app/pulls/1").await;
    let pull: Value = pull.json().await.unwrap();
    assert_eq!(
        pull["html_url"],
        url.as_str(),
        "the page is at the PR's html_url"
    );

    let logged = sim.requests().len();
    // Faults and a token requirement are the API's: a page view meets neither.
    sim.set_faults(Faults {
        fail_every_nth: Some(1),
        ..Faults::default()
    });
    let http = reqwest::Client::new();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        hdr(&resp, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let page = resp.text().await.unwrap();

    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
    assert!(page.contains("<title>#1 Raise web to 3 replicas · acme/app</title>"));
    assert!(page.contains("class=\"state state-merged\">Merged</span>"));
    assert!(page.contains("<code class=\"branch\">scale-web</code>"));

    let labels = section(&page, "labels");
    assert!(
        labels.contains(
            "data-name=\"state/drifted\" style=\"background-color:#fbca04;color:#1f2328\""
        ),
        "{labels}"
    );
    assert!(
        labels.contains("data-name=\"bug\" style=\"background-color:#d73a4a;color:#ffffff\""),
        "{labels}"
    );

    let timeline = section(&page, "timeline");
    assert!(timeline.contains("<td>prod-eu</td>"), "{timeline}");
    assert!(timeline.contains("<td>1 of 3 changed</td>"), "{timeline}");
    assert!(timeline.contains("<th>verdict</th>"), "{timeline}");
    assert!(
        timeline.contains("<code>spec.replicas</code>"),
        "{timeline}"
    );
    assert!(
        timeline.contains("<details><summary>Changed by hand in prod-eu</summary>"),
        "{timeline}"
    );
    assert!(
        !timeline.contains("prtracker:status"),
        "the marker is hidden"
    );
    assert!(
        timeline.contains("&lt;script&gt;document.title='pwned-by-script'&lt;/script&gt;"),
        "the script shows as text: {timeline}"
    );
    assert!(timeline.contains("<a href=\"#\">click</a>"), "{timeline}");
    let order: Vec<usize> = [
        "id=\"pr-body\"",
        "<strong>prtracker</strong>",
        "Why is prod-eu red?",
        "deployed to <b>staging</b>",
        "deployed to <b>prod-eu</b>",
    ]
    .iter()
    .map(|needle| {
        timeline
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}: {timeline}"))
    })
    .collect();
    assert!(order.is_sorted(), "time order: {order:?}\n{timeline}");
    assert!(
        timeline.contains("class=\"timeline-event merged\""),
        "{timeline}"
    );

    let deployments = section(&page, "deployments");
    let env = |name: &str| {
        let at = deployments
            .find(&format!("data-environment=\"{name}\""))
            .unwrap_or_else(|| panic!("no {name}: {deployments}"));
        let end = deployments[at..].find("</li>").unwrap() + at;
        &deployments[at..end]
    };
    assert!(
        env("staging").contains(">Active</span>"),
        "{}",
        env("staging")
    );
    assert!(env("staging").contains("live in staging"));
    assert!(env("staging").contains("in_progress → success"));
    assert!(
        env("prod-eu").contains(">Failure</span>"),
        "{}",
        env("prod-eu")
    );
    assert!(env("prod-eu").contains("Deployment shop/web: spec.replicas changed by hand"));
    assert!(env("prod-eu").contains(&format!(">{}</code>", &merge[..7])));
    assert!(env("prod-eu").contains("(merge commit)"));

    let checks = section(&page, "checks");
    assert!(checks.contains(&format!(
        "on merge commit <code class=\"sha\">{}</code>",
        &merge[..7]
    )));
    assert!(
        checks.contains("Some checks were not successful"),
        "{checks}"
    );
    assert!(
        checks.contains("data-context=\"prtracker/staging\" data-state=\"success\""),
        "{checks}"
    );
    assert!(
        checks.contains("data-context=\"prtracker/prod-eu\" data-state=\"failure\""),
        "{checks}"
    );
    assert!(
        !checks.contains("not live yet"),
        "only the newest status of a context"
    );
    assert!(checks.contains("spec.replicas changed by hand"));
    assert!(
        checks.contains("data-name=\"prtracker / prod-eu\" data-status=\"completed\" data-conclusion=\"failure\""),
        "{checks}"
    );
    assert!(checks.contains("— Changed by hand in prod-eu"), "{checks}");
    assert!(checks.contains("2 annotations"), "{checks}");
    assert!(checks.contains("by prtracker"), "{checks}");
    assert!(checks.contains("the PR set <strong>3</strong>"), "{checks}");

    assert!(!page.contains("<script"), "no script element anywhere");
    assert!(!page.contains("<img"), "nothing fetched");
    assert!(!page.contains("onerror=\""), "no handler attribute");

    // Unknown PR, repository, or a number that is none: 404 pages, HTML too.
    for path in [
        "/acme/app/pull/99",
        "/acme/nope/pull/1",
        "/acme/app/pull/one",
    ] {
        let resp = http
            .get(format!("{}{path}", sim.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(
            hdr(&resp, "content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert!(resp.text().await.unwrap().contains("id=\"not-found\""));
    }
    // The lists that lead to the page.
    for list in [sim.pulls_page_url(REPO), format!("{}/", sim.url())] {
        let resp = http.get(&list).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{list}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("href=\"/acme/app/pull/1\"")
        );
    }

    sim.set_faults(Faults::default());
    assert_eq!(
        sim.requests().len(),
        logged,
        "page views are not in the API request log: {:?}",
        &sim.requests()[logged..]
    );
}

/// Where the screenshot goes: under the target dir, kept for a person to look at.
fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("github-sim-pr-page.png")
}

#[tokio::test]
async fn chromium_shows_the_page_a_person_reads_and_runs_no_script() {
    let binary = chromium::find().unwrap_or_else(|e| panic!("{e}"));
    println!("Chromium: {}", binary.display());
    let (sim, _merge) = world().await;
    let url = sim.pr_page_url(REPO, 1);

    // Blocking calls, off the runtime that serves the page.
    let dom_url = url.clone();
    let dom = tokio::task::spawn_blocking(move || chromium::dump_dom(&dom_url))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        dom.contains("<title>#1 Raise web to 3 replicas · acme/app</title>"),
        "the script did not retitle the page:\n{dom}"
    );
    // The person's script would have set an attribute on the body and appended to it.
    assert!(!dom.contains("<body data-x"), "{dom}");
    let after_main = dom.rfind("</main>").map_or("", |m| &dom[m + 7..]);
    assert!(
        !after_main.contains(PWNED),
        "nothing appended to the body: {after_main}"
    );
    assert!(!dom.contains("<script"), "no script element in the DOM");
    let text = visible_text(&dom);
    for seen in [
        "Raise web to 3 replicas #1",
        "Merged",
        "state/drifted",
        "bug",
        "cluster verdict fields of the change since",
        "prod-eu ⚠️ changed by hand 1 of 3 changed",
        "staging ✅ live 3 held",
        "spec.replicas",
        "Seen by a person: <script>document.title='pwned-by-script'</script>",
        "deployed to staging Active",
        "deployed to prod-eu Failure",
        "Deployment shop/web: spec.replicas changed by hand",
        "Some checks were not successful",
        "prtracker/staging success — live",
        "prtracker/prod-eu failure — spec.replicas changed by hand",
        "prtracker / prod-eu by prtracker failure — Changed by hand in prod-eu 2 annotations",
    ] {
        assert!(
            text.contains(seen),
            "a person reads {seen:?}; the page reads:\n{text}"
        );
    }
    assert!(
        !text.contains("prtracker:status"),
        "the marker stays hidden"
    );

    let path = screenshot_path();
    let shot = path.clone();
    tokio::task::spawn_blocking(move || chromium::screenshot(&url, &shot, 1200, 1400))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("screenshot of the PR page: {}", path.display());
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        bytes.len() > 10_000,
        "{} bytes is too small for the page",
        bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1200, 1400));
    let channels = frame.color_type.samples();
    let rgb: std::collections::HashSet<[u8; 3]> = pixels[..frame.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    assert!(rgb.len() > 50, "only {} colours: a blank page", rgb.len());
    // The pills and the state badge, in their colours: the page was drawn, not just loaded.
    for (what, colour) in [
        ("the state/drifted label", [0xfb, 0xca, 0x04]),
        ("the bug label", [0xd7, 0x3a, 0x4a]),
        ("the Merged badge", [0x82, 0x50, 0xdf]),
    ] {
        assert!(
            rgb.contains(&colour),
            "{what} ({colour:02x?}) is not in the screenshot"
        );
    }
}
