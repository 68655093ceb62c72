//! The label manager (the seed's `LabelManager`): reads a PR's state from its labels, and puts a
//! state on a PR by changing its labels, never touching any other label.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use prtracker_api::Repository;
use prtracker_domain::{
    LabelDiff, LabelPrefix, PrState, StateReading, current_state, label_diff, same_label,
};
use prtracker_github::{GitHubApi, GitHubError, Label, NewLabel, PullRequest};
use tracing::{debug, info};

use crate::result::SyncResult;

/// The seed's `LabelManager`.
#[async_trait]
pub trait LabelManager: Send + Sync {
    /// The PR's state as its labels and facts give it (SPEC rules 1–5); pure.
    fn current_state(&self, pr: &PullRequest) -> StateReading;

    /// Makes the PR's labels say `state` and reports what changed.
    async fn sync_to_github(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<SyncResult, GitHubError>;

    /// Applies `state` to the PR: its label added (its definition created first if the repository
    /// lacks it), then every other state label removed. Returns the change made.
    async fn apply_state(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<LabelDiff, GitHubError>;
}

/// The label manager over a GitHub client.
pub struct GitHubLabelManager {
    github: Arc<dyn GitHubApi>,
    prefix: LabelPrefix,
    /// Repositories known to hold every state label's definition, so they are listed once, not on
    /// every write.
    defined: Mutex<HashSet<Repository>>,
}

impl GitHubLabelManager {
    pub fn new(github: Arc<dyn GitHubApi>, prefix: LabelPrefix) -> Self {
        Self {
            github,
            prefix,
            defined: Mutex::new(HashSet::new()),
        }
    }

    pub fn prefix(&self) -> &LabelPrefix {
        &self.prefix
    }

    /// Creates, with the project's colour and description, every state label the repository lacks.
    /// GitHub would otherwise create a label on first use, grey and undescribed.
    pub async fn ensure_label_definitions(&self, repo: &Repository) -> Result<(), GitHubError> {
        if self
            .defined
            .lock()
            .map(|d| d.contains(repo))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let existing = self.github.list_repo_labels(repo).await?;
        for state in PrState::ALL {
            let name = self.prefix.label_for(state);
            if existing.iter().any(|label| same_label(&label.name, &name)) {
                continue;
            }
            let definition = NewLabel {
                name: name.clone(),
                color: state.color().to_owned(),
                description: Some(state.description().to_owned()),
            };
            match self.github.create_label(repo, &definition).await {
                // Someone (another replica, a person) made it between our list and our create.
                Ok(_) | Err(GitHubError::LabelAlreadyExists { .. }) => {
                    info!(%repo, label = %name, "created label definition")
                }
                Err(error) => return Err(error),
            }
        }
        if let Ok(mut defined) = self.defined.lock() {
            defined.insert(repo.clone());
        }
        Ok(())
    }

    /// Forgets what is known of a repository's label definitions (someone may have deleted one).
    pub fn forget_definitions(&self, repo: &Repository) {
        if let Ok(mut defined) = self.defined.lock() {
            defined.remove(repo);
        }
    }
}

#[async_trait]
impl LabelManager for GitHubLabelManager {
    fn current_state(&self, pr: &PullRequest) -> StateReading {
        current_state(&pr.label_names(), pr.facts(), &self.prefix)
    }

    async fn sync_to_github(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<SyncResult, GitHubError> {
        let initial = self.current_state(pr).state;
        let diff = self.apply_state(repo, pr, state).await?;
        let mut result = SyncResult::unchanged(initial);
        result.final_state = state;
        result.labels_added = diff.add;
        result.labels_removed = diff.remove;
        Ok(result)
    }

    async fn apply_state(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<LabelDiff, GitHubError> {
        let diff = label_diff(&pr.label_names(), state, &self.prefix);
        if diff.is_empty() {
            return Ok(diff);
        }
        if !diff.add.is_empty() {
            self.ensure_label_definitions(repo).await?;
        }
        // Add first, then remove: an observer sees the new label beside the old one for one round
        // trip, never a PR without a state label. Single-label calls, never a replace of the whole
        // set, so a label a person adds meanwhile is never clobbered.
        for label in &diff.add {
            let now_on_pr = self.github.add_label(repo, pr.number, label).await?;
            debug!(%repo, number = pr.number, %label, labels = ?names(&now_on_pr), "added state label");
        }
        for label in &diff.remove {
            match self.github.remove_label(repo, pr.number, label).await {
                // Already gone (a person, or a retried request that had succeeded): done.
                Ok(_) | Err(GitHubError::LabelNotOnIssue { .. }) => {}
                Err(error) => return Err(error),
            }
            debug!(%repo, number = pr.number, %label, "removed state label");
        }
        info!(%repo, number = pr.number, state = %state, added = ?diff.add, removed = ?diff.remove, "applied state");
        Ok(diff)
    }
}

fn names(labels: &[Label]) -> Vec<&str> {
    labels.iter().map(|l| l.name.as_str()).collect()
}
