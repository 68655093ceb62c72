//! Simulator configuration.

use serde::{Deserialize, Serialize};

use crate::webhook::WebhookConfig;

/// A GitHub App the simulator knows, for `POST /app/installations/{id}/access_tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppConfig {
    /// The JWT's `iss` must be this id.
    pub app_id: u64,
    /// Installation tokens act as `<slug>[bot]`.
    pub slug: String,
    pub installation_id: u64,
    /// PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`); when set, JWTs must be RS256-signed
    /// by the matching private key. When absent only structure, `iss` and `exp` are checked.
    pub public_key_pem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// Accepted tokens and the login each acts as.
    pub tokens: Vec<(String, String)>,
    /// Requests without `Authorization` get 401 (otherwise they run as anonymous, limit 60).
    pub require_auth: bool,
    /// Primary (`core`) budget per token per hour.
    pub rate_limit: u64,
    pub app: Option<AppConfig>,
    pub webhook: Option<WebhookConfig>,
    /// Base URL to put in bodies when the bind address is not what clients use (e.g. 0.0.0.0).
    pub public_url: Option<String>,
    /// Seed for delivery ids.
    pub seed: u64,
}

/// The token accepted by a default simulator.
pub const DEFAULT_TOKEN: &str = "sim-token";
/// The login that token acts as.
pub const DEFAULT_LOGIN: &str = "prtracker-bot";

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            tokens: vec![(DEFAULT_TOKEN.to_string(), DEFAULT_LOGIN.to_string())],
            require_auth: true,
            rate_limit: 5000,
            app: None,
            webhook: None,
            public_url: None,
            seed: 1,
        }
    }
}
