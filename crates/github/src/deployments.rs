//! GitHub Deployments: one per cluster for a merged PR's commit, and the statuses that follow its
//! monitors (issue #16 part 1). A trait of its own, like the comments'.

use async_trait::async_trait;
use prtracker_domain::Repository;
use tracing::instrument;

use crate::{
    endpoint::{self, Endpoint},
    error::GitHubError,
    models::{Deployment, DeploymentStatus, NewDeployment, NewDeploymentStatus},
    octo::{OctocrabGitHub, decode_json},
    transport::{Call, JSON, status_error},
};

/// GitHub cuts a deployment status's description at 140 characters.
pub const MAX_DEPLOYMENT_DESCRIPTION: usize = 140;

/// A repository's deployments.
#[async_trait]
pub trait Deployments: Send + Sync {
    /// The deployments of commit `sha` to `environment` for `task`, newest first (all pages).
    async fn list_deployments(
        &self,
        repo: &Repository,
        sha: &str,
        environment: &str,
        task: &str,
    ) -> Result<Vec<Deployment>, GitHubError>;

    async fn create_deployment(
        &self,
        repo: &Repository,
        deployment: &NewDeployment<'_>,
    ) -> Result<Deployment, GitHubError>;

    async fn create_deployment_status(
        &self,
        repo: &Repository,
        id: u64,
        status: &NewDeploymentStatus<'_>,
    ) -> Result<DeploymentStatus, GitHubError>;

    /// The newest status of deployment `id`, if it has one (GitHub lists newest first).
    async fn latest_deployment_status(
        &self,
        repo: &Repository,
        id: u64,
    ) -> Result<Option<DeploymentStatus>, GitHubError>;
}

#[async_trait]
impl Deployments for OctocrabGitHub {
    #[instrument(skip(self), fields(%repo))]
    async fn list_deployments(
        &self,
        repo: &Repository,
        sha: &str,
        environment: &str,
        task: &str,
    ) -> Result<Vec<Deployment>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let first =
            endpoint::deployments_path(repo, sha, environment, task, self.config().per_page);
        self.get_all_pages(
            &octo,
            Endpoint::ListDeployments,
            first,
            &format!("repository {repo}"),
        )
        .await
    }

    #[instrument(skip(self, deployment), fields(%repo, environment = deployment.environment))]
    async fn create_deployment(
        &self,
        repo: &Repository,
        deployment: &NewDeployment<'_>,
    ) -> Result<Deployment, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::CreateDeployment,
            path: endpoint::create_deployment_path(repo),
            body: Some(
                serde_json::to_value(deployment).map_err(|e| GitHubError::Config(e.to_string()))?,
            ),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::CreateDeployment,
                &reply,
                &format!("repository {repo}"),
            )
        })
    }

    #[instrument(skip(self), fields(%repo))]
    async fn latest_deployment_status(
        &self,
        repo: &Repository,
        id: u64,
    ) -> Result<Option<DeploymentStatus>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::ListDeploymentStatuses,
            path: format!(
                "{}?per_page=1",
                endpoint::deployment_statuses_path(repo, id)
            ),
            body: None,
            accept: JSON,
        };
        let reply = self.transport().send(&octo, &call, None).await?;
        if !reply.status.is_success() {
            return Err(status_error(
                Endpoint::ListDeploymentStatuses,
                &reply,
                &format!("deployment {id} in {repo}"),
            ));
        }
        let statuses: Vec<DeploymentStatus> =
            decode_json(Endpoint::ListDeploymentStatuses, &reply.body)?;
        Ok(statuses.into_iter().next())
    }

    #[instrument(skip(self, status), fields(%repo, state = status.state))]
    async fn create_deployment_status(
        &self,
        repo: &Repository,
        id: u64,
        status: &NewDeploymentStatus<'_>,
    ) -> Result<DeploymentStatus, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::CreateDeploymentStatus,
            path: endpoint::deployment_statuses_path(repo, id),
            body: Some(
                serde_json::to_value(status).map_err(|e| GitHubError::Config(e.to_string()))?,
            ),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::CreateDeploymentStatus,
                &reply,
                &format!("deployment {id} in {repo}"),
            )
        })
    }
}
