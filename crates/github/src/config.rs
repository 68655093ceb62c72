//! The client's configuration: where GitHub is, who we are, and every time and size bound.
//!
//! Defaults are for production on github.com; tests shrink the times (see
//! [`GitHubConfig::for_local_tests`]) so a rate-limit reset or a backoff lasts milliseconds.

use std::{fmt, time::Duration};

use crate::{backoff::Backoff, circuit::CircuitPolicy, pacing::PacingPolicy};

/// The public API of github.com.
pub const GITHUB_API: &str = "https://api.github.com";

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum GitHubAuth {
    /// No credentials: 60 requests an hour, public data only. Useful against a simulator.
    #[default]
    Anonymous,
    /// A personal access token (classic or fine-grained) or any bearer token.
    Token(String),
    /// A GitHub App: JWTs signed with the private key, exchanged for installation tokens.
    App {
        app_id: u64,
        /// The App's RSA private key, PEM.
        private_key_pem: String,
        installation: AppInstallation,
    },
}

/// Which installation of the App acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppInstallation {
    /// A known installation id.
    Id(u64),
    /// Found per repository owner with GET /repos/{owner}/{repo}/installation, then remembered.
    #[default]
    Discover,
}

// Secrets stay out of logs.
impl fmt::Debug for GitHubAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitHubAuth::Anonymous => f.write_str("Anonymous"),
            GitHubAuth::Token(_) => f.write_str("Token(<redacted>)"),
            GitHubAuth::App {
                app_id,
                installation,
                ..
            } => f
                .debug_struct("App")
                .field("app_id", app_id)
                .field("private_key_pem", &"<redacted>")
                .field("installation", installation)
                .finish(),
        }
    }
}

/// Retries of 5xx answers, timeouts and transport errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff {
                base: Duration::from_millis(500),
                cap: Duration::from_secs(20),
            },
        }
    }
}

/// How the client respects GitHub's rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// The longest the client waits for a limit to lift; past it, the call fails at once with
    /// [`crate::GitHubError::RateLimited`] so the caller can requeue instead of blocking.
    pub max_wait: Duration,
    /// The wait after a secondary limit that has no `retry-after` (GitHub: "at least one minute").
    pub secondary_wait: Duration,
    /// How many rate-limited answers one call tolerates before failing with `RateLimited`.
    pub max_limited_attempts: u32,
    /// Added after `x-ratelimit-reset`, against clock skew between us and GitHub.
    pub reset_margin: Duration,
    /// The least time between two writes (POST, PUT, PATCH, DELETE); GitHub asks for one second.
    pub write_interval: Duration,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(5 * 60),
            secondary_wait: Duration::from_secs(60),
            max_limited_attempts: 5,
            reset_margin: Duration::from_secs(1),
            write_interval: Duration::from_secs(1),
        }
    }
}

/// Bounds on reading the files under a path, so a wrong path (the repository root of a
/// monorepo) fails clearly instead of exhausting memory or the rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentsLimits {
    pub max_files: u64,
    pub max_total_bytes: u64,
    /// Directory levels below the path.
    pub max_depth: u32,
}

impl Default for ContentsLimits {
    fn default() -> Self {
        Self {
            max_files: 500,
            max_total_bytes: 8 * 1024 * 1024,
            max_depth: 16,
        }
    }
}

/// Everything the production client needs.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, `https://HOST/api/v3` for GitHub Enterprise Server, or a
    /// simulator's `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub auth: GitHubAuth,
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// The whole of one attempt: sending, waiting and reading the body.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// When GitHub counts as down for every call, and how it is probed then.
    pub circuit: CircuitPolicy,
    pub rate_limit: RateLimitPolicy,
    /// The budget kept below GitHub's secondary limits.
    pub pacing: PacingPolicy,
    /// Entries of the ETag cache (parsed responses per URL).
    pub cache_entries: usize,
    /// Approximate bytes of the ETag cache.
    pub cache_bytes: usize,
    /// The largest response body read, in bytes.
    pub max_response_bytes: usize,
    /// Items per page of lists (GitHub serves at most 100).
    pub per_page: u8,
    pub contents: ContentsLimits,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            base_url: GITHUB_API.to_owned(),
            auth: GitHubAuth::Anonymous,
            user_agent: concat!("prtracker/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            circuit: CircuitPolicy::default(),
            rate_limit: RateLimitPolicy::default(),
            pacing: PacingPolicy::default(),
            cache_entries: 20_000,
            cache_bytes: 32 * 1024 * 1024,
            max_response_bytes: 16 * 1024 * 1024,
            per_page: 100,
            contents: ContentsLimits::default(),
        }
    }
}

impl GitHubConfig {
    /// github.com with these credentials.
    pub fn new(auth: GitHubAuth) -> Self {
        Self {
            auth,
            ..Self::default()
        }
    }

    /// GitHub Enterprise Server on `host`, whose REST API is at `https://HOST/api/v3`.
    pub fn enterprise(host: &str, auth: GitHubAuth) -> Self {
        Self::new(auth).with_base_url(format!("https://{}/api/v3", host.trim_end_matches('/')))
    }

    /// A server on this machine with every wait shrunk to milliseconds: what the tests against
    /// the GitHub simulator use.
    pub fn for_local_tests(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 4,
                backoff: Backoff {
                    base: Duration::from_millis(5),
                    cap: Duration::from_millis(50),
                },
            },
            rate_limit: RateLimitPolicy {
                max_wait: Duration::from_secs(10),
                secondary_wait: Duration::from_millis(200),
                max_limited_attempts: 5,
                reset_margin: Duration::ZERO,
                write_interval: Duration::ZERO,
            },
            // Tests of pacing set their own; the rest would only wait.
            pacing: PacingPolicy::UNLIMITED,
            // Tests of retries count every attempt; those of outages set their own.
            circuit: CircuitPolicy::DISABLED,
            ..Self::default()
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    pub fn with_auth(mut self, auth: GitHubAuth) -> Self {
        self.auth = auth;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_circuit(mut self, circuit: CircuitPolicy) -> Self {
        self.circuit = circuit;
        self
    }

    pub fn with_rate_limit(mut self, rate_limit: RateLimitPolicy) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    pub fn with_pacing(mut self, pacing: PacingPolicy) -> Self {
        self.pacing = pacing;
        self
    }

    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    pub fn with_cache(mut self, entries: usize, bytes: usize) -> Self {
        self.cache_entries = entries;
        self.cache_bytes = bytes;
        self
    }

    pub fn with_contents_limits(mut self, contents: ContentsLimits) -> Self {
        self.contents = contents;
        self
    }

    /// Checks what can be checked without a network.
    pub fn validate(&self) -> Result<(), String> {
        let uri: http::Uri = self
            .base_url
            .parse()
            .map_err(|e| format!("base URL {:?}: {e}", self.base_url))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(format!(
                "base URL {:?} must be an absolute http(s) URL",
                self.base_url
            ));
        }
        if uri.query().is_some() {
            return Err(format!("base URL {:?} cannot have a query", self.base_url));
        }
        if self.retry.max_attempts == 0 {
            return Err("retry.max_attempts must be at least 1".into());
        }
        if !(1..=100).contains(&self.per_page) {
            return Err(format!("per_page {} is not within 1..=100", self.per_page));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err("timeouts must be positive".into());
        }
        self.pacing.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_cache_holds_twenty_thousand() {
        let config = GitHubConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert!(config.cache_entries >= 20_000);
        assert_eq!(config.rate_limit.write_interval, Duration::from_secs(1));
        assert!(config.rate_limit.secondary_wait >= Duration::from_secs(60));
    }

    #[test]
    fn enterprise_base_url() {
        let config = GitHubConfig::enterprise("ghe.example.com/", GitHubAuth::Anonymous);
        assert_eq!(config.base_url, "https://ghe.example.com/api/v3");
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn plain_http_loopback_is_accepted_and_nonsense_is_not() {
        assert_eq!(
            GitHubConfig::for_local_tests("http://127.0.0.1:8080").validate(),
            Ok(())
        );
        for bad in ["ftp://x", "/relative", "http://h/?q=1", "not a url"] {
            assert!(
                GitHubConfig::default()
                    .with_base_url(bad)
                    .validate()
                    .is_err(),
                "{bad}"
            );
        }
        let config = GitHubConfig {
            per_page: 0,
            ..GitHubConfig::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let token = format!("{:?}", GitHubAuth::Token("ghp_secret".into()));
        let app = format!(
            "{:?}",
            GitHubAuth::App {
                app_id: 1,
                private_key_pem: "-----BEGIN secret".into(),
                installation: AppInstallation::Id(2),
            }
        );
        assert!(
            !token.contains("secret") && !app.contains("secret"),
            "{token} {app}"
        );
    }
}
