//! A commit status per cluster on a merged PR's merge commit (`--commit-statuses`, issue #16
//! part 3, the token's way; a GitHub App's would be a check run). The context `prtracker/CLUSTER`
//! tells the clusters apart; the state follows the cluster's monitor. A status is posted only
//! when it differs from the one recorded in the tracker's status, or, with the record lost, from
//! the newest GitHub shows for that context; never past GitHub's 1,000 per commit and context.

use std::sync::Arc;

use prtracker_api::{CommitStatusRecord, DriftMonitor, DriftMonitorStatus, DriftPhase};
use prtracker_domain::Repository;
use prtracker_github::{CommitStatuses, GitHubError, MAX_STATUSES_PER_CONTEXT, NewCommitStatus};
use tracing::{info, warn};

use crate::surfaces::{bounded_description, changed_by_hand, monitor_status};

/// What one cluster's status should say now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredStatus {
    pub cluster: String,
    pub context: String,
    pub state: &'static str,
    pub description: String,
}

/// The context of a cluster's status.
pub fn context(cluster: &str) -> String {
    format!("prtracker/{cluster}")
}

/// The statuses a merged PR's clusters should show, from their monitors; pure.
pub fn desired(clusters: &[String], monitors: &[DriftMonitor]) -> Vec<DesiredStatus> {
    clusters
        .iter()
        .map(|cluster| {
            let status = monitor_status(monitors, cluster);
            let (state, description) = state_of(cluster, status);
            DesiredStatus {
                cluster: cluster.clone(),
                context: context(cluster),
                state,
                description: bounded_description(description),
            }
        })
        .collect()
}

fn state_of(cluster: &str, status: Option<&DriftMonitorStatus>) -> (&'static str, String) {
    match status.and_then(|s| s.phase) {
        None | Some(DriftPhase::Pending | DriftPhase::Waiting) => {
            ("pending", format!("not live in {cluster} yet"))
        }
        Some(DriftPhase::InSync) => ("success", format!("live in {cluster}")),
        Some(DriftPhase::Drifted) => ("failure", changed_by_hand(cluster, status)),
        // A status cannot be withdrawn: a change no longer this PR's to watch passes.
        Some(DriftPhase::Superseded) => ("success", "superseded by a later change".to_owned()),
        Some(DriftPhase::NothingToDeploy) => (
            "success",
            "the merge changed no manifest to deploy".to_owned(),
        ),
        Some(DriftPhase::Error) => ("error", format!("cannot be checked in {cluster}")),
    }
}

/// Writes the statuses through a GitHub client.
pub struct CommitStatusKeeper {
    github: Arc<dyn CommitStatuses>,
}

impl CommitStatusKeeper {
    pub fn new(github: Arc<dyn CommitStatuses>) -> Self {
        Self { github }
    }

    /// Brings each cluster's status on `commit` to what `desired` says; returns the records to
    /// keep, and the first failure (the clusters after it keep their records).
    pub async fn keep(
        &self,
        repo: &Repository,
        commit: &str,
        desired: &[DesiredStatus],
        recorded: &[CommitStatusRecord],
    ) -> (Vec<CommitStatusRecord>, Option<GitHubError>) {
        let mut latest: Option<Vec<prtracker_github::CommitStatus>> = None;
        let mut kept = Vec::with_capacity(desired.len());
        for (at, want) in desired.iter().enumerate() {
            let record = recorded.iter().find(|r| r.context == want.context);
            if record.is_some_and(|r| r.state == want.state && r.description == want.description) {
                kept.extend(record.cloned());
                continue;
            }
            // Without a record, what GitHub shows decides: an equal status is not posted again.
            if record.is_none() {
                if latest.is_none() {
                    match self.github.latest_commit_statuses(repo, commit).await {
                        Ok(statuses) => latest = Some(statuses),
                        Err(error) => return (self.rest(kept, desired, at, recorded), Some(error)),
                    }
                }
                let shown = latest.iter().flatten().find(|s| s.context == want.context);
                if shown.is_some_and(|s| {
                    s.state == want.state && s.description.as_deref() == Some(&want.description)
                }) {
                    kept.push(record_of(want, 1));
                    continue;
                }
            }
            let posted = record.map_or(0, |r| r.posted);
            if posted >= MAX_STATUSES_PER_CONTEXT {
                warn!(%repo, context = %want.context, "GitHub's 1,000 statuses for this commit and context are used: no more are posted");
                kept.extend(record.cloned());
                continue;
            }
            let status = NewCommitStatus {
                state: want.state,
                description: &want.description,
                context: &want.context,
            };
            match self
                .github
                .create_commit_status(repo, commit, &status)
                .await
            {
                Ok(_) => {
                    info!(%repo, context = %want.context, state = want.state, "commit status posted");
                    kept.push(record_of(want, posted.saturating_add(1)));
                }
                Err(error) => {
                    kept.extend(record.cloned());
                    return (self.rest(kept, desired, at + 1, recorded), Some(error));
                }
            }
        }
        (kept, None)
    }

    /// The records of the clusters from `from` on, kept as they were.
    fn rest(
        &self,
        mut kept: Vec<CommitStatusRecord>,
        desired: &[DesiredStatus],
        from: usize,
        recorded: &[CommitStatusRecord],
    ) -> Vec<CommitStatusRecord> {
        for want in desired.iter().skip(from) {
            kept.extend(recorded.iter().find(|r| r.context == want.context).cloned());
        }
        kept
    }
}

fn record_of(want: &DesiredStatus, posted: u32) -> CommitStatusRecord {
    CommitStatusRecord {
        cluster: want.cluster.clone(),
        context: want.context.clone(),
        state: want.state.to_owned(),
        description: want.description.clone(),
        posted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prtracker_api::{DriftMonitorSpec, ManifestSource};

    fn monitor(cluster: &str, phase: DriftPhase) -> DriftMonitor {
        let mut monitor = DriftMonitor::new(
            &format!("shop-{cluster}"),
            DriftMonitorSpec {
                tracker: "shop".into(),
                cluster: cluster.into(),
                source: ManifestSource {
                    repository: "octo-org/shop".parse().expect("repository"),
                    commit: "c0ffee".into(),
                    path: "deploy".into(),
                    base_branch: None,
                    values: Vec::new(),
                },
                interval: "1m".into(),
                ignore_differences: Vec::new(),
            },
        );
        monitor.status = Some(DriftMonitorStatus {
            phase: Some(phase),
            ..Default::default()
        });
        monitor
    }

    #[test]
    fn each_cluster_has_its_context_and_a_state_from_its_monitor() {
        let clusters: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        let monitors = [
            monitor("a", DriftPhase::InSync),
            monitor("b", DriftPhase::Drifted),
            monitor("c", DriftPhase::Superseded),
        ];
        let got: Vec<(String, &str)> = desired(&clusters, &monitors)
            .into_iter()
            .map(|d| (d.context, d.state))
            .collect();
        assert_eq!(
            got,
            [
                ("prtracker/a".to_owned(), "success"),
                ("prtracker/b".to_owned(), "failure"),
                ("prtracker/c".to_owned(), "success"),
                ("prtracker/d".to_owned(), "pending"),
            ]
        );
    }
}
