//! prtracker's sync layer, the seed's `sync` package in Rust: the [`LabelManager`] that reads and
//! writes a PR's state labels, and the [`Coordinator`] that keeps PullRequestTrackers and GitHub in
//! agreement (GitHub → CRD first; GitHub wins; recovery of missing labels; the operator's own
//! verdicts CRD → GitHub). Logging is through `tracing` spans and events.

pub mod check_runs;
pub mod comment;
pub mod commit_statuses;
mod coordinator;
pub mod deployments;
mod error;
pub mod feed;
mod heard;
mod labels;
pub mod monitors;
pub mod pr_comment;
pub mod reach;
mod result;
pub mod status;
pub mod surfaces;

pub use check_runs::CheckRunKeeper;
pub use commit_statuses::CommitStatusKeeper;
pub use coordinator::{Coordinator, DEFAULT_SETTLE_WINDOW, Freshness, MergedBy, Synced};
pub use deployments::{DeploymentKeeper, Environments};
pub use error::SyncError;
pub use feed::{ChangeFeed, Polled, PullRequests, ReadEachTime};
pub use labels::{GitHubLabelManager, LabelManager, LabelWrite, StillFresh, Written};
pub use monitors::{FIELD_MANAGER, TRACKER_LABEL};
pub use pr_comment::PrCommentKeeper;
pub use reach::ChangeReach;
pub use result::SyncResult;
pub use surfaces::Surfaces;
