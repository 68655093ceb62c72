//! What a delivery says: the `pull_request` and `check_run` payloads, read into the events the
//! operator acts on.

use prtracker_api::Repository;
use prtracker_domain::PrFacts;
use serde::Deserialize;

/// The `pull_request` actions that can change a tracker (facts, labels, title, head): the ones
/// handed to the operator. Other actions (assigned, review_requested, ...) are answered 202 and
/// ignored.
pub const PULL_REQUEST_ACTIONS: [&str; 9] = [
    "opened",
    "edited",
    "labeled",
    "unlabeled",
    "closed",
    "reopened",
    "synchronize",
    "ready_for_review",
    "converted_to_draft",
];

/// An event for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    PullRequest(PullRequestEvent),
    CheckRun(CheckRunEvent),
}

/// The `check_run` actions handed to the operator: a person's "Re-run" of a run. GitHub sends an
/// App the `check_run` events of its own runs only.
pub const CHECK_RUN_ACTIONS: [&str; 1] = ["rerequested"];

/// A `check_run` delivery: which run, on which commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunEvent {
    /// `X-GitHub-Delivery` (empty if the header was absent).
    pub delivery: String,
    /// `rerequested`, ... (the operator acts on [`CHECK_RUN_ACTIONS`]).
    pub action: String,
    pub repository: Repository,
    /// The run's id, and its name (`prtracker/<cluster>` for ours).
    pub id: u64,
    pub name: String,
    /// The commit the run is on: for ours, a PR's merge commit.
    pub head_sha: String,
    /// Who asked.
    pub sender: Option<String>,
}

/// GitHub's `state` of a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullRequestState {
    Open,
    Closed,
}

/// A `pull_request` delivery: what the operator needs to reconcile the matching tracker, and to
/// create one for a newly opened PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    /// `X-GitHub-Delivery` (empty if the header was absent).
    pub delivery: String,
    /// `opened`, `labeled`, ... (one of [`PULL_REQUEST_ACTIONS`]).
    pub action: String,
    pub repository: Repository,
    pub number: u64,
    /// The GitHub App installation that sent it, if any.
    pub installation_id: Option<u64>,
    pub draft: bool,
    pub state: PullRequestState,
    pub merged: bool,
    /// The PR's labels after the change, by name.
    pub labels: Vec<String>,
    /// For `labeled`/`unlabeled`: the label added or removed.
    pub label: Option<String>,
    pub title: String,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
    /// The merge commit; only when `merged` (GitHub's field means a test merge before that).
    pub merge_commit_sha: Option<String>,
    /// The PR's author.
    pub author: Option<String>,
    /// Who caused the event.
    pub sender: Option<String>,
    pub html_url: String,
}

impl PullRequestEvent {
    /// The GitHub facts of the PR after the change.
    pub fn facts(&self) -> PrFacts {
        PrFacts::from_github(
            self.state == PullRequestState::Closed,
            self.merged,
            self.draft,
        )
    }

    /// Whether the PR is open now (for auto-tracking: `opened`, `reopened`, or any event of an open
    /// PR not tracked yet).
    pub fn is_open(&self) -> bool {
        self.state == PullRequestState::Open
    }
}

// GitHub's payload, the members we read (serde ignores the rest).

#[derive(Deserialize)]
struct RawPullRequestEvent {
    action: String,
    number: u64,
    pull_request: RawPull,
    repository: RawRepository,
    #[serde(default)]
    installation: Option<RawId>,
    #[serde(default)]
    label: Option<RawLabel>,
    #[serde(default)]
    sender: Option<RawUser>,
}

#[derive(Deserialize)]
struct RawPull {
    state: PullRequestState,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    labels: Vec<RawLabel>,
    #[serde(default)]
    title: String,
    head: RawRef,
    #[serde(default)]
    base: Option<RawRef>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    user: Option<RawUser>,
    #[serde(default)]
    html_url: String,
}

#[derive(Deserialize)]
struct RawRef {
    sha: String,
    #[serde(default, rename = "ref")]
    reference: String,
}

#[derive(Deserialize)]
struct RawRepository {
    full_name: String,
}

#[derive(Deserialize)]
struct RawId {
    id: u64,
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
}

#[derive(Deserialize)]
struct RawUser {
    login: String,
}

impl RawPullRequestEvent {
    fn into_event(self, delivery: String) -> Result<PullRequestEvent, String> {
        let repository: Repository = self
            .repository
            .full_name
            .parse()
            .map_err(|e| format!("repository.full_name: {e}"))?;
        let pr = self.pull_request;
        // `merged` is in every real payload; `merged_at` is the fallback.
        let merged = pr.merged.unwrap_or(pr.merged_at.is_some());
        Ok(PullRequestEvent {
            delivery,
            action: self.action,
            repository,
            number: self.number,
            installation_id: self.installation.map(|i| i.id),
            draft: pr.draft.unwrap_or(false),
            state: pr.state,
            merged,
            labels: pr.labels.into_iter().map(|l| l.name).collect(),
            label: self.label.map(|l| l.name),
            title: pr.title,
            head_sha: pr.head.sha,
            head_ref: pr.head.reference,
            base_ref: pr.base.map(|b| b.reference).unwrap_or_default(),
            merge_commit_sha: pr.merge_commit_sha.filter(|_| merged),
            author: pr.user.map(|u| u.login),
            sender: self.sender.map(|u| u.login),
            html_url: pr.html_url,
        })
    }
}

#[derive(Deserialize)]
struct RawCheckRunEvent {
    action: String,
    check_run: RawCheckRun,
    repository: RawRepository,
    #[serde(default)]
    sender: Option<RawUser>,
}

#[derive(Deserialize)]
struct RawCheckRun {
    id: u64,
    name: String,
    head_sha: String,
}

/// Parses a `check_run` payload (the raw JSON body) into an event; the error says what is wrong.
pub fn parse_check_run(delivery: &str, json: &[u8]) -> Result<CheckRunEvent, String> {
    let raw: RawCheckRunEvent = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let repository: Repository = raw
        .repository
        .full_name
        .parse()
        .map_err(|e| format!("repository.full_name: {e}"))?;
    Ok(CheckRunEvent {
        delivery: delivery.to_owned(),
        action: raw.action,
        repository,
        id: raw.check_run.id,
        name: raw.check_run.name,
        head_sha: raw.check_run.head_sha,
        sender: raw.sender.map(|u| u.login),
    })
}

/// Parses a `pull_request` payload (the raw JSON body) into an event; the error says what is wrong.
pub fn parse_pull_request(delivery: &str, json: &[u8]) -> Result<PullRequestEvent, String> {
    let raw: RawPullRequestEvent = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    raw.into_event(delivery.to_owned())
}

/// The JSON document of a delivery: the body itself, or the `payload` field of a form body
/// (`application/x-www-form-urlencoded`, GitHub's other content type).
pub fn json_payload(content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let form = content_type.is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok(body.to_vec());
    }
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned().into_bytes())
        .ok_or_else(|| "form-encoded delivery without a payload field".to_owned())
}
