//! GitHub Deployments and their statuses: where a commit is deployed, as GitHub shows it on the
//! PR's timeline and in the repository's environments.

use serde::{Deserialize, Serialize};

use super::Weigh;

/// A deployment, as GitHub returns it (the members prtracker reads).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Deployment {
    pub id: u64,
    #[serde(default)]
    pub sha: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub task: String,
}

impl Weigh for Deployment {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.sha.len() + self.environment.len() + self.task.len()
    }
}

/// A deployment to create: GitHub's members, with what prtracker always sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDeployment<'a> {
    /// The commit: a deployment of a merge commit, never of a branch that moves on.
    #[serde(rename = "ref")]
    pub git_ref: &'a str,
    /// What the deployment is for (GitHub's default is `deploy`): lets its maker list its own.
    pub task: &'a str,
    pub environment: &'a str,
    pub description: &'a str,
    pub production_environment: bool,
    /// Never merge the default branch into the ref first: the commit is what was merged.
    pub auto_merge: bool,
    /// No commit status must pass first: the deployment reports, it does not gate.
    pub required_contexts: Vec<String>,
    pub transient_environment: bool,
}

/// One status of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeploymentStatus {
    pub id: u64,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A status to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDeploymentStatus<'a> {
    pub state: &'a str,
    pub description: &'a str,
    /// GitHub would otherwise mark the environment's earlier deployments inactive on `success`;
    /// prtracker says `inactive` itself, when a later change supersedes a PR's.
    pub auto_inactive: bool,
}
