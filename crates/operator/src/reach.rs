//! Which targets a merged PR's change reaches, answered by the drift checker: the change is
//! computed as the target's monitor would compute it at its first check (rendered at the merge
//! commit and at its first parent, ignore rules applied), so that check then finds both renders
//! in the checker's cache and reads nothing again.

use async_trait::async_trait;
use prtracker_api::DriftMonitor;
use prtracker_drift::DriftChecker;
use prtracker_sync::ChangeReach;

/// The coordinator's [`ChangeReach`], sharing the monitor controller's checker and its caches.
pub struct ReachByChange(pub DriftChecker);

#[async_trait]
impl ChangeReach for ReachByChange {
    async fn reaches(&self, monitor: &DriftMonitor) -> Result<bool, String> {
        match self.0.change(monitor).await {
            Ok((change, _parent)) => Ok(!change.objects.is_empty()),
            // A commit whose manifests never render or parse is reached: its monitor says why.
            Err(error) if error.is_final() => Ok(true),
            Err(error) => Err(error.to_string()),
        }
    }
}
