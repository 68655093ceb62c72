//! Reading every file under a path at a commit through git's trees and blobs: the listing of the
//! path's parent directory (which gives the path's tree sha, through the ETag cache), one
//! recursive tree, and one blob per file not read before.
//!
//! Trees and blobs never change for a sha, so both are kept in the transport's cache under
//! `tree:{sha}` and `blob:{sha}` (the contents walk shares the blob entries) and never asked for
//! twice: a second read of the same commit costs the parent listing's 304 at most. A tree GitHub
//! cuts short (past 100,000 entries or 7 MB) is read by the contents walk instead.
//!
//! Symlinks are read as the contents API serves them, a file's content under the link's path
//! (one contents request per symlink, as before); submodules and other objects are skipped.

use std::sync::Arc;

use octocrab::Octocrab;
use prtracker_domain::Repository;
use tracing::debug;

use crate::{
    contents::{self, Budget},
    endpoint::{self, Endpoint},
    error::GitHubError,
    models::{Blob, ContentEntry, Contents, EntryKind, ObjectKind, RepoFile, Tree, TreeEntry},
    names,
    octo::{OctocrabGitHub, decode_json},
    transport::{Call, JSON, status_error},
};

/// What `path` names at the commit, found from its parent's listing.
enum Target {
    Tree(String),
    File(ContentEntry),
    /// A symlink, submodule or unknown kind: left to the contents walk, which knows them.
    Other,
}

pub(crate) async fn read_files(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    path: &str,
    commit: &str,
) -> Result<Vec<RepoFile>, GitHubError> {
    let what = format!("{path:?} at {commit} in {repo}");
    let dir = normalize(path);
    let tree_ish = match target(client, octo, repo, &dir, commit, &what).await? {
        Target::Tree(sha) => sha,
        Target::File(entry) => {
            let mut budget = Budget::new(path, commit, &client.config().contents);
            budget.take(entry.size)?;
            let content = read_blob(client, octo, repo, &entry.sha, &what).await?;
            return Ok(vec![RepoFile {
                path: entry.path,
                sha: entry.sha,
                content,
            }]);
        }
        Target::Other => return contents::walk(client, octo, repo, path, commit).await,
    };
    let tree = get_tree(client, octo, repo, &tree_ish, &what).await?;
    if tree.truncated {
        debug!(%repo, path, commit, "tree truncated by GitHub; reading it directory by directory");
        return contents::walk(client, octo, repo, path, commit).await;
    }
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let limits = client.config().contents;
    let mut budget = Budget::new(path, commit, &limits);
    // Every limit is checked before any blob is read.
    let mut blobs: Vec<&TreeEntry> = Vec::new();
    let mut links: Vec<&TreeEntry> = Vec::new();
    for entry in &tree.entries {
        names::check_entry_path(&entry.path, path, commit)?;
        match entry.kind {
            ObjectKind::Tree => {
                let levels = entry.path.split('/').count();
                if levels > limits.max_depth as usize {
                    return Err(budget.too_large("directory levels", u64::from(limits.max_depth)));
                }
            }
            ObjectKind::Blob if entry.is_file() => {
                budget.take(entry.size.unwrap_or(0))?;
                blobs.push(entry);
            }
            ObjectKind::Blob => links.push(entry),
            ObjectKind::Commit | ObjectKind::Other => {
                debug!(path = %entry.path, mode = %entry.mode, "skipping");
            }
        }
    }
    let mut files = Vec::with_capacity(blobs.len() + links.len());
    for entry in blobs {
        let content = read_blob(client, octo, repo, &entry.sha, &what).await?;
        files.push(RepoFile {
            path: format!("{prefix}{}", entry.path),
            sha: entry.sha.clone(),
            content,
        });
    }
    for link in links {
        let link_path = format!("{prefix}{}", link.path);
        if let Some(file) =
            read_symlink(client, octo, repo, &link_path, commit, &mut budget).await?
        {
            files.push(file);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The path's segments without empty ones and `.`, as the contents API reads it.
fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The root is the commit's own tree; anything else is looked up in its parent's listing.
async fn target(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    dir: &str,
    commit: &str,
    what: &str,
) -> Result<Target, GitHubError> {
    if dir.is_empty() {
        return Ok(Target::Tree(commit.to_owned()));
    }
    let (parent, name) = dir.rsplit_once('/').unwrap_or(("", dir));
    let listing = contents::get_contents(client, octo, repo, parent, commit)
        .await
        .map_err(|e| naming(e, what))?;
    let found = match &*listing {
        Contents::Dir(entries) => entries
            .iter()
            .find(|e| e.name == name || e.path.trim_matches('/') == dir),
        // The parent is a file: nothing is under it.
        Contents::File(_) => None,
    };
    match found {
        Some(e) if e.kind == EntryKind::Dir => Ok(Target::Tree(e.sha.clone())),
        Some(e) if e.kind == EntryKind::File => Ok(Target::File(e.clone())),
        Some(_) => Ok(Target::Other),
        None => Err(GitHubError::NotFound {
            what: what.to_owned(),
            message: "Not Found".to_owned(),
        }),
    }
}

/// A 404 of the parent names the path asked for, as a 404 of the path itself did.
fn naming(error: GitHubError, what: &str) -> GitHubError {
    match error {
        GitHubError::NotFound { message, .. } => GitHubError::NotFound {
            what: what.to_owned(),
            message,
        },
        other => other,
    }
}

/// Whether `s` is a full object id (SHA-1 or SHA-256), which names the same object for good;
/// a branch name does not.
fn is_full_sha(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The recursive tree of `tree_ish`: kept by sha when it is one (a commit's sha names its root
/// tree for good too), else asked for conditionally.
async fn get_tree(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    tree_ish: &str,
    what: &str,
) -> Result<Arc<Tree>, GitHubError> {
    let endpoint = Endpoint::GetTree;
    let path = endpoint::tree_path(repo, tree_ish, true);
    if !is_full_sha(tree_ish) {
        return client
            .get_cached(octo, endpoint, path, what, |_, body| {
                decode_json(endpoint, body)
            })
            .await;
    }
    let cache = &client.transport().cache;
    let key = format!("tree:{tree_ish}");
    if let Some(tree) = cache
        .get(&key)
        .and_then(|(_, value)| value.downcast::<Tree>().ok())
    {
        return Ok(tree);
    }
    let reply = send(client, octo, endpoint, path, what).await?;
    let mut tree: Tree = decode_json(endpoint, &reply)?;
    if tree.truncated {
        // Only the flag is used: the walk reads a truncated tree.
        tree.entries.clear();
    }
    let tree = Arc::new(tree);
    cache.insert(
        key,
        tree.sha.clone(),
        tree.clone(),
        crate::models::Weigh::weight(&*tree),
    );
    Ok(tree)
}

/// A blob's bytes, from the blob cache or its own request.
async fn read_blob(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    sha: &str,
    what: &str,
) -> Result<Vec<u8>, GitHubError> {
    if let Some(bytes) = contents::cached_blob(client, sha) {
        return Ok(bytes);
    }
    let endpoint = Endpoint::GetBlob;
    let reply = send(client, octo, endpoint, endpoint::blob_path(repo, sha), what).await?;
    let blob: Blob = decode_json(endpoint, &reply)?;
    let content = blob.decoded().map_err(|reason| GitHubError::Decode {
        endpoint: endpoint.template().to_owned(),
        reason: format!("blob {sha}: {reason}"),
    })?;
    contents::keep_blob(client, sha, &content);
    Ok(content)
}

/// A symlink as the contents API serves it: the target's content when it is a file of the
/// repository, else nothing (a link to a directory or out of the repository is no manifest).
async fn read_symlink(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    repo: &Repository,
    link_path: &str,
    commit: &str,
    budget: &mut Budget<'_>,
) -> Result<Option<RepoFile>, GitHubError> {
    let target = contents::get_contents(client, octo, repo, link_path, commit).await?;
    let Contents::File(file) = &*target else {
        return Ok(None);
    };
    if file.kind != EntryKind::File {
        debug!(path = %link_path, "skipping a symlink to no file");
        return Ok(None);
    }
    budget.take(file.size)?;
    let mut read = contents::read_file(client, octo, repo, file, commit).await?;
    read.path = link_path.to_owned();
    Ok(Some(read))
}

/// One GET whose answer is kept by sha, so no ETag is needed.
async fn send(
    client: &OctocrabGitHub,
    octo: &Octocrab,
    endpoint: Endpoint,
    path: String,
    what: &str,
) -> Result<bytes::Bytes, GitHubError> {
    let call = Call {
        endpoint,
        path,
        body: None,
        accept: JSON,
    };
    let reply = client.transport().send(octo, &call, None).await?;
    if !reply.status.is_success() {
        return Err(status_error(endpoint, &reply, what));
    }
    Ok(reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_as_the_contents_api_reads_them() {
        assert_eq!(normalize("./deploy//nested/"), "deploy/nested");
        assert_eq!(normalize("."), "");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("/"), "");
    }

    #[test]
    fn only_full_shas_name_a_tree_for_good() {
        assert!(is_full_sha("172349212fb19ffa4f33dcced3263c6963dc750a"));
        assert!(is_full_sha(&"a".repeat(64)));
        assert!(!is_full_sha("main"));
        assert!(!is_full_sha("1723492"));
        assert!(!is_full_sha("172349212fb19ffa4f33dcced3263c6963dc750g"));
    }

    #[test]
    fn a_404_of_the_parent_names_the_path() {
        let e = naming(
            GitHubError::NotFound {
                what: "parent".into(),
                message: "Not Found".into(),
            },
            "\"a/b\" at c in o/r",
        );
        assert!(
            matches!(&e, GitHubError::NotFound { what, .. } if what == "\"a/b\" at c in o/r"),
            "{e:?}"
        );
    }
}
