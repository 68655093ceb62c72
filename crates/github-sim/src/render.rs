//! JSON bodies in GitHub's shapes (field names, JSON types, nulls) for accounts, repositories,
//! labels, pull requests (and their issue view) and issue comments. All URLs are built on the server's own base URL.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::ids;
use crate::model::{Account, AccountKind, IssueComment, Label, PrState, PullRequest, Repo, World};
use crate::time::rfc3339;

/// Characters GitHub leaves unescaped in a path segment (label names in URLs).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

pub fn account(base: &str, a: &Account) -> Value {
    let login = encode_segment(&a.login);
    let api = format!("{base}/users/{login}");
    let html = match a.kind {
        AccountKind::Bot => format!("{base}/apps/{}", a.login.trim_end_matches("[bot]")),
        _ => format!("{base}/{}", a.login),
    };
    let node_kind = match a.kind {
        AccountKind::User => "User",
        AccountKind::Bot => "Bot",
        AccountKind::Organization => "Organization",
    };
    json!({
        "login": a.login,
        "id": a.id,
        "node_id": ids::node_id(node_kind, a.id),
        "avatar_url": format!("{base}/avatars/u/{}?v=4", a.id),
        "gravatar_id": "",
        "url": api,
        "html_url": html,
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": a.kind.as_str(),
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// The `organization` member of webhook payloads.
pub fn organization(base: &str, a: &Account) -> Value {
    let api = format!("{base}/orgs/{}", a.login);
    json!({
        "login": a.login,
        "id": a.id,
        "node_id": ids::node_id("Organization", a.id),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("{base}/avatars/u/{}?v=4", a.id),
        // GitHub sends "" for an organization without a description.
        "description": "",
    })
}

pub fn label(base: &str, repo: &Repo, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": ids::node_id("Label", l.id),
        "url": format!("{base}/repos/{}/labels/{}", repo.full_name(), encode_segment(&l.name)),
        "name": l.name,
        "color": l.color,
        "default": l.default,
        "description": l.description,
    })
}

/// The labels currently on an issue, in the order they were added.
pub fn issue_labels(base: &str, repo: &Repo, pr: &PullRequest) -> Value {
    Value::Array(
        pr.labels
            .iter()
            .filter_map(|id| repo.label(*id))
            .map(|l| label(base, repo, l))
            .collect(),
    )
}

pub fn repository(world: &World, repo: &Repo) -> Value {
    let base = &world.base;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let html = format!("{base}/{full}");
    let owner = world
        .accounts
        .get(&repo.owner)
        .map(|a| account(base, a))
        .unwrap_or(Value::Null);
    let open = repo
        .pulls
        .values()
        .filter(|p| p.state == PrState::Open)
        .count();
    let host = base
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    json!({
        "id": repo.id,
        "node_id": ids::node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "owner": owner,
        "html_url": html,
        "description": repo.description,
        "fork": false,
        "url": api,
        "forks_url": format!("{api}/forks"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "teams_url": format!("{api}/teams"),
        "hooks_url": format!("{api}/hooks"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "events_url": format!("{api}/events"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "tags_url": format!("{api}/tags"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "languages_url": format!("{api}/languages"),
        "stargazers_url": format!("{api}/stargazers"),
        "contributors_url": format!("{api}/contributors"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "merges_url": format!("{api}/merges"),
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "downloads_url": format!("{api}/downloads"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "deployments_url": format!("{api}/deployments"),
        "created_at": rfc3339(repo.created_at),
        "updated_at": rfc3339(repo.created_at),
        "pushed_at": rfc3339(repo.created_at),
        "git_url": format!("git://{host}/{full}.git"),
        "ssh_url": format!("git@{host}:{full}.git"),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": Value::Null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": Value::Null,
        "has_issues": true,
        "has_projects": true,
        "has_downloads": true,
        "has_wiki": true,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": Value::Null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open,
        // Simulated repositories carry a licence so consumers see the object form GitHub sends.
        "license": {
            "key": "apache-2.0",
            "name": "Apache License 2.0",
            "spdx_id": "Apache-2.0",
            "url": format!("{base}/licenses/apache-2.0"),
            "node_id": ids::node_id("License", 2),
        },
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.private { "private" } else { "public" },
        "forks": 0,
        "open_issues": open,
        "watchers": 0,
        "default_branch": repo.default_branch,
        // Members GitHub adds to repositories in webhook payloads.
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "allow_update_branch": false,
        "use_squash_pr_title_as_default": false,
        "custom_properties": {},
    })
}

pub(crate) fn user_value(world: &World, login: &str) -> Value {
    world
        .accounts
        .get(login)
        .map(|a| account(&world.base, a))
        .unwrap_or(Value::Null)
}

fn branch_value(
    world: &World,
    repo: &Repo,
    reference: &str,
    sha: &str,
    repo_json: &Value,
) -> Value {
    json!({
        "label": format!("{}:{}", repo.owner, reference),
        "ref": reference,
        "sha": sha,
        "user": user_value(world, &repo.owner),
        "repo": repo_json,
    })
}

/// Which variant of the pull-request object to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullShape {
    /// `GET /pulls/{n}` and webhooks: the full object.
    Full,
    /// `GET /pulls` items: GitHub's "pull-request-simple", without `merged`, `mergeable`,
    /// `merged_by`, counts and the like.
    Simple,
}

pub fn pull_request(world: &World, repo: &Repo, pr: &PullRequest, shape: PullShape) -> Value {
    let base = &world.base;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let html = format!("{base}/{full}/pull/{}", pr.number);
    let n = pr.number;
    let repo_json = repository(world, repo);
    let state = match pr.state {
        PrState::Open => "open",
        PrState::Closed => "closed",
    };
    let mut v = json!({
        "url": format!("{api}/pulls/{n}"),
        "id": pr.id,
        "node_id": ids::node_id("PullRequest", pr.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{n}"),
        "number": n,
        "state": state,
        "locked": false,
        "title": pr.title,
        "user": user_value(world, &pr.user),
        "body": pr.body,
        "created_at": rfc3339(pr.created_at),
        "updated_at": rfc3339(pr.updated_at),
        "closed_at": pr.closed_at.map(rfc3339),
        "merged_at": pr.merged_at.map(rfc3339),
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": Value::Null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": issue_labels(base, repo, pr),
        "milestone": Value::Null,
        "draft": pr.draft,
        "commits_url": format!("{api}/pulls/{n}/commits"),
        "review_comments_url": format!("{api}/pulls/{n}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{}", pr.head_sha),
        "head": branch_value(world, repo, &pr.head_ref, &pr.head_sha, &repo_json),
        "base": branch_value(world, repo, &pr.base_ref, &pr.base_sha, &repo_json),
        "_links": {
            "self": {"href": format!("{api}/pulls/{n}")},
            "html": {"href": html},
            "issue": {"href": format!("{api}/issues/{n}")},
            "comments": {"href": format!("{api}/issues/{n}/comments")},
            "review_comments": {"href": format!("{api}/pulls/{n}/comments")},
            "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{api}/pulls/{n}/commits")},
            "statuses": {"href": format!("{api}/statuses/{}", pr.head_sha)},
        },
        "author_association": if pr.user == repo.owner { "OWNER" } else { "CONTRIBUTOR" },
        "auto_merge": Value::Null,
        "active_lock_reason": Value::Null,
    });
    if shape == PullShape::Full
        && let Some(obj) = v.as_object_mut()
    {
        let open = pr.state == PrState::Open;
        // GitHub computes mergeability in the background; here an unmerged PR is always
        // mergeable (also once closed, as in the recorded closed deliveries), a merged one null.
        let mergeable = if pr.merged { Value::Null } else { json!(true) };
        obj.insert("merged".into(), json!(pr.merged));
        obj.insert("mergeable".into(), mergeable.clone());
        obj.insert("rebaseable".into(), mergeable);
        let mstate = if !open {
            "unknown"
        } else if pr.draft {
            "draft"
        } else {
            "clean"
        };
        obj.insert("mergeable_state".into(), json!(mstate));
        obj.insert(
            "merged_by".into(),
            pr.merged_by
                .as_deref()
                .map(|l| user_value(world, l))
                .unwrap_or(Value::Null),
        );
        obj.insert("comments".into(), json!(comment_count(repo, pr.number)));
        obj.insert("review_comments".into(), json!(0));
        obj.insert("maintainer_can_modify".into(), json!(false));
        obj.insert("commits".into(), json!(1));
        obj.insert("additions".into(), json!(1));
        obj.insert("deletions".into(), json!(0));
        obj.insert("changed_files".into(), json!(1));
    }
    v
}

fn comment_count(repo: &Repo, number: u64) -> usize {
    repo.comments.iter().filter(|c| c.issue == number).count()
}

/// A reactions summary with no reaction, as GitHub sends for a fresh object.
fn no_reactions(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"),
        "total_count": 0,
        "+1": 0,
        "-1": 0,
        "laugh": 0,
        "hooray": 0,
        "confused": 0,
        "heart": 0,
        "rocket": 0,
        "eyes": 0,
    })
}

/// `author_association` of `login` in `repo`: the owner, someone who opened a PR, or a stranger.
fn association(repo: &Repo, login: &str) -> &'static str {
    if login == repo.owner {
        "OWNER"
    } else if repo.pulls.values().any(|p| p.user == login) {
        "CONTRIBUTOR"
    } else {
        "NONE"
    }
}

/// An issue comment (issue-comment-create.json). Every issue here is a pull request, so the
/// `html_url` is the PR's conversation (`/pull/N#issuecomment-ID`), as GitHub writes it.
pub fn issue_comment(world: &World, repo: &Repo, c: &IssueComment) -> Value {
    let base = &world.base;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let url = format!("{api}/issues/comments/{}", c.id);
    json!({
        "url": url,
        "html_url": format!("{base}/{full}/pull/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{api}/issues/{}", c.issue),
        "id": c.id,
        "node_id": ids::node_id("IssueComment", c.id),
        "user": user_value(world, &c.user),
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "author_association": association(repo, &c.user),
        "body": c.body,
        "reactions": no_reactions(&url),
        "performed_via_github_app": Value::Null,
    })
}

/// A pull request seen as an issue (the `issue` of `issue_comment` webhooks, an issues-list
/// item): issue fields plus a `pull_request` member pointing at the PR.
pub fn issue(world: &World, repo: &Repo, pr: &PullRequest) -> Value {
    let base = &world.base;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let n = pr.number;
    let url = format!("{api}/issues/{n}");
    let html = format!("{base}/{full}/pull/{n}");
    json!({
        "url": url,
        "repository_url": api,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "html_url": html,
        "id": pr.id,
        "node_id": ids::node_id("PullRequest", pr.id),
        "number": n,
        "title": pr.title,
        "user": user_value(world, &pr.user),
        "labels": issue_labels(base, repo, pr),
        "state": if pr.state == PrState::Open { "open" } else { "closed" },
        "locked": false,
        "assignee": Value::Null,
        "assignees": [],
        "milestone": Value::Null,
        "comments": comment_count(repo, n),
        "created_at": rfc3339(pr.created_at),
        "updated_at": rfc3339(pr.updated_at),
        "closed_at": pr.closed_at.map(rfc3339),
        "author_association": association(repo, &pr.user),
        "active_lock_reason": Value::Null,
        "draft": pr.draft,
        "pull_request": {
            "url": format!("{api}/pulls/{n}"),
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": pr.merged_at.map(rfc3339),
        },
        "body": pr.body,
        "reactions": no_reactions(&url),
        "timeline_url": format!("{url}/timeline"),
        "performed_via_github_app": Value::Null,
        "state_reason": Value::Null,
    })
}
