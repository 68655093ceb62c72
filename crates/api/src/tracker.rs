//! `PullRequestTracker`: one GitHub pull request, followed through its life.

// Each printcolumn(...) repeats `type_`: that is the derive's syntax, not a mistake.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use prtracker_domain::PrState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use prtracker_domain::Repository;

use crate::ignore::IgnoreRule;

/// The most clusters one tracker may monitor. Each is a DriftMonitor with its own checks; past this a
/// single PR is better split, and the apiserver refuses the tracker rather than the operator drowning.
pub const MAX_CLUSTERS: usize = 32;

/// A cluster's name is a DNS label: the pattern the CRD's schema gives `spec.clusters` (a test holds
/// the two equal), and the rule [`is_cluster_name`] checks where the apiserver does not, as in flags.
pub const CLUSTER_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Whether `name` can name a cluster: 1 to 63 of a-z, 0-9 and '-', starting and ending alphanumeric.
pub fn is_cluster_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Which pull request to track, and where its merged change must be live.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "prtracker.io",
    version = "v1alpha1",
    kind = "PullRequestTracker",
    namespaced,
    shortname = "prt",
    category = "prtracker",
    status = "PullRequestTrackerStatus",
    derive = "PartialEq",
    doc = "A GitHub pull request whose state label and merged change prtracker keeps in sync.",
    selectable = ".spec.repository",
    selectable = ".spec.number",
    printcolumn(name = "Repository", type_ = "string", json_path = ".spec.repository"),
    printcolumn(name = "Number", type_ = "integer", json_path = ".spec.number"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Title",
        type_ = "string",
        json_path = ".status.title",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "!has(self.targets) || size(self.targets) == 0 || !has(self.clusters) || size(self.clusters) == 0"
).message("give either targets or clusters, not both: targets name their clusters"))]
pub struct PullRequestTrackerSpec {
    /// The GitHub repository, owner/name. Immutable: another PR is another tracker.
    #[x_kube(validation = Rule::new("self == oldSelf").message("repository is immutable"))]
    pub repository: Repository,

    /// The pull request's number. Immutable.
    #[schemars(range(min = 1, max = 2_147_483_647))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("number is immutable"))]
    pub number: u64,

    /// The clusters to monitor once the PR is merged: names of cluster Secrets, or `in-cluster`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 32),
        inner(
            length(min = 1, max = 63),
            regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
        )
    )]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub clusters: Vec<String>,

    /// Where the PR's Kubernetes manifests live in the repository, relative to its root.
    #[serde(default = "default_manifests_path")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new(
        "!self.startsWith('/') && !self.split('/').exists(s, s == '..')"
    ).message("manifestsPath must be relative to the repository root, without '..'"))]
    pub manifests_path: String,

    /// Each cluster with the path of the repository rendered for it (an overlay per environment,
    /// `deploy/overlays/prod`). When given, it replaces `clusters` and `manifestsPath`, which
    /// stay the shorthand for "the same path in every cluster".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["cluster".into()]))]
    pub targets: Vec<Target>,

    /// How long a drift must hold before it moves the PR's label (a rollout in progress, a
    /// flapping autoscaler): a duration such as 90s or 5m, at most 1h. The operator's
    /// `--settle-window` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"),
        length(max = 32)
    )]
    #[x_kube(validation = Rule::new("duration(self) <= duration('1h')")
        .message("settleWindow must be at most 1h"))]
    pub settle_window: Option<String>,

    /// Fields the drift checks of this PR do not judge, besides the operator's global rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub ignore_differences: Vec<IgnoreRule>,
}

fn default_manifests_path() -> String {
    ".".to_owned()
}

/// One cluster and the path of the repository rendered for it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// A cluster Secret's name, or `in-cluster`.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub cluster: String,
    /// The path, relative to the repository's root, without `..`.
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new(
        "!self.startsWith('/') && !self.split('/').exists(s, s == '..')"
    ).message("a target's path must be relative to the repository root, without '..'"))]
    pub path: String,
    /// Where the path is a Helm chart, the values files it is rendered with for this cluster,
    /// in order, relative to the repository root (`deploy/values/prod.yaml`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), inner(length(min = 1, max = 1024)))]
    #[x_kube(validation = Rule::new(
        "self.all(v, !v.startsWith('/') && !v.split('/').exists(s, s == '..'))"
    ).message("values files must be relative to the repository root, without '..'"))]
    pub values: Vec<String>,
}

impl PullRequestTrackerSpec {
    /// The clusters to monitor, with the path each reads: the targets, or every cluster with
    /// `manifestsPath`.
    pub fn targets(&self) -> Vec<Target> {
        if !self.targets.is_empty() {
            return self.targets.clone();
        }
        self.clusters
            .iter()
            .map(|cluster| Target {
                cluster: cluster.clone(),
                path: self.manifests_path.clone(),
                values: Vec::new(),
            })
            .collect()
    }

    /// The clusters to monitor, in the spec's order.
    pub fn cluster_names(&self) -> Vec<String> {
        if self.targets.is_empty() {
            return self.clusters.clone();
        }
        self.targets.iter().map(|t| t.cluster.clone()).collect()
    }

    /// The values files `cluster`'s chart is rendered with (none for the shorthand).
    pub fn values_for(&self, cluster: &str) -> Vec<String> {
        self.targets
            .iter()
            .find(|t| t.cluster == cluster)
            .map(|t| t.values.clone())
            .unwrap_or_default()
    }

    /// The path `cluster` reads.
    pub fn path_for(&self, cluster: &str) -> &str {
        self.targets
            .iter()
            .find(|t| t.cluster == cluster)
            .map_or(self.manifests_path.as_str(), |t| t.path.as_str())
    }
}

/// What the operator last saw of the PR, on GitHub and in the clusters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestTrackerStatus {
    /// The PR's state, as its state label on GitHub says (or its facts, where it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PrState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// The merge commit, once merged: the commit the drift monitors check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The state labels the PR carried at the last sync, as written on GitHub.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_result: Option<SyncResultStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// The names of the tracker's DriftMonitors, one per cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift_monitors: Vec<String>,
    /// The PR's base branch: its head is what a later change of the PR's fields is seen in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ref: Option<String>,
    /// Set once every field of the PR's change has since been changed through the repository:
    /// the commit that did, and the tracked PR that merged it, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<SupersededBy>,
    /// The last verdict of the monitors taken together: InSync when every one is, Drifted when any
    /// is. Drift moves the state only when this verdict changes, so a person's label stands until
    /// the clusters change again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_verdict: Option<crate::DriftPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Synced`, `Consistent` and `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The comment prtracker keeps on the PR (with `--pr-comment`), so it is edited, never
    /// posted twice; found again by its hidden marker if this is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_comment: Option<PrCommentStatus>,
    /// The GitHub Deployment of the merge commit in each cluster (with `--github-deployments`),
    /// and the status last posted to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub deployments: Vec<DeploymentRecord>,
    /// The commit status of the merge commit for each cluster (with `--commit-statuses`), as last
    /// posted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub commit_statuses: Vec<CommitStatusRecord>,
    /// The check run of the merge commit for each cluster (with `--check-runs`, as a GitHub App),
    /// as last written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub check_runs: Vec<CheckRunRecord>,
    /// Which targets the merge commit's change reaches, decided once per commit (a commit never
    /// changes): a target whose rendered objects are the same at the merge commit and its first
    /// parent gets no DriftMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
}

/// Which targets a merge commit's change reaches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reach {
    /// The merge commit decided for.
    pub commit: String,
    /// Each target decided: its cluster, path and values as they were, and whether the change
    /// reaches it. A target changed in the spec since is decided again.
    #[schemars(length(max = 32))]
    pub targets: Vec<TargetReached>,
}

/// One target, and whether a merge commit's change reaches it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetReached {
    pub cluster: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Whether the target's rendered objects differ at the merge commit and its first parent
    /// (or could not be rendered: its monitor then says why).
    pub reached: bool,
}

impl Reach {
    /// Whether `target` was decided (as it now stands) for `commit`, and how.
    pub fn reached(&self, commit: &str, target: &Target) -> Option<bool> {
        if self.commit != commit {
            return None;
        }
        self.targets
            .iter()
            .find(|t| {
                t.cluster == target.cluster && t.path == target.path && t.values == target.values
            })
            .map(|t| t.reached)
    }
}

/// A check run on the PR's merge commit for one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckRunRecord {
    pub cluster: String,
    /// `prtracker/CLUSTER`.
    pub name: String,
    /// GitHub's id of the run.
    pub id: u64,
    /// `in_progress` or `completed`.
    pub status: String,
    /// Once completed: `success`, `failure` or `neutral`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// A digest of the output last written: the run is written only when it changes.
    pub digest: String,
    /// Runs created with this name on this commit, against GitHub's 1,000.
    pub created: u32,
}

/// A commit status posted on the PR's merge commit for one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitStatusRecord {
    pub cluster: String,
    /// `prtracker/CLUSTER`.
    pub context: String,
    /// `pending`, `success`, `failure` or `error`.
    pub state: String,
    #[schemars(length(max = 140))]
    pub description: String,
    /// Statuses posted for this context on this commit, against GitHub's 1,000.
    pub posted: u32,
}

/// A GitHub Deployment of the PR's merge commit to one cluster's environment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRecord {
    pub cluster: String,
    /// The GitHub environment: the cluster's name, or the name mapped to it.
    pub environment: String,
    /// GitHub's id of the deployment.
    pub id: u64,
    /// The state last posted (`in_progress`, `success`, `failure`, `inactive`, `error`).
    pub state: String,
    /// The description last posted (at most 140 characters).
    #[schemars(length(max = 140))]
    pub description: String,
}

/// The PR's comment as last written.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrCommentStatus {
    /// GitHub's id of the comment.
    pub id: u64,
    /// A digest of the text last written: the comment is edited only when the text changes.
    pub digest: String,
}

/// What superseded a PR's change.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupersededBy {
    /// The commit of the base branch from which on the change's fields hold other values.
    pub commit: String,
    /// The tracked PR whose merge commit that is, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
}

/// The outcome of one synchronisation, as kept in the tracker's status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResultStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<PrState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_state: Option<PrState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_removed: Vec<String>,
    /// Errors met during the sync, each a sentence a person can act on; at most ten are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 1024)))]
    pub errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_time: Option<Time>,
}

#[cfg(test)]
mod cluster_name_tests {
    use kube::CustomResourceExt;

    use super::*;

    #[test]
    fn cluster_names_are_dns_labels() {
        for good in [
            "in-cluster",
            "staging",
            "eu-west-1",
            "a",
            "0",
            &"a".repeat(63),
        ] {
            assert!(is_cluster_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "Staging", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_cluster_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_schema_checks_the_same_pattern() {
        let crd = serde_json::to_value(PullRequestTracker::crd()).expect("the CRD as JSON");
        let clusters = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"]["clusters"]["items"];
        assert_eq!(clusters["pattern"], CLUSTER_NAME_PATTERN, "{clusters}");
        assert_eq!(clusters["maxLength"], 63, "{clusters}");
    }
}
