//! A GitHub API simulator: a real HTTP server with GitHub's semantics (paths, status codes,
//! error bodies, label rules, issue comments, ETags and 304s, rate-limit headers and budgets,
//! pagination, GitHub App tokens, signed webhook deliveries) plus fault injection and a control API.
//!
//! It stands in for api.github.com in tests, and knows nothing of prtracker: GitHub's rules
//! are implemented here independently.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use prtracker_github_sim::{NewPull, Simulator};
//! let sim = Simulator::start().await?;
//! sim.create_repo("acme/app")?;
//! let n = sim.create_pull("acme/app", NewPull { title: "Add x".into(), ..Default::default() })?;
//! sim.merge_pull("acme/app", n, "octocat")?;
//! // point a client at sim.api_url() with token sim.token()
//! # Ok(()) }
//! ```

#![recursion_limit = "512"]

mod checks;
mod comments;
mod commits;
mod config;
mod contents;
mod control;
mod control_checks;
mod deployments;
mod error;
mod git;
mod http;
mod ids;
mod labels;
mod limits;
mod model;
pub mod page;
mod payload;
mod pulls;
mod render;
mod request_json;
mod server;
mod shared;
mod statuses;
mod time;
mod webhook;

pub use checks::CheckRun;
pub use config::{AppConfig, DEFAULT_LOGIN, DEFAULT_TOKEN, SimConfig};
pub use control::{Control, DEFAULT_ACTOR};
pub use deployments::{Deployment, DeploymentStatus};
pub use error::{ApiError, ErrorBody, FieldError};
pub use limits::{Budget, Faults};
pub use model::{IssueComment, RepoOptions, World};
pub use pulls::{NewPull, PullEdit};
pub use server::{Simulator, SimulatorHandle, run, run_until};
pub use shared::RequestRecord;
pub use statuses::CommitStatus;
pub use webhook::{Delivery, WebhookConfig, signature_256};
