//! `DriftMonitor`: whether a merged PR's manifests are what one cluster runs.

// Each printcolumn(...) repeats `type_`: that is the derive's syntax, not a mistake.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use prtracker_domain::{DriftPhase, Repository};

use crate::{ignore::IgnoreRule, interval::DEFAULT_INTERVAL};

/// At most this many drifted objects are listed in a monitor's status; the counts tell the rest.
/// Bounded so a badly drifted cluster cannot push the object past etcd's size limit.
pub const MAX_DRIFTED_RESOURCES: usize = 50;
/// At most this many field paths are listed per drifted object.
pub const MAX_FIELDS_PER_RESOURCE: usize = 20;
/// Desired and live values are cut to this many characters in the status.
pub const MAX_VALUE_CHARS: usize = 256;

/// Set (to any new value, e.g. a time) to ask for a check now rather than at the next interval:
/// `kubectl annotate dm NAME prtracker.io/check-requested="$(date +%s)" --overwrite`. The status
/// says which request its last check answered (`answeredCheckRequest`). A person's "Re-run" of a
/// cluster's check run on GitHub sets it to `rerun-<run id>`.
pub const CHECK_REQUESTED_ANNOTATION: &str = "prtracker.io/check-requested";

/// One cluster to check against one commit's manifests.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "prtracker.io",
    version = "v1alpha1",
    kind = "DriftMonitor",
    namespaced,
    shortname = "dm",
    category = "prtracker",
    status = "DriftMonitorStatus",
    derive = "PartialEq",
    doc = "Compares the manifests of a merged commit with the live objects of one cluster.",
    printcolumn(name = "Tracker", type_ = "string", json_path = ".spec.tracker"),
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.cluster"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Watched",
        type_ = "integer",
        json_path = ".status.fieldsWatched"
    ),
    printcolumn(
        name = "Drifted",
        type_ = "integer",
        json_path = ".status.fieldsDrifted"
    ),
    printcolumn(
        name = "Last Check",
        type_ = "date",
        json_path = ".status.lastCheckTime"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct DriftMonitorSpec {
    /// The name of the PullRequestTracker this monitor reports to, in the same namespace.
    #[schemars(length(min = 1, max = 253))]
    pub tracker: String,

    /// The cluster to check: the name of a cluster Secret, or `in-cluster`.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub cluster: String,

    /// What the cluster should run.
    pub source: ManifestSource,

    /// Fields not judged, besides the operator's global rules: its tracker's `ignoreDifferences`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub ignore_differences: Vec<IgnoreRule>,

    /// How often to check the cluster itself, the safety net under the cluster watches (which
    /// check at once when an object of the change is edited; an unwatched monitor is checked at
    /// least every 5m): a duration such as 30s, 5m or 1h, from 30s to 24h.
    #[serde(default = "default_interval")]
    #[schemars(
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"),
        length(max = 32)
    )]
    #[x_kube(validation = Rule::new(
        "duration(self) >= duration('30s') && duration(self) <= duration('24h')"
    ).message("interval must be between 30s and 24h"))]
    pub interval: String,
}

fn default_interval() -> String {
    DEFAULT_INTERVAL.to_owned()
}

/// The manifests of one commit of a repository.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestSource {
    pub repository: Repository,
    /// The full commit SHA (SHA-1, or SHA-256 for repositories that use it).
    #[schemars(regex(pattern = r"^([0-9a-f]{40}|[0-9a-f]{64})$"))]
    pub commit: String,
    /// The directory (or single file) of manifests, relative to the repository root.
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new(
        "!self.startsWith('/') && !self.split('/').exists(s, s == '..')"
    ).message("path must be relative to the repository root, without '..'"))]
    pub path: String,
    /// The branch the PR merged into. Where its head no longer holds a field of the PR's change at
    /// the PR's value, the repository changed it since: the field is superseded, not drifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub base_branch: Option<String>,
    /// Where `path` is a Helm chart, the values files it is rendered with, in order, relative to
    /// the repository root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), inner(length(min = 1, max = 1024)))]
    #[x_kube(validation = Rule::new(
        "self.all(v, !v.startsWith('/') && !v.split('/').exists(s, s == '..'))"
    ).message("values files must be relative to the repository root, without '..'"))]
    pub values: Vec<String>,
}

/// The verdict of the last check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftMonitorStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DriftPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_time: Option<Time>,
    /// The commit whose manifests the last check compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_commit: Option<String>,
    /// The merge commit's first parent: the PR's change is what the merge changed from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_commit: Option<String>,
    /// Fields of the PR's change this monitor judges: set or changed by the merge, not ignored,
    /// not superseded.
    #[serde(default)]
    pub fields_watched: u32,
    /// Of those, the fields the cluster does not hold.
    #[serde(default)]
    pub fields_drifted: u32,
    /// Fields of the change the base branch has since changed: no longer this PR's to watch.
    #[serde(default)]
    pub fields_superseded: u32,
    /// The PR's change, object by object, at most 20 lines: `Deployment shop/web: spec.replicas`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(max = 1024)))]
    pub change: Vec<String>,
    /// When every field of the change first held in the cluster: before that the monitor waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_since: Option<Time>,
    /// When the drift it reports was first seen: it moves the PR only once it has held for the
    /// settle window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drifted_since: Option<Time>,
    /// The `prtracker.io/check-requested` annotation the last check answered: a check asked for
    /// has been made once this equals it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_check_request: Option<String>,
    /// The commit of the base branch from which on every field of the change was superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    #[serde(default)]
    pub resources_checked: u32,
    #[serde(default)]
    pub resources_drifted: u32,
    #[serde(default)]
    pub resources_missing: u32,
    /// The drifted or missing objects, at most 50; the counts are complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub drifted_resources: Vec<DriftedResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, with the reason of an Error phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,
}

/// The longest repository path a drifted object's `file` keeps (a longer one is left out).
pub const MAX_FILE_CHARS: usize = 1024;

/// One object that is not live as its manifest says.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftedResource {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// The object does not exist in the cluster.
    #[serde(default)]
    pub missing: bool,
    /// The fields that differ, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub fields: Vec<FieldDrift>,
    /// The repository file that defines the object, where one does (rendered output has none),
    /// and the line its document starts on: where a check run's annotation points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub line: Option<u32>,
}

/// One field whose live value is not the desired one. Values are JSON, cut to 256 characters;
/// a Secret's values are never copied here.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldDrift {
    /// The field's path, e.g. `spec.template.spec.containers[name=app].image`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
}
