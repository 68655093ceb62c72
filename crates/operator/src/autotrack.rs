//! Auto-tracking: a tracker for every open PR of the configured repositories, made from webhooks as
//! PRs open and from a periodic listing that catches what a lost webhook missed.

use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use prtracker_api::{PullRequestTracker, PullRequestTrackerSpec, Repository};
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
}

impl AutoTrack {
    pub fn tracks(&self, repo: &Repository) -> bool {
        self.repos
            .iter()
            .any(|r| r.to_string().eq_ignore_ascii_case(&repo.to_string()))
    }

    /// Creates the PR's tracker unless it exists; true when it was created.
    pub async fn ensure_tracker(
        &self,
        client: &Client,
        repo: &Repository,
        number: u64,
    ) -> Result<bool, kube::Error> {
        let api: Api<PullRequestTracker> = Api::namespaced(client.clone(), &self.namespace);
        let tracker = PullRequestTracker {
            metadata: ObjectMeta {
                name: Some(tracker_name(repo, number)),
                namespace: Some(self.namespace.clone()),
                labels: Some([(AUTO_TRACKED_LABEL.to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            spec: PullRequestTrackerSpec {
                repository: repo.clone(),
                number,
                clusters: self.clusters.clone(),
                manifests_path: self.manifests_path.clone(),
            },
            status: None,
        };
        match api.create(&PostParams::default(), &tracker).await {
            Ok(_) => {
                info!(%repo, number, namespace = %self.namespace, "tracking a new PR");
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// One pass over every open PR of every tracked repository.
    pub async fn list_and_track(&self, client: &Client, github: &dyn GitHubApi) -> usize {
        let mut created = 0;
        for repo in &self.repos {
            match github.list_open_prs(repo).await {
                Ok(prs) => {
                    for pr in prs {
                        match self.ensure_tracker(client, repo, pr.number).await {
                            Ok(true) => created += 1,
                            Ok(false) => {}
                            Err(error) => {
                                warn!(%repo, number = pr.number, %error, "could not create a tracker")
                            }
                        }
                    }
                }
                Err(error) => warn!(%repo, %error, "could not list open PRs"),
            }
        }
        created
    }
}

/// `<owner>-<name>-<number>`, lowercased, in the characters a Kubernetes name allows.
pub fn tracker_name(repo: &Repository, number: u64) -> String {
    let raw = format!("{}-{}-{number}", repo.owner(), repo.name()).to_ascii_lowercase();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches(|c| c == '-' || c == '.').to_owned();
    if name.len() > 253 {
        let suffix = format!("-{number}");
        name.truncate(253 - suffix.len());
        name.push_str(&suffix);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_names_are_kubernetes_names() {
        let repo: Repository = "Octo_Org/Hello.World".parse().expect("repository");
        assert_eq!(tracker_name(&repo, 1347), "octo-org-hello.world-1347");
        let repo: Repository = "_x/.github"
            .parse()
            .unwrap_or_else(|_| "x/.github".parse().expect("repo"));
        assert!(!tracker_name(&repo, 1).starts_with(['-', '.']));
    }
}
