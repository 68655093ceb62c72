//! Repository contents at a ref: `GET /repos/{o}/{r}/contents/{path}?ref=`. Files are stored per
//! commit; branches resolve to commits. Bodies follow GitHub's content-file and directory shapes.

use std::collections::BTreeMap;

use base64::Engine;
use http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::git::Tree;
use crate::ids;
use crate::model::{Repo, World};
use crate::render::encode_segment;

const DOC: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";

/// What a path names at a commit.
#[derive(Debug)]
pub enum Contents {
    File { body: Value, bytes: Vec<u8> },
    Dir(Value),
}

/// Git's blob-id idea (hash of header + content), with sha256 standing in for SHA-1.
pub fn blob_sha(bytes: &[u8]) -> String {
    let mut data = format!("blob {}\0", bytes.len()).into_bytes();
    data.extend_from_slice(bytes);
    ids::sha256_hex(&data)[..40].to_string()
}

/// Base64 broken into 60-character lines, each ending in `\n`, as GitHub sends `content`.
pub fn wrapped_base64(bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(b64.len() + b64.len() / 60 + 1);
    for chunk in b64.as_bytes().chunks(60) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

struct Ctx<'a> {
    base: &'a str,
    full: String,
    reference: String,
}

impl Ctx<'_> {
    fn entry(&self, path: &str, kind: &str, sha: &str, size: usize) -> Value {
        let (api, base, full, r) = (
            format!("{}/repos/{}", self.base, self.full),
            self.base,
            &self.full,
            encode_segment(&self.reference),
        );
        let p = encode_path(path);
        let url = format!("{api}/contents/{p}?ref={r}");
        let (git_url, html_url) = if kind == "dir" {
            (
                format!("{api}/git/trees/{sha}"),
                format!("{base}/{full}/tree/{r}/{p}"),
            )
        } else {
            (
                format!("{api}/git/blobs/{sha}"),
                format!("{base}/{full}/blob/{r}/{p}"),
            )
        };
        let download = if kind == "dir" {
            Value::Null
        } else {
            json!(format!("{base}/_sim/raw/{full}/{r}/{p}"))
        };
        let name = path.rsplit('/').next().unwrap_or(path);
        json!({
            "name": name,
            "path": path,
            "sha": sha,
            "size": size,
            "url": url,
            "html_url": html_url,
            "git_url": git_url,
            "download_url": download,
            "type": kind,
            "_links": {"self": url, "git": git_url, "html": html_url},
        })
    }
}

/// Resolves a ref (branch name or commit sha; default branch when absent) to a commit sha.
pub fn resolve_ref(repo: &Repo, reference: Option<&str>) -> Result<String, ApiError> {
    let r = reference.unwrap_or(&repo.default_branch);
    if let Some(sha) = repo.branches.get(r) {
        return Ok(sha.clone());
    }
    if repo.files.contains_key(r) {
        return Ok(r.to_string());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("No commit found for the ref {r}"),
        DOC,
    ))
}

impl World {
    pub fn contents(
        &self,
        owner: &str,
        name: &str,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Contents, ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC))?;
        let sha = resolve_ref(repo, reference)?;
        let empty = BTreeMap::new();
        let tree = repo.files.get(&sha).unwrap_or(&empty);
        let ctx = Ctx {
            base: &self.base,
            full: repo.full_name(),
            reference: reference.unwrap_or(&repo.default_branch).to_string(),
        };
        let path = path.trim_matches('/');
        if let Some(bytes) = tree.get(path) {
            let blob = blob_sha(bytes);
            let mut body = ctx.entry(path, "file", &blob, bytes.len());
            if let Some(obj) = body.as_object_mut() {
                obj.insert("content".into(), json!(wrapped_base64(bytes)));
                obj.insert("encoding".into(), json!("base64"));
            }
            return Ok(Contents::File {
                body,
                bytes: bytes.clone(),
            });
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        // Immediate children of the directory: files directly under it and first-level subdirs.
        let mut children: BTreeMap<String, Option<&Vec<u8>>> = BTreeMap::new();
        for (p, bytes) in tree.iter() {
            if let Some(rest) = p.strip_prefix(&prefix) {
                match rest.split_once('/') {
                    Some((dir, _)) => {
                        children.entry(dir.to_string()).or_insert(None);
                    }
                    None => {
                        children.insert(rest.to_string(), Some(bytes));
                    }
                }
            }
        }
        if children.is_empty() && !path.is_empty() {
            return Err(ApiError::not_found(DOC));
        }
        // A directory's sha is its tree's, as `git/trees` serves it.
        let root = Tree::build(tree);
        let entries = children
            .into_iter()
            .map(|(child, bytes)| {
                let full_path = format!("{prefix}{child}");
                match bytes {
                    Some(b) => ctx.entry(&full_path, "file", &blob_sha(b), b.len()),
                    None => {
                        let tree_sha = root
                            .find(&full_path)
                            .map(|t| t.sha.clone())
                            .unwrap_or_default();
                        ctx.entry(&full_path, "dir", &tree_sha, 0)
                    }
                }
            })
            .collect();
        Ok(Contents::Dir(Value::Array(entries)))
    }

    /// Stores files at a commit (control API), replacing what was there.
    pub fn set_files(
        &mut self,
        owner: &str,
        name: &str,
        sha: &str,
        files: BTreeMap<String, Vec<u8>>,
    ) -> Result<(), ApiError> {
        let repo = self
            .repo_mut(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC))?;
        let files = files
            .into_iter()
            .map(|(p, b)| (p.trim_matches('/').to_string(), b))
            .collect();
        repo.files.insert(sha.to_string(), files);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_sixty_with_trailing_newline() {
        let s = wrapped_base64(&[b'a'; 100]);
        let lines: Vec<&str> = s.split_terminator('\n').collect();
        assert!(lines.iter().all(|l| l.len() <= 60));
        assert_eq!(lines[0].len(), 60);
        assert!(s.ends_with('\n'));
    }
}
