//! The label manager (the seed's `LabelManager`): reads a PR's state from its labels, and puts a
//! state on a PR by changing its labels, never touching any other label.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use prtracker_domain::{
    LabelDiff, LabelPrefix, PrState, Repository, StateReading, current_state, label_diff,
    same_label,
};
use prtracker_github::{GitHubApi, GitHubError, Label, NewLabel, PullRequest};
use tracing::{debug, info, warn};

use crate::result::SyncResult;

/// What a guarded label write did.
#[derive(Debug)]
pub enum Written {
    /// Every write of the change was made.
    Done(SyncResult),
    /// Stopped part-way because the PR changed under it: a newer change was heard of, a label to
    /// remove was already gone, or a removal left the PR without a state label (then the state its
    /// facts give was put back first). What was done is in the result; read the PR again.
    Interrupted(SyncResult),
    /// GitHub refused a request after an earlier one of the change was made: what was done is in
    /// the result (a label that went on is on the PR, whatever the error), the error is the
    /// caller's to act on. An error before anything was written is an `Err`.
    Failed(SyncResult, GitHubError),
}

/// An error of a write: `Err` while nothing was written, else [`Written::Failed`] with what was.
fn failed(result: SyncResult, error: GitHubError) -> Result<Written, GitHubError> {
    if result.labels_added.is_empty() && result.labels_removed.is_empty() {
        Err(error)
    } else {
        Ok(Written::Failed(result, error))
    }
}

/// One label write, about to leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelWrite {
    Add(String),
    Remove(String),
}

/// Whether the read a write is based on is still the newest the caller knows of, asked at the
/// last moment before `write` leaves. Told which write it is, the caller can know its webhook
/// when it comes back as the operator's own, not a change someone made.
pub type StillFresh<'a> = &'a (dyn Fn(&LabelWrite) -> bool + Send + Sync);

/// The seed's `LabelManager`.
#[async_trait]
pub trait LabelManager: Send + Sync {
    /// The prefix of the state labels it reads and writes.
    fn prefix(&self) -> &LabelPrefix;

    /// The PR's state as its labels and facts give it (SPEC rules 1–5); pure.
    fn current_state(&self, pr: &PullRequest) -> StateReading {
        current_state(&pr.label_names(), pr.facts(), self.prefix())
    }

    /// Makes the PR's labels say `state`, and reports what changed, with the errors met on the way
    /// that did not stop it (a label definition GitHub would not let it create).
    async fn sync_to_github(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<SyncResult, GitHubError> {
        match self.write_state(repo, pr, state, &|_| true).await? {
            Written::Done(result) | Written::Interrupted(result) => Ok(result),
            Written::Failed(_, error) => Err(error),
        }
    }

    /// [`LabelManager::sync_to_github`], asking `still_fresh` before every write: a write is never
    /// based on a read older than the newest change the caller has heard of.
    async fn write_state(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
        still_fresh: StillFresh<'_>,
    ) -> Result<Written, GitHubError>;

    /// Applies `state` to the PR: its label added, then every other state label removed. Returns
    /// the change made.
    async fn apply_state(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
    ) -> Result<LabelDiff, GitHubError> {
        let result = self.sync_to_github(repo, pr, state).await?;
        Ok(LabelDiff {
            add: result.labels_added,
            remove: result.labels_removed,
        })
    }
}

/// The label manager over a GitHub client.
pub struct GitHubLabelManager {
    github: Arc<dyn GitHubApi>,
    prefix: LabelPrefix,
    /// Repositories known to hold every state label's definition, so they are listed once, not on
    /// every write.
    defined: Mutex<HashSet<Repository>>,
    /// One definer per repository at a time: fifty new PRs written at once make each missing
    /// definition once, not fifty times (each a content-creating request GitHub limits).
    definers: Mutex<HashMap<Repository, Arc<tokio::sync::Mutex<()>>>>,
}

impl GitHubLabelManager {
    pub fn new(github: Arc<dyn GitHubApi>, prefix: LabelPrefix) -> Self {
        Self {
            github,
            prefix,
            defined: Mutex::new(HashSet::new()),
            definers: Mutex::default(),
        }
    }

    fn is_defined(&self, repo: &Repository) -> bool {
        self.defined
            .lock()
            .map(|d| d.contains(repo))
            .unwrap_or(false)
    }

    /// Creates, with the project's colour and description, every state label the repository lacks.
    /// GitHub would otherwise create a label on first use, grey and undescribed.
    pub async fn ensure_label_definitions(&self, repo: &Repository) -> Result<(), GitHubError> {
        if self.is_defined(repo) {
            return Ok(());
        }
        let definer = {
            let mut definers = self.definers.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(definers.entry(repo.clone()).or_default())
        };
        let _one_at_a_time = definer.lock().await;
        // The definer before this one may have made them all.
        if self.is_defined(repo) {
            return Ok(());
        }
        let existing = self.github.list_repo_labels(repo).await?;
        for state in PrState::ALL {
            let name = self.prefix.label_for(state);
            if existing.iter().any(|label| same_label(&label.name, &name)) {
                continue;
            }
            match self
                .github
                .create_label(repo, &definition(&self.prefix, state))
                .await
            {
                Ok(_) => info!(%repo, label = %name, "created label definition"),
                // Someone (another replica, a person) made it between our list and our create.
                Err(GitHubError::LabelAlreadyExists { .. }) => {
                    debug!(%repo, label = %name, "label definition already there")
                }
                Err(error) => return Err(error),
            }
        }
        if let Ok(mut defined) = self.defined.lock() {
            defined.insert(repo.clone());
        }
        Ok(())
    }

    /// Forgets what is known of a repository's label definitions (someone deleted one).
    pub fn forget_definitions(&self, repo: &Repository) {
        if let Ok(mut defined) = self.defined.lock() {
            defined.remove(repo);
        }
    }

    /// A label GitHub made on first use, because its definition was gone although this manager
    /// thought it known: forget what it knew, and give the label its colour and description back.
    async fn repair_definition(&self, repo: &Repository, added: &Label, state: PrState) {
        self.forget_definitions(repo);
        let wanted = definition(&self.prefix, state);
        match self.github.update_label(repo, &added.name, &wanted).await {
            Ok(_) => {
                info!(%repo, label = %added.name, "the label's definition had been deleted; restored it")
            }
            Err(error) => {
                warn!(%repo, label = %added.name, %error, "could not restore the label's definition")
            }
        }
    }
}

/// The definition prtracker gives a state's label.
fn definition(prefix: &LabelPrefix, state: PrState) -> NewLabel {
    NewLabel {
        name: prefix.label_for(state),
        color: state.color().to_owned(),
        description: Some(state.description().to_owned()),
    }
}

/// GitHub's colour for a label it creates on first use, without a definition.
const GITHUB_DEFAULT_COLOR: &str = "ededed";

/// Whether a label as GitHub returned it after an add was made by GitHub itself on first use.
fn made_on_first_use(label: &Label) -> bool {
    label.color.eq_ignore_ascii_case(GITHUB_DEFAULT_COLOR) && label.description.is_none()
}

/// Definition failures that do not stop a label write: GitHub adds the label anyway, grey.
fn definition_failure_is_tolerable(error: &GitHubError) -> bool {
    matches!(
        error,
        GitHubError::Forbidden { .. } | GitHubError::Validation { .. }
    )
}

#[async_trait]
impl LabelManager for GitHubLabelManager {
    fn prefix(&self) -> &LabelPrefix {
        &self.prefix
    }

    async fn write_state(
        &self,
        repo: &Repository,
        pr: &PullRequest,
        state: PrState,
        still_fresh: StillFresh<'_>,
    ) -> Result<Written, GitHubError> {
        let mut result = SyncResult::unchanged(self.current_state(pr).state);
        result.final_state = state;
        let diff = label_diff(&pr.label_names(), state, &self.prefix);
        if diff.is_empty() {
            return Ok(Written::Done(result));
        }
        if !diff.add.is_empty()
            && let Err(error) = self.ensure_label_definitions(repo).await
        {
            if !definition_failure_is_tolerable(&error) {
                return Err(error);
            }
            warn!(%repo, %error, "could not create the state labels' definitions");
            result.errors.push(format!(
                "the state labels' definitions could not be created in {repo} ({error}); GitHub \
                 creates a missing label grey and without a description"
            ));
        }
        // Add first, then remove: an observer sees the new label beside the old one for one round
        // trip, never a PR without a state label. Single-label calls, never a replace of the whole
        // set, so a label a person adds meanwhile is never clobbered.
        for label in &diff.add {
            // Asked again at the last moment before the request leaves, after its wait for a
            // turn: a change heard of meanwhile stops it.
            let write = LabelWrite::Add(label.clone());
            let now_on_pr = match self
                .github
                .add_label_if_fresh(repo, pr.number, label, &|| still_fresh(&write))
                .await
            {
                Ok(now_on_pr) => now_on_pr,
                Err(GitHubError::Superseded { .. }) => return Ok(Written::Interrupted(result)),
                Err(error) => return failed(result, error),
            };
            debug!(%repo, number = pr.number, %label, labels = ?names(&now_on_pr), "added state label");
            result.labels_added.push(label.clone());
            if let Some(added) = now_on_pr.iter().find(|l| same_label(&l.name, label))
                && made_on_first_use(added)
            {
                self.repair_definition(repo, added, state).await;
            }
        }
        for label in &diff.remove {
            // A removal on the strength of a stale read could take away the label a person has
            // just chosen: it waits for a fresh read instead.
            let write = LabelWrite::Remove(label.clone());
            let remaining = match self
                .github
                .remove_label_if_fresh(repo, pr.number, label, &|| still_fresh(&write))
                .await
            {
                Ok(remaining) => remaining,
                // Already gone: someone else is changing the labels. Read them again.
                Err(GitHubError::LabelNotOnIssue { .. } | GitHubError::Superseded { .. }) => {
                    return Ok(Written::Interrupted(result));
                }
                Err(error) => return failed(result, error),
            };
            debug!(%repo, number = pr.number, %label, "removed state label");
            result.labels_removed.push(label.clone());
            if self.prefix.state_labels(&names(&remaining)).is_empty() {
                // Someone removed the label this write was keeping, so this removal was decided
                // on a view that no longer holds, and left the PR with none: undo it (the label
                // was theirs a moment ago), or, if the facts no longer allow it, put back what
                // the facts imply; never a state read before their change.
                let undo = self
                    .prefix
                    .parse(label)
                    .filter(|state| state.is_consistent_with(pr.facts()))
                    .map_or_else(
                        || self.prefix.label_for(PrState::from_facts(pr.facts())),
                        |_| label.clone(),
                    );
                warn!(%repo, number = pr.number, removed = %label, put_back = %undo,
                      "a concurrent change left the PR without a state label; putting back the one just removed");
                if let Err(error) = self.github.add_label(repo, pr.number, &undo).await {
                    return failed(result, error);
                }
                result.labels_added.push(undo);
                return Ok(Written::Interrupted(result));
            }
        }
        info!(%repo, number = pr.number, state = %state, added = ?diff.add, removed = ?diff.remove, "applied state");
        Ok(Written::Done(result))
    }
}

fn names(labels: &[Label]) -> Vec<&str> {
    labels.iter().map(|l| l.name.as_str()).collect()
}
