//! Names GitHub gives the entries of a tree or a directory listing, checked before any path is
//! built from them. GitHub never lists `..` in a repository, but a proxy, a GitHub Enterprise bug
//! or a hostile fake could, and a path built from it (`deploy/../../etc/passwd`) would send a
//! request somewhere the tracker never named.

use crate::error::GitHubError;

/// Why one segment of an entry's path is not a plain name, if it is not.
fn unsafe_segment(segment: &str) -> Option<&'static str> {
    match segment {
        "" => Some("an empty name"),
        "." | ".." => Some("a relative name"),
        s if s.contains('\0') => Some("a NUL byte"),
        s if s.contains('\\') => Some("a backslash"),
        _ => None,
    }
}

/// Checks a path made of entry names (`a/b/c.yaml`, as a recursive tree lists it): every segment
/// a plain name.
pub(crate) fn check_entry_path(entry: &str, under: &str, commit: &str) -> Result<(), GitHubError> {
    match entry.split('/').find_map(unsafe_segment) {
        Some(reason) => Err(refused(entry, under, commit, reason)),
        None => Ok(()),
    }
}

/// Checks an entry of a directory listing: its name one plain segment, its path plain too.
pub(crate) fn check_listed(
    name: &str,
    path: &str,
    under: &str,
    commit: &str,
) -> Result<(), GitHubError> {
    if name.contains('/') {
        return Err(refused(name, under, commit, "a '/'"));
    }
    if let Some(reason) = unsafe_segment(name) {
        return Err(refused(name, under, commit, reason));
    }
    check_entry_path(path, under, commit)
}

fn refused(entry: &str, under: &str, commit: &str, reason: &str) -> GitHubError {
    GitHubError::UnsafeEntryName {
        // Bounded: the name came from outside.
        entry: entry.chars().take(200).collect(),
        path: under.to_owned(),
        commit: commit.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for ok in [
            "deploy",
            "deploy/app.yaml",
            "a/b/c",
            ".hidden",
            "..x",
            "x..",
        ] {
            assert!(check_entry_path(ok, "deploy", "c0ffee").is_ok(), "{ok}");
        }
        assert!(check_listed("app.yaml", "deploy/app.yaml", "deploy", "c0ffee").is_ok());
    }

    #[test]
    fn relative_empty_nul_and_backslash_segments_are_refused() {
        for bad in [
            "..",
            "../etc/passwd",
            "deploy/../../etc",
            "a/./b",
            "a//b",
            "/abs",
            "a\0b",
            "..\\..\\x",
        ] {
            let error = check_entry_path(bad, "deploy", "c0ffee").expect_err(bad);
            assert!(
                matches!(&error, GitHubError::UnsafeEntryName { path, .. } if path == "deploy"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_listed_name_is_one_segment() {
        assert!(check_listed("a/b", "deploy/a/b", "deploy", "c0ffee").is_err());
        assert!(check_listed("..", "deploy/..", "deploy", "c0ffee").is_err());
        assert!(check_listed("ok", "deploy/../x", "deploy", "c0ffee").is_err());
    }

    #[test]
    fn the_error_names_the_entry_bounded() {
        let long = format!("{}/..", "x".repeat(10_000));
        let error = check_entry_path(&long, "deploy", "c0ffee").expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("deploy"), "{message}");
        assert!(message.len() < 600, "{} bytes", message.len());
    }
}
