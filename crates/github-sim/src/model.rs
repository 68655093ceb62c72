//! The simulated world: users, repositories, labels, pull requests, their comments and files at
//! commits.
//! Everything lives in memory behind one mutex (see `server.rs`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids;

/// Kind of account, as in the `type` field of GitHub's user objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AccountKind {
    #[default]
    User,
    Bot,
    Organization,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "User",
            AccountKind::Bot => "Bot",
            AccountKind::Organization => "Organization",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub login: String,
    pub id: u64,
    pub kind: AccountKind,
}

/// A repository label (the definition); issues refer to it by id.
#[derive(Debug, Clone)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub default: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrState {
    Open,
    Closed,
}

#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub state: PrState,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<i64>,
    pub merged_by: Option<String>,
    pub closed_at: Option<i64>,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
    pub base_sha: String,
    pub merge_commit_sha: Option<String>,
    /// Label ids, in the order they were put on the issue.
    pub labels: Vec<u64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A comment on an issue or pull request (GitHub's "issue comment"; a PR's conversation tab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueComment {
    pub id: u64,
    /// The number of the issue (here always a pull request) it is on.
    pub issue: u64,
    /// Login of the author.
    pub user: String,
    pub body: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds; moves on each edit that changes the body.
    pub updated_at: i64,
}

/// A commit as the simulator keeps it: its place in history and who made it. Commits never
/// change once made, so `GET /commits/{sha}` answers the same body (and ETag) for ever.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Parent shas, first parent first: a merge commit's first parent is the base branch's head
    /// when it was made, its second the PR's head. The initial commit has none.
    pub parents: Vec<String>,
    /// Login of the author.
    pub author: String,
    /// Made by GitHub itself (a merge), so committed by `web-flow` rather than the author.
    pub by_github: bool,
    pub message: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub description: Option<String>,
    pub default_branch: String,
    pub created_at: i64,
    pub labels: Vec<Label>,
    pub pulls: BTreeMap<u64, PullRequest>,
    /// Issue comments of every PR, in creation order (ids increase).
    pub comments: Vec<IssueComment>,
    /// Deployments with their statuses, in creation order (ids increase).
    pub deployments: Vec<crate::deployments::Deployment>,
    /// Commit statuses of every commit, in creation order.
    pub statuses: Vec<crate::statuses::CommitStatus>,
    /// Check runs of every commit, in creation order.
    pub check_runs: Vec<crate::checks::CheckRun>,
    pub next_number: u64,
    /// branch name -> commit sha, so `?ref=main` and `?ref=<sha>` both resolve.
    pub branches: HashMap<String, String>,
    /// commit sha -> path -> bytes.
    pub files: HashMap<String, BTreeMap<String, Vec<u8>>>,
    /// commit sha -> its parents (first parent first) and authorship. A sha that only has files
    /// (set by the control API) is a commit without recorded parents.
    pub commits: HashMap<String, Commit>,
    /// Git object sha -> where it is, for `git/trees` and `git/blobs` (refreshed on a miss).
    pub objects: crate::git::ObjectIndex,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn label(&self, id: u64) -> Option<&Label> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// The parents of commit `sha`, first parent first; `None` for an unknown commit.
    pub fn parents(&self, sha: &str) -> Option<&[String]> {
        self.commits.get(sha).map(|c| c.parents.as_slice())
    }

    /// Records a commit; a sha already recorded keeps its history, as a git object does.
    pub fn record_commit(&mut self, sha: &str, commit: Commit) {
        self.commits.entry(sha.to_string()).or_insert(commit);
    }
}

/// A webhook payload rendered at the moment of the change (GitHub snapshots state then too).
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    pub event: String,
    pub action: Option<String>,
    pub payload: Value,
}

/// The whole simulated GitHub.
#[derive(Debug)]
pub struct World {
    /// Base URL of this server, e.g. `http://127.0.0.1:4321`; every `url`/`html_url` is built on it.
    pub base: String,
    pub accounts: HashMap<String, Account>,
    /// Keyed by lower-cased `owner/name`: GitHub resolves repository names case-insensitively.
    pub repos: BTreeMap<String, Repo>,
    pub next_id: u64,
    /// Seconds added to the system clock, so tests can move time (budget resets) without sleeping.
    pub clock_offset: i64,
    /// Installation id reported in webhook payloads and by `GET /repos/{o}/{r}/installation`.
    pub installation_id: Option<u64>,
    /// Events waiting to be handed to the webhook deliverer (drained after every change).
    pub outbox: Vec<OutgoingEvent>,
    /// Former `owner/name` keys of renamed or transferred repositories, to their ids: GitHub
    /// redirects requests for the old name to `/repositories/{id}/...`.
    pub moved: HashMap<String, u64>,
}

impl World {
    pub fn new(base: String) -> Self {
        Self {
            base,
            accounts: HashMap::new(),
            repos: BTreeMap::new(),
            next_id: 1_000_000,
            clock_offset: 0,
            installation_id: None,
            outbox: Vec::new(),
            moved: HashMap::new(),
        }
    }

    pub fn now(&self) -> i64 {
        crate::time::system_now() + self.clock_offset
    }

    pub fn alloc_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Looks up an account, creating a `User` (or `Bot` for `name[bot]`) on first sight.
    pub fn account(&mut self, login: &str) -> Account {
        if let Some(a) = self.accounts.get(login) {
            return a.clone();
        }
        let kind = if login.ends_with("[bot]") {
            AccountKind::Bot
        } else {
            AccountKind::User
        };
        self.ensure_account(login, kind)
    }

    pub fn ensure_account(&mut self, login: &str, kind: AccountKind) -> Account {
        if let Some(a) = self.accounts.get_mut(login) {
            // An owner declared as an organization keeps that kind from then on.
            if kind == AccountKind::Organization {
                a.kind = kind;
            }
            return a.clone();
        }
        let id = self.alloc_id();
        let account = Account {
            login: login.to_string(),
            id,
            kind,
        };
        self.accounts.insert(login.to_string(), account.clone());
        account
    }

    pub fn repo_key(owner: &str, name: &str) -> String {
        format!("{owner}/{name}").to_lowercase()
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&Self::repo_key(owner, name))
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&Self::repo_key(owner, name))
    }

    pub fn repo_by_id(&self, id: u64) -> Option<&Repo> {
        self.repos.values().find(|repo| repo.id == id)
    }

    /// The id of the repository that was called `owner/name` before a rename, if it was.
    pub fn moved_id(&self, owner: &str, name: &str) -> Option<u64> {
        let key = Self::repo_key(owner, name);
        if self.repos.contains_key(&key) {
            return None;
        }
        self.moved.get(&key).copied()
    }

    /// Renames (or transfers) a repository: it keeps its id, pulls, labels and files; requests for
    /// the old name are redirected. False when `from` does not exist or `to` is taken.
    pub fn rename_repo(&mut self, from: (&str, &str), to: (&str, &str)) -> bool {
        let (old_key, new_key) = (Self::repo_key(from.0, from.1), Self::repo_key(to.0, to.1));
        if old_key != new_key && self.repos.contains_key(&new_key) {
            return false;
        }
        let Some(mut repo) = self.repos.remove(&old_key) else {
            return false;
        };
        self.ensure_account(to.0, AccountKind::Organization);
        repo.owner = to.0.to_string();
        repo.name = to.1.to_string();
        self.moved.insert(old_key, repo.id);
        self.moved.remove(&new_key);
        self.repos.insert(new_key, repo);
        true
    }

    /// Creates a repository with GitHub's nine default labels (as listed on a fresh repository).
    pub fn create_repo(&mut self, owner: &str, name: &str, opts: &RepoOptions) -> &mut Repo {
        let key = Self::repo_key(owner, name);
        if !self.repos.contains_key(&key) {
            let kind = if opts.owner_is_user {
                AccountKind::User
            } else {
                AccountKind::Organization
            };
            self.ensure_account(owner, kind);
            let id = self.alloc_id();
            let now = self.now();
            let default_branch = opts
                .default_branch
                .clone()
                .unwrap_or_else(|| "main".to_string());
            let mut labels = Vec::new();
            for (lname, color, desc) in DEFAULT_LABELS {
                labels.push(Label {
                    id: self.alloc_id(),
                    name: lname.to_string(),
                    color: color.to_string(),
                    description: Some(desc.to_string()),
                    default: true,
                });
            }
            let initial = ids::sha40(&format!("{key}:initial"));
            let mut branches = HashMap::new();
            branches.insert(default_branch.clone(), initial.clone());
            let mut files = HashMap::new();
            files.insert(initial.clone(), BTreeMap::new());
            let mut commits = HashMap::new();
            commits.insert(
                initial,
                Commit {
                    parents: Vec::new(),
                    author: owner.to_string(),
                    by_github: false,
                    message: "Initial commit".to_string(),
                    at: now,
                },
            );
            self.repos.insert(
                key.clone(),
                Repo {
                    id,
                    owner: owner.to_string(),
                    name: name.to_string(),
                    private: opts.private,
                    description: opts.description.clone(),
                    default_branch,
                    created_at: now,
                    labels,
                    pulls: BTreeMap::new(),
                    comments: Vec::new(),
                    deployments: Vec::new(),
                    statuses: Vec::new(),
                    check_runs: Vec::new(),
                    next_number: 1,
                    branches,
                    files,
                    commits,
                    objects: Default::default(),
                },
            );
        }
        // Present: inserted above when missing.
        self.repos
            .get_mut(&key)
            .unwrap_or_else(|| unreachable!("repository {key} was just inserted"))
    }
}

/// Options for a new repository.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoOptions {
    pub private: bool,
    pub description: Option<String>,
    pub default_branch: Option<String>,
    /// The owner is a personal account rather than an organization (organizations get an
    /// `organization` member in webhook payloads).
    pub owner_is_user: bool,
}

/// GitHub's default labels, in the order `GET /repos/{o}/{r}/labels` lists them on a fresh repo
/// (names, colours and descriptions as GitHub creates them).
pub const DEFAULT_LABELS: [(&str, &str, &str); 9] = [
    ("bug", "d73a4a", "Something isn't working"),
    (
        "documentation",
        "0075ca",
        "Improvements or additions to documentation",
    ),
    (
        "duplicate",
        "cfd3d7",
        "This issue or pull request already exists",
    ),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
];
