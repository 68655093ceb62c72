//! The one comment prtracker keeps on a merged PR (issue #16): where the change is live, where it
//! was changed by hand, and which fields, rendered from the tracker's monitors. Pure: the same
//! monitors give the same text, so the comment is edited only when what it says changes. For that
//! reason it shows when each verdict began, never the time of the last check (which changes at
//! every check and would cost a write each time).
//!
//! A hidden marker on its first line names the PR, so the comment is found again among all of the
//! PR's comments if the tracker lost its id.

use std::fmt::Write as _;

use prtracker_api::{DriftMonitorStatus, DriftPhase};
use prtracker_domain::Repository;
use prtracker_github::MAX_COMMENT_CHARS;

/// How the marker starts: `<!-- prtracker:status owner/repo#N -->`.
const MARKER_START: &str = "<!-- prtracker:status ";

/// Drifted fields listed in all, across clusters; the counts stay complete.
const MAX_FIELDS_LISTED: usize = 200;

/// The hidden first line of the comment of PR `number` of `repo`.
pub fn marker(repo: &Repository, number: u64) -> String {
    format!("{MARKER_START}{repo}#{number} -->")
}

/// Whether `body` is prtracker's comment for PR `number` of `repo` (names compare
/// case-insensitively, as on GitHub).
pub fn is_ours(body: &str, repo: &Repository, number: u64) -> bool {
    body.lines()
        .next()
        .is_some_and(|first| first.trim().eq_ignore_ascii_case(&marker(repo, number)))
}

/// One cluster of the PR: its name, and its monitor's status if it has one yet.
#[derive(Debug, Clone, Copy)]
pub struct ClusterRow<'a> {
    pub cluster: &'a str,
    pub status: Option<&'a DriftMonitorStatus>,
}

/// What the comment is made of.
#[derive(Debug, Clone)]
pub struct CommentFacts<'a> {
    pub repository: &'a Repository,
    pub number: u64,
    /// The PR's state label, as on the PR (`state/deployed`).
    pub state_label: &'a str,
    pub merge_commit: Option<&'a str>,
    pub clusters: Vec<ClusterRow<'a>>,
}

/// The comment's body, at most [`MAX_COMMENT_CHARS`] characters.
pub fn render(facts: &CommentFacts<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", marker(facts.repository, facts.number));
    let _ = writeln!(out, "**prtracker** · `{}`", facts.state_label);
    let _ = writeln!(out);
    match facts.merge_commit {
        Some(commit) => {
            let _ = writeln!(
                out,
                "The change merged as `{}`, in each cluster:",
                short(commit)
            );
        }
        None => {
            let _ = writeln!(out, "Not merged yet: nothing is deployed.");
            return out;
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| cluster | verdict | fields of the change | since |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for row in &facts.clusters {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(row.cluster),
            verdict(row.status),
            fields(row.status),
            since(row.status)
        );
    }
    let drifted = drifted_details(&facts.clusters);
    if !drifted.is_empty() {
        let _ = writeln!(out);
        out.push_str(&drifted);
    }
    bounded(out)
}

fn verdict(status: Option<&DriftMonitorStatus>) -> &'static str {
    match status.and_then(|s| s.phase) {
        None | Some(DriftPhase::Pending) => "⏳ not checked yet",
        Some(DriftPhase::Waiting) => "⏳ not live yet",
        Some(DriftPhase::InSync) => "✅ live",
        Some(DriftPhase::Drifted) => "⚠️ changed by hand",
        Some(DriftPhase::Superseded) => "↪️ superseded by a later change",
        Some(DriftPhase::NothingToDeploy) => "— nothing to deploy",
        Some(DriftPhase::Error) => "❌ cannot be checked",
    }
}

fn fields(status: Option<&DriftMonitorStatus>) -> String {
    let Some(status) = status.filter(|s| s.phase.is_some()) else {
        return String::new();
    };
    match (status.fields_drifted, status.fields_watched) {
        (_, 0) => String::new(),
        (0, watched) => format!("{watched} held"),
        (drifted, watched) => format!("{drifted} of {watched} changed"),
    }
}

/// When the verdict began: live since, drifted since; nothing that moves at every check.
fn since(status: Option<&DriftMonitorStatus>) -> String {
    let Some(status) = status else {
        return String::new();
    };
    let time = match status.phase {
        Some(DriftPhase::Drifted) => status.drifted_since.as_ref(),
        Some(DriftPhase::InSync) => status.live_since.as_ref(),
        _ => None,
    };
    time.map(|t| t.0.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Per drifted cluster, the objects and fields that differ, desired against live.
fn drifted_details(rows: &[ClusterRow<'_>]) -> String {
    let mut out = String::new();
    let mut listed = 0usize;
    let mut left_out = 0usize;
    for row in rows {
        let Some(status) = row
            .status
            .filter(|s| s.phase == Some(DriftPhase::Drifted) && !s.drifted_resources.is_empty())
        else {
            continue;
        };
        let _ = writeln!(
            out,
            "<details><summary>Changed by hand in {}</summary>\n",
            cell(row.cluster)
        );
        for resource in &status.drifted_resources {
            let object = match &resource.namespace {
                Some(ns) => format!("{} {}/{}", resource.kind, ns, resource.name),
                None => format!("{} {}", resource.kind, resource.name),
            };
            if resource.missing {
                listed += 1;
                let _ = writeln!(out, "- `{}`: missing from the cluster", code(&object));
                continue;
            }
            for field in &resource.fields {
                if listed >= MAX_FIELDS_LISTED {
                    left_out += 1;
                    continue;
                }
                listed += 1;
                let _ = writeln!(
                    out,
                    "- `{}` `{}`: the PR set {}, the cluster holds {}",
                    code(&object),
                    code(&field.path),
                    value(field.desired.as_deref()),
                    value(field.live.as_deref())
                );
            }
        }
        let _ = writeln!(out, "\n</details>");
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n{left_out} more changed fields are not listed; the DriftMonitors' status has them."
        );
    }
    out
}

fn value(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("`{}`", code(v)),
        None => "nothing".to_owned(),
    }
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Text safe inside inline code: backticks would end it, newlines break the list.
/// Text safe inside a markdown code span: no backtick ends it early, no line break breaks it.
pub(crate) fn code(text: &str) -> String {
    text.replace('`', "'").replace(['\n', '\r'], " ")
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// GitHub refuses a body over [`MAX_COMMENT_CHARS`]: a longer one is cut at a line, and says so.
fn bounded(text: String) -> String {
    const NOTE: &str = "\n\n… cut here: GitHub takes at most 65,536 characters.\n";
    if text.chars().count() <= MAX_COMMENT_CHARS {
        return text;
    }
    let budget = MAX_COMMENT_CHARS - NOTE.chars().count();
    let mut cut: String = text.chars().take(budget).collect();
    if let Some(line_end) = cut.rfind('\n') {
        cut.truncate(line_end);
    }
    cut.push_str(NOTE);
    cut
}

#[cfg(test)]
mod tests;
