//! Lean models of GitHub's responses: only the fields prtracker reads.
//!
//! They are tolerant on purpose: GitHub has added fields over the years (label `description` in
//! 2018, PR `draft` in 2019) and sends `null` for some of them, so every field that an old or
//! partial response can lack has a default. Keeping few fields also keeps the ETag cache small.

use prtracker_domain::PrFacts;
use serde::{Deserialize, Deserializer, Serialize};

mod comment;
mod deployment;
mod git;
pub use comment::{CommentBody, IssueComment};
pub use deployment::{Deployment, DeploymentStatus, NewDeployment, NewDeploymentStatus};
pub use git::{Blob, ObjectKind, Tree, TreeEntry};

/// A label as GitHub returns it on an issue, a PR or a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    /// Six hex digits, without `#`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub color: String,
    /// Absent in the 2012 schema, `null` when unset.
    #[serde(default)]
    pub description: Option<String>,
}

/// A label to create in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewLabel {
    pub name: String,
    pub color: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The body of POST /repos/{owner}/{repo}/issues/{number}/labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddLabels<'a> {
    pub labels: Vec<&'a str>,
}

/// The account that opened a PR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct User {
    #[serde(default)]
    pub login: String,
}

/// One end of a PR: its `head` (the branch and commit it would merge) or its `base` (the branch
/// it merges into, and that branch's head when GitHub last computed the PR).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Head {
    #[serde(default)]
    pub sha: String,
    #[serde(default, rename = "ref")]
    pub branch: String,
}

/// A pull request, as GET /repos/{owner}/{repo}/pulls/{number} or the list of PRs returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    /// `open` or `closed`; a merged PR is `closed`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub draft: bool,
    /// Absent from list responses: [`PullRequest::is_merged`] also looks at `merged_at`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub merged: bool,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub head: Head,
    /// The branch the PR merges into. Its `sha` is that branch's head when GitHub last computed
    /// the PR, not necessarily the merge commit's first parent ([`Commit::parents`] gives that).
    #[serde(default, deserialize_with = "null_as_default")]
    pub base: Head,
    /// For an open PR, the test-merge commit; for a merged PR, the commit the merge produced.
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    /// `null` for a deleted account.
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub html_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Vec<Label>,
    /// When anything about the PR last changed (labels included), as GitHub writes it
    /// (`2024-01-01T00:00:00Z`): the change feed's order. Absent from very old responses.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// When the PR was closed or merged; `None` while open.
    #[serde(default)]
    pub closed_at: Option<String>,
}

impl PullRequest {
    /// Whether GitHub reports the PR as merged. The list endpoint has no `merged` field, so a
    /// `merged_at` time counts too.
    pub fn is_merged(&self) -> bool {
        self.merged || self.merged_at.is_some()
    }

    /// Whether the PR is closed (merged PRs are closed too).
    pub fn is_closed(&self) -> bool {
        self.state.eq_ignore_ascii_case("closed")
    }

    /// The facts the domain reasons about.
    pub fn facts(&self) -> PrFacts {
        PrFacts::from_github(self.is_closed(), self.is_merged(), self.draft)
    }

    /// The names of the labels on the PR, in GitHub's order.
    pub fn label_names(&self) -> Vec<&str> {
        self.labels.iter().map(|l| l.name.as_str()).collect()
    }

    /// The author's login, empty for a deleted account.
    pub fn author(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.login.as_str())
    }
}

/// One page of a repository's change feed (its PRs, the most recently updated first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPage {
    /// Nothing changed since the last read of this first page (GitHub answered 304): `prs` is
    /// empty and the caller's view still holds.
    pub unchanged: bool,
    pub prs: Vec<PullRequest>,
    /// The path of the next page, if there is one.
    pub next: Option<String>,
    /// The number of the last page, where GitHub says.
    pub last_page: Option<u32>,
}

/// A commit named by its sha, as in `parents` of a commit or `commit` of a branch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommitRef {
    pub sha: String,
}

/// A commit, as GET /repos/{owner}/{repo}/commits/{ref} returns it (only its place in history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    /// First parent first: for a merge commit, the base branch's head it was merged onto.
    #[serde(default, deserialize_with = "null_as_default")]
    pub parents: Vec<CommitRef>,
}

impl Commit {
    /// The parents' shas, first parent first.
    pub fn parent_shas(&self) -> Vec<String> {
        self.parents.iter().map(|p| p.sha.clone()).collect()
    }
}

/// A branch, as GET /repos/{owner}/{repo}/branches/{branch} returns it (only its head).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    #[serde(default)]
    pub name: String,
    pub commit: CommitRef,
}

/// What kind of object a contents entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    #[default]
    File,
    Dir,
    Symlink,
    Submodule,
    #[serde(other)]
    Other,
}

/// One entry of GET /repos/{owner}/{repo}/contents/{path}: a file (with `content` when read
/// alone) or an item of a directory listing (without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentEntry {
    #[serde(default)]
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub sha: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub size: u64,
    #[serde(default, rename = "type")]
    pub kind: EntryKind,
    /// Base64 with line breaks; empty for files over 1 MB (then `encoding` is `none`).
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub encoding: Option<String>,
}

impl ContentEntry {
    /// The decoded inline content; `None` when the entry carries none (an item of a directory
    /// listing, or a file over 1 MB, which GitHub does not inline).
    pub fn decoded_content(&self) -> Result<Option<Vec<u8>>, String> {
        let Some(content) = self.content.as_deref() else {
            return Ok(None);
        };
        match self.encoding.as_deref() {
            Some("base64") => decode_base64(content).map(Some),
            // `none` with empty content: too large to inline.
            Some("none") | None if content.is_empty() && self.size > 0 => Ok(None),
            Some("none") | None => Ok(Some(content.as_bytes().to_vec())),
            Some(other) => Err(format!("unknown encoding {other:?}")),
        }
    }
}

/// Decodes GitHub's base64, which is broken into lines of 60 characters.
pub fn decode_base64(content: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| e.to_string())
}

/// The contents endpoint answers an object for a file and an array for a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Contents {
    Dir(Vec<ContentEntry>),
    File(ContentEntry),
}

/// A file read from a repository at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    /// The path from the repository root, as GitHub gives it.
    pub path: String,
    /// The blob's SHA.
    pub sha: String,
    pub content: Vec<u8>,
}

/// The reply of GET /repos/{owner}/{repo}/installation (only the id matters here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Installation {
    pub id: u64,
}

/// Reads `null` as the type's default: GitHub writes `null` where older responses omit a field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An approximate heap size, so the ETag cache can bound memory and not only entries.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for Label {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.color.len()
            + self.description.as_ref().map_or(0, String::len)
    }
}

impl Weigh for PullRequest {
    fn weight(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + self.title.len()
            + self.state.len()
            + opt(&self.merged_at)
            + self.head.sha.len()
            + self.head.branch.len()
            + self.base.sha.len()
            + self.base.branch.len()
            + opt(&self.merge_commit_sha)
            + self.user.as_ref().map_or(0, |u| u.login.len())
            + self.html_url.len()
            + self.labels.iter().map(Weigh::weight).sum::<usize>()
            + opt(&self.updated_at)
            + opt(&self.closed_at)
    }
}

impl Weigh for Branch {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.name.len() + self.commit.sha.len()
    }
}

impl Weigh for ContentEntry {
    fn weight(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.path.len()
            + self.sha.len()
            + opt(&self.content)
            + opt(&self.encoding)
    }
}

impl Weigh for Contents {
    fn weight(&self) -> usize {
        match self {
            Contents::Dir(entries) => entries.iter().map(Weigh::weight).sum(),
            Contents::File(entry) => entry.weight(),
        }
    }
}

impl<T: Weigh> Weigh for Vec<T> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.iter().map(Weigh::weight).sum::<usize>()
    }
}

impl Weigh for Vec<u8> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_at_alone_means_merged() {
        let pr: PullRequest = serde_json::from_str(
            r#"{"number":1,"state":"closed","merged_at":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(pr.is_merged());
        assert_eq!(pr.facts(), PrFacts::Merged);
    }

    #[test]
    fn nulls_and_missing_fields_take_defaults() {
        let pr: PullRequest = serde_json::from_str(
            r#"{"number":7,"title":null,"state":"open","draft":null,"user":null,"labels":null,"head":null,"base":null}"#,
        )
        .unwrap();
        assert_eq!(pr.facts(), PrFacts::Open { draft: false });
        assert_eq!(pr.author(), "");
        assert!(pr.labels.is_empty());
        let label: Label = serde_json::from_str(r#"{"name":"x","color":null}"#).unwrap();
        assert_eq!(label.color, "");
    }

    #[test]
    fn commits_and_branches_read_only_what_is_needed() {
        let c: Commit = serde_json::from_str(
            r#"{"sha":"m","parents":[{"sha":"b","url":"u"},{"sha":"h"}],"files":[]}"#,
        )
        .unwrap();
        assert_eq!(c.parent_shas(), ["b", "h"]);
        let root: Commit = serde_json::from_str(r#"{"sha":"r","parents":null}"#).unwrap();
        assert!(root.parent_shas().is_empty());
        let b: Branch = serde_json::from_str(r#"{"name":"main","commit":{"sha":"m"}}"#).unwrap();
        assert_eq!(b.commit.sha, "m");
        let pr: PullRequest =
            serde_json::from_str(r#"{"number":1,"base":{"ref":"main","sha":"b"}}"#).unwrap();
        assert_eq!(
            (pr.base.branch.as_str(), pr.base.sha.as_str()),
            ("main", "b")
        );
    }

    #[test]
    fn new_label_omits_a_missing_description() {
        let body = serde_json::to_string(&NewLabel {
            name: "state/open".into(),
            color: "0e8a16".into(),
            description: None,
        })
        .unwrap();
        assert_eq!(body, r#"{"name":"state/open","color":"0e8a16"}"#);
    }

    #[test]
    fn tree_entries_tell_files_from_symlinks_and_submodules() {
        let tree: Tree = serde_json::from_str(
            r#"{"sha":"t","tree":[
                {"path":"a.yaml","mode":"100644","type":"blob","sha":"1","size":3},
                {"path":"link","mode":"120000","type":"blob","sha":"2","size":6},
                {"path":"lib","mode":"160000","type":"commit","sha":"3"},
                {"path":"d","mode":"040000","type":"tree","sha":"4"},
                {"path":"x","type":"something-new"}],"truncated":false}"#,
        )
        .unwrap();
        let files: Vec<bool> = tree.entries.iter().map(TreeEntry::is_file).collect();
        assert_eq!(files, [true, false, false, false, false]);
        assert!(tree.entries[1].is_symlink());
        assert_eq!(tree.entries[2].kind, ObjectKind::Commit);
        assert_eq!(tree.entries[4].kind, ObjectKind::Other);
        assert_eq!(
            (tree.entries[0].size, tree.entries[3].size),
            (Some(3), None)
        );
        let cut: Tree =
            serde_json::from_str(r#"{"sha":"t","tree":null,"truncated":true}"#).unwrap();
        assert!(cut.truncated && cut.entries.is_empty());
    }

    #[test]
    fn blobs_decode_base64_and_utf8() {
        let blob = |content: &str, encoding: &str| Blob {
            sha: "s".into(),
            size: 2,
            content: content.into(),
            encoding: encoding.into(),
        };
        assert_eq!(blob("aGk=\n", "base64").decoded().unwrap(), b"hi");
        assert_eq!(blob("hi", "utf-8").decoded().unwrap(), b"hi");
        assert!(blob("hi", "utf-16").decoded().is_err());
    }

    #[test]
    fn unknown_entry_kinds_do_not_fail() {
        let entry: ContentEntry =
            serde_json::from_str(r#"{"path":"x","type":"something-new"}"#).unwrap();
        assert_eq!(entry.kind, EntryKind::Other);
    }
}
