//! Check runs: a run per cluster on a merged PR's merge commit, which only a GitHub App may write
//! (a token gets commit statuses instead; issue #16 part 3). A run is created once and updated in
//! place; its annotations point at the drifted objects.

use async_trait::async_trait;
use prtracker_domain::Repository;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::{
    config::GitHubAuth,
    endpoint::{self, Endpoint},
    error::GitHubError,
    octo::{OctocrabGitHub, decode_json},
    transport::{Call, JSON, status_error},
};

/// GitHub takes at most this many annotations in one request (more are added by updates).
pub const MAX_ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub cuts a check run's summary and text at 65,535 characters.
pub const MAX_CHECK_OUTPUT_CHARS: usize = 65_535;

/// A check run, as GitHub returns it (the members prtracker reads).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub output: CheckRunOutputShown,
}

/// A run's output as GitHub shows it: annotations are counted, not returned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct CheckRunOutputShown {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub annotations_count: u32,
}

/// One annotation: a line of a file in the repository, with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    /// `notice`, `warning` or `failure`.
    pub annotation_level: &'static str,
    pub title: String,
    pub message: String,
}

/// A run's output to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRunOutput<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    /// At most [`MAX_ANNOTATIONS_PER_REQUEST`]; GitHub appends them to the run's.
    #[serde(skip_serializing_if = "<[Annotation]>::is_empty")]
    pub annotations: &'a [Annotation],
}

/// A run to create, or the members of one to update (`name` and `head_sha` are not sent then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRunWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<&'a str>,
    /// `in_progress` or `completed`.
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<&'a str>,
    pub output: CheckRunOutput<'a>,
}

/// A commit's check runs, as a GitHub App.
#[async_trait]
pub trait CheckRuns: Send + Sync {
    /// The newest run named `name` on commit `sha` by this App, if any.
    async fn find_check_run(
        &self,
        repo: &Repository,
        sha: &str,
        name: &str,
    ) -> Result<Option<CheckRun>, GitHubError>;

    async fn create_check_run(
        &self,
        repo: &Repository,
        run: &CheckRunWrite<'_>,
    ) -> Result<CheckRun, GitHubError>;

    async fn update_check_run(
        &self,
        repo: &Repository,
        id: u64,
        run: &CheckRunWrite<'_>,
    ) -> Result<CheckRun, GitHubError>;
}

/// The reply of a ref's check runs.
#[derive(Deserialize)]
struct RunsForRef {
    #[serde(default)]
    check_runs: Vec<CheckRun>,
}

impl OctocrabGitHub {
    /// The App's id, when the client acts as one: its runs are told from other Apps' by it.
    fn app_id(&self) -> Option<u64> {
        match &self.config().auth {
            GitHubAuth::App { app_id, .. } => Some(*app_id),
            _ => None,
        }
    }
}

#[async_trait]
impl CheckRuns for OctocrabGitHub {
    #[instrument(skip(self), fields(%repo))]
    async fn find_check_run(
        &self,
        repo: &Repository,
        sha: &str,
        name: &str,
    ) -> Result<Option<CheckRun>, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::ListCheckRunsForRef,
            path: endpoint::check_runs_path(repo, sha, name, self.app_id()),
            body: None,
            accept: JSON,
        };
        let reply = self.transport().send(&octo, &call, None).await?;
        if !reply.status.is_success() {
            return Err(status_error(
                Endpoint::ListCheckRunsForRef,
                &reply,
                &format!("commit {sha} in {repo}"),
            ));
        }
        let runs: RunsForRef = decode_json(Endpoint::ListCheckRunsForRef, &reply.body)?;
        // `check_name` filters already; a run of another name is not ours whatever GitHub did.
        Ok(runs.check_runs.into_iter().find(|r| r.name == name))
    }

    #[instrument(skip(self, run), fields(%repo, name = run.name))]
    async fn create_check_run(
        &self,
        repo: &Repository,
        run: &CheckRunWrite<'_>,
    ) -> Result<CheckRun, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::CreateCheckRun,
            path: endpoint::create_check_run_path(repo),
            body: Some(serde_json::to_value(run).map_err(|e| GitHubError::Config(e.to_string()))?),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::CreateCheckRun,
                &reply,
                &format!("repository {repo}"),
            )
        })
    }

    #[instrument(skip(self, run), fields(%repo))]
    async fn update_check_run(
        &self,
        repo: &Repository,
        id: u64,
        run: &CheckRunWrite<'_>,
    ) -> Result<CheckRun, GitHubError> {
        let octo = self.octo_for(repo).await?;
        let call = Call {
            endpoint: Endpoint::UpdateCheckRun,
            path: endpoint::check_run_path(repo, id),
            body: Some(serde_json::to_value(run).map_err(|e| GitHubError::Config(e.to_string()))?),
            accept: JSON,
        };
        self.write(&octo, call).await?.map_err(|reply| {
            status_error(
                Endpoint::UpdateCheckRun,
                &reply,
                &format!("check run {id} in {repo}"),
            )
        })
    }
}
