//! Reading every file under a path at a commit, through the contents API: the walk
//! [`crate::trees`] falls back to when a tree is too large for GitHub to list whole, and the
//! directory listings and blob cache that reader shares.
//!
//! Directory listings go through the ETag cache (a drift monitor re-reads the same commit every
//! few minutes, and a 304 costs no quota). File bodies are cached by blob SHA, which names their
//! content, so a file seen before is not requested again at all.

use std::sync::Arc;

use octocrab::Octocrab;
use prtracker_domain::Repository;
use tracing::debug;

use crate::{
    config::ContentsLimits,
    endpoint::{self, Endpoint},
    error::GitHubError,
    models::{ContentEntry, Contents, EntryKind, RepoFile},
    names,
    octo::{OctocrabGitHub, decode_json},
    transport::{Call, JSON, RAW, status_error},
};

/// Files and bytes read so far, against the limits.
pub(crate) struct Budget<'a> {
    files: u64,
    bytes: u64,
    path: &'a str,
    commit: &'a str,
    max_files: u64,
    max_bytes: u64,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(path: &'a str, commit: &'a str, limits: &ContentsLimits) -> Self {
        Self {
            files: 0,
            bytes: 0,
            path,
            commit,
            max_files: limits.max_files,
            max_bytes: limits.max_total_bytes,
        }
    }

    pub(crate) fn too_large(&self, what: &'static str, limit: u64) -> GitHubError {
        GitHubError::ContentsTooLarge {
            path: self.path.to_owned(),
            commit: self.commit.to_owned(),
            what,
            limit,
        }
    }

    /// Takes one file of `size` bytes, or fails past a limit.
    pub(crate) fn take(&mut self, size: u64) -> Result<(), GitHubError> {
        if self.files + 1 > self.max_files {
            return Err(self.too_large("files", self.max_files));
        }
        if self.bytes.saturating_add(size) > self.max_bytes {
            return Err(self.too_large("bytes", self.max_bytes));
        }
        self.files += 1;
        self.bytes += size;
        Ok(())
    }
}

/// Every file under `path` at `commit`, sorted by path: read through git trees and blobs
/// ([`crate::trees::read_files`]), this module's walk being its fallback.
pub(crate) async fn read_tree(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    path: &str,
    commit: &str,
) -> Result<Vec<RepoFile>, GitHubError> {
    crate::trees::read_files(client, octo, repo, path, commit).await
}

/// Every file under `path` at `commit`, sorted by path, through the contents API: a listing
/// per directory, and a request per file not in the blob cache.
pub(crate) async fn walk(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    path: &str,
    commit: &str,
) -> Result<Vec<RepoFile>, GitHubError> {
    let limits = client.config().contents;
    let mut budget = Budget::new(path, commit, &limits);
    let mut files = Vec::new();
    let mut pending = vec![(path.to_owned(), 0u32)];
    while let Some((dir, depth)) = pending.pop() {
        let listing = get_contents(client, octo, repo, &dir, commit).await?;
        let entries: Vec<&ContentEntry> = match &*listing {
            // The path itself is a file.
            Contents::File(entry) => vec![entry],
            Contents::Dir(entries) => entries.iter().collect(),
        };
        for entry in entries {
            names::check_listed(&entry.name, &entry.path, path, commit)?;
            match entry.kind {
                EntryKind::File => {
                    budget.take(entry.size)?;
                    files.push(read_file(client, octo, repo, entry, commit).await?);
                }
                EntryKind::Dir => {
                    if depth + 1 > limits.max_depth {
                        return Err(
                            budget.too_large("directory levels", u64::from(limits.max_depth))
                        );
                    }
                    pending.push((entry.path.clone(), depth + 1));
                }
                // GitHub answers a symlink to a file of the repository with that file; other
                // symlinks, submodules and unknown kinds are not manifests.
                EntryKind::Symlink => {
                    let target = get_contents(client, octo, repo, &entry.path, commit).await?;
                    if let Contents::File(file) = &*target
                        && file.kind == EntryKind::File
                    {
                        budget.take(file.size)?;
                        let mut read = read_file(client, octo, repo, file, commit).await?;
                        read.path.clone_from(&entry.path);
                        files.push(read);
                    }
                }
                EntryKind::Submodule | EntryKind::Other => {
                    debug!(path = %entry.path, kind = ?entry.kind, "skipping");
                }
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

pub(crate) async fn get_contents(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    path: &str,
    commit: &str,
) -> Result<Arc<Contents>, GitHubError> {
    client
        .get_cached(
            octo,
            Endpoint::GetContents,
            endpoint::contents_path(repo, path, commit),
            &format!("{path:?} at {commit} in {repo}"),
            |_, body| decode_json(Endpoint::GetContents, body),
        )
        .await
}

/// A file's bytes from the blob cache, which both readers share: a blob sha names its content.
pub(crate) fn cached_blob(client: &OctocrabGitHub, sha: &str) -> Option<Vec<u8>> {
    if sha.is_empty() {
        return None;
    }
    let (_, value) = client.transport().cache.get(&format!("blob:{sha}"))?;
    value
        .downcast::<Vec<u8>>()
        .ok()
        .map(|bytes| Vec::clone(&bytes))
}

/// Keeps a file's bytes under their blob sha.
pub(crate) fn keep_blob(client: &OctocrabGitHub, sha: &str, content: &[u8]) {
    if sha.is_empty() {
        return;
    }
    let weight = content.len() + std::mem::size_of::<Vec<u8>>();
    client.transport().cache.insert(
        format!("blob:{sha}"),
        sha.to_owned(),
        Arc::new(content.to_vec()),
        weight,
    );
}

/// The bytes of a file entry: from the blob cache, from its inline base64 `content`, or from
/// its own request (an item of a directory listing carries no content).
pub(crate) async fn read_file(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    entry: &ContentEntry,
    commit: &str,
) -> Result<RepoFile, GitHubError> {
    let content = match cached_blob(client, &entry.sha) {
        Some(bytes) => bytes,
        None => {
            let content = match inline_content(entry)? {
                Some(bytes) => bytes,
                None => fetch_file(client, octo, repo, &entry.path, commit).await?,
            };
            keep_blob(client, &entry.sha, &content);
            content
        }
    };
    Ok(RepoFile {
        path: entry.path.clone(),
        sha: entry.sha.clone(),
        content,
    })
}

/// The decoded inline content, `None` when the entry carries none.
fn inline_content(entry: &ContentEntry) -> Result<Option<Vec<u8>>, GitHubError> {
    entry
        .decoded_content()
        .map_err(|reason| GitHubError::Decode {
            endpoint: Endpoint::GetContents.template().to_owned(),
            reason: format!("{}: {reason}", entry.path),
        })
}

/// One file's bytes: its JSON object (base64 content, what every GitHub version serves), or,
/// for a file over 1 MB that GitHub does not inline, the raw media type.
async fn fetch_file(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    path: &str,
    commit: &str,
) -> Result<Vec<u8>, GitHubError> {
    let what = format!("{path:?} at {commit} in {repo}");
    let mut call = Call {
        endpoint: Endpoint::GetContents,
        path: endpoint::contents_path(repo, path, commit),
        body: None,
        accept: JSON,
    };
    let reply = client.transport().send(octo, &call, None).await?;
    if !reply.status.is_success() {
        return Err(status_error(call.endpoint, &reply, &what));
    }
    match decode_json::<Contents>(call.endpoint, &reply.body)? {
        Contents::File(file) => {
            if let Some(bytes) = inline_content(&file)? {
                return Ok(bytes);
            }
        }
        Contents::Dir(_) => {
            return Err(GitHubError::Decode {
                endpoint: call.endpoint.template().to_owned(),
                reason: format!("{what} was listed as a file but is a directory"),
            });
        }
    }
    call.accept = RAW;
    let reply = client.transport().send(octo, &call, None).await?;
    if !reply.status.is_success() {
        return Err(status_error(call.endpoint, &reply, &what));
    }
    Ok(reply.body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(content: Option<&str>, encoding: Option<&str>, size: u64) -> ContentEntry {
        ContentEntry {
            name: "a".into(),
            path: "d/a".into(),
            sha: "s".into(),
            size,
            kind: EntryKind::File,
            content: content.map(str::to_owned),
            encoding: encoding.map(str::to_owned),
        }
    }

    #[test]
    fn base64_with_line_breaks_decodes() {
        use crate::models::decode_base64;
        assert_eq!(decode_base64("aGVs\nbG8=\n").unwrap(), b"hello");
        assert!(decode_base64("not base64!").is_err());
    }

    #[test]
    fn inline_content_cases() {
        assert_eq!(
            inline_content(&entry(Some("aGk=\n"), Some("base64"), 2)).unwrap(),
            Some(b"hi".to_vec())
        );
        assert_eq!(
            inline_content(&entry(None, None, 2)).unwrap(),
            None,
            "a listing item"
        );
        assert_eq!(
            inline_content(&entry(Some(""), Some("none"), 2_000_000)).unwrap(),
            None,
            "over 1 MB"
        );
        assert_eq!(
            inline_content(&entry(Some(""), Some("base64"), 0)).unwrap(),
            Some(vec![]),
            "empty file"
        );
        assert!(inline_content(&entry(Some("x"), Some("utf-16"), 1)).is_err());
        assert!(inline_content(&entry(Some("!!"), Some("base64"), 1)).is_err());
    }

    #[test]
    fn budget_counts_files_and_bytes() {
        let mut budget = Budget {
            files: 0,
            bytes: 0,
            path: "deploy",
            commit: "c",
            max_files: 2,
            max_bytes: 100,
        };
        budget.take(60).unwrap();
        let err = budget.take(41).unwrap_err();
        assert!(
            matches!(
                err,
                GitHubError::ContentsTooLarge {
                    what: "bytes",
                    limit: 100,
                    ..
                }
            ),
            "{err}"
        );
        budget.take(40).unwrap();
        let err = budget.take(0).unwrap_err();
        assert!(err.to_string().contains("limit of 2 (files)"), "{err}");
    }
}
