//! The person-facing parts of a PR page around its conversation: the header (title, state,
//! branches), the labels, and the timeline (the description, comments, merge or close, and
//! deployments, in time order).

use std::fmt::Write as _;

use crate::deployments::Deployment;
use crate::model::{PrState, PullRequest, Repo};

use super::html::{esc, label_colours, short, time};
use super::markdown;
use super::surfaces::{deployment_badge, pr_deployments};

/// `Open`, `Draft`, `Merged` or `Closed`, and the class that colours it.
pub fn state(pr: &PullRequest) -> (&'static str, &'static str) {
    match (pr.state, pr.merged, pr.draft) {
        (_, true, _) => ("Merged", "state-merged"),
        (PrState::Closed, false, _) => ("Closed", "state-closed"),
        (PrState::Open, false, true) => ("Draft", "state-draft"),
        (PrState::Open, false, false) => ("Open", "state-open"),
    }
}

pub fn header(pr: &PullRequest) -> String {
    let (word, class) = state(pr);
    let branches = format!(
        "into <code class=\"branch\">{}</code> from <code class=\"branch\">{}</code>",
        esc(&pr.base_ref),
        esc(&pr.head_ref)
    );
    let what = match (pr.merged, pr.state) {
        (true, _) => format!(
            "<b>{}</b> merged commit <code class=\"sha\">{}</code> {branches} {}",
            esc(pr.merged_by.as_deref().unwrap_or(&pr.user)),
            esc(short(pr.merge_commit_sha.as_deref().unwrap_or(""))),
            pr.merged_at.map(time).unwrap_or_default()
        ),
        (false, PrState::Open) => format!("<b>{}</b> wants to merge {branches}", esc(&pr.user)),
        (false, PrState::Closed) => format!(
            "<b>{}</b> wanted to merge {branches} · closed {}",
            esc(&pr.user),
            pr.closed_at.map(time).unwrap_or_default()
        ),
    };
    format!(
        "<header id=\"header\">\n<h1 id=\"title\"><span class=\"pr-title\">{}</span> \
         <span class=\"pr-number\">#{}</span></h1>\n<div class=\"meta\"><span id=\"state\" \
         class=\"state {class}\">{word}</span> {what}</div>\n</header>\n",
        esc(&pr.title),
        pr.number
    )
}

/// The labels as pills in the repository's colours, in the order they were put on.
pub fn labels(repo: &Repo, pr: &PullRequest) -> String {
    let mut out = String::from("<section id=\"labels\">\n<h2>Labels</h2>\n");
    let mut any = false;
    for label in pr.labels.iter().filter_map(|id| repo.label(*id)) {
        any = true;
        let (bg, fg) = label_colours(&label.color);
        let _ = writeln!(
            out,
            "<span class=\"label\" data-name=\"{name}\" style=\"background-color:{bg};color:{fg}\" \
             title=\"{desc}\">{name}</span>",
            name = esc(&label.name),
            desc = esc(label.description.as_deref().unwrap_or("")),
        );
    }
    if !any {
        out.push_str("<div class=\"muted\">None yet</div>\n");
    }
    out.push_str("</section>\n");
    out
}

/// The commits a person would copy from the PR: head and merge commit.
pub fn commits(pr: &PullRequest) -> String {
    let mut out = String::from("<section id=\"commits\">\n<h2>Commits</h2>\n");
    let _ = writeln!(
        out,
        "<div>head <code class=\"sha\" title=\"{0}\">{1}</code></div>",
        esc(&pr.head_sha),
        esc(short(&pr.head_sha))
    );
    if let Some(merge) = pr.merge_commit_sha.as_deref().filter(|_| pr.merged) {
        let _ = writeln!(
            out,
            "<div>merge commit <code class=\"sha\" title=\"{0}\">{1}</code></div>",
            esc(merge),
            esc(short(merge))
        );
    }
    out.push_str("</section>\n");
    out
}

/// One entry of the timeline: when, a tie-breaker within a second (ids grow with creation; the
/// description, then a merge or close, come before what was made in the same second), its HTML.
type Entry = (i64, u64, String);

/// The conversation as GitHub lists it, oldest first.
pub fn timeline(repo: &Repo, pr: &PullRequest) -> String {
    let mut entries: Vec<Entry> = Vec::new();
    let body = match pr.body.as_deref().filter(|b| !b.trim().is_empty()) {
        Some(b) => markdown::to_html(b),
        None => "<p class=\"muted\"><em>No description provided.</em></p>".into(),
    };
    entries.push((
        pr.created_at,
        0,
        format!(
            "<article class=\"timeline-item opened\" id=\"pr-body\">\n<header><b>{}</b> opened \
             this pull request {}</header>\n<div class=\"markdown-body\">{body}</div>\n</article>\n",
            esc(&pr.user),
            time(pr.created_at)
        ),
    ));
    for c in repo.comments.iter().filter(|c| c.issue == pr.number) {
        let edited = if c.updated_at != c.created_at {
            " <span class=\"edited\">· edited</span>"
        } else {
            ""
        };
        entries.push((
            c.created_at,
            c.id,
            format!(
                "<article class=\"timeline-item comment\" id=\"issuecomment-{}\">\n<header>\
                 <b class=\"author\">{}</b> commented {}{edited}</header>\n\
                 <div class=\"markdown-body\">{}</div>\n</article>\n",
                c.id,
                esc(&c.user),
                time(c.created_at),
                markdown::to_html(&c.body)
            ),
        ));
    }
    for (d, _) in pr_deployments(repo, pr) {
        entries.push((d.created_at, d.id, deployed_event(d)));
    }
    if let Some(at) = pr.merged_at.filter(|_| pr.merged) {
        entries.push((
            at,
            1,
            format!(
                "<div class=\"timeline-event merged\"><b>{}</b> merged commit <code \
                 class=\"sha\">{}</code> into <code class=\"branch\">{}</code> {}</div>\n",
                esc(pr.merged_by.as_deref().unwrap_or(&pr.user)),
                esc(short(pr.merge_commit_sha.as_deref().unwrap_or(""))),
                esc(&pr.base_ref),
                time(at)
            ),
        ));
    } else if let Some(at) = pr.closed_at.filter(|_| pr.state == PrState::Closed) {
        entries.push((
            at,
            1,
            format!(
                "<div class=\"timeline-event closed\">This pull request was closed {}</div>\n",
                time(at)
            ),
        ));
    }
    entries.sort_by_key(|(at, order, _)| (*at, *order));
    let mut out = String::from("<section id=\"timeline\">\n");
    for (_, _, html) in entries {
        out.push_str(&html);
    }
    out.push_str("</section>\n");
    out
}

/// "octocat deployed to staging — Active", as the timeline shows a deployment.
fn deployed_event(d: &Deployment) -> String {
    format!(
        "<div class=\"timeline-event deployed\" data-environment=\"{env}\"><b>{}</b> deployed to \
         <b>{env}</b> {} {}</div>\n",
        esc(&d.creator),
        deployment_badge(d.state()),
        time(d.created_at),
        env = esc(&d.environment),
    )
}
