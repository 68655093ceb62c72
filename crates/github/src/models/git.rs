//! Git's own objects through the REST API: trees and blobs, which a sha names for good.

use serde::{Deserialize, Serialize};

use super::{Weigh, decode_base64, null_as_default};

/// What a git tree entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A file, or a symlink (mode `120000`, whose content is the link's target).
    #[default]
    Blob,
    Tree,
    /// A submodule: a commit of another repository.
    Commit,
    #[serde(other)]
    Other,
}

/// One entry of a git tree: its path is relative to the tree asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    pub path: String,
    /// `100644`, `100755`, `040000`, `120000` (symlink), `160000` (submodule).
    #[serde(default)]
    pub mode: String,
    #[serde(default, rename = "type")]
    pub kind: ObjectKind,
    #[serde(default)]
    pub sha: String,
    /// Blobs only.
    #[serde(default)]
    pub size: Option<u64>,
}

impl TreeEntry {
    pub fn is_symlink(&self) -> bool {
        self.mode == "120000"
    }

    /// A regular file: a blob that is not a symlink.
    pub fn is_file(&self) -> bool {
        self.kind == ObjectKind::Blob && !self.is_symlink()
    }
}

/// A git tree, as GET /repos/{owner}/{repo}/git/trees/{tree_sha} returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tree {
    /// The tree's own sha, also when it was asked for by a commit or branch.
    #[serde(default)]
    pub sha: String,
    #[serde(default, rename = "tree", deserialize_with = "null_as_default")]
    pub entries: Vec<TreeEntry>,
    /// GitHub cuts a recursive listing past 100,000 entries or 7 MB and says so here.
    #[serde(default, deserialize_with = "null_as_default")]
    pub truncated: bool,
}

/// A git blob, as GET /repos/{owner}/{repo}/git/blobs/{file_sha} returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    #[serde(default)]
    pub sha: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub size: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub content: String,
    /// `base64` (wrapped every 60 characters), or `utf-8` when asked for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub encoding: String,
}

impl Blob {
    /// The blob's bytes.
    pub fn decoded(&self) -> Result<Vec<u8>, String> {
        match self.encoding.as_str() {
            "base64" => decode_base64(&self.content),
            "utf-8" | "utf8" => Ok(self.content.as_bytes().to_vec()),
            other => Err(format!("unknown encoding {other:?}")),
        }
    }
}

impl Weigh for Tree {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.sha.len()
            + self
                .entries
                .iter()
                .map(|e| {
                    std::mem::size_of::<TreeEntry>() + e.path.len() + e.mode.len() + e.sha.len()
                })
                .sum::<usize>()
    }
}

impl Weigh for Blob {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.sha.len() + self.content.len() + self.encoding.len()
    }
}
