//! `SyncResult`: what one synchronisation did, with the seed's fields.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use prtracker_api::SyncResultStatus;
use prtracker_domain::PrState;

/// At most this many errors are kept in a tracker's status; the rest are counted in the last one.
const MAX_STATUS_ERRORS: usize = 10;

/// The outcome of one synchronisation (the seed's `SyncResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    /// The state before the sync, as GitHub's labels and facts gave it.
    pub initial_state: PrState,
    /// The state after the sync.
    pub final_state: PrState,
    /// Labels added to the PR, as written.
    pub labels_added: Vec<String>,
    /// Labels removed from the PR, as they were written on it.
    pub labels_removed: Vec<String>,
    /// Errors met on the way that did not stop the sync, each a sentence a person can act on.
    pub errors: Vec<String>,
    /// When the sync completed.
    pub sync_time: Timestamp,
}

impl SyncResult {
    /// A sync that found `state` and changed nothing.
    pub fn unchanged(state: PrState) -> Self {
        Self {
            initial_state: state,
            final_state: state,
            labels_added: Vec::new(),
            labels_removed: Vec::new(),
            errors: Vec::new(),
            sync_time: Timestamp::now(),
        }
    }

    /// Whether the sync wrote anything to GitHub.
    pub fn changed_labels(&self) -> bool {
        !self.labels_added.is_empty() || !self.labels_removed.is_empty()
    }

    /// The form kept in the tracker's status (errors bounded).
    pub fn to_status(&self) -> SyncResultStatus {
        let mut errors: Vec<String> = self
            .errors
            .iter()
            .take(MAX_STATUS_ERRORS)
            .cloned()
            .collect();
        if self.errors.len() > MAX_STATUS_ERRORS
            && let Some(last) = errors.last_mut()
        {
            *last = format!(
                "{last} (and {} more)",
                self.errors.len() - MAX_STATUS_ERRORS
            );
        }
        SyncResultStatus {
            initial_state: Some(self.initial_state),
            final_state: Some(self.final_state),
            labels_added: self.labels_added.clone(),
            labels_removed: self.labels_removed.clone(),
            errors,
            sync_time: Some(Time(self.sync_time)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keeps_at_most_ten_errors_and_says_how_many_more() {
        let mut result = SyncResult::unchanged(PrState::Open);
        result.errors = (1..=12).map(|i| format!("error {i}")).collect();
        let status = result.to_status();
        assert_eq!(status.errors.len(), 10);
        assert_eq!(status.errors[9], "error 10 (and 2 more)");
        assert_eq!(status.initial_state, Some(PrState::Open));
    }

    #[test]
    fn unchanged_changes_no_labels() {
        assert!(!SyncResult::unchanged(PrState::Merged).changed_labels());
    }
}
