//! The parsers under fuzz, compiled here from their own source files.
//!
//! Each parser lives in a crate that links kube, k8s-openapi or octocrab (prtracker-github,
//! prtracker-api, prtracker-drift, prtracker-operator): built with coverage instrumentation, those
//! took 10 to 17 minutes on two cores, for code the parsers never call. The files below need only
//! serde, serde_json, serde_yaml_ng, form_urlencoded, thiserror and prtracker-domain, so the fuzz
//! crate builds them alone, unchanged: the code fuzzed is the code shipped. A file that comes to
//! import more (another `crate::` module, a heavy crate) breaks this build, and says so.
//!
//! prtracker-domain itself is light: its label reading is fuzzed through the crate.

// `prtracker_api::Repository` in the webhook payload is prtracker-domain's (prtracker-api only
// re-exports it); `prtracker_github::RepoFile` in the manifests parser is the stand-in below.
extern crate prtracker_domain as prtracker_api;
extern crate self as prtracker_github;

/// The webhook payload: `prtracker_operator::webhook::{json_payload, parse_pull_request}`.
#[path = "../../crates/operator/src/webhook/payload.rs"]
pub mod payload;

/// The manifest parser: `prtracker_drift::manifests`.
#[path = "../../crates/drift/src/manifests.rs"]
pub mod manifests;

/// The Link header: `prtracker_github::link`.
#[path = "../../crates/github/src/link.rs"]
pub mod link;

/// Go durations: `prtracker_api::interval` (the operator's duration flags read them with it too).
#[path = "../../crates/api/src/interval.rs"]
pub mod interval;

/// prtracker-github's `RepoFile`, the fields the manifests parser reads (a file of a commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    pub path: String,
    pub sha: String,
    pub content: Vec<u8>,
}
