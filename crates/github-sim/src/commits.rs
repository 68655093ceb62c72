//! Commits and branches: `GET /repos/{o}/{r}/commits/{ref}` and `GET /repos/{o}/{r}/branches/{b}`
//! in GitHub's shapes (commit-get.json, branch-get.json), and pushes straight to a branch.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::contents::blob_sha;
use crate::error::ApiError;
use crate::git::Tree;
use crate::model::{Commit, PrState, Repo, World};
use crate::render::{self, encode_segment};
use crate::time::rfc3339;

const DOC_COMMIT: &str = "https://docs.github.com/rest/commits/commits#get-a-commit";
const DOC_BRANCH: &str = "https://docs.github.com/rest/branches/branches#get-a-branch";

/// Git's shortest abbreviation of a sha.
const MIN_ABBREV: usize = 4;

/// GitHub answers an unknown ref of the commits endpoint with 422, not 404.
fn no_commit(reference: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("No commit found for SHA: {reference}"),
        DOC_COMMIT,
    )
}

fn no_branch() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Branch not found", DOC_BRANCH)
}

/// A branch name in a URL: each segment encoded, its `/` kept.
fn encode_ref(name: &str) -> String {
    name.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// The branch a ref names: `main`, `heads/main` or `refs/heads/main`.
fn branch_of<'a>(repo: &'a Repo, reference: &str) -> Option<&'a String> {
    repo.branches.get(reference).or_else(|| {
        let short = reference
            .strip_prefix("refs/heads/")
            .or_else(|| reference.strip_prefix("heads/"))?;
        repo.branches.get(short)
    })
}

/// Resolves a ref to a commit the repository has: a branch, a full sha, or an abbreviation that
/// names exactly one commit.
pub fn resolve_commit(repo: &Repo, reference: &str) -> Option<String> {
    if let Some(sha) = branch_of(repo, reference) {
        return Some(sha.clone());
    }
    let known = || {
        repo.commits
            .keys()
            .chain(repo.files.keys())
            .chain(repo.branches.values())
    };
    if known().any(|s| s == reference) {
        return Some(reference.to_string());
    }
    let hex = reference.len() >= MIN_ABBREV && reference.chars().all(|c| c.is_ascii_hexdigit());
    if !hex {
        return None;
    }
    let prefix = reference.to_ascii_lowercase();
    let matches: BTreeSet<&String> = known().filter(|s| s.starts_with(&prefix)).collect();
    match matches.len() {
        1 => matches.into_iter().next().cloned(),
        _ => None,
    }
}

/// The commit's root tree sha, as `git/trees` serves it (a commit without files: the empty tree).
fn tree_sha(files: Option<&BTreeMap<String, Vec<u8>>>) -> String {
    let empty = BTreeMap::new();
    Tree::build(files.unwrap_or(&empty)).sha
}

fn user(world: &World, login: &str) -> Value {
    world
        .accounts
        .get(login)
        .map(|a| render::account(&world.base, a))
        .unwrap_or(Value::Null)
}

/// The git identity GitHub shows for an account: its no-reply address.
fn person(world: &World, login: &str, at: i64) -> Value {
    let email = match world.accounts.get(login) {
        Some(a) => format!("{}+{login}@users.noreply.github.com", a.id),
        None => format!("{login}@users.noreply.github.com"),
    };
    json!({"name": login, "email": email, "date": rfc3339(at)})
}

/// The commit object: with `diff`, also `stats` and `files` against the first parent, as
/// `GET /commits/{ref}` has them; without, as a branch's `commit` member.
fn commit_value(world: &World, repo: &Repo, sha: &str, diff: bool) -> Value {
    let base = &world.base;
    let full = repo.full_name();
    let (api, html) = (format!("{base}/repos/{full}"), format!("{base}/{full}"));
    // A sha known only by its files (set through the control API) has no recorded history.
    let unrecorded = Commit {
        parents: Vec::new(),
        author: repo.owner.clone(),
        by_github: false,
        message: String::new(),
        at: repo.created_at,
    };
    let c = repo.commits.get(sha).unwrap_or(&unrecorded);
    let author = person(world, &c.author, c.at);
    let (committer, committer_user) = if c.by_github {
        (
            json!({"name": "GitHub", "email": "noreply@github.com", "date": rfc3339(c.at)}),
            user(world, "web-flow"),
        )
    } else {
        (author.clone(), user(world, &c.author))
    };
    let tree = tree_sha(repo.files.get(sha));
    let node =
        base64::engine::general_purpose::STANDARD.encode(format!("06:Commit{}:{sha}", repo.id));
    let parents: Vec<Value> = c
        .parents
        .iter()
        .map(|p| json!({"sha": p, "url": format!("{api}/commits/{p}"), "html_url": format!("{html}/commit/{p}")}))
        .collect();
    let mut v = json!({
        "sha": sha,
        "node_id": node,
        "commit": {
            "author": author,
            "committer": committer,
            "message": c.message,
            "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            "url": format!("{api}/git/commits/{sha}"),
            "comment_count": 0,
            // The simulator signs nothing: GitHub's body for an unsigned commit.
            "verification": {
                "verified": false,
                "reason": "unsigned",
                "signature": Value::Null,
                "payload": Value::Null,
                "verified_at": Value::Null,
            },
        },
        "url": format!("{api}/commits/{sha}"),
        "html_url": format!("{html}/commit/{sha}"),
        "comments_url": format!("{api}/commits/{sha}/comments"),
        "author": user(world, &c.author),
        "committer": committer_user,
        "parents": parents,
    });
    if diff && let Some(obj) = v.as_object_mut() {
        let empty = BTreeMap::new();
        let old = c
            .parents
            .first()
            .and_then(|p| repo.files.get(p))
            .unwrap_or(&empty);
        let new = repo.files.get(sha).unwrap_or(&empty);
        let files = changed_files(&api, &html, sha, old, new);
        let sum = |k: &str| files.iter().filter_map(|f| f[k].as_u64()).sum::<u64>();
        let (additions, deletions) = (sum("additions"), sum("deletions"));
        obj.insert(
            "stats".into(),
            json!({"total": additions + deletions, "additions": additions, "deletions": deletions}),
        );
        obj.insert("files".into(), Value::Array(files));
    }
    v
}

/// The `files` of a commit: what changed from `old` to `new`, path by path.
fn changed_files(
    api: &str,
    html: &str,
    sha: &str,
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
) -> Vec<Value> {
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        let (before, after) = (old.get(path), new.get(path));
        let status = match (before, after) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(b), Some(a)) if a != b => "modified",
            _ => continue,
        };
        let blob = after.or(before).map(|b| blob_sha(b)).unwrap_or_default();
        let enc = encode_segment(path);
        let mut entry = Map::new();
        entry.insert("sha".into(), json!(blob));
        entry.insert("filename".into(), json!(path));
        entry.insert("status".into(), json!(status));
        let hunk = hunk(
            before.map_or(&[][..], Vec::as_slice),
            after.map_or(&[][..], Vec::as_slice),
        );
        let (additions, deletions) = hunk.as_ref().map_or((0, 0), |h| (h.added, h.removed));
        entry.insert("additions".into(), json!(additions));
        entry.insert("deletions".into(), json!(deletions));
        entry.insert("changes".into(), json!(additions + deletions));
        entry.insert("blob_url".into(), json!(format!("{html}/blob/{sha}/{enc}")));
        entry.insert("raw_url".into(), json!(format!("{html}/raw/{sha}/{enc}")));
        entry.insert(
            "contents_url".into(),
            json!(format!("{api}/contents/{enc}?ref={sha}")),
        );
        // GitHub leaves `patch` out for binary files.
        if let Some(h) = hunk {
            entry.insert("patch".into(), json!(h.patch));
        }
        out.push(Value::Object(entry));
    }
    out
}

/// One hunk replacing the lines between the common head and tail of two texts.
struct Hunk {
    patch: String,
    added: usize,
    removed: usize,
}

/// `None` when either side is not text.
fn hunk(before: &[u8], after: &[u8]) -> Option<Hunk> {
    let (old, new) = (
        std::str::from_utf8(before).ok()?,
        std::str::from_utf8(after).ok()?,
    );
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let head = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (gone, came) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    // Unified diff ranges: an empty side is numbered from the line before it.
    let range = |n: usize| {
        if n == 0 {
            format!("{head},0")
        } else {
            format!("{},{n}", head + 1)
        }
    };
    let mut patch = format!("@@ -{} +{} @@", range(gone.len()), range(came.len()));
    for line in gone {
        patch.push_str(&format!("\n-{line}"));
    }
    for line in came {
        patch.push_str(&format!("\n+{line}"));
    }
    Some(Hunk {
        patch,
        added: came.len(),
        removed: gone.len(),
    })
}

impl World {
    /// `GET /repos/{o}/{r}/commits/{ref}`.
    pub fn commit(&self, owner: &str, name: &str, reference: &str) -> Result<Value, ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_COMMIT))?;
        let sha = resolve_commit(repo, reference).ok_or_else(|| no_commit(reference))?;
        Ok(commit_value(self, repo, &sha, true))
    }

    /// `GET /repos/{o}/{r}/branches/{branch}`.
    pub fn branch(&self, owner: &str, name: &str, branch: &str) -> Result<Value, ApiError> {
        let repo = self
            .repo(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_BRANCH))?;
        let sha = repo.branches.get(branch).ok_or_else(no_branch)?;
        let full = repo.full_name();
        let api = format!("{}/repos/{full}", self.base);
        let enc = encode_ref(branch);
        Ok(json!({
            "name": branch,
            "commit": commit_value(self, repo, sha, false),
            "_links": {
                "self": format!("{api}/branches/{enc}"),
                "html": format!("{}/{full}/tree/{enc}", self.base),
            },
            "protected": false,
            "protection": {
                "enabled": false,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            },
            "protection_url": format!("{api}/branches/{enc}/protection"),
        }))
    }

    /// A push of one new commit straight to `branch`, as a person with push rights makes it: the
    /// commit holds `files` (its whole tree), its parent is the branch's head, and the branch
    /// moves to it. Open
    /// PRs from that branch see the push (`synchronize`), as on GitHub. 404 for an unknown
    /// branch; 422 for a sha that is already a commit (commits never change).
    pub fn push_commit(
        &mut self,
        owner: &str,
        name: &str,
        branch: &str,
        sha: &str,
        files: BTreeMap<String, Vec<u8>>,
        actor: &str,
    ) -> Result<(), ApiError> {
        let key = World::repo_key(owner, name);
        self.account(actor);
        let now = self.now();
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(DOC_BRANCH))?;
        let parent = repo.branches.get(branch).cloned().ok_or_else(no_branch)?;
        if sha.is_empty() || repo.commits.contains_key(sha) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Commit {sha:?} cannot be pushed: it is empty or already exists"),
                DOC_COMMIT,
            ));
        }
        let files = files
            .into_iter()
            .map(|(p, b)| (p.trim_matches('/').to_string(), b))
            .collect();
        repo.files.insert(sha.to_string(), files);
        repo.record_commit(
            sha,
            Commit {
                parents: vec![parent.clone()],
                author: actor.to_string(),
                by_github: false,
                message: format!("Update {branch}"),
                at: now,
            },
        );
        repo.branches.insert(branch.to_string(), sha.to_string());
        let heads: Vec<u64> = repo
            .pulls
            .values_mut()
            .filter(|p| p.state == PrState::Open && p.head_ref == branch)
            .map(|p| {
                p.head_sha = sha.to_string();
                p.updated_at = now;
                p.number
            })
            .collect();
        for number in heads {
            let mut extra = Map::new();
            extra.insert("before".into(), json!(parent));
            extra.insert("after".into(), json!(sha));
            self.emit_pull_request(&key, number, "synchronize", actor, extra);
        }
        Ok(())
    }

    /// The sha a branch points at.
    pub fn branch_head(&self, owner: &str, name: &str, branch: &str) -> Option<String> {
        self.repo(owner, name)?.branches.get(branch).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_covers_only_the_changed_middle() {
        let h = hunk(b"a\nb\nc\n", b"a\nB\nc\n").unwrap();
        assert_eq!(h.patch, "@@ -2,1 +2,1 @@\n-b\n+B");
        assert_eq!((h.added, h.removed), (1, 1));
        let added = hunk(b"", b"x\ny\n").unwrap();
        assert_eq!(added.patch, "@@ -0,0 +1,2 @@\n+x\n+y");
        let removed = hunk(b"x\n", b"").unwrap();
        assert_eq!((removed.added, removed.removed), (0, 1));
        assert!(hunk(&[0xff, 0xfe], b"x").is_none(), "binary has no patch");
    }
}
