//! The control API for what GitHub shows on a commit besides its files: deployments with their
//! statuses, commit statuses and check runs, read without touching any budget (for tests).

use crate::checks::CheckRun;
use crate::control::{Control, split};
use crate::deployments::{Deployment, DeploymentFilter};
use crate::error::ApiError;
use crate::statuses::{CommitStatus, combined_state};

impl Control {
    /// The deployments of `repo`, newest first, each with its statuses oldest first.
    pub fn deployments(&self, repo: &str) -> Result<Vec<Deployment>, ApiError> {
        let (o, n) = split(repo)?;
        let g = self.shared.lock();
        let list = g.world.deployments(o, n, &DeploymentFilter::default())?;
        Ok(list.into_iter().cloned().collect())
    }
}

impl Control {
    /// The statuses of the commit `reference` names in `repo`, newest first (none for a ref
    /// that names no commit).
    pub fn commit_statuses(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Vec<CommitStatus>, ApiError> {
        let (o, n) = split(repo)?;
        let g = self.shared.lock();
        let (_, list) = g.world.commit_statuses(o, n, reference)?;
        Ok(list.into_iter().cloned().collect())
    }

    /// The combined state of the commit `reference` names (`failure`, `pending`, `success`)
    /// and the newest status of each context.
    pub fn combined_status(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<(String, Vec<CommitStatus>), ApiError> {
        let (o, n) = split(repo)?;
        let g = self.shared.lock();
        let (_, _, latest) = g.world.latest_statuses(o, n, reference)?;
        let state = combined_state(&latest).to_string();
        Ok((state, latest.into_iter().cloned().collect()))
    }
}

impl Control {
    /// Every check run on the commit `reference` names in `repo`, newest first.
    pub fn check_runs(&self, repo: &str, reference: &str) -> Result<Vec<CheckRun>, ApiError> {
        let (o, n) = split(repo)?;
        let g = self.shared.lock();
        let (_, list) = g.world.check_runs_for_ref(o, n, reference, None, false)?;
        Ok(list.into_iter().cloned().collect())
    }

    /// `actor` re-requests check run `id`, as with GitHub's "Re-run" button: a `check_run`
    /// `rerequested` webhook (the run itself is unchanged until its App updates it).
    pub fn rerequest_check_run(&self, repo: &str, id: u64, actor: &str) -> Result<(), ApiError> {
        let (o, n) = split(repo)?;
        self.shared
            .with_world(|w| w.rerequest_check_run(o, n, id, actor))
    }
}
