//! Webhook deliveries into reconciles. Every replica serves webhooks. The leader finds the PR's
//! trackers in its cache and triggers them; a follower finds them through the apiserver and passes
//! the delivery on by annotating them, which the leader's watch turns into a reconcile. Repository
//! names compare as on GitHub, case-insensitively.
//!
//! An open PR of an auto-tracked repository that has no tracker gets one, from any replica (a
//! create is idempotent, and the leader's watch takes the new tracker up at once, so it needs no
//! trigger).

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use prtracker_api::PullRequestTracker;
use prtracker_github::{GitHubClient, GitHubError};
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{
    autotrack::{AutoTrack, tracks_pr},
    trackers::REFRESH_ANNOTATION,
    webhook::{PullRequestEvent, WebhookEvent},
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
    while let Some(WebhookEvent::PullRequest(event)) = events.recv().await {
        dispatch.route(&event).await;
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
            } else if let Err(error) = pass_on(&self.client, &tracker, &event.delivery).await {
                warn!(%error, "could not pass a webhook on to the leader; the resync will catch up");
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
    delivery: &str,
) -> Result<(), kube::Error> {
    let namespace = tracker.namespace().unwrap_or_default();
    let api: Api<PullRequestTracker> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({ "metadata": { "annotations": { REFRESH_ANNOTATION: delivery } } });
    api.patch(
        &tracker.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}
