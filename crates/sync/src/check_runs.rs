//! A check run per cluster on a merged PR's merge commit (`--check-runs`, issue #16 part 3, a
//! GitHub App's way; a token posts commit statuses). The run `prtracker/CLUSTER` follows the
//! cluster's monitor: in progress until the change is live, then success, failure with one
//! annotation per drifted object, or neutral once superseded or uncheckable.
//!
//! A run is written only when its output's digest differs from the recorded one. GitHub appends
//! annotations to a run and cannot take them back, so a completed run is updated in place only
//! when neither it nor the new output has any; otherwise a new run of the same name replaces it
//! (GitHub shows the newest run of a name). Either way a verdict change costs one write.
//!
//! A person's "Re-run" of a run (`check_run` `rerequested`) asks its cluster's monitor for a check
//! (`rerun-<run id>` in its check-requested annotation); the run re-run gets a new one of the same
//! name, as GitHub expects of an App: in progress until the check answers, then its verdict.

use std::sync::Arc;

use kube::ResourceExt;
use prtracker_api::{
    CHECK_REQUESTED_ANNOTATION, CheckRunRecord, DriftMonitor, DriftMonitorStatus, DriftPhase,
};
use prtracker_domain::Repository;
use prtracker_github::{
    Annotation, CheckRun, CheckRunOutput, CheckRunWrite, CheckRuns, GitHubError,
    MAX_ANNOTATIONS_PER_REQUEST, MAX_CHECK_OUTPUT_CHARS,
};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::{
    comment::code,
    surfaces::{bounded_description, changed_by_hand},
};

/// GitHub takes an annotation's title of at most this many characters.
const MAX_ANNOTATION_TITLE: usize = 255;

/// GitHub's limit on the runs of one check suite; prtracker never creates more of one name.
pub const MAX_RUNS_PER_NAME: u32 = 1_000;

/// What one cluster's run should say now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCheck {
    pub cluster: String,
    pub name: String,
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
    pub title: String,
    pub summary: String,
    pub annotations: Vec<Annotation>,
    /// The run a person asked to re-run, whose name this is: it gets a new run, whatever the
    /// digest says. Not part of what the run shows.
    pub rerun_of: Option<u64>,
}

impl DesiredCheck {
    /// A digest of everything the run shows, kept in the status.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.status,
            self.conclusion.unwrap_or(""),
            &self.title,
            &self.summary,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        for a in &self.annotations {
            for part in [&a.path, &a.title, &a.message] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The name of a cluster's run.
pub fn name(cluster: &str) -> String {
    format!("{NAME_PREFIX}{cluster}")
}

const NAME_PREFIX: &str = "prtracker/";

/// The cluster a run of ours is named after; `None` for a name prtracker does not give.
pub fn cluster_of(name: &str) -> Option<&str> {
    name.strip_prefix(NAME_PREFIX).filter(|c| !c.is_empty())
}

/// The check request a person's "Re-run" of run `id` puts on its cluster's monitor.
pub fn rerun_request(id: u64) -> String {
    format!("{RERUN_PREFIX}{id}")
}

const RERUN_PREFIX: &str = "rerun-";

/// The run whose "Re-run" `monitor`'s check request is, and whether its check has answered it.
fn rerun_asked(monitor: &DriftMonitor) -> Option<(u64, bool)> {
    let request = monitor.annotations().get(CHECK_REQUESTED_ANNOTATION)?;
    let id = request.strip_prefix(RERUN_PREFIX)?.parse().ok()?;
    let answered = monitor
        .status
        .as_ref()
        .and_then(|s| s.answered_check_request.as_ref())
        == Some(request);
    Some((id, answered))
}

/// The runs a merged PR's clusters should show, from their monitors; pure.
pub fn desired(clusters: &[String], monitors: &[DriftMonitor]) -> Vec<DesiredCheck> {
    clusters
        .iter()
        .map(|cluster| {
            let monitor = monitors.iter().find(|m| &m.spec.cluster == cluster);
            let status = monitor.and_then(|m| m.status.as_ref());
            let path = monitor.map_or("", |m| m.spec.source.path.as_str());
            let rerun = monitor.and_then(rerun_asked);
            match rerun {
                Some((id, false)) => checking_again(cluster, id),
                Some((id, true)) => DesiredCheck {
                    rerun_of: Some(id),
                    ..desired_one(cluster, status, path)
                },
                None => desired_one(cluster, status, path),
            }
        })
        .collect()
}

/// A run re-run whose check has not answered yet.
fn checking_again(cluster: &str, id: u64) -> DesiredCheck {
    DesiredCheck {
        cluster: cluster.to_owned(),
        name: name(cluster),
        status: "in_progress",
        conclusion: None,
        title: bounded_description(format!("Checking {cluster} again")),
        summary: "Asked for again (a Re-run): the cluster is being checked now.".to_owned(),
        annotations: Vec::new(),
        rerun_of: Some(id),
    }
}

fn desired_one(cluster: &str, status: Option<&DriftMonitorStatus>, path: &str) -> DesiredCheck {
    let change = status.map(|s| s.change.as_slice()).unwrap_or_default();
    let (run_status, conclusion, title, summary, annotations) = match status.and_then(|s| s.phase) {
        None | Some(DriftPhase::Pending | DriftPhase::Waiting) => (
            "in_progress",
            None,
            format!("Not live in {cluster} yet"),
            with_change("The merged change is not yet live in the cluster.", change),
            Vec::new(),
        ),
        Some(DriftPhase::InSync) => (
            "completed",
            Some("success"),
            format!("Live in {cluster}"),
            with_change(
                "Every field of the merged change holds in the cluster.",
                change,
            ),
            Vec::new(),
        ),
        Some(DriftPhase::Drifted) => (
            "completed",
            Some("failure"),
            capitalised(changed_by_hand(cluster, status)),
            drift_summary(status),
            annotations(cluster, status, path),
        ),
        Some(DriftPhase::Superseded) => (
            "completed",
            Some("neutral"),
            "Superseded by a later change".to_owned(),
            "Every field of this change has since been changed through the repository.".to_owned(),
            Vec::new(),
        ),
        Some(DriftPhase::NothingToDeploy) => (
            "completed",
            Some("neutral"),
            "Nothing to deploy".to_owned(),
            "The merge changed no manifest to deploy.".to_owned(),
            Vec::new(),
        ),
        Some(DriftPhase::Error) => (
            "completed",
            Some("neutral"),
            format!("Cannot be checked in {cluster}"),
            "The cluster's monitor reports an error; its DriftMonitor's Ready condition says why."
                .to_owned(),
            Vec::new(),
        ),
    };
    DesiredCheck {
        cluster: cluster.to_owned(),
        name: name(cluster),
        status: run_status,
        conclusion,
        title: bounded_description(title),
        summary: bounded_output(summary),
        annotations,
        rerun_of: None,
    }
}

/// A check's title reads as a heading.
fn capitalised(text: String) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn with_change(sentence: &str, change: &[String]) -> String {
    if change.is_empty() {
        return sentence.to_owned();
    }
    let lines: Vec<String> = change.iter().map(|c| format!("- `{c}`")).collect();
    format!("{sentence}\n\nThe PR's change:\n{}", lines.join("\n"))
}

/// Each drifted object with its fields, desired and live values.
fn drift_summary(status: Option<&DriftMonitorStatus>) -> String {
    let Some(status) = status else {
        return String::new();
    };
    let mut out = format!(
        "{} of {} fields of the merged change differ in the cluster.\n",
        status.fields_drifted, status.fields_watched
    );
    for r in &status.drifted_resources {
        out.push_str(&format!("\n- `{}`", code(&object(r))));
        if r.missing {
            out.push_str(": missing");
        }
        for f in &r.fields {
            out.push_str(&format!(
                "\n  - `{}`: `{}` in the repository, `{}` live",
                code(&f.path),
                code(f.desired.as_deref().unwrap_or("(none)")),
                code(f.live.as_deref().unwrap_or("(none)"))
            ));
        }
    }
    out
}

fn object(r: &prtracker_api::DriftedResource) -> String {
    match &r.namespace {
        Some(ns) => format!("{} {ns}/{}", r.kind, r.name),
        None => format!("{} {}", r.kind, r.name),
    }
}

/// One annotation per drifted object (the status keeps at most 50, GitHub's per request), on
/// the manifests' path: the status does not say which file holds the object.
fn annotations(cluster: &str, status: Option<&DriftMonitorStatus>, path: &str) -> Vec<Annotation> {
    let resources = status
        .map(|s| s.drifted_resources.as_slice())
        .unwrap_or_default();
    resources
        .iter()
        .take(MAX_ANNOTATIONS_PER_REQUEST)
        .map(|r| {
            let fields: Vec<&str> = r.fields.iter().map(|f| f.path.as_str()).collect();
            // The object's own file and line where the monitor knows them (a plain manifest),
            // else the target's path (rendered output has no file of its own).
            let line = r.line.unwrap_or(1);
            Annotation {
                path: r
                    .file
                    .clone()
                    .unwrap_or_else(|| if path.is_empty() { "." } else { path }.to_owned()),
                start_line: line,
                end_line: line,
                annotation_level: "failure",
                title: bounded(
                    format!("{} changed by hand in {cluster}", object(r)),
                    MAX_ANNOTATION_TITLE,
                ),
                message: if r.missing {
                    "The object is missing from the cluster.".to_owned()
                } else {
                    format!("Differs in the cluster: {}", fields.join(", "))
                },
            }
        })
        .collect()
}

fn bounded_output(text: String) -> String {
    bounded(text, MAX_CHECK_OUTPUT_CHARS)
}

/// `text` cut on a character to at most `max` characters, marked where cut.
fn bounded(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Writes the runs through a GitHub client.
pub struct CheckRunKeeper {
    github: Arc<dyn CheckRuns>,
}

/// The run a cluster has on GitHub, as far as deciding the next write needs.
struct Existing {
    id: u64,
    completed: bool,
    annotated: bool,
    created: u32,
}

impl CheckRunKeeper {
    pub fn new(github: Arc<dyn CheckRuns>) -> Self {
        Self { github }
    }

    /// Brings each cluster's run on `commit` to what `desired` says; returns the records to keep
    /// and the first failure (the clusters after it keep their records).
    pub async fn keep(
        &self,
        repo: &Repository,
        commit: &str,
        desired: &[DesiredCheck],
        recorded: &[CheckRunRecord],
    ) -> (Vec<CheckRunRecord>, Option<GitHubError>) {
        let mut kept = Vec::with_capacity(desired.len());
        for (at, want) in desired.iter().enumerate() {
            let record = recorded.iter().find(|r| r.name == want.name);
            match self.keep_one(repo, commit, want, record).await {
                Ok(Some(new)) => kept.push(new),
                Ok(None) => kept.extend(record.cloned()),
                Err(error) => {
                    kept.extend(record.cloned());
                    for rest in desired.iter().skip(at + 1) {
                        kept.extend(recorded.iter().find(|r| r.name == rest.name).cloned());
                    }
                    return (kept, Some(error));
                }
            }
        }
        (kept, None)
    }

    /// The new record, or `None` to keep the old one as it is.
    async fn keep_one(
        &self,
        repo: &Repository,
        commit: &str,
        want: &DesiredCheck,
        record: Option<&CheckRunRecord>,
    ) -> Result<Option<CheckRunRecord>, GitHubError> {
        let digest = want.digest();
        let rerun = |id: u64| want.rerun_of == Some(id);
        if record.is_some_and(|r| r.digest == digest && !rerun(r.id)) {
            return Ok(None);
        }
        let existing = match record {
            Some(r) => Some(Existing {
                id: r.id,
                completed: r.status == "completed",
                // Only failures carry annotations.
                annotated: r.conclusion.as_deref() == Some("failure"),
                created: r.created,
            }),
            // The record was lost: the run GitHub shows decides, and an equal one stays.
            None => match self.github.find_check_run(repo, commit, &want.name).await? {
                Some(run) if shows(&run, want) && !rerun(run.id) => {
                    return Ok(Some(record_of(want, &run, 1)));
                }
                Some(run) => Some(Existing {
                    id: run.id,
                    completed: run.status == "completed",
                    annotated: run.output.annotations_count > 0,
                    created: 1,
                }),
                None => None,
            },
        };
        let output = CheckRunOutput {
            title: &want.title,
            summary: &want.summary,
            annotations: &want.annotations,
        };
        // A run re-run is replaced by a new one, as GitHub expects of an App.
        let in_place = existing.as_ref().filter(|e| {
            !rerun(e.id)
                && (!e.completed
                    || (want.status == "completed" && want.annotations.is_empty() && !e.annotated))
        });
        let run = if let Some(e) = in_place {
            let update = CheckRunWrite {
                name: None,
                head_sha: None,
                external_id: None,
                status: want.status,
                conclusion: want.conclusion,
                output,
            };
            let run = self.github.update_check_run(repo, e.id, &update).await?;
            info!(%repo, name = %want.name, status = want.status, conclusion = ?want.conclusion, "check run updated");
            record_of(want, &run, e.created)
        } else {
            let created = existing.as_ref().map_or(0, |e| e.created);
            if created >= MAX_RUNS_PER_NAME {
                warn!(%repo, name = %want.name, "1,000 runs of this name on this commit: no more are created");
                return Ok(None);
            }
            let create = CheckRunWrite {
                name: Some(&want.name),
                head_sha: Some(commit),
                external_id: None,
                status: want.status,
                conclusion: want.conclusion,
                output,
            };
            let run = self.github.create_check_run(repo, &create).await?;
            info!(%repo, name = %want.name, status = want.status, conclusion = ?want.conclusion, "check run created");
            record_of(want, &run, created.saturating_add(1))
        };
        Ok(Some(run))
    }
}

/// Whether GitHub's run already shows what `want` says.
fn shows(run: &CheckRun, want: &DesiredCheck) -> bool {
    run.status == want.status
        && run.conclusion.as_deref() == want.conclusion
        && run.output.title.as_deref() == Some(want.title.as_str())
        && run.output.summary.as_deref() == Some(want.summary.as_str())
        && run.output.annotations_count as usize == want.annotations.len()
}

fn record_of(want: &DesiredCheck, run: &CheckRun, created: u32) -> CheckRunRecord {
    CheckRunRecord {
        cluster: want.cluster.clone(),
        name: want.name.clone(),
        id: run.id,
        status: want.status.to_owned(),
        conclusion: want.conclusion.map(str::to_owned),
        digest: want.digest(),
        created,
    }
}

#[cfg(test)]
mod tests;
