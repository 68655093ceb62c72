//! The paths of the endpoints, with every variable part percent-encoded.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use prtracker_domain::Repository;

/// Everything but RFC 3986's unreserved characters is encoded in a path segment: label names
/// hold spaces, `/` (`state/open`), `#`, `&`, `?` …
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes one path segment (a label name, a file name).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Encodes a repository path segment by segment, keeping its `/`; `""`, `.` and `./x` are
/// relative to the root.
pub fn encode_repo_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Encodes a git ref (`feature/a`, `refs/heads/main`) segment by segment, keeping its `/`.
pub fn encode_ref(name: &str) -> String {
    name.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn repo_base(repo: &Repository) -> String {
    format!(
        "/repos/{}/{}",
        encode_segment(repo.owner()),
        encode_segment(repo.name())
    )
}

pub fn pull_path(repo: &Repository, number: u64) -> String {
    format!("{}/pulls/{number}", repo_base(repo))
}

/// The first page of open PRs, the largest page GitHub serves.
pub fn open_pulls_path(repo: &Repository, per_page: u8) -> String {
    format!("{}/pulls?state=open&per_page={per_page}", repo_base(repo))
}

/// The first page of the repository's change feed: every PR, open or closed, the most recently
/// updated first. `direction` is spelt out: GitHub's default for `sort=updated` is ascending.
pub fn pulls_by_update_path(repo: &Repository, per_page: u8) -> String {
    format!(
        "{}/pulls?state=all&sort=updated&direction=desc&per_page={per_page}",
        repo_base(repo)
    )
}

pub fn issue_labels_path(repo: &Repository, number: u64) -> String {
    format!("{}/issues/{number}/labels", repo_base(repo))
}

pub fn issue_label_path(repo: &Repository, number: u64, label: &str) -> String {
    format!(
        "{}/issues/{number}/labels/{}",
        repo_base(repo),
        encode_segment(label)
    )
}

pub fn repo_labels_path(repo: &Repository, per_page: u8) -> String {
    format!("{}/labels?per_page={per_page}", repo_base(repo))
}

pub fn create_label_path(repo: &Repository) -> String {
    format!("{}/labels", repo_base(repo))
}

pub fn repo_label_path(repo: &Repository, name: &str) -> String {
    format!("{}/labels/{}", repo_base(repo), encode_segment(name))
}

/// The contents of `path` at `git_ref` (a commit SHA, branch or tag).
pub fn contents_path(repo: &Repository, path: &str, git_ref: &str) -> String {
    let path = encode_repo_path(path);
    let sep = if path.is_empty() { "" } else { "/" };
    format!(
        "{}/contents{sep}{path}?ref={}",
        repo_base(repo),
        encode_segment(git_ref)
    )
}

/// A git tree, named by its sha or by any tree-ish (a commit's sha or a branch names its root
/// tree); `recursive` lists every level below it (GitHub takes any value of the parameter).
pub fn tree_path(repo: &Repository, tree_ish: &str, recursive: bool) -> String {
    let query = if recursive { "?recursive=1" } else { "" };
    format!(
        "{}/git/trees/{}{query}",
        repo_base(repo),
        encode_ref(tree_ish)
    )
}

/// A git blob, named by its sha.
pub fn blob_path(repo: &Repository, sha: &str) -> String {
    format!("{}/git/blobs/{}", repo_base(repo), encode_segment(sha))
}

/// One commit, named by its sha or any ref. GitHub pages a commit's changed files (300 a page);
/// one a page keeps the answer small, since only the commit's own members are read.
pub fn commit_path(repo: &Repository, git_ref: &str) -> String {
    format!(
        "{}/commits/{}?per_page=1",
        repo_base(repo),
        encode_ref(git_ref)
    )
}

/// One branch: GitHub takes its name with `/` as it is (`branches/feature/a`).
pub fn branch_path(repo: &Repository, branch: &str) -> String {
    format!("{}/branches/{}", repo_base(repo), encode_ref(branch))
}

/// A PR's (an issue's) conversation comments: the first page when listing, or where one is posted.
pub fn issue_comments_path(repo: &Repository, number: u64, per_page: Option<u8>) -> String {
    let query = per_page.map_or_else(String::new, |n| format!("?per_page={n}"));
    format!("{}/issues/{number}/comments{query}", repo_base(repo))
}

/// One comment, by its id (comments are addressed by id in the repository, not under their issue).
pub fn issue_comment_path(repo: &Repository, id: u64) -> String {
    format!("{}/issues/comments/{id}", repo_base(repo))
}

/// The deployments of one commit to one environment.
/// The deployments of one commit, environment and task: GitHub filters by each.
pub fn deployments_path(
    repo: &Repository,
    sha: &str,
    environment: &str,
    task: &str,
    per_page: u8,
) -> String {
    format!(
        "{}/deployments?sha={}&environment={}&task={}&per_page={per_page}",
        repo_base(repo),
        encode_segment(sha),
        encode_segment(environment),
        encode_segment(task)
    )
}

pub fn create_deployment_path(repo: &Repository) -> String {
    format!("{}/deployments", repo_base(repo))
}

pub fn deployment_statuses_path(repo: &Repository, id: u64) -> String {
    format!("{}/deployments/{id}/statuses", repo_base(repo))
}

/// The newest status of each context of a commit, the first 100 contexts.
pub fn combined_status_path(repo: &Repository, sha: &str) -> String {
    format!(
        "{}/commits/{}/status?per_page=100",
        repo_base(repo),
        encode_segment(sha)
    )
}

pub fn commit_status_path(repo: &Repository, sha: &str) -> String {
    format!("{}/statuses/{}", repo_base(repo), encode_segment(sha))
}

/// The newest run named `name` on a commit (`filter=latest`), of the App `app_id` when known.
pub fn check_runs_path(repo: &Repository, sha: &str, name: &str, app_id: Option<u64>) -> String {
    let app = app_id.map_or_else(String::new, |id| format!("&app_id={id}"));
    format!(
        "{}/commits/{}/check-runs?check_name={}&filter=latest{app}&per_page=100",
        repo_base(repo),
        encode_segment(sha),
        encode_segment(name)
    )
}

pub fn create_check_run_path(repo: &Repository) -> String {
    format!("{}/check-runs", repo_base(repo))
}

pub fn check_run_path(repo: &Repository, id: u64) -> String {
    format!("{}/check-runs/{id}", repo_base(repo))
}

pub fn installation_path(repo: &Repository) -> String {
    format!("{}/installation", repo_base(repo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;
    use http::Method;

    fn repo() -> Repository {
        "octo-org/hello.world".parse().unwrap()
    }

    #[test]
    fn label_names_are_one_encoded_segment() {
        // The recorded DELETE of PyGithub's Issue50 encoded the name exactly so.
        assert_eq!(
            issue_label_path(
                &"jacquev6/PyGithub".parse().unwrap(),
                50,
                "Label with spaces and strange characters (&*#$)"
            ),
            "/repos/jacquev6/PyGithub/issues/50/labels/Label%20with%20spaces%20and%20strange%20characters%20%28%26%2A%23%24%29"
        );
        assert_eq!(
            issue_label_path(&repo(), 3, "state/merged"),
            "/repos/octo-org/hello.world/issues/3/labels/state%2Fmerged"
        );
    }

    #[test]
    fn contents_paths_keep_slashes_and_encode_the_rest() {
        let sha = "72f8876112ba029111c739871e3e4d7bce66b95d";
        assert_eq!(
            contents_path(&repo(), "deploy/my app/", sha),
            format!("/repos/octo-org/hello.world/contents/deploy/my%20app?ref={sha}")
        );
        assert_eq!(
            contents_path(&repo(), ".", "main"),
            "/repos/octo-org/hello.world/contents?ref=main"
        );
        assert_eq!(
            contents_path(&repo(), "./deploy//x", "feature/a"),
            "/repos/octo-org/hello.world/contents/deploy/x?ref=feature%2Fa"
        );
    }

    #[test]
    fn other_paths() {
        assert_eq!(pull_path(&repo(), 9), "/repos/octo-org/hello.world/pulls/9");
        assert_eq!(
            pulls_by_update_path(&repo(), 100),
            "/repos/octo-org/hello.world/pulls?state=all&sort=updated&direction=desc&per_page=100"
        );
        assert_eq!(
            open_pulls_path(&repo(), 100),
            "/repos/octo-org/hello.world/pulls?state=open&per_page=100"
        );
        assert_eq!(
            repo_labels_path(&repo(), 100),
            "/repos/octo-org/hello.world/labels?per_page=100"
        );
        assert_eq!(
            issue_labels_path(&repo(), 2),
            "/repos/octo-org/hello.world/issues/2/labels"
        );
        assert_eq!(
            create_label_path(&repo()),
            "/repos/octo-org/hello.world/labels"
        );
        assert_eq!(
            repo_label_path(&repo(), "state/open"),
            "/repos/octo-org/hello.world/labels/state%2Fopen"
        );
        assert_eq!(
            deployments_path(&repo(), "f00d", "prod eu", "deploy:prtracker", 100),
            "/repos/octo-org/hello.world/deployments?sha=f00d&environment=prod%20eu&task=deploy%3Aprtracker&per_page=100"
        );
        assert_eq!(
            installation_path(&repo()),
            "/repos/octo-org/hello.world/installation"
        );
    }

    #[test]
    fn tree_and_blob_paths() {
        let sha = "172349212fb19ffa4f33dcced3263c6963dc750a";
        assert_eq!(
            tree_path(&repo(), sha, true),
            format!("/repos/octo-org/hello.world/git/trees/{sha}?recursive=1")
        );
        // git-tree-recursive.json was asked for by branch name.
        assert_eq!(
            tree_path(&repo(), "main", false),
            "/repos/octo-org/hello.world/git/trees/main"
        );
        assert_eq!(
            tree_path(&repo(), "feature/a b", true),
            "/repos/octo-org/hello.world/git/trees/feature/a%20b?recursive=1"
        );
        assert_eq!(
            blob_path(&repo(), "baad7a7c4cf409f610a0e8c7eba17664eb655c44"),
            "/repos/octo-org/hello.world/git/blobs/baad7a7c4cf409f610a0e8c7eba17664eb655c44"
        );
        assert!(!Endpoint::GetTree.is_write() && !Endpoint::GetBlob.is_write());
        assert_eq!(Endpoint::GetBlob.method(), Method::GET);
    }

    #[test]
    fn commit_and_branch_paths_keep_the_slashes_of_a_ref() {
        let sha = "f5f9756a1dd52a53820cc54927abb34725377987";
        assert_eq!(
            commit_path(&repo(), sha),
            format!("/repos/octo-org/hello.world/commits/{sha}?per_page=1")
        );
        assert_eq!(
            commit_path(&repo(), "refs/heads/main"),
            "/repos/octo-org/hello.world/commits/refs/heads/main?per_page=1"
        );
        assert_eq!(
            branch_path(&repo(), "main"),
            "/repos/octo-org/hello.world/branches/main"
        );
        assert_eq!(
            branch_path(&repo(), "release/1.x hot#fix"),
            "/repos/octo-org/hello.world/branches/release/1.x%20hot%23fix"
        );
    }
}
