//! What GitHub shows of a PR's commits besides the conversation: the deployments per
//! environment, and the checks (commit statuses and check runs) of the merge commit, or of the
//! head while the PR is not merged.

use crate::checks::CheckRun;
use crate::deployments::Deployment;
use crate::model::{PullRequest, Repo, World};
use crate::statuses::CommitStatus;

use super::html::{esc, link, short, time};
use super::markdown;

/// The commits of the PR whose deployments and checks count: its merge commit when merged, and
/// its head, each with what a person calls it.
fn pr_commits(pr: &PullRequest) -> Vec<(&str, &'static str)> {
    let mut out = Vec::new();
    if let Some(merge) = pr.merge_commit_sha.as_deref().filter(|_| pr.merged) {
        out.push((merge, "merge commit"));
    }
    if !out.iter().any(|(sha, _)| *sha == pr.head_sha) {
        out.push((pr.head_sha.as_str(), "head"));
    }
    out
}

/// The deployments of the PR's commits, oldest first, each with what its commit is called.
pub fn pr_deployments<'a>(repo: &'a Repo, pr: &PullRequest) -> Vec<(&'a Deployment, &'static str)> {
    let commits = pr_commits(pr);
    repo.deployments
        .iter()
        .filter_map(|d| {
            commits
                .iter()
                .find(|(sha, _)| *sha == d.sha)
                .map(|(_, which)| (d, *which))
        })
        .collect()
}

/// A state's colour class and icon: green tick, red cross, amber dot, or grey.
fn tone(state: &str) -> (&'static str, &'static str) {
    match state {
        "success" | "neutral" | "skipped" => ("ok", "✓"),
        "failure" | "error" | "timed_out" | "cancelled" | "action_required" | "stale" => {
            ("bad", "✗")
        }
        "inactive" => ("off", "○"),
        _ => ("wait", "●"),
    }
}

/// The badge GitHub puts on a deployment for the state of its newest status.
pub fn deployment_badge(state: Option<&str>) -> String {
    let word = match state {
        Some("success") => "Active",
        Some("inactive") => "Inactive",
        Some("failure") => "Failure",
        Some("error") => "Error",
        Some("queued") => "Queued",
        Some("in_progress") => "In progress",
        Some("pending") => "Pending",
        Some(other) => other,
        None => "No status",
    };
    let (class, _) = tone(state.unwrap_or("pending"));
    format!("<span class=\"badge {class}\">{}</span>", esc(word))
}

/// The newest deployment of each environment, environments by name.
pub fn deployments(repo: &Repo, pr: &PullRequest) -> String {
    let mut newest: Vec<(&Deployment, &str)> = Vec::new();
    for (d, which) in pr_deployments(repo, pr).into_iter().rev() {
        if !newest.iter().any(|(n, _)| n.environment == d.environment) {
            newest.push((d, which));
        }
    }
    newest.sort_by(|a, b| a.0.environment.cmp(&b.0.environment));
    let mut out =
        String::from("<section id=\"deployments\" class=\"box\">\n<h2>Deployments</h2>\n");
    if newest.is_empty() {
        out.push_str("<div class=\"empty\">This branch has not been deployed</div>\n");
    } else {
        out.push_str("<ul>\n");
        for (d, which) in newest {
            out.push_str(&deployment(d, which));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

fn deployment(d: &Deployment, which: &str) -> String {
    let latest = d.statuses.last();
    let state = d.state().unwrap_or("");
    let (class, icon) = tone(if state.is_empty() { "pending" } else { state });
    let description = latest
        .map(|s| s.description.as_str())
        .filter(|s| !s.is_empty())
        .or(d.description.as_deref())
        .unwrap_or("");
    let at = latest.map_or(d.updated_at, |s| s.created_at);
    let history = d
        .statuses
        .iter()
        .map(|s| esc(&s.state))
        .collect::<Vec<_>>()
        .join(" → ");
    format!(
        "<li class=\"deployment\" data-environment=\"{env}\" data-state=\"{}\">\
         <span class=\"icon {class}\">{icon}</span> <b>{}</b> deployed to <b class=\"environment\">\
         {env}</b> {} <span class=\"desc\">{}</span> · {} · <code class=\"sha\">{}</code> \
         <span class=\"muted\">({which})</span> {}\n<div class=\"history\">{history}</div></li>\n",
        esc(state),
        esc(&d.creator),
        deployment_badge(d.state()),
        esc(description),
        time(at),
        esc(short(&d.sha)),
        link(
            latest.map(|s| s.environment_url.as_str()),
            "View deployment"
        ),
        env = esc(&d.environment),
    )
}

/// The checks of the PR's merge commit (its head before the merge): the newest status of each
/// context and the newest run of each name, under one summary line as GitHub's merge box has.
pub fn checks(world: &World, repo: &Repo, pr: &PullRequest) -> String {
    let (sha, which) = pr_commits(pr)
        .first()
        .copied()
        .unwrap_or((pr.head_sha.as_str(), "head"));
    let statuses: Vec<&CommitStatus> = world
        .latest_statuses(&repo.owner, &repo.name, sha)
        .map(|(_, _, latest)| latest)
        .unwrap_or_default();
    let mut runs: Vec<&CheckRun> = world
        .check_runs_for_ref(&repo.owner, &repo.name, sha, None, true)
        .map(|(_, runs)| runs)
        .unwrap_or_default();
    runs.sort_by(|a, b| a.name.cmp(&b.name));
    let states: Vec<&str> = statuses
        .iter()
        .map(|s| s.state.as_str())
        .chain(runs.iter().map(|r| run_state(r)))
        .collect();
    let count = |t: &str| states.iter().filter(|s| tone(s).0 == t).count();
    let (bad, wait, ok) = (count("bad"), count("wait"), count("ok"));
    let (class, headline) = if states.is_empty() {
        ("off", "No checks reported")
    } else if bad > 0 {
        ("bad", "Some checks were not successful")
    } else if wait > 0 {
        ("wait", "Some checks haven’t completed yet")
    } else {
        ("ok", "All checks have passed")
    };
    let mut out = format!(
        "<section id=\"checks\" class=\"box\">\n<h2>Checks <span class=\"muted\">on {which} \
         <code class=\"sha\">{}</code></span></h2>\n<div class=\"summary-line {class}\">{headline}\
         <span class=\"muted\"> — {bad} failing, {wait} pending, {ok} successful</span></div>\n",
        esc(short(sha))
    );
    out.push_str("<ul id=\"commit-statuses\">\n");
    for s in &statuses {
        out.push_str(&commit_status(s));
    }
    out.push_str("</ul>\n<ul id=\"check-runs\">\n");
    for r in &runs {
        out.push_str(&check_run(r));
    }
    out.push_str("</ul>\n</section>\n");
    out
}

fn commit_status(s: &CommitStatus) -> String {
    let (class, icon) = tone(&s.state);
    let description = s
        .description
        .as_deref()
        .map(|d| format!(" <span class=\"desc\">— {}</span>", esc(d)))
        .unwrap_or_default();
    format!(
        "<li class=\"commit-status\" data-context=\"{ctx}\" data-state=\"{state}\">\
         <span class=\"icon {class}\">{icon}</span> <b class=\"context\">{ctx}</b> \
         <span class=\"badge {class}\">{state}</span>{description} <span class=\"muted\">{}\
         </span> {}</li>\n",
        time(s.created_at),
        link(s.target_url.as_deref(), "Details"),
        ctx = esc(&s.context),
        state = esc(&s.state),
    )
}

/// A run's conclusion once completed, else its status (`queued`, `in_progress`).
fn run_state(r: &CheckRun) -> &str {
    r.conclusion.as_deref().unwrap_or(&r.status)
}

fn check_run(r: &CheckRun) -> String {
    let state = run_state(r);
    let (class, icon) = tone(state);
    let app = r
        .app
        .get("slug")
        .and_then(|s| s.as_str())
        .map(|slug| format!(" <span class=\"muted\">by {}</span>", esc(slug)))
        .unwrap_or_default();
    let title = r
        .title
        .as_deref()
        .map(|t| format!(" <span class=\"title\">— {}</span>", esc(t)))
        .unwrap_or_default();
    let annotations = match r.annotations.len() {
        0 => String::new(),
        1 => " <span class=\"annotations muted\">1 annotation</span>".into(),
        n => format!(" <span class=\"annotations muted\">{n} annotations</span>"),
    };
    let summary = r
        .summary
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            format!(
                "\n<div class=\"check-summary markdown-body\">{}</div>",
                markdown::to_html(s)
            )
        })
        .unwrap_or_default();
    format!(
        "<li class=\"check-run\" data-name=\"{name}\" data-status=\"{}\" data-conclusion=\"{}\">\
         <span class=\"icon {class}\">{icon}</span> <b class=\"name\">{name}</b>{app} \
         <span class=\"badge {class}\">{}</span>{title}{annotations} {}{summary}</li>\n",
        esc(&r.status),
        esc(r.conclusion.as_deref().unwrap_or("")),
        esc(state),
        link(r.details_url.as_deref(), "Details"),
        name = esc(&r.name),
    )
}
