//! prtracker's runtime: the tracker controller, the GitHub webhook endpoint, metrics and health,
//! leader election, auto-tracking. The binary's `prtracker run` validates [`RunArgs`] into an
//! [`OperatorConfig`] and calls [`run`].

pub mod args;
pub mod autotrack;
pub mod controller;
pub mod leader;
pub mod metrics;
pub mod monitor_controller;
mod run;
pub mod verdict;
pub mod webhook;

pub use args::{OperatorConfig, RunArgs};
pub use run::run;
