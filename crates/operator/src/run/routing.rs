//! Webhook deliveries into reconciles. Every replica serves webhooks. The leader finds the PR's
//! trackers in its cache and triggers them; a follower finds them through the apiserver and passes
//! the delivery on by annotating them, which the leader's watch turns into a reconcile. Repository
//! names compare as on GitHub, case-insensitively.
//!
//! An open PR of an auto-tracked repository that has no tracker gets one, from any replica (a
//! create is idempotent, and the leader's watch takes the new tracker up at once, so it needs no
//! trigger).
//!
//! A person's "Re-run" of a cluster's check run asks that cluster's monitor, of the PR merged as the
//! run's commit, for a check, from any replica (an annotation the leader's watches take up).

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use prtracker_api::{
    CHECK_REQUESTED_ANNOTATION, DriftMonitor, PullRequestTracker, names::monitor_name,
};
use prtracker_github::{GitHubClient, GitHubError};
use prtracker_sync::check_runs;
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::{
    autotrack::{AutoTrack, same_repository, tracks_pr},
    handover,
    webhook::{CheckRunEvent, PullRequestEvent, WebhookEvent},
};

/// Where deliveries go.
pub struct Dispatch {
    pub client: Client,
    /// Trackers in the watched namespace(s), for a follower's lookups.
    pub trackers: Api<PullRequestTracker>,
    pub leading: Arc<AtomicBool>,
    /// The leader's tracker cache, set when this replica starts leading.
    pub leader_cache: Arc<OnceLock<Store<PullRequestTracker>>>,
    pub autotrack: Option<AutoTrack>,
    pub triggers: mpsc::Sender<ObjectRef<PullRequestTracker>>,
    /// Auto-tracking reads a delivery's PR before it makes a tracker: a number alone is no PR.
    pub github: Arc<dyn GitHubClient>,
}

pub async fn route_webhooks(dispatch: Dispatch, mut events: mpsc::Receiver<WebhookEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            WebhookEvent::PullRequest(event) => dispatch.route(&event).await,
            WebhookEvent::CheckRun(event) => dispatch.rerun(&event).await,
        }
    }
}

impl Dispatch {
    async fn route(&self, event: &PullRequestEvent) {
        let leading = self.leading.load(Ordering::Acquire);
        let cache = self.leader_cache.get().filter(|_| leading);
        let matching = match cache {
            Some(cache) => Ok(cached_trackers(cache, event)),
            None => self.listed_trackers(event).await,
        };
        let matching = match matching {
            Ok(matching) => matching,
            Err(error) => {
                warn!(%error, "could not look up the trackers of a webhook's PR; the resync will catch up");
                return;
            }
        };
        if matching.is_empty() {
            self.track_if_new(event).await;
            return;
        }
        for tracker in matching {
            if leading {
                let _ = self.triggers.send(ObjectRef::from_obj(&tracker)).await;
            } else if let Err(error) = pass_on(&self.client, &tracker, event).await {
                warn!(%error, "could not pass a webhook on to the leader; the resync will catch up");
            }
        }
    }

    /// A person re-ran the check run of a cluster: its monitor, for each PR merged as the run's
    /// commit, is asked for a check that names the run (the tracker then gives it a new run).
    async fn rerun(&self, event: &CheckRunEvent) {
        let Some(cluster) = check_runs::cluster_of(&event.name) else {
            debug!(name = %event.name, "a re-run of a check run prtracker did not name: ignored");
            return;
        };
        let merged_as = |t: &PullRequestTracker| {
            same_repository(&t.spec.repository, &event.repository)
                && t.status
                    .as_ref()
                    .and_then(|s| s.merge_commit_sha.as_deref())
                    == Some(event.head_sha.as_str())
        };
        let leading = self.leading.load(Ordering::Acquire);
        let trackers = match self.leader_cache.get().filter(|_| leading) {
            Some(cache) => Ok(cache
                .state_filter(merged_as)
                .into_iter()
                .map(|t| PullRequestTracker::clone(&t))
                .collect()),
            // Rare (a person's click), so a follower lists rather than keeps a cache.
            None => self
                .trackers
                .list(&ListParams::default())
                .await
                .map(|list| list.items.into_iter().filter(merged_as).collect::<Vec<_>>()),
        };
        let trackers = match trackers {
            Ok(trackers) => trackers,
            Err(error) => {
                warn!(%error, run = event.id, "could not find the PR of a re-run check run; GitHub shows it queued until the next verdict");
                return;
            }
        };
        if trackers.is_empty() {
            info!(repo = %event.repository, commit = %event.head_sha, run = event.id, "a re-run of a check run on a commit no tracker merged: ignored");
        }
        let request = check_runs::rerun_request(event.id);
        for tracker in trackers {
            let namespace = tracker.namespace().unwrap_or_default();
            let monitors: Api<DriftMonitor> = Api::namespaced(self.client.clone(), &namespace);
            let name = monitor_name(&tracker.name_any(), cluster);
            let patch =
                json!({ "metadata": { "annotations": { CHECK_REQUESTED_ANNOTATION: &request } } });
            match monitors
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    info!(monitor = %name, run = event.id, by = ?event.sender, "a check run re-run: its cluster is checked now");
                }
                Err(error) => {
                    warn!(monitor = %name, run = event.id, %error, "could not ask for the check a re-run wants");
                }
            }
        }
    }

    /// A tracker for an open PR of an auto-tracked repository.
    async fn track_if_new(&self, event: &PullRequestEvent) {
        let Some(autotrack) = &self.autotrack else {
            return;
        };
        if !autotrack.tracks(&event.repository) || !event.is_open() {
            return;
        }
        // A signed delivery may still name a PR that does not exist (a replay into another
        // repository, a hand-made test delivery): GitHub says whether it does, and is open.
        match self.github.get_pr(&event.repository, event.number).await {
            Ok(pr) if !pr.is_closed() => {}
            Ok(_) => return,
            Err(GitHubError::NotFound { .. }) => {
                info!(repo = %event.repository, number = event.number, "a delivery for a PR GitHub does not have: no tracker");
                return;
            }
            Err(error) => {
                warn!(repo = %event.repository, number = event.number, %error, "could not read a delivery's PR; the change feed will bring it if it exists");
                return;
            }
        }
        if let Err(error) = autotrack
            .ensure_tracker(&self.client, &event.repository, event.number)
            .await
        {
            warn!(repo = %event.repository, number = event.number, %error, "could not create a tracker");
        }
    }

    /// A follower asks the apiserver: trackers of PR number N (a selectable field), of any
    /// repository spelling.
    async fn listed_trackers(
        &self,
        event: &PullRequestEvent,
    ) -> Result<Vec<PullRequestTracker>, kube::Error> {
        let selector = format!("spec.number={}", event.number);
        Ok(self
            .trackers
            .list(&ListParams::default().fields(&selector))
            .await?
            .items
            .into_iter()
            .filter(|t| tracks_pr(t, &event.repository, event.number))
            .collect())
    }
}

fn cached_trackers(
    cache: &Store<PullRequestTracker>,
    event: &PullRequestEvent,
) -> Vec<PullRequestTracker> {
    cache
        .state_filter(|t| tracks_pr(t, &event.repository, event.number))
        .into_iter()
        .map(|t| PullRequestTracker::clone(&t))
        .collect()
}

async fn pass_on(
    client: &Client,
    tracker: &PullRequestTracker,
    event: &PullRequestEvent,
) -> Result<(), kube::Error> {
    let namespace = tracker.namespace().unwrap_or_default();
    let api: Api<PullRequestTracker> = Api::namespaced(client.clone(), &namespace);
    let patch = handover::passed_on(
        &event.delivery,
        handover::label_change(&event.action, event.label.as_deref()).as_ref(),
    );
    api.patch(
        &tracker.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}
