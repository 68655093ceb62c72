//! prtracker's runtime: the tracker and monitor controllers, the GitHub webhook endpoint, metrics
//! and health, leader election, auto-tracking. The binary's `prtracker run` validates [`RunArgs`]
//! into an [`OperatorConfig`] and calls [`run`].
//!
//! - [`trackers`]: the tracker controller (one plan per reconcile);
//! - [`monitors`]: the DriftMonitor controller (one check per interval, backing off on failure);
//! - [`watches`]: the watches the controllers share;
//! - [`events`]: Kubernetes Events for what a sync changed;
//! - [`backoff`]: retries that back off, per object;
//! - [`ledger`]: the changes heard of per PR, so no write follows a stale read;
//! - [`handover`]: deliveries a follower passes on to the leader;
//! - [`reach`]: which targets a merged PR's change reaches, for the tracker controller;
//! - [`feed`]: each repository's change feed polled once per resync, reconciling what changed;
//! - [`webhook`]: the GitHub webhook endpoint;
//! - [`server`]: the HTTP server, with the limits of an internet-facing one;
//! - [`metrics`]: Prometheus metrics and health probes;
//! - [`autotrack`], [`leader`], [`args`]: auto-tracking, the lease, the flags.

pub mod args;
pub mod autotrack;
pub mod backoff;
pub mod events;
pub mod feed;
pub mod handover;
pub mod leader;
pub mod ledger;
pub mod metrics;
pub mod monitors;
pub mod reach;
mod run;
pub mod server;
pub mod trackers;
pub mod watches;
pub mod webhook;

pub use args::{OperatorConfig, RunArgs};
pub use run::{run, vouch_if_idle};
