//! GitHub Deployments of a merged PR (`--github-deployments`, issue #16 part 1): one per cluster
//! for the merge commit, in the cluster's environment, whose status follows the cluster's monitor
//! — `in_progress` until the change is live, `success` while it is, `failure` when it was changed
//! by hand (naming the field), `inactive` once superseded, `error` when it cannot be checked. A
//! status is posted only when it differs from the one recorded in the tracker's status; a
//! deployment whose record was lost is found again by listing the commit's deployments to the
//! environment, of prtracker's own task, before one is created.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use prtracker_api::{DeploymentRecord, DriftMonitor, DriftMonitorStatus, DriftPhase};
use prtracker_domain::Repository;
use prtracker_github::{Deployments, GitHubError, NewDeployment, NewDeploymentStatus};
use tracing::info;

use crate::surfaces::{bounded_description, changed_by_hand, monitor_status};

/// The task of prtracker's deployments. A lost record is found again among these only, never
/// among another tool's deployments of the same commit and environment (a CD pipeline's, Argo
/// CD notifications', argocd-commenter's), which are not ours to post statuses on.
pub const DEPLOYMENT_TASK: &str = "deploy:prtracker";

/// What one cluster's deployment should say now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDeployment {
    pub cluster: String,
    pub environment: String,
    pub state: &'static str,
    pub description: String,
}

/// Cluster names mapped to GitHub environments, and which environments are production.
#[derive(Debug, Clone, Default)]
pub struct Environments {
    /// `cluster → environment`; a cluster not named is its own environment.
    pub names: BTreeMap<String, String>,
    /// Environments GitHub is told are production.
    pub production: BTreeSet<String>,
}

impl Environments {
    pub fn of(&self, cluster: &str) -> String {
        self.names
            .get(cluster)
            .cloned()
            .unwrap_or_else(|| cluster.to_owned())
    }
}

/// The deployments a merged PR's clusters should show, from their monitors; pure.
pub fn desired(
    clusters: &[String],
    monitors: &[DriftMonitor],
    environments: &Environments,
) -> Vec<DesiredDeployment> {
    clusters
        .iter()
        .map(|cluster| {
            let status = monitor_status(monitors, cluster);
            let (state, description) = state_of(cluster, status);
            DesiredDeployment {
                cluster: cluster.clone(),
                environment: environments.of(cluster),
                state,
                description: bounded_description(description),
            }
        })
        .collect()
}

fn state_of(cluster: &str, status: Option<&DriftMonitorStatus>) -> (&'static str, String) {
    match status.and_then(|s| s.phase) {
        None | Some(DriftPhase::Pending | DriftPhase::Waiting) => (
            "in_progress",
            format!("waiting for the change to be live in {cluster}"),
        ),
        Some(DriftPhase::InSync) => ("success", format!("live in {cluster}")),
        Some(DriftPhase::Drifted) => ("failure", changed_by_hand(cluster, status)),
        Some(DriftPhase::Superseded) => ("inactive", "superseded by a later change".to_owned()),
        Some(DriftPhase::NothingToDeploy) => (
            "inactive",
            "the merge changed no manifest to deploy".to_owned(),
        ),
        Some(DriftPhase::Error) => ("error", format!("cannot be checked in {cluster}")),
    }
}

/// Writes the deployments through a GitHub client.
pub struct DeploymentKeeper {
    github: Arc<dyn Deployments>,
    environments: Environments,
}

impl DeploymentKeeper {
    pub fn new(github: Arc<dyn Deployments>, environments: Environments) -> Self {
        Self {
            github,
            environments,
        }
    }

    pub fn environments(&self) -> &Environments {
        &self.environments
    }

    /// Brings each cluster's deployment of `commit` to what `desired` says; returns the records
    /// to keep. Stops at the first failure, keeping what was done before it.
    pub async fn keep(
        &self,
        repo: &Repository,
        number: u64,
        commit: &str,
        desired: &[DesiredDeployment],
        recorded: &[DeploymentRecord],
    ) -> (Vec<DeploymentRecord>, Option<GitHubError>) {
        let mut kept = Vec::with_capacity(desired.len());
        for want in desired {
            let record = recorded
                .iter()
                .find(|r| r.cluster == want.cluster && r.environment == want.environment);
            match self.keep_one(repo, number, commit, want, record).await {
                Ok(record) => kept.push(record),
                Err(error) => {
                    kept.extend(record.cloned());
                    // The clusters not reached keep their records too.
                    for rest in desired.iter().skip(kept.len()) {
                        kept.extend(recorded.iter().find(|r| r.cluster == rest.cluster).cloned());
                    }
                    return (kept, Some(error));
                }
            }
        }
        (kept, None)
    }

    async fn keep_one(
        &self,
        repo: &Repository,
        number: u64,
        commit: &str,
        want: &DesiredDeployment,
        record: Option<&DeploymentRecord>,
    ) -> Result<DeploymentRecord, GitHubError> {
        if let Some(record) =
            record.filter(|r| r.state == want.state && r.description == want.description)
        {
            return Ok(record.clone());
        }
        let record_of = |id| DeploymentRecord {
            cluster: want.cluster.clone(),
            environment: want.environment.clone(),
            id,
            state: want.state.to_owned(),
            description: want.description.clone(),
        };
        let id = match record {
            Some(record) => record.id,
            None => match self.find_or_create(repo, number, commit, want).await? {
                Found::Created(id) => id,
                // The record lost: the newest status GitHub shows decides, and an equal one
                // is not posted again (a read, where a post would be a write).
                Found::Existing(id) => {
                    let shown = self.github.latest_deployment_status(repo, id).await?;
                    if shown.is_some_and(|s| {
                        s.state == want.state && s.description.as_deref() == Some(&want.description)
                    }) {
                        return Ok(record_of(id));
                    }
                    id
                }
            },
        };
        self.github
            .create_deployment_status(
                repo,
                id,
                &NewDeploymentStatus {
                    state: want.state,
                    description: &want.description,
                    auto_inactive: false,
                },
            )
            .await?;
        info!(%repo, number, cluster = %want.cluster, deployment = id, state = want.state, "deployment status posted");
        Ok(record_of(id))
    }

    async fn find_or_create(
        &self,
        repo: &Repository,
        number: u64,
        commit: &str,
        want: &DesiredDeployment,
    ) -> Result<Found, GitHubError> {
        let existing = self
            .github
            .list_deployments(repo, commit, &want.environment, DEPLOYMENT_TASK)
            .await?;
        if let Some(found) = existing.first() {
            return Ok(Found::Existing(found.id));
        }
        let description = format!("PR #{number} in {}", want.cluster);
        let created = self
            .github
            .create_deployment(
                repo,
                &NewDeployment {
                    git_ref: commit,
                    task: DEPLOYMENT_TASK,
                    environment: &want.environment,
                    description: &description,
                    production_environment: self
                        .environments
                        .production
                        .contains(&want.environment),
                    auto_merge: false,
                    required_contexts: Vec::new(),
                    transient_environment: false,
                },
            )
            .await?;
        info!(%repo, number, cluster = %want.cluster, deployment = created.id, "deployment created");
        Ok(Found::Created(created.id))
    }
}

/// A cluster's deployment, found by listing or made.
enum Found {
    Existing(u64),
    Created(u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use prtracker_api::{DriftMonitorSpec, DriftedResource, FieldDrift, ManifestSource};

    fn monitor(cluster: &str, status: DriftMonitorStatus) -> DriftMonitor {
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
        monitor.status = Some(status);
        monitor
    }

    fn phase(phase: DriftPhase) -> DriftMonitorStatus {
        DriftMonitorStatus {
            phase: Some(phase),
            ..Default::default()
        }
    }

    #[test]
    fn each_verdict_has_its_state_and_a_drift_names_the_field() {
        let mut drifted = phase(DriftPhase::Drifted);
        drifted.drifted_resources = vec![DriftedResource {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
            missing: false,
            fields: vec![FieldDrift {
                path: "spec.replicas".into(),
                desired: Some("3".into()),
                live: Some("5".into()),
            }],
            ..Default::default()
        }];
        let clusters: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        let monitors = [
            monitor("a", phase(DriftPhase::InSync)),
            monitor("b", drifted),
            monitor("c", phase(DriftPhase::Superseded)),
            monitor("d", phase(DriftPhase::Waiting)),
        ];
        let mut environments = Environments::default();
        environments.names.insert("a".into(), "production".into());
        let desired = desired(&clusters, &monitors, &environments);
        let got: Vec<(&str, &str, &str)> = desired
            .iter()
            .map(|d| (d.environment.as_str(), d.state, d.description.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("production", "success", "live in a"),
                (
                    "b",
                    "failure",
                    "changed by hand in b: Deployment web spec.replicas"
                ),
                ("c", "inactive", "superseded by a later change"),
                ("d", "in_progress", "waiting for the change to be live in d"),
                ("e", "in_progress", "waiting for the change to be live in e"),
            ]
        );
    }

    #[test]
    fn descriptions_stay_within_githubs_140_characters() {
        use prtracker_github::MAX_DEPLOYMENT_DESCRIPTION;
        let long = bounded_description("é".repeat(300));
        assert_eq!(long.chars().count(), MAX_DEPLOYMENT_DESCRIPTION);
        assert!(long.ends_with('…'));
        assert_eq!(bounded_description("short".into()), "short");
    }
}
