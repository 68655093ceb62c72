//! The control API for what GitHub shows on a commit besides its files: deployments with their
//! statuses, commit statuses and check runs, read without touching any budget (for tests).

use crate::control::{Control, split};
use crate::deployments::{Deployment, DeploymentFilter};
use crate::error::ApiError;

impl Control {
    /// The deployments of `repo`, newest first, each with its statuses oldest first.
    pub fn deployments(&self, repo: &str) -> Result<Vec<Deployment>, ApiError> {
        let (o, n) = split(repo)?;
        let g = self.shared.lock();
        let list = g.world.deployments(o, n, &DeploymentFilter::default())?;
        Ok(list.into_iter().cloned().collect())
    }
}
