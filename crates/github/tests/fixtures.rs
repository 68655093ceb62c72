//! The client's models and rules against real GitHub responses, read at run time from the
//! fixture folder (third-party data, never copied into the project): `PRTRACKER_GITHUB_FIXTURES`,
//! else `<workspace root>/../shared/github-fixtures`. Every test is named `fixture_*`, so the
//! test command can skip them, and says so, where the folder is absent.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use prtracker_domain::PrFacts;
use prtracker_github::{
    AddLabels, Branch, Commit, Contents, ErrorBody, Label, NewLabel, PullRequest, RateLimitPolicy,
    models::EntryKind,
    ratelimit::{self, LimitKind, RateLimitInfo, RateLimitTracker, epoch},
};
use serde_json::Value;

const ENV: &str = "PRTRACKER_GITHUB_FIXTURES";

fn dir() -> PathBuf {
    let dir = std::env::var_os(ENV).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/github-fixtures")
    });
    assert!(
        dir.is_dir(),
        "the GitHub fixtures folder {} is absent: set {ENV} to the folder of real GitHub \
         responses, or run scripts/test.sh, which skips the fixture_* tests without it",
        dir.display()
    );
    dir
}

fn read(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()))
}

fn json<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

/// Header lines `Name: value`; `#` lines are annotations, of which `# response status: N` is read.
fn parse_headers(text: &str) -> (Option<u16>, HeaderMap) {
    let mut status = None;
    let mut headers = HeaderMap::new();
    for line in text.lines() {
        if let Some(annotation) = line.strip_prefix('#') {
            if let Some(s) = annotation.trim().strip_prefix("response status:") {
                status = s.trim().parse().ok();
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    (status, headers)
}

fn headers(name: &str) -> (Option<u16>, HeaderMap) {
    parse_headers(&read(name))
}

/// The `## ` sections of a multi-exchange file, as header maps.
fn sections(name: &str) -> Vec<(Option<u16>, HeaderMap)> {
    read(name)
        .split("\n## ")
        .skip(1)
        .map(parse_headers)
        .collect()
}

fn policy() -> RateLimitPolicy {
    RateLimitPolicy {
        reset_margin: Duration::from_secs(1),
        ..RateLimitPolicy::default()
    }
}

#[test]
fn fixture_pull_request_open() {
    let pr: PullRequest = json("pull-request-open.json");
    assert_eq!(pr.number, 1);
    assert_eq!(pr.facts(), PrFacts::Open { draft: false });
    assert!(!pr.is_merged() && pr.merged_at.is_none());
    assert_eq!(pr.head.sha, "fc649fcb08085ec609caf01d7d3404b2b7397f59");
    assert_eq!(
        pr.merge_commit_sha.as_deref(),
        Some("c7049b7bec767ea0188ee839b68b25b6d3f9df94")
    );
    assert_eq!(pr.author(), "didot");
    assert!(pr.html_url.ends_with("/pull/1"));
    assert!(pr.labels.is_empty());
    assert_base_is_read("pull-request-open.json", &pr);
    let (status, h) = headers("pull-request-open.headers.txt");
    assert_eq!(status, Some(200));
    assert!(h.get("etag").unwrap().to_str().unwrap().starts_with("W/\""));
}

#[test]
fn fixture_pull_request_merged() {
    let pr: PullRequest = json("pull-request-merged.json");
    assert_eq!(pr.number, 3370);
    assert_eq!(pr.facts(), PrFacts::Merged);
    assert!(pr.merged && pr.merged_at.is_some() && pr.is_closed());
    assert!(
        pr.merge_commit_sha
            .as_deref()
            .unwrap()
            .starts_with("1f5f434b")
    );
    assert_eq!(pr.author(), "dependabot[bot]");
    assert_eq!(pr.label_names(), ["dependencies", "github_actions"]);
    assert_base_is_read("pull-request-merged.json", &pr);
    // The X-RateLimit-* headers come last in this recording.
    let info = RateLimitInfo::from_headers(&headers("pull-request-merged.headers.txt").1);
    assert_eq!(
        (info.remaining, info.reset, info.limit),
        (Some(4991), Some(1_767_880_692), Some(5000))
    );
    assert_eq!(info.resource.as_deref(), Some("core"));
}

/// The PR's `base` branch and sha, as the fixture has them.
fn assert_base_is_read(name: &str, pr: &PullRequest) {
    let raw: Value = json(name);
    assert_eq!(raw["base"]["ref"], pr.base.branch.as_str(), "{name}");
    assert_eq!(raw["base"]["sha"], pr.base.sha.as_str(), "{name}");
    assert!(is_sha(&pr.base.sha), "{name}: {}", pr.base.sha);
    assert_ne!(pr.base.sha, pr.head.sha, "{name}");
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn fixture_commit_parents() {
    let commit: Commit = json("commit-get.json");
    let raw: Value = json("commit-get.json");
    assert_eq!(commit.sha, raw["sha"].as_str().unwrap());
    let recorded: Vec<&str> = raw["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha"].as_str().unwrap())
        .collect();
    assert_eq!(commit.parent_shas(), recorded);
    assert_eq!(
        commit.parents.len(),
        1,
        "a squash-merged PR's commit has one parent"
    );
    assert!(is_sha(&commit.parents[0].sha));
    // The signed payload names the same parent: the field read is the commit's history.
    let payload = raw["commit"]["verification"]["payload"].as_str().unwrap();
    assert!(payload.contains(&format!("parent {}", commit.parents[0].sha)));
    let (status, h) = headers("commit-get.headers.txt");
    assert_eq!(status, Some(200));
    assert!(h.get("etag").unwrap().to_str().unwrap().starts_with("W/\""));
}

#[test]
fn fixture_branch_head() {
    let branch: Branch = json("branch-get.json");
    let raw: Value = json("branch-get.json");
    assert_eq!(branch.name, "main");
    assert_eq!(branch.commit.sha, raw["commit"]["sha"].as_str().unwrap());
    assert!(is_sha(&branch.commit.sha));
    let (status, h) = headers("branch-get.headers.txt");
    assert_eq!(status, Some(200));
    assert!(
        h.get("etag").is_some(),
        "an unmoved branch can be asked for with a 304"
    );
}

/// GET git/ref/heads/{branch} (singular) and git/refs/heads/{branch} (plural, an exact name):
/// the head a client would read there is `object.sha` of a `commit`. The client reads
/// branches/{branch} instead, whose one answer shape needs no such check.
#[test]
fn fixture_git_refs_name_a_branch_head() {
    #[derive(serde::Deserialize)]
    struct GitRef {
        #[serde(rename = "ref")]
        name: String,
        object: Object,
    }
    #[derive(serde::Deserialize)]
    struct Object {
        sha: String,
        #[serde(rename = "type")]
        kind: String,
    }
    for name in ["git-ref-heads.json", "git-refs-heads-main.json"] {
        let found: GitRef = json(name);
        assert!(found.name.starts_with("refs/heads/"), "{name}");
        assert_eq!(found.object.kind, "commit", "{name}");
        assert!(is_sha(&found.object.sha), "{name}");
        assert_eq!(headers(&name.replace(".json", ".headers.txt")).0, Some(200));
    }
}

#[test]
fn fixture_labels_in_every_schema() {
    let added: Vec<Label> = json("issue-labels-add.json");
    assert_eq!(
        added.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["Foo", "bAr", "baZ"]
    );
    assert!(
        added
            .iter()
            .all(|l| l.color == "ededed" && l.description.is_none())
    );

    let repo: Vec<Label> = json("repo-labels-list.json");
    assert_eq!(repo.len(), 9);
    assert_eq!(repo[0].name, "bug");
    assert_eq!(
        repo[0].description.as_deref(),
        Some("Something isn't working")
    );

    // 2012: url, name, color only.
    let old: Vec<Label> = json("issue-labels-list.json");
    assert_eq!(old.len(), 3);
    assert_eq!(
        old[1].name,
        "Label with spaces and strange characters (&*#$)"
    );
    assert!(
        old.iter()
            .all(|l| l.description.is_none() && l.color.len() == 6)
    );

    let remaining: Vec<Label> = json("issue-label-remove.json");
    assert_eq!(
        remaining
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["Bug", "RequestedByUser"]
    );
    let none: Vec<Label> = json("issue-label-remove-last.json");
    assert!(none.is_empty());
    assert_eq!(
        headers("issue-label-remove.headers.txt")
            .1
            .get("status")
            .unwrap(),
        "200 OK"
    );

    let created: Label = json("label-create.json");
    assert_eq!(
        (
            created.name.as_str(),
            created.color.as_str(),
            created.description.as_deref()
        ),
        ("test-label", "663399", None)
    );
    assert_eq!(headers("label-create.headers.txt").0, Some(201));
    assert_eq!(headers("issue-labels-add.headers.txt").0, Some(200));
    assert_eq!(headers("issue-labels-list.headers.txt").0, Some(200));
    assert_eq!(headers("repo-labels-list.headers.txt").0, Some(200));
}

#[test]
fn fixture_request_bodies_are_what_we_send() {
    let create = serde_json::to_string(&NewLabel {
        name: "test-label".into(),
        color: "663399".into(),
        description: None,
    })
    .unwrap();
    assert_eq!(create, read("label-create.request.json").trim_end());
    let invalid = serde_json::to_string(&NewLabel {
        name: "foo".into(),
        color: "invalid".into(),
        description: None,
    })
    .unwrap();
    assert_eq!(
        invalid,
        read("label-create-422-invalid.request.json").trim_end()
    );
    let add = serde_json::to_string(&AddLabels {
        labels: vec!["Foo", "bAr", "baZ"],
    })
    .unwrap();
    assert_eq!(add, read("issue-labels-add.request.json").trim_end());
}

#[test]
fn fixture_error_bodies() {
    let not_found: ErrorBody = json("error-404-with-status.json");
    assert_eq!(not_found.message, "Branch not found");
    assert_eq!(not_found.status.as_deref(), Some("404"));
    assert!(
        not_found
            .documentation_url
            .unwrap()
            .starts_with("https://docs.github.com/")
    );
    assert_eq!(headers("error-404-with-status.headers.txt").0, Some(404));

    let invalid: ErrorBody = json("label-create-422-invalid.json");
    assert_eq!(invalid.message, "Validation Failed");
    assert!(invalid.has_code("invalid") && !invalid.has_code("already_exists"));
    assert_eq!(invalid.errors[0].field.as_deref(), Some("color"));
    assert_eq!(headers("label-create-422-invalid.headers.txt").0, Some(422));

    for name in [
        "label-create-422-already-exists.json",
        "release-asset-422-already-exists.json",
    ] {
        let body = ErrorBody::parse(read(name).as_bytes());
        assert!(body.has_code("already_exists"), "{name}");
        assert_eq!(body.errors[0].field.as_deref(), Some("name"), "{name}");
    }
    assert_eq!(
        headers("release-asset-422-already-exists.headers.txt").0,
        Some(422)
    );
    assert!(read("release-asset-422-already-exists.request.txt").starts_with("Hello, world!"));

    assert!(
        json::<ErrorBody>("rate-limit-403-primary.json")
            .message
            .starts_with("API Rate Limit Exceeded")
    );
    assert!(
        json::<ErrorBody>("rate-limit-403-secondary.json")
            .message
            .contains("abuse detection")
    );
}

#[test]
fn fixture_rate_limit_answers_are_classified() {
    let now = epoch(1_700_000_000);
    // 2013: 403, remaining 0, no reset header: primary, wait as for a secondary limit.
    let (status, h) = headers("rate-limit-403-primary.headers.txt");
    let body: ErrorBody = json("rate-limit-403-primary.json");
    let status = StatusCode::from_u16(status.unwrap()).unwrap();
    let hit = ratelimit::classify(
        status,
        &RateLimitInfo::from_headers(&h),
        &body.message,
        now,
        0,
        &policy(),
    )
    .unwrap();
    assert_eq!(hit.kind, LimitKind::Primary);
    assert_eq!(hit.until, now + Duration::from_secs(60));

    // 2018: 403 with Retry-After: 60 and no X-RateLimit-*.
    let (status, h) = headers("rate-limit-403-secondary.headers.txt");
    let body: ErrorBody = json("rate-limit-403-secondary.json");
    let info = RateLimitInfo::from_headers(&h);
    assert_eq!(
        (info.retry_after, info.remaining),
        (Some(Duration::from_secs(60)), None)
    );
    let status = StatusCode::from_u16(status.unwrap()).unwrap();
    let hit = ratelimit::classify(status, &info, &body.message, now, 0, &policy()).unwrap();
    assert_eq!(
        (hit.kind, hit.until),
        (LimitKind::Secondary, now + Duration::from_secs(60))
    );
    // Without the header, the message alone makes it a secondary limit.
    let hit = ratelimit::classify(
        status,
        &RateLimitInfo::default(),
        &body.message,
        now,
        0,
        &policy(),
    )
    .unwrap();
    assert_eq!(hit.kind, LimitKind::Secondary);
}

#[test]
fn fixture_documented_rate_limit_examples() {
    let text = read("rate-limit-docs-examples.txt");
    let examples: Vec<&str> = text.split("\n## ").skip(1).collect();
    let quoted = |example: &str| {
        let lines: String = example
            .lines()
            .filter_map(|l| l.strip_prefix("> "))
            .collect::<Vec<_>>()
            .join("\n");
        let (h, body) = lines.split_once("\n{").unwrap();
        let (_, headers) = parse_headers(h);
        let message = ErrorBody::parse(format!("{{{body}").as_bytes()).message;
        (headers, message)
    };
    let now = epoch(1_377_013_000);
    let (h, message) = quoted(examples[0]);
    let hit = ratelimit::classify(
        StatusCode::FORBIDDEN,
        &RateLimitInfo::from_headers(&h),
        &message,
        now,
        0,
        &policy(),
    )
    .unwrap();
    assert_eq!(
        (hit.kind, hit.until),
        (LimitKind::Primary, epoch(1_377_013_266 + 1))
    );
    let (h, message) = quoted(examples[1]);
    assert!(message.contains("secondary rate limit"));
    let hit = ratelimit::classify(
        StatusCode::FORBIDDEN,
        &RateLimitInfo::from_headers(&h),
        &message,
        now,
        1,
        &policy(),
    )
    .unwrap();
    assert_eq!(
        (hit.kind, hit.until),
        (LimitKind::Secondary, now + Duration::from_secs(120))
    );
    assert!(examples[2].contains("`403` or `429`"));
}

#[test]
fn fixture_rate_limit_headers_of_every_resource() {
    let all = sections("headers-rate-limit.txt");
    assert_eq!(all.len(), 9);
    let info: Vec<RateLimitInfo> = all
        .iter()
        .map(|(_, h)| RateLimitInfo::from_headers(h))
        .collect();
    assert_eq!(
        (info[0].remaining, info[0].reset, info[0].used),
        (Some(4990), Some(1_658_208_999), Some(10))
    );
    let resources: Vec<Option<&str>> = info[..5].iter().map(|i| i.resource.as_deref()).collect();
    assert_eq!(
        resources,
        [
            Some("core"),
            Some("core"),
            Some("search"),
            Some("code_search"),
            Some("graphql")
        ]
    );
    // The last allowed request of a window: 200 with remaining 0, not an error, but the gate closes.
    assert_eq!(all[5].0, Some(200));
    assert_eq!(info[5].remaining, Some(0));
    assert_eq!(
        ratelimit::classify(
            StatusCode::OK,
            &info[5],
            "",
            SystemTime::now(),
            0,
            &policy()
        ),
        None
    );
    assert_eq!(info[8].retry_after, Some(Duration::from_secs(60)));
    assert_eq!(info[8].remaining, None);

    // Only `core` gates our calls: a spent search quota does not.
    let tracker = RateLimitTracker::default();
    for i in &info[..5] {
        tracker.observe(i);
    }
    assert_eq!(
        tracker.snapshot().remaining,
        Some(4991),
        "the 2026 window is the newest core one"
    );
    assert_eq!(tracker.snapshot().reset, Some(1_767_880_692));
}

#[test]
fn fixture_conditional_requests() {
    let all = sections("conditional-request-304.txt");
    assert_eq!(all.len(), 5);
    let etag = |i: usize| all[i].1.get("etag").unwrap().to_str().unwrap().to_owned();
    // (A) the 304 echoes the ETag without W/, and costs nothing.
    assert_eq!(all[2].0, Some(304));
    assert_eq!(etag(0), format!("W/{}", etag(2)));
    let before = RateLimitInfo::from_headers(&all[1].1);
    let after = RateLimitInfo::from_headers(&all[2].1);
    assert_eq!(
        (before.remaining, before.used),
        (after.remaining, after.used)
    );
    // (B) 2013, strong ETags.
    assert_eq!(all[4].0, Some(304));
    assert_eq!(etag(3), etag(4));
}

#[test]
fn fixture_contents() {
    let Contents::Dir(entries) = json("contents-directory.json") else {
        panic!("a directory is an array")
    };
    let kinds: Vec<(&str, EntryKind)> = entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert_eq!(kinds[0], ("js/dist", EntryKind::Dir));
    assert_eq!(kinds[1], ("js/index.esm.js", EntryKind::File));
    assert!(
        entries
            .iter()
            .all(|e| e.decoded_content().unwrap().is_none()),
        "listings carry no content"
    );
    assert!(
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .all(|e| e.size == 0)
    );
    assert_eq!(headers("contents-directory.headers.txt").0, Some(200));

    let Contents::Dir(root) = json("contents-directory-root.json") else {
        panic!("root is a directory")
    };
    assert_eq!(root.len(), 1);
    assert_eq!(headers("contents-directory-root.headers.txt").0, Some(200));

    for name in ["contents-file-base64.json", "contents-file-at-ref.json"] {
        let Contents::File(file) = json(name) else {
            panic!("{name} is a file")
        };
        let bytes = file.decoded_content().unwrap().unwrap();
        assert_eq!(bytes.len() as u64, file.size, "{name}");
        assert_eq!(file.kind, EntryKind::File);
        assert_eq!(headers(&name.replace(".json", ".headers.txt")).0, Some(200));
    }

    // The raw media type: the bytes themselves, and the ETag is the blob SHA of the listing.
    let raw = std::fs::read(dir().join("contents-file-raw.txt")).unwrap();
    let (_, h) = headers("contents-file-raw.headers.txt");
    assert_eq!(raw, b"# hello-world");
    assert_eq!(
        h.get("content-length").unwrap(),
        raw.len().to_string().as_str()
    );
    assert_eq!(
        h.get("etag").unwrap().to_str().unwrap(),
        format!("\"{}\"", root[0].sha)
    );

    // A renamed repository answers 302 to a path on the same host, so following it keeps
    // the credentials (octocrab's follow-redirect strips them only across hosts).
    let (status, h) = headers("contents-directory-redirect-302.headers.txt");
    assert_eq!(status, Some(302));
    let location: http::Uri = h
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(location.host(), Some("api.github.com"));
}

#[test]
fn fixture_webhook_pull_requests() {
    let pr = |name: &str| -> (serde_json::Value, PullRequest) {
        let event: serde_json::Value = json(name);
        let pr = serde_json::from_value(event["pull_request"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        (event, pr)
    };
    let (_, opened) = pr("webhook-pull_request-opened.json");
    assert_eq!(opened.facts(), PrFacts::Open { draft: false });
    let (_, merged) = pr("webhook-pull_request-closed-merged.json");
    assert_eq!(merged.facts(), PrFacts::Merged);
    assert_eq!(
        merged.merge_commit_sha.as_deref(),
        Some("bcb954310e04baa5a7974eb201a433be35488351")
    );
    let (_, closed) = pr("webhook-pull_request-closed-unmerged.json");
    assert_eq!(
        closed.facts(),
        PrFacts::Closed,
        "merge_commit_sha is set, but merged is false"
    );
    let (event, labeled) = pr("webhook-pull_request-labeled.json");
    let label: Label = serde_json::from_value(event["label"].clone()).unwrap();
    assert_eq!(label.name, "bug");
    assert!(labeled.label_names().contains(&"bug"));
    let (event, unlabeled) = pr("webhook-pull_request-unlabeled.json");
    let label: Label = serde_json::from_value(event["label"].clone()).unwrap();
    assert_eq!(label.name, "triage");
    assert_eq!(unlabeled.label_names(), ["team"]);

    // The other actions the webhook acts on: each carries the PR's facts after the action.
    let (_, synchronized) = pr("webhook-pull_request-synchronize.json");
    assert_eq!(synchronized.facts(), PrFacts::Open { draft: false });
    let (_, reopened) = pr("webhook-pull_request-reopened.json");
    assert_eq!(reopened.facts(), PrFacts::Open { draft: false });
    assert_eq!(
        reopened.merge_commit_sha, None,
        "a reopened PR's test merge is not computed yet"
    );
    let (_, ready) = pr("webhook-pull_request-ready_for_review.json");
    assert_eq!(ready.facts(), PrFacts::Open { draft: false });
    let (_, drafted) = pr("webhook-pull_request-converted_to_draft.json");
    assert_eq!(drafted.facts(), PrFacts::Open { draft: true });
    let (event, edited) = pr("webhook-pull_request-edited.json");
    // This 2020 delivery is of a draft PR whose title was edited.
    assert_eq!(edited.facts(), PrFacts::Open { draft: true });
    assert!(
        event["changes"]["title"]["from"].is_string(),
        "an edit says what it changed"
    );
}

/// Why the change feed lists pulls and not issues: an issue listing mixes issues with PRs, and its
/// PR items lack what a reconcile needs (the merge commit, the head, the base), so every merged PR
/// would cost a second read; `since` filters by update time, which the pulls listing does by its
/// sort order instead. The pulls listing by update time carries it all, in update order.
#[test]
fn fixture_the_change_feed_lists_pulls_because_issue_items_lack_the_merge() {
    let issues: Vec<Value> = json("issues-list-with-pull-requests.json");
    let prs: Vec<&Value> = issues
        .iter()
        .filter(|i| i.get("pull_request").is_some())
        .collect();
    assert!(
        !prs.is_empty() && prs.len() < issues.len(),
        "issues and PRs mixed"
    );
    for pr in &prs {
        for missing in ["merge_commit_sha", "head", "base"] {
            assert!(
                pr.get(missing).is_none(),
                "an issue item carries no {missing}"
            );
        }
        // The client's tolerant model reads it, without what a merged PR's monitors need.
        let read: PullRequest = serde_json::from_value((*pr).clone()).expect("tolerant");
        assert!(read.merge_commit_sha.is_none() && read.head.sha.is_empty());
    }
    let since: Vec<Value> = json("issues-list-since.json");
    assert!(
        !since.is_empty() && since.iter().all(|i| i.get("pull_request").is_none()),
        "a repository without PRs answers issues only"
    );

    let pulls: Vec<Value> = json("pulls-list-sort-updated.json");
    assert!(!pulls.is_empty());
    let mut updated = Vec::new();
    for item in &pulls {
        let pr: PullRequest = serde_json::from_value(item.clone())
            .unwrap_or_else(|e| panic!("a listed pull does not parse: {e}"));
        assert!(item.get("merge_commit_sha").is_some() && item["head"]["sha"].is_string());
        updated.push(pr.updated_at.clone().expect("a listed pull has updated_at"));
    }
    // Recorded with `direction=asc` (the closest recording there is): in update order, the order
    // the feed's watermark relies on, whichever way it runs.
    assert!(
        updated.windows(2).all(|w| w[0] <= w[1]),
        "in update order: {updated:?}"
    );
}

/// Fixtures no test reads yet, each with the issue whose work will read it. An entry here is a
/// debt with a name; the test below fails for any fixture that is neither read nor listed.
const READ_BY_A_LATER_ISSUE: &[(&str, &str)] = &[
    (
        "app-installation-access-token",
        "#16: check runs need the App's installation token",
    ),
    (
        "app-installation-org",
        "#16: the App's installation, found per owner",
    ),
    (
        "compare",
        "#15: the files a merge changed against its first parent, to tell which targets it touches",
    ),
    (
        "pull-files",
        "#15: whether a PR's change touches a target's inputs",
    ),
    (
        "pull-request-create-422.request",
        "#16: a PR creation's body; the simulator holds its comment 422 to the response only",
    ),
    (
        "webhook-repository-renamed",
        "#14: webhook parser fuzz seeds; renames",
    ),
];

/// Every fixture is read by a test above; a new one must be given a test (or a reason).
#[test]
fn fixture_every_file_is_covered() {
    // The tests that read recordings: these, the tree reader's, and the simulator's (whose
    // answers and webhook deliveries are held against the recordings).
    let source = [
        include_str!("fixtures.rs"),
        include_str!("trees.rs"),
        include_str!("../../github-sim/tests/fixtures_rest.rs"),
        include_str!("../../github-sim/tests/fixtures_webhooks.rs"),
        include_str!("../../github-sim/tests/fixtures_deployments.rs"),
        include_str!("../../github-sim/tests/fixtures_checks.rs"),
        include_str!("../../github-sim/tests/fixtures_check_runs.rs"),
    ]
    .concat();
    // Delivery headers belong to the webhook receiver, not to the client.
    let elsewhere = ["SOURCES.md", "webhook-delivery-headers.txt"];
    let present: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let missing: Vec<&String> = present
        .iter()
        .filter(|name| !elsewhere.contains(&name.as_str()))
        .filter(|name| {
            !READ_BY_A_LATER_ISSUE
                .iter()
                .any(|(prefix, _)| name.starts_with(prefix))
        })
        .filter(|name| {
            let quoted = format!("\"{name}\"");
            let via_json = name
                .strip_suffix(".headers.txt")
                .map(|stem| format!("\"{stem}.json\""));
            !source.contains(&quoted)
                && !via_json.is_some_and(|q| {
                    source.contains(&q) && source.contains("replace(\".json\", \".headers.txt\")")
                })
        })
        .collect();
    assert!(missing.is_empty(), "fixtures no test reads: {missing:?}");
    // A listed debt that names no fixture, or one a test now reads, is stale: drop it.
    for (prefix, issue) in READ_BY_A_LATER_ISSUE {
        let listed: Vec<&String> = present.iter().filter(|n| n.starts_with(prefix)).collect();
        assert!(!listed.is_empty(), "{prefix} ({issue}) names no fixture");
        let read_now: Vec<&&String> = listed
            .iter()
            .filter(|name| source.matches(&format!("\"{name}\"")).count() > 0)
            .collect();
        assert!(
            read_now.is_empty(),
            "{read_now:?} are read by a test now: remove {prefix} from READ_BY_A_LATER_ISSUE"
        );
    }
}
