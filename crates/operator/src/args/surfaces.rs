//! The flags of what a merged PR shows on GitHub beyond its label (issue #16): each surface off
//! by default, so turning prtracker on costs nothing it was not asked for.

use anyhow::bail;
use clap::Args;
use prtracker_github::GitHubAuth;
use prtracker_sync::Environments;

use super::values;

#[derive(Debug, Clone, Default, Args)]
pub struct SurfaceArgs {
    /// Keep one comment on each merged PR, edited in place, saying in which clusters its change is
    /// live and which fields were changed by hand. Off by default: no comment is read or written.
    #[arg(long, env = "PRTRACKER_PR_COMMENT")]
    pub pr_comment: bool,

    /// Make a GitHub Deployment of each merged PR's commit per cluster, whose status follows the
    /// cluster's monitor (in_progress, success, failure when changed by hand, inactive once
    /// superseded). Off by default.
    #[arg(long, env = "PRTRACKER_GITHUB_DEPLOYMENTS")]
    pub github_deployments: bool,

    /// Post a commit status per cluster on each merged PR's merge commit (context
    /// prtracker/CLUSTER), following the cluster's monitor. Off by default.
    #[arg(long, env = "PRTRACKER_COMMIT_STATUSES")]
    pub commit_statuses: bool,

    /// The GitHub environment of a cluster, as CLUSTER=ENVIRONMENT (repeatable, or
    /// comma-separated); a cluster not named is its own environment.
    #[arg(
        long = "deployment-environment",
        env = "PRTRACKER_DEPLOYMENT_ENVIRONMENTS",
        value_delimiter = ','
    )]
    pub deployment_environments: Vec<String>,

    /// Environments GitHub is told are production (repeatable, or comma-separated).
    #[arg(
        long = "production-environment",
        env = "PRTRACKER_PRODUCTION_ENVIRONMENTS",
        value_delimiter = ','
    )]
    pub production_environments: Vec<String>,

    /// As a GitHub App, keep a check run per cluster on each merged PR's merge commit (named
    /// prtracker/CLUSTER), with an annotation per object changed by hand. Off by default; a
    /// token cannot write check runs (use --commit-statuses).
    #[arg(long, env = "PRTRACKER_CHECK_RUNS")]
    pub check_runs: bool,
}

/// The surfaces turned on, validated.
#[derive(Debug, Clone, Default)]
pub struct SurfaceConfig {
    pub pr_comment: bool,
    pub github_deployments: bool,
    pub deployment_environments: Environments,
    pub commit_statuses: bool,
    pub check_runs: bool,
}

impl SurfaceArgs {
    pub fn validate(&self, auth: &GitHubAuth) -> anyhow::Result<SurfaceConfig> {
        if self.check_runs && !matches!(auth, GitHubAuth::App { .. }) {
            bail!(
                "--check-runs: GitHub lets only a GitHub App write check runs; authenticate with \
                 --github-app-id and --github-app-private-key-file, or use --commit-statuses with a token"
            );
        }
        Ok(SurfaceConfig {
            pr_comment: self.pr_comment,
            github_deployments: self.github_deployments,
            deployment_environments: values::environments(
                &self.deployment_environments,
                &self.production_environments,
            )?,
            commit_statuses: self.commit_statuses,
            check_runs: self.check_runs,
        })
    }
}
