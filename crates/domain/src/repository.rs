//! The identity of a GitHub repository, written `owner/name` as on GitHub.

use std::{borrow::Cow, fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// GitHub's limits: an account name is at most 39 characters of letters, digits, hyphens (and the
/// underscore of Enterprise Managed Users); a repository name at most 100 of letters, digits, `.`, `-`
/// and `_`, and neither `.` nor `..`.
const OWNER_MAX: usize = 39;
const NAME_MAX: usize = 100;
/// The same rule for the apiserver, so a bad name is refused at `kubectl apply` time.
pub const REPOSITORY_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,38}/[A-Za-z0-9._-]{1,100}$";

/// A GitHub repository, `owner/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Repository {
    owner: String,
    name: String,
}

/// Why a string is not a repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    #[error("repository {0:?} is not of the form owner/name")]
    NotOwnerSlashName(String),
    #[error(
        "repository owner {0:?} is not a GitHub account name (1 to 39 letters, digits, '-' or '_', starting with a letter or digit)"
    )]
    BadOwner(String),
    #[error(
        "repository name {0:?} is not a GitHub repository name (1 to 100 letters, digits, '.', '-' or '_', and not '.' or '..')"
    )]
    BadName(String),
}

impl Repository {
    pub fn new(owner: &str, name: &str) -> Result<Self, RepositoryError> {
        let owner_ok = (1..=OWNER_MAX).contains(&owner.len())
            && owner.starts_with(|c: char| c.is_ascii_alphanumeric())
            && owner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !owner_ok {
            return Err(RepositoryError::BadOwner(owner.to_owned()));
        }
        let name_ok = (1..=NAME_MAX).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !name_ok {
            return Err(RepositoryError::BadName(name.to_owned()));
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for Repository {
    type Err = RepositoryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, name)) if !name.contains('/') => Self::new(owner, name),
            _ => Err(RepositoryError::NotOwnerSlashName(s.to_owned())),
        }
    }
}

impl TryFrom<String> for Repository {
    type Error = RepositoryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Repository> for String {
    fn from(r: Repository) -> Self {
        r.to_string()
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl JsonSchema for Repository {
    fn schema_name() -> Cow<'static, str> {
        "Repository".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "The GitHub repository, owner/name.",
            "pattern": REPOSITORY_PATTERN,
            "maxLength": OWNER_MAX + 1 + NAME_MAX,
            "x-kubernetes-validations": [{
                "rule": "!self.endsWith('/.') && !self.endsWith('/..')",
                "message": "a repository name cannot be '.' or '..'",
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owner_slash_name() {
        let r: Repository = "kube-rs/controller-rs".parse().expect("valid");
        assert_eq!((r.owner(), r.name()), ("kube-rs", "controller-rs"));
        assert_eq!(r.to_string(), "kube-rs/controller-rs");
    }

    #[test]
    fn accepts_github_edge_cases() {
        for ok in ["a/b", "octo_acme/.github", "x/a.b-c_d", "0/0"] {
            assert!(ok.parse::<Repository>().is_ok(), "{ok} should parse");
        }
    }

    #[test]
    fn refuses_what_github_refuses() {
        let long_owner = format!("{}/x", "a".repeat(40));
        let long_name = format!("o/{}", "a".repeat(101));
        for bad in [
            "bad name/!!",
            "noslash",
            "a/b/c",
            "/name",
            "owner/",
            "-owner/x",
            "o/.",
            "o/..",
            "o/na me",
            long_owner.as_str(),
            long_name.as_str(),
        ] {
            assert!(
                bad.parse::<Repository>().is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn serde_round_trips_as_a_string() {
        let r: Repository = serde_json::from_str("\"o/n\"").expect("valid");
        assert_eq!(serde_json::to_string(&r).expect("serializes"), "\"o/n\"");
        assert!(serde_json::from_str::<Repository>("\"bad name/!!\"").is_err());
    }

    #[test]
    fn the_schema_pattern_agrees_with_the_parser_on_lengths() {
        // The pattern's bounds are the parser's constants, written out for the apiserver.
        assert!(REPOSITORY_PATTERN.contains(&format!("{{0,{}}}", OWNER_MAX - 1)));
        assert!(REPOSITORY_PATTERN.contains(&format!("{{1,{NAME_MAX}}}")));
    }
}
