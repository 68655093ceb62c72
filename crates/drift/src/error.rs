//! Why a drift check could not be made. Every message says what went wrong and, where a person can
//! do something about it, what.

use prtracker_github::GitHubError;

// Defined beside its parser, whose files then build without kube or octocrab (the fuzz crate builds
// them alone); still named here, with the other errors.
pub use crate::manifests::ManifestError;

/// Why a cluster's client could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no Secret labelled {label}={cluster} in namespace {namespace}: create one with key {key} holding the cluster's kubeconfig"
    )]
    NoSecret {
        cluster: String,
        namespace: String,
        label: &'static str,
        key: &'static str,
    },
    #[error(
        "several Secrets labelled {label}={cluster} in namespace {namespace} ({names}): keep exactly one"
    )]
    SeveralSecrets {
        cluster: String,
        namespace: String,
        label: &'static str,
        names: String,
    },
    #[error(
        "Secret {namespace}/{secret} of cluster {cluster} has no key {key}: put the cluster's kubeconfig under it"
    )]
    NoKubeconfigKey {
        cluster: String,
        namespace: String,
        secret: String,
        key: &'static str,
    },
    #[error(
        "the kubeconfig in Secret {namespace}/{secret} of cluster {cluster} is not usable: {reason}"
    )]
    BadKubeconfig {
        cluster: String,
        namespace: String,
        secret: String,
        reason: String,
    },
    #[error(
        "could not read the Secrets of namespace {namespace} to find cluster {cluster}: {source} (may the operator's ServiceAccount list Secrets there?)"
    )]
    ReadSecret {
        cluster: String,
        namespace: String,
        source: Box<kube::Error>,
    },
    #[error(
        "cluster {cluster} is unreachable: {reason} (check the server address and credentials of its kubeconfig, and the network)"
    )]
    Unreachable { cluster: String, reason: String },
}

/// Why a check failed as a whole (a drifted object is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("manifests: {0}")]
    Manifest(#[from] ManifestError),
    #[error("the manifests at {}: {source}", short(commit))]
    ManifestAt {
        commit: String,
        source: ManifestError,
    },
    #[error("reading the manifests from GitHub: {0}")]
    GitHub(#[from] GitHubError),
    #[error("discovering the API of cluster {cluster} for {api_version}: {source}")]
    Discovery {
        cluster: String,
        api_version: String,
        source: Box<kube::Error>,
    },
    #[error("{action} {object} in cluster {cluster}: {source}")]
    Kube {
        cluster: String,
        action: &'static str,
        object: String,
        source: Box<kube::Error>,
    },
    #[error(
        "cluster {cluster} does not serve kind {kind} of {api_version} (object {name}): install its CRD or API there, or fix the manifest"
    )]
    UnknownKind {
        cluster: String,
        api_version: String,
        kind: String,
        name: String,
    },
    #[error("the DriftMonitor has no {0}")]
    MissingField(&'static str),
    /// Rendering could not run here (no scratch space, the tool did not start): retried.
    #[error("rendering {path}: {reason}")]
    Render { path: String, reason: String },
}

impl DriftError {
    /// The CamelCase reason of the monitor's `Ready` condition for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Cluster(ClusterError::Unreachable { .. }) => "ClusterUnreachable",
            Self::Cluster(ClusterError::BadKubeconfig { .. }) => "BadKubeconfig",
            Self::Cluster(_) => "ClusterSecretMissing",
            Self::Manifest(_) | Self::ManifestAt { .. } => "InvalidManifests",
            Self::GitHub(_) => "GitHubError",
            Self::Discovery { .. } => "DiscoveryFailed",
            Self::UnknownKind { .. } => "UnknownKind",
            Self::Kube { .. } => "ClusterError",
            Self::MissingField(_) => "InvalidMonitor",
            Self::Render { .. } => "RenderFailed",
        }
    }
}

impl DriftError {
    /// Whether the check can never succeed as the monitor stands: the manifests at a commit do
    /// not parse, or are too large, or name an entry no path may be built from, or the commit is
    /// not there. Commits never change, so such a
    /// check is not retried until the monitor's spec changes.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::ManifestAt { .. }
                | Self::Manifest(_)
                | Self::GitHub(
                    GitHubError::ContentsTooLarge { .. }
                        | GitHubError::NotFound { .. }
                        | GitHubError::UnsafeEntryName { .. }
                )
        )
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Whether a kube error means the server could not be reached at all (rather than an answer).
pub(crate) fn is_unreachable(error: &kube::Error) -> bool {
    matches!(
        error,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_names_the_file_and_line() {
        let error = ManifestError::Parse {
            file: "deploy/app.yaml".into(),
            line: Some(12),
            column: Some(3),
            reason: "did not find expected key".into(),
        };
        assert_eq!(
            error.to_string(),
            "deploy/app.yaml, line 12, column 3: did not find expected key"
        );
    }

    #[test]
    fn a_missing_secret_says_what_to_create() {
        let error = ClusterError::NoSecret {
            cluster: "staging".into(),
            namespace: "prtracker-system".into(),
            label: "prtracker.io/cluster",
            key: "kubeconfig",
        };
        assert_eq!(
            error.to_string(),
            "no Secret labelled prtracker.io/cluster=staging in namespace prtracker-system: create one with key kubeconfig holding the cluster's kubeconfig"
        );
    }
}
