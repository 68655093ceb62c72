//! prtracker's GitHub client: pull requests, labels and files of a repository.
//!
//! An adapter layer: it knows the domain ([`prtracker_domain::PrFacts`],
//! [`prtracker_domain::Repository`]) and nothing above it.
//!
//! - [`GitHubClient`]: the seed's three operations (get a PR, add or remove a label);
//! - [`GitHubApi`]: what the operator needs on top (repository labels, open PRs, files at a commit,
//!   a commit's parents, a branch's head);
//! - [`OctocrabGitHub`]: the production implementation over octocrab, with conditional requests
//!   (a bounded cache of parsed models), rate-limit waits, retries with jittered backoff, write
//!   spacing, an outage circuit ([`circuit`]), and [`GitHubMetrics`];
//! - lean, tolerant [`models`] that parse every GitHub response shape seen since 2012.

pub mod backoff;
pub mod cache;
mod checks;
pub mod circuit;
mod client;
mod comments;
pub mod config;
mod contents;
mod deployments;
pub mod endpoint;
pub mod error;
pub mod link;
pub mod metrics;
pub mod models;
mod names;
mod octo;
pub mod pacing;
mod parents;
pub mod ratelimit;
mod statuses;
mod transport;
mod trees;

pub use checks::{
    Annotation, CheckRun, CheckRunOutput, CheckRunOutputShown, CheckRunWrite, CheckRuns,
    MAX_ANNOTATIONS_PER_REQUEST, MAX_CHECK_OUTPUT_CHARS,
};
pub use circuit::CircuitPolicy;
pub use client::{GitHubApi, GitHubClient};
pub use comments::{IssueComments, MAX_COMMENT_CHARS};
pub use config::{
    AppInstallation, ContentsLimits, GITHUB_API, GitHubAuth, GitHubConfig, RateLimitPolicy,
    RetryPolicy,
};
pub use deployments::{Deployments, MAX_DEPLOYMENT_DESCRIPTION};
pub use error::{ErrorBody, ErrorDetail, GitHubError};
pub use metrics::{GitHubMetrics, MetricsSnapshot, RequestCount};
pub use models::{
    AddLabels, Branch, Commit, ContentEntry, Contents, Deployment, DeploymentStatus, FeedPage,
    IssueComment, Label, NewDeployment, NewDeploymentStatus, NewLabel, PullRequest, RepoFile,
};
pub use octo::OctocrabGitHub;
pub use pacing::PacingPolicy;
pub use statuses::{CommitStatus, CommitStatuses, MAX_STATUSES_PER_CONTEXT, NewCommitStatus};
