//! Errors of the GitHub client, and GitHub's own error bodies.
//!
//! Variants are what callers act on differently: a label that is already gone or already
//! exists is success for the operator, a rate limit is a requeue at a known time, a 5xx after
//! retries is a later retry, and the rest is a failure to report.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize};

/// GitHub's error body: `{"message":…,"errors":[…],"documentation_url":…,"status":"404"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, deserialize_with = "tolerant_details")]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub documentation_url: Option<String>,
    /// A string (`"404"`) in current bodies; absent before about 2023.
    #[serde(default, deserialize_with = "string_or_number")]
    pub status: Option<String>,
}

/// One item of `errors[]`: usually `{resource, code, field}`, sometimes only a message string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// Parses a body, or keeps the text itself as the message when it is not GitHub's JSON
    /// (a proxy's HTML page, an empty 502).
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_else(|_| ErrorBody {
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
            ..ErrorBody::default()
        })
    }

    /// Whether one of the errors has this code (`already_exists`, `invalid`, …).
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code.as_deref() == Some(code))
    }
}

fn tolerant_details<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ErrorDetail>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Detail(ErrorDetail),
        Text(String),
        Other(serde_json::Value),
    }
    let items = Option::<Vec<Item>>::deserialize(d)?.unwrap_or_default();
    Ok(items
        .into_iter()
        .map(|item| match item {
            Item::Detail(detail) => detail,
            Item::Text(message) => ErrorDetail {
                message: Some(message),
                ..ErrorDetail::default()
            },
            Item::Other(value) => ErrorDetail {
                message: Some(value.to_string()),
                ..ErrorDetail::default()
            },
        })
        .collect())
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// What can go wrong talking to GitHub.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// 401: the token is wrong, expired or revoked.
    #[error("GitHub refused the credentials (401): {message}")]
    BadCredentials { message: String },

    /// 403 that is not a rate limit: missing permission or scope.
    #[error("GitHub forbids {endpoint} (403): {message}")]
    Forbidden { endpoint: String, message: String },

    /// 404: the repository, PR or path does not exist, or the credentials cannot see it.
    #[error("{what} not found on GitHub (404): {message}")]
    NotFound { what: String, message: String },

    /// DELETE of a label that is not on the issue: the removal is already done.
    #[error("label {label:?} is not on {repo}#{number}")]
    LabelNotOnIssue {
        repo: String,
        number: u64,
        label: String,
    },

    /// 422 `already_exists` when creating a label: it is there already.
    #[error("label {name:?} already exists in {repo}")]
    LabelAlreadyExists { repo: String, name: String },

    /// 422 for any other reason (bad colour, name too long).
    #[error("GitHub rejected {endpoint} (422): {message} {errors:?}")]
    Validation {
        endpoint: String,
        message: String,
        errors: Vec<ErrorDetail>,
    },

    /// A rate limit would make us wait past the configured maximum: try again at `until`.
    #[error("GitHub rate limit ({kind}) in force until {until:?}")]
    RateLimited {
        until: SystemTime,
        kind: &'static str,
    },

    /// 5xx, timeouts or transport failures that lasted through every retry.
    #[error("GitHub unavailable for {endpoint} after {attempts} attempts: {last}")]
    Unavailable {
        endpoint: String,
        attempts: u32,
        status: Option<u16>,
        last: String,
    },

    /// GitHub fails broadly: the outage circuit is open and this call was not sent. The circuit
    /// probes on its own and, once GitHub answers, says so (`OctocrabGitHub::outage_ends`).
    #[error("GitHub is failing broadly (outage circuit open): {endpoint} not sent; next probe in {}s", retry_in.as_secs())]
    Outage {
        endpoint: String,
        retry_in: std::time::Duration,
    },

    /// A write not sent because, while it waited for its turn, a newer change to what it was
    /// about was heard of: the caller reads again.
    #[error("{endpoint} not sent: a newer change was heard of while it waited")]
    Superseded { endpoint: String },

    /// Any other status GitHub answered with.
    #[error("GitHub answered {status} to {endpoint}: {message}")]
    Api {
        status: u16,
        endpoint: String,
        message: String,
        documentation_url: Option<String>,
    },

    /// A response that does not have the expected shape.
    #[error("cannot decode GitHub's answer to {endpoint}: {reason}")]
    Decode { endpoint: String, reason: String },

    /// Reading files at a commit went past the configured bounds.
    #[error(
        "{path} at {commit} holds more than the limit of {limit} ({what}); raise the contents limits or narrow the path"
    )]
    ContentsTooLarge {
        path: String,
        commit: String,
        what: &'static str,
        limit: u64,
    },

    /// A tree or a directory listing named an entry no path may be built from (`..`, `/`, NUL).
    #[error(
        "GitHub listed an entry named {entry:?} under {path} at {commit} ({reason}): refused, no request is built from it"
    )]
    UnsafeEntryName {
        entry: String,
        path: String,
        commit: String,
        reason: String,
    },

    /// The configuration cannot work (bad base URL, bad private key).
    #[error("invalid GitHub client configuration: {0}")]
    Config(String),

    /// Setting up App authentication failed (JWT, installation lookup, token exchange).
    #[error("GitHub App authentication failed: {0}")]
    Auth(String),
}

impl GitHubError {
    /// The HTTP status GitHub answered with, when it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::BadCredentials { .. } => Some(401),
            GitHubError::Forbidden { .. } => Some(403),
            GitHubError::NotFound { .. } | GitHubError::LabelNotOnIssue { .. } => Some(404),
            GitHubError::LabelAlreadyExists { .. } | GitHubError::Validation { .. } => Some(422),
            GitHubError::Api { status, .. } => Some(*status),
            GitHubError::Unavailable { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether the same call may succeed later without any change (rate limit, outage), as
    /// opposed to a request that is wrong or not allowed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitHubError::RateLimited { .. }
                | GitHubError::Unavailable { .. }
                | GitHubError::Outage { .. }
        )
    }

    /// When a rate-limited call can be tried again.
    pub fn retry_at(&self) -> Option<SystemTime> {
        match self {
            GitHubError::RateLimited { until, .. } => Some(*until),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_may_be_strings() {
        let body = ErrorBody::parse(
            br#"{"message":"Validation Failed","errors":["oops",{"code":"invalid"},3]}"#,
        );
        assert_eq!(body.errors.len(), 3);
        assert_eq!(body.errors[0].message.as_deref(), Some("oops"));
        assert!(body.has_code("invalid"));
    }

    #[test]
    fn non_json_bodies_become_the_message() {
        let body = ErrorBody::parse(b"<html>502 Bad Gateway</html>");
        assert!(body.message.contains("502"));
        assert!(ErrorBody::parse(b"").message.is_empty());
    }

    #[test]
    fn numeric_status_is_read_as_text() {
        assert_eq!(
            ErrorBody::parse(br#"{"message":"x","status":404}"#)
                .status
                .as_deref(),
            Some("404")
        );
    }
}
