//! The production client: octocrab for HTTP, TLS, auth and App installation tokens; our
//! transport for limits, retries and ETags; our lean models for parsing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use http::{HeaderMap, StatusCode};
use octocrab::{
    Octocrab,
    models::{AppId, InstallationId},
};
use prtracker_domain::Repository;
use serde::de::DeserializeOwned;
use tracing::debug;

use crate::{
    config::{AppInstallation, GitHubAuth, GitHubConfig},
    endpoint::{self, Endpoint},
    error::GitHubError,
    link,
    metrics::{GitHubMetrics, MetricsSnapshot},
    models::{FeedPage, Installation, Weigh},
    parents::{MAX_COMMITS, ParentsCache},
    transport::{Call, JSON, Transport, etag_of, status_error},
};

/// The most pages one list reads (100 items each): a guard against a server that always
/// answers with a `next` link.
const MAX_PAGES: usize = 1000;

/// The GitHub client of the operator. Cheap to clone; clones share cache, limits and metrics.
#[derive(Clone)]
pub struct OctocrabGitHub {
    transport: Arc<Transport>,
    auth: Arc<Auth>,
    /// Parents of commits read so far, which never change.
    parents: Arc<ParentsCache>,
}

// One per client, behind an `Arc`: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Auth {
    /// Token or anonymous: one client for everything.
    Single(Arc<Octocrab>),
    /// A GitHub App: the App's own client (JWT), and one installation client per account.
    App {
        app: Octocrab,
        fixed: Option<Arc<Octocrab>>,
        by_owner: Mutex<HashMap<String, Arc<Octocrab>>>,
    },
}

/// What the ETag cache keeps of the change feed's first page: only that it was read.
struct FeedMark;

/// One page of a list, with where the next one is (kept in the cache, as a 304 has no `Link`).
pub(crate) struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl<T: Weigh> Weigh for Page<T> {
    fn weight(&self) -> usize {
        self.items.iter().map(Weigh::weight).sum::<usize>()
            + self.next.as_ref().map_or(0, String::len)
    }
}

impl std::fmt::Debug for OctocrabGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OctocrabGitHub")
            .field("base_url", &self.transport.config.base_url)
            .field("auth", &self.transport.config.auth)
            .finish_non_exhaustive()
    }
}

impl OctocrabGitHub {
    /// Builds the client; no request is made until the first call. Must be called within a
    /// Tokio runtime (octocrab spawns its connection pool's background task).
    pub fn new(config: GitHubConfig) -> Result<Self, GitHubError> {
        config.validate().map_err(GitHubError::Config)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(GitHubError::Config(
                "the GitHub client must be built within a Tokio runtime".into(),
            ));
        }
        let auth = match &config.auth {
            GitHubAuth::Anonymous => {
                Auth::Single(Arc::new(builder(&config)?.build().map_err(config_error)?))
            }
            GitHubAuth::Token(token) => {
                // octocrab panics on a token that is not a valid header value; a token read from
                // a Secret file often ends with a newline.
                let token = token.trim();
                if token.is_empty()
                    || http::HeaderValue::from_str(&format!("Bearer {token}")).is_err()
                {
                    return Err(GitHubError::Config(
                        "the token is empty or holds characters an HTTP header cannot".into(),
                    ));
                }
                Auth::Single(Arc::new(
                    builder(&config)?
                        .personal_token(token.to_owned())
                        .build()
                        .map_err(config_error)?,
                ))
            }
            GitHubAuth::App {
                app_id,
                private_key_pem,
                installation,
            } => {
                let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
                    .map_err(|e| GitHubError::Config(format!("the App private key: {e}")))?;
                let app = builder(&config)?
                    .app(AppId(*app_id), key)
                    .build()
                    .map_err(config_error)?;
                let fixed = match installation {
                    AppInstallation::Id(id) => Some(Arc::new(
                        app.installation(InstallationId(*id))
                            .map_err(|e| GitHubError::Auth(e.to_string()))?,
                    )),
                    AppInstallation::Discover => None,
                };
                Auth::App {
                    app,
                    fixed,
                    by_owner: Mutex::new(HashMap::new()),
                }
            }
        };
        let metrics = Arc::new(GitHubMetrics::new());
        Ok(Self {
            transport: Arc::new(Transport::new(config, metrics)),
            auth: Arc::new(auth),
            parents: Arc::new(ParentsCache::new(MAX_COMMITS)),
        })
    }

    pub fn config(&self) -> &GitHubConfig {
        &self.transport.config
    }

    /// The counters now, with the ETag cache's size.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut snapshot = self.transport.metrics.snapshot();
        snapshot.cache_entries = self.transport.cache.len();
        snapshot.cache_bytes = self.transport.cache.bytes();
        snapshot
    }

    /// Checks the credentials once, at start-up, so bad ones are reported before any work: GET
    /// /rate_limit with a token or an installation (GitHub does not count it against the limit),
    /// GET /app with a GitHub App's own JWT. Returns what the credentials act as, for the log.
    pub async fn verify_credentials(&self) -> Result<String, GitHubError> {
        let (octo, endpoint, path, what) = match &*self.auth {
            Auth::Single(octo)
            | Auth::App {
                fixed: Some(octo), ..
            } => (
                octo.as_ref(),
                Endpoint::RateLimit,
                "/rate_limit",
                "the rate limit",
            ),
            Auth::App { app, .. } => (app, Endpoint::GetApp, "/app", "the GitHub App"),
        };
        let call = Call {
            endpoint,
            path: path.to_owned(),
            body: None,
            accept: JSON,
        };
        let reply = self.transport.send(octo, &call, None).await?;
        if !reply.status.is_success() {
            return Err(status_error(endpoint, &reply, what));
        }
        #[derive(serde::Deserialize)]
        struct App {
            #[serde(default)]
            slug: String,
        }
        Ok(match endpoint {
            Endpoint::GetApp => {
                let app: App = decode_json(endpoint, &reply.body)?;
                format!("GitHub App {}", app.slug)
            }
            _ => match &*self.auth {
                Auth::Single(_) => "a token".to_owned(),
                Auth::App { .. } => "an App installation".to_owned(),
            },
        })
    }

    /// While GitHub fails broadly (the outage circuit is open), how long until the next probe may
    /// go (zero: now); `None` when it answers. A caller with nothing to send probes with
    /// [`OctocrabGitHub::verify_credentials`], which GitHub does not count.
    pub fn outage(&self) -> Option<std::time::Duration> {
        self.transport.circuit.next_probe_in()
    }

    /// Changes each time GitHub answers again after an outage (the circuit closes): the moment to
    /// resync what failed meanwhile.
    pub fn outage_ends(&self) -> tokio::sync::watch::Receiver<u64> {
        self.transport.circuit.closings()
    }

    /// The live counters, for a metrics exporter that reads them at scrape time.
    pub fn metrics_handle(&self) -> Arc<GitHubMetrics> {
        Arc::clone(&self.transport.metrics)
    }

    /// The client that acts on `repo`: for an App, its installation on the repository's owner,
    /// looked up once per owner. Shared, never cloned: an `Octocrab` clone copies its
    /// installation token cache, so each clone would fetch a token of its own.
    pub(crate) async fn octo_for(&self, repo: &Repository) -> Result<Arc<Octocrab>, GitHubError> {
        let (app, by_owner) = match &*self.auth {
            Auth::Single(octo) => return Ok(Arc::clone(octo)),
            Auth::App {
                fixed: Some(octo), ..
            } => return Ok(Arc::clone(octo)),
            Auth::App { app, by_owner, .. } => (app, by_owner),
        };
        let owner = repo.owner().to_ascii_lowercase();
        if let Some(octo) = lock(by_owner).get(&owner) {
            return Ok(Arc::clone(octo));
        }
        let call = Call {
            endpoint: Endpoint::GetRepoInstallation,
            path: endpoint::installation_path(repo),
            body: None,
            accept: JSON,
        };
        let reply = self.transport.send(app, &call, None).await?;
        if !reply.status.is_success() {
            return Err(status_error(
                call.endpoint,
                &reply,
                &format!("an installation of the App on {repo}"),
            ));
        }
        let installation: Installation = decode_json(call.endpoint, &reply.body)?;
        debug!(%repo, installation = installation.id, "found the App's installation");
        let octo = Arc::new(
            app.installation(InstallationId(installation.id))
                .map_err(|e| GitHubError::Auth(e.to_string()))?,
        );
        // Two first calls may race here; the first client stored wins, so one token is shared.
        Ok(Arc::clone(lock(by_owner).entry(owner).or_insert(octo)))
    }

    /// A GET answered from the ETag cache when GitHub says 304.
    pub(crate) async fn get_cached<T, F>(
        &self,
        octo: &Octocrab,
        endpoint: Endpoint,
        path: String,
        what: &str,
        decode: F,
    ) -> Result<Arc<T>, GitHubError>
    where
        T: Weigh + Send + Sync + 'static,
        F: FnOnce(&HeaderMap, &[u8]) -> Result<T, GitHubError>,
    {
        let cache = &self.transport.cache;
        let cached = cache
            .get(&path)
            .and_then(|(etag, value)| value.downcast::<T>().ok().map(|v| (etag, v)));
        let call = Call {
            endpoint,
            path,
            body: None,
            accept: JSON,
        };
        let etag = cached.as_ref().map(|(etag, _)| etag.as_str());
        let reply = self.transport.send(octo, &call, etag).await?;
        if reply.status == StatusCode::NOT_MODIFIED {
            return match cached {
                Some((_, value)) => Ok(value),
                None => Err(GitHubError::Decode {
                    endpoint: endpoint.template().to_owned(),
                    reason: "304 Not Modified to an unconditional request".into(),
                }),
            };
        }
        if !reply.status.is_success() {
            return Err(status_error(endpoint, &reply, what));
        }
        let value = Arc::new(decode(&reply.headers, &reply.body)?);
        match etag_of(&reply.headers) {
            Some(etag) => cache.insert(call.path, etag, value.clone(), value.weight()),
            None => cache.remove(&call.path),
        }
        Ok(value)
    }

    /// Every item of a paginated list, following `Link: rel="next"`; each page is cached.
    pub(crate) async fn get_all_pages<T>(
        &self,
        octo: &Octocrab,
        endpoint: Endpoint,
        first: String,
        what: &str,
    ) -> Result<Vec<T>, GitHubError>
    where
        T: DeserializeOwned + Weigh + Clone + Send + Sync + 'static,
    {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(path) = next {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GitHubError::Decode {
                    endpoint: endpoint.template().to_owned(),
                    reason: format!("more than {MAX_PAGES} pages"),
                });
            }
            let page: Arc<Page<T>> = self
                .get_cached(octo, endpoint, path, what, |headers, body| {
                    let next = match headers
                        .get(http::header::LINK)
                        .and_then(|v| v.to_str().ok())
                    {
                        Some(link) => link::next_link(link)
                            .map(|url| self.relative(endpoint, &url))
                            .transpose()?,
                        None => None,
                    };
                    Ok(Page {
                        items: decode_json(endpoint, body)?,
                        next,
                    })
                })
                .await?;
            items.extend(page.items.iter().cloned());
            next = page.next.clone();
        }
        Ok(items)
    }

    /// One page of the change feed. Only the first page's ETag is kept (with no body: a 304 says
    /// all the caller needs); later pages shift with every change, so they are asked plainly.
    pub(crate) async fn feed_page(
        &self,
        octo: &Octocrab,
        repo: &Repository,
        page: Option<&str>,
    ) -> Result<FeedPage, GitHubError> {
        let endpoint = Endpoint::ListPulls;
        let first = page.is_none();
        let path = match page {
            Some(path) => path.to_owned(),
            None => endpoint::pulls_by_update_path(repo, self.transport.config.per_page),
        };
        let cache = &self.transport.cache;
        let etag = if first { cache.etag(&path) } else { None };
        let call = Call {
            endpoint,
            path,
            body: None,
            accept: JSON,
        };
        let reply = self.transport.send(octo, &call, etag.as_deref()).await?;
        if reply.status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(FeedPage {
                unchanged: true,
                ..FeedPage::default()
            });
        }
        if !reply.status.is_success() {
            return Err(status_error(
                endpoint,
                &reply,
                &format!("repository {repo}"),
            ));
        }
        let link = reply
            .headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok());
        let next = link
            .and_then(link::next_link)
            .map(|url| self.relative(endpoint, &url))
            .transpose()?;
        let page = FeedPage {
            unchanged: false,
            prs: decode_json(endpoint, &reply.body)?,
            next,
            last_page: link.and_then(link::last_page),
        };
        if first {
            match etag_of(&reply.headers) {
                Some(etag) => cache.insert(call.path, etag, Arc::new(FeedMark), 0),
                None => cache.remove(&call.path),
            }
        }
        Ok(page)
    }

    /// The path and query of a link GitHub gave, refusing links to another host (where our
    /// credentials must not go).
    fn relative(&self, endpoint: Endpoint, url: &str) -> Result<String, GitHubError> {
        let bad = |reason: String| GitHubError::Decode {
            endpoint: endpoint.template().to_owned(),
            reason,
        };
        let uri: http::Uri = url.parse().map_err(|e| bad(format!("link {url:?}: {e}")))?;
        if let Some(authority) = uri.authority() {
            let base: http::Uri = self
                .transport
                .config
                .base_url
                .parse()
                .map_err(|e| bad(format!("base URL: {e}")))?;
            if base.authority() != Some(authority) {
                return Err(bad(format!(
                    "link {url:?} leaves {}",
                    self.transport.config.base_url
                )));
            }
        }
        uri.path_and_query()
            .map(|p| p.as_str().to_owned())
            .ok_or_else(|| bad(format!("link {url:?} has no path")))
    }

    /// A write: its decoded JSON answer on success, else the reply, for the caller to map.
    pub(crate) async fn write<T: DeserializeOwned>(
        &self,
        octo: &Octocrab,
        call: Call,
    ) -> Result<Result<T, crate::transport::Reply>, GitHubError> {
        self.write_when(octo, call, None).await
    }

    /// [`OctocrabGitHub::write`], sent only while `ready()` holds (see `Transport::send_when`).
    async fn write_when<T: DeserializeOwned>(
        &self,
        octo: &Octocrab,
        call: Call,
        ready: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<Result<T, crate::transport::Reply>, GitHubError> {
        let reply = self.transport.send_when(octo, &call, None, ready).await?;
        if reply.status.is_success() {
            Ok(Ok(decode_json(call.endpoint, &reply.body)?))
        } else {
            Ok(Err(reply))
        }
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }
}

type Builder = octocrab::OctocrabBuilder<
    octocrab::NoSvc,
    octocrab::DefaultOctocrabBuilderConfig,
    octocrab::NoAuth,
    octocrab::NotLayerReady,
>;

/// Octocrab's builder with our base URL and timeouts (octocrab has none by default).
fn builder(config: &GitHubConfig) -> Result<Builder, GitHubError> {
    Ok(Octocrab::builder()
        .base_uri(config.base_url.as_str())
        .map_err(config_error)?
        .set_connect_timeout(Some(config.connect_timeout))
        .set_read_timeout(Some(config.request_timeout))
        .set_write_timeout(Some(config.request_timeout)))
}

fn config_error(e: octocrab::Error) -> GitHubError {
    GitHubError::Config(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn decode_json<T: DeserializeOwned>(
    endpoint: Endpoint,
    body: &[u8],
) -> Result<T, GitHubError> {
    serde_json::from_slice(body).map_err(|e| GitHubError::Decode {
        endpoint: endpoint.template().to_owned(),
        reason: e.to_string(),
    })
}

mod calls;

#[cfg(test)]
mod tests;
