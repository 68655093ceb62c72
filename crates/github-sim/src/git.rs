//! Git objects: `GET /repos/{o}/{r}/git/trees/{tree_sha}` and `GET /repos/{o}/{r}/git/blobs/{sha}`
//! in GitHub's shapes (git-tree-recursive.json, git-blob.json).
//!
//! Commits keep flat `path -> bytes` maps; directories are derived from them. Tree shas are
//! content-addressed like git's (a hash of the sorted entries), so the contents API, a commit's
//! `tree` and these endpoints agree on every sha, and an unchanged directory keeps its sha across
//! commits.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde_json::{Value, json};

use crate::commits::resolve_commit;
use crate::contents::{blob_sha, wrapped_base64};
use crate::error::ApiError;
use crate::ids;
use crate::model::{Repo, World};

const DOC_TREE: &str = "https://docs.github.com/rest/git/trees#get-a-tree";
const DOC_BLOB: &str = "https://docs.github.com/rest/git/blobs#get-a-blob";

/// GitHub stops a recursive listing at 100,000 entries (and 7 MB) and says `truncated: true`.
pub const GITHUB_TREE_ENTRIES: usize = 100_000;

const MODE_BLOB: &str = "100644";
const MODE_TREE: &str = "040000";

/// A directory of a commit, with its sha and its entries in git's order.
#[derive(Debug)]
pub struct Tree<'a> {
    pub sha: String,
    pub entries: Vec<(&'a str, Node<'a>)>,
}

#[derive(Debug)]
pub enum Node<'a> {
    Blob { sha: String, bytes: &'a [u8] },
    Tree(Tree<'a>),
}

/// The nested form of a flat file map, before hashing.
#[derive(Default)]
struct Raw<'a> {
    files: BTreeMap<&'a str, &'a [u8]>,
    dirs: BTreeMap<&'a str, Raw<'a>>,
}

impl<'a> Raw<'a> {
    fn into_tree(self) -> Tree<'a> {
        let mut entries: Vec<(&'a str, Node<'a>)> = self
            .files
            .into_iter()
            .map(|(name, bytes)| {
                let sha = blob_sha(bytes);
                (name, Node::Blob { sha, bytes })
            })
            .chain(
                self.dirs
                    .into_iter()
                    .map(|(name, raw)| (name, Node::Tree(raw.into_tree()))),
            )
            .collect();
        // Git sorts a tree's entries by name, a subtree's name as if it ended in `/`.
        entries.sort_by_key(|(name, node)| sort_key(name, node));
        let mut listing = Vec::new();
        for (name, node) in &entries {
            let (mode, sha) = match node {
                Node::Blob { sha, .. } => (MODE_BLOB, sha),
                Node::Tree(t) => (MODE_TREE, &t.sha),
            };
            listing.extend_from_slice(format!("{mode} {name}\0{sha}").as_bytes());
        }
        let mut data = format!("tree {}\0", listing.len()).into_bytes();
        data.extend_from_slice(&listing);
        Tree {
            sha: ids::sha256_hex(&data)[..40].to_string(),
            entries,
        }
    }
}

fn sort_key(name: &str, node: &Node<'_>) -> Vec<u8> {
    let mut key = name.as_bytes().to_vec();
    if matches!(node, Node::Tree(_)) {
        key.push(b'/');
    }
    key
}

impl<'a> Tree<'a> {
    /// The root directory of a commit's files.
    pub fn build(files: &'a BTreeMap<String, Vec<u8>>) -> Self {
        let mut root = Raw::default();
        for (path, bytes) in files {
            let mut dir = &mut root;
            let mut segments = path.split('/').filter(|s| !s.is_empty()).peekable();
            while let Some(segment) = segments.next() {
                if segments.peek().is_none() {
                    dir.files.insert(segment, bytes);
                } else {
                    dir = dir.dirs.entry(segment).or_default();
                }
            }
        }
        root.into_tree()
    }

    /// The subdirectory at `path` (`""` is this directory).
    pub fn find(&self, path: &str) -> Option<&Tree<'a>> {
        let mut tree = self;
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            tree = tree.entries.iter().find_map(|(name, node)| match node {
                Node::Tree(t) if *name == segment => Some(t),
                _ => None,
            })?;
        }
        Some(tree)
    }

    /// Every object under this directory with its path relative to it, parents before children.
    fn walk<'t>(&'t self, prefix: &str, out: &mut Vec<(String, &'t Node<'a>)>) {
        for (name, node) in &self.entries {
            let path = format!("{prefix}{name}");
            out.push((path.clone(), node));
            if let Node::Tree(t) = node {
                t.walk(&format!("{path}/"), out);
            }
        }
    }
}

/// Where an object can be read again: a directory or a file of some commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    Tree { commit: String, dir: String },
    Blob { commit: String, path: String },
}

/// Object sha -> where it is. Rebuilt when a lookup misses or finds it stale (the control API
/// may replace a commit's files), so it needs no upkeep where files are written.
pub type ObjectIndex = HashMap<String, Located>;

fn index(repo: &Repo) -> ObjectIndex {
    let mut out = ObjectIndex::new();
    for (commit, files) in &repo.files {
        let root = Tree::build(files);
        out.entry(root.sha.clone()).or_insert(Located::Tree {
            commit: commit.clone(),
            dir: String::new(),
        });
        let mut all = Vec::new();
        root.walk("", &mut all);
        for (path, node) in all {
            let (sha, located) = match node {
                Node::Tree(t) => (
                    t.sha.clone(),
                    Located::Tree {
                        commit: commit.clone(),
                        dir: path,
                    },
                ),
                Node::Blob { sha, .. } => (
                    sha.clone(),
                    Located::Blob {
                        commit: commit.clone(),
                        path,
                    },
                ),
            };
            out.entry(sha).or_insert(located);
        }
    }
    out
}

/// Whether `located` still holds the object `sha`.
fn still_there(repo: &Repo, sha: &str, located: &Located) -> bool {
    match located {
        Located::Tree { commit, dir } => repo
            .files
            .get(commit)
            .is_some_and(|files| Tree::build(files).find(dir).is_some_and(|t| t.sha == sha)),
        Located::Blob { commit, path } => repo
            .files
            .get(commit)
            .and_then(|files| files.get(path))
            .is_some_and(|bytes| blob_sha(bytes) == sha),
    }
}

/// Object `sha` as the index has it, if still there.
fn indexed(repo: &Repo, sha: &str) -> Option<Located> {
    repo.objects
        .get(sha)
        .filter(|found| still_there(repo, sha, found))
        .cloned()
}

/// Object `sha` after refreshing the repository's index.
fn reindexed(repo: &mut Repo, sha: &str) -> Option<Located> {
    repo.objects = index(repo);
    repo.objects.get(sha).cloned()
}

fn tree_entry(api: &str, path: &str, node: &Node<'_>) -> Value {
    match node {
        Node::Blob { sha, bytes } => json!({
            "path": path,
            "mode": MODE_BLOB,
            "type": "blob",
            "sha": sha,
            "size": bytes.len(),
            "url": format!("{api}/git/blobs/{sha}"),
        }),
        Node::Tree(t) => json!({
            "path": path,
            "mode": MODE_TREE,
            "type": "tree",
            "sha": t.sha,
            "url": format!("{api}/git/trees/{}", t.sha),
        }),
    }
}

impl World {
    /// `GET /repos/{o}/{r}/git/trees/{tree_ish}`: `tree_ish` is a tree sha, a commit sha or a
    /// branch. A recursive answer lists at most `limit` entries, then says `truncated`.
    pub fn git_tree(
        &mut self,
        owner: &str,
        name: &str,
        tree_ish: &str,
        recursive: bool,
        limit: usize,
    ) -> Result<Value, ApiError> {
        let base = self.base.clone();
        let repo = self
            .repo_mut(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_TREE))?;
        // A known tree first, then a commit or branch (whose root tree it names); only a miss
        // of both costs a reindex.
        let found = match indexed(repo, tree_ish) {
            Some(found) => Some(found),
            None => match resolve_commit(repo, tree_ish) {
                Some(commit) => Some(Located::Tree {
                    commit,
                    dir: String::new(),
                }),
                None => reindexed(repo, tree_ish),
            },
        };
        let Some(Located::Tree { commit, dir }) = found else {
            return Err(ApiError::not_found(DOC_TREE));
        };
        // A commit known without files (a PR head nobody set files for) has the empty tree.
        let empty = BTreeMap::new();
        let files = repo.files.get(&commit).unwrap_or(&empty);
        let root = Tree::build(files);
        let tree = root
            .find(&dir)
            .ok_or_else(|| ApiError::not_found(DOC_TREE))?;
        let api = format!("{base}/repos/{}", repo.full_name());
        let mut nodes = Vec::new();
        if recursive {
            tree.walk("", &mut nodes);
        } else {
            nodes.extend(
                tree.entries
                    .iter()
                    .map(|(name, node)| (name.to_string(), node)),
            );
        }
        let truncated = recursive && nodes.len() > limit;
        if truncated {
            nodes.truncate(limit);
        }
        let entries: Vec<Value> = nodes
            .iter()
            .map(|(path, node)| tree_entry(&api, path, node))
            .collect();
        Ok(json!({
            "sha": tree.sha,
            "url": format!("{api}/git/trees/{}", tree.sha),
            "tree": entries,
            "truncated": truncated,
        }))
    }

    /// `GET /repos/{o}/{r}/git/blobs/{sha}`: the bytes as wrapped base64.
    pub fn git_blob(&mut self, owner: &str, name: &str, sha: &str) -> Result<Value, ApiError> {
        let base = self.base.clone();
        let repo = self
            .repo_mut(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_BLOB))?;
        let found = indexed(repo, sha).or_else(|| reindexed(repo, sha));
        let Some(Located::Blob { commit, path }) = found else {
            return Err(ApiError::not_found(DOC_BLOB));
        };
        let bytes = repo
            .files
            .get(&commit)
            .and_then(|files| files.get(&path))
            .ok_or_else(|| ApiError::not_found(DOC_BLOB))?;
        // GitHub's blob node id: base64 of `04:Blob{repository id}:{sha}` (git-blob.json).
        let node =
            base64::engine::general_purpose::STANDARD.encode(format!("04:Blob{}:{sha}", repo.id));
        Ok(json!({
            "sha": sha,
            "node_id": node,
            "size": bytes.len(),
            "url": format!("{base}/repos/{}/git/blobs/{sha}", repo.full_name()),
            "content": wrapped_base64(bytes),
            "encoding": "base64",
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        list.iter()
            .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_directory_keeps_its_sha_when_only_a_sibling_changes() {
        let a = files(&[("deploy/app.yaml", "a"), ("docs/x.md", "1")]);
        let b = files(&[("deploy/app.yaml", "a"), ("docs/x.md", "2")]);
        let (ta, tb) = (Tree::build(&a), Tree::build(&b));
        assert_ne!(ta.sha, tb.sha);
        assert_eq!(
            ta.find("deploy").unwrap().sha,
            tb.find("deploy").unwrap().sha
        );
        assert_ne!(ta.find("docs").unwrap().sha, tb.find("docs").unwrap().sha);
        assert!(ta.find("nope").is_none() && ta.find("deploy/app.yaml").is_none());
    }

    #[test]
    fn entries_follow_gits_order_and_walk_goes_parents_first() {
        // Git compares `a.b` with `a/` for a subtree `a`: `.` (0x2e) sorts before `/` (0x2f).
        let f = files(&[("a/x", "1"), ("a.b", "2"), ("a-c", "3")]);
        let t = Tree::build(&f);
        let names: Vec<&str> = t.entries.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["a-c", "a.b", "a"]);
        let mut all = Vec::new();
        t.walk("", &mut all);
        let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["a-c", "a.b", "a", "a/x"]);
    }
}
