//! Auto-tracking: a tracker for every open PR of the configured repositories, made from webhooks as
//! PRs open and from a periodic listing that catches what a lost webhook missed. Only open PRs get
//! one: a `closed` delivery for a PR never tracked is of no use to anyone.

use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
    runtime::reflector::Store,
};
use prtracker_api::{
    PullRequestTracker, PullRequestTrackerSpec, Repository,
    names::{tracker_name, tracker_name_unique},
};
use prtracker_github::GitHubApi;
use tracing::{info, warn};

/// Marks trackers the operator made itself.
pub const AUTO_TRACKED_LABEL: &str = "prtracker.io/auto-tracked";

/// What an auto-tracked PR's tracker gets.
#[derive(Debug, Clone)]
pub struct AutoTrack {
    pub repos: Vec<Repository>,
    pub namespace: String,
    pub clusters: Vec<String>,
    pub manifests_path: String,
    /// Per cluster, the path rendered for it; when given, `clusters` is empty.
    pub targets: Vec<prtracker_api::Target>,
}

/// Whether two repositories are one on GitHub, where names are case-insensitive.
pub fn same_repository(a: &Repository, b: &Repository) -> bool {
    a.owner().eq_ignore_ascii_case(b.owner()) && a.name().eq_ignore_ascii_case(b.name())
}

/// Whether `tracker` follows PR `number` of `repo`.
pub fn tracks_pr(tracker: &PullRequestTracker, repo: &Repository, number: u64) -> bool {
    tracker.spec.number == number && same_repository(&tracker.spec.repository, repo)
}

impl AutoTrack {
    pub fn tracks(&self, repo: &Repository) -> bool {
        self.repos.iter().any(|r| same_repository(r, repo))
    }

    fn tracker(&self, name: String, repo: &Repository, number: u64) -> PullRequestTracker {
        PullRequestTracker {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(self.namespace.clone()),
                labels: Some([(AUTO_TRACKED_LABEL.to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            spec: PullRequestTrackerSpec {
                repository: repo.clone(),
                number,
                clusters: self.clusters.clone(),
                manifests_path: self.manifests_path.clone(),
                targets: self.targets.clone(),
                settle_window: None,
                ignore_differences: Vec::new(),
            },
            status: None,
        }
    }

    /// Creates the PR's tracker unless it exists; true when it was created. Where the name is
    /// taken by a tracker of another PR (two repositories whose names differ only in characters a
    /// Kubernetes name cannot hold), the tracker gets a name with a hash of its repository.
    pub async fn ensure_tracker(
        &self,
        client: &Client,
        repo: &Repository,
        number: u64,
    ) -> Result<bool, kube::Error> {
        let api: Api<PullRequestTracker> = Api::namespaced(client.clone(), &self.namespace);
        for name in [
            tracker_name(repo, number),
            tracker_name_unique(repo, number),
        ] {
            match api
                .create(
                    &PostParams::default(),
                    &self.tracker(name.clone(), repo, number),
                )
                .await
            {
                Ok(_) => {
                    info!(%repo, number, namespace = %self.namespace, tracker = %name, "tracking a new PR");
                    return Ok(true);
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    match api.get_opt(&name).await? {
                        Some(existing) if tracks_pr(&existing, repo, number) => return Ok(false),
                        // Deleted between our create and our read: the next event recreates it.
                        None => return Ok(false),
                        Some(other) => warn!(
                            tracker = %name, %repo, number, taken_by = %other.spec.repository,
                            "the tracker name is taken by another PR's tracker; using a unique name"
                        ),
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(false)
    }

    /// One pass over every open PR of every tracked repository; PRs that the leader's cache shows
    /// tracked already cost no request.
    pub async fn list_and_track(
        &self,
        client: &Client,
        github: &dyn GitHubApi,
        known: &Store<PullRequestTracker>,
    ) -> usize {
        let mut created = 0;
        for repo in &self.repos {
            let prs = match github.list_open_prs(repo).await {
                Ok(prs) => prs,
                Err(error) => {
                    warn!(%repo, %error, "could not list open PRs");
                    continue;
                }
            };
            for pr in prs {
                if known.find(|t| tracks_pr(t, repo, pr.number)).is_some() {
                    continue;
                }
                match self.ensure_tracker(client, repo, pr.number).await {
                    Ok(true) => created += 1,
                    Ok(false) => {}
                    Err(error) => {
                        warn!(%repo, number = pr.number, %error, "could not create a tracker")
                    }
                }
            }
        }
        created
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_compare_as_github_does() {
        let configured: Repository = "octo-org/shop".parse().expect("repository");
        let delivered: Repository = "Octo-Org/Shop".parse().expect("repository");
        assert!(same_repository(&configured, &delivered));
        let other: Repository = "octo-org/shop2".parse().expect("repository");
        assert!(!same_repository(&configured, &other));
    }
}
