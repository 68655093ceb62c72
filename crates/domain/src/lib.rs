//! prtracker's domain layer: pull request states, state labels and the rules between them.
//!
//! The bottom layer of prtracker, pure logic with no I/O and no async: the layers above
//! (CRD types, GitHub adapters, sync, runtime) read and write labels through it, so that
//! the rules of the SPEC ("Domain: PR states and labels") live in one place.
//!
//! - [`PrState`]: the seven states, their lifecycle order and label definitions;
//! - [`PrFacts`]: what GitHub says about a PR, and which states it allows;
//! - [`Repository`]: a GitHub repository, `owner/name`, as GitHub names allow;
//! - [`LabelPrefix`]: state label names, read case-insensitively like GitHub does;
//! - [`current_state`]: the state of a PR from its labels and facts (rules 1–5);
//! - [`label_diff`] / [`apply_diff`]: the label change that puts a PR in a state;
//! - [`DriftPhase`], [`combined_verdict`], [`state_after_verdict`]: drift verdicts and how they move
//!   a PR's state;
//! - [`Plan`]: one reconcile of a tracker, every rule above applied to what was read, before
//!   anything is written;
//! - [`condition`]: the conditions a tracker reports, as data.

pub mod condition;
mod diff;
mod facts;
mod label;
pub mod plan;
mod reading;
mod repository;
mod state;
mod verdict;

pub use diff::{LabelDiff, apply_diff, label_diff};
pub use facts::PrFacts;
pub use label::{
    DEFAULT_PREFIX, InvalidPrefix, LabelPrefix, MAX_LABEL_CHARS, label_key, same_label,
};
pub use plan::{
    Cause, MonitorPlan, MonitorSeen, NotApplicable, Observation, PERSON_GRACE, Plan, Record,
};
pub use reading::{StateReading, current_state, current_state_preferring};
pub use repository::{REPOSITORY_PATTERN, Repository, RepositoryError};
pub use state::{PrState, UnknownState};
pub use verdict::{
    ClusterVerdict, DriftPhase, combined_verdict, settled_verdict, state_after_verdict,
};
