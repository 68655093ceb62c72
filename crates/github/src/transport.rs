//! One HTTP exchange with GitHub through octocrab, made polite and robust: rate-limit gates and
//! waits, write spacing, timeouts, retries with jittered backoff, conditional GETs against the
//! ETag cache, and counters for every attempt.

use std::{
    sync::{Arc, Mutex},
    time::SystemTime,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use octocrab::Octocrab;
use tracing::{debug, info, warn};

use crate::{
    cache::EtagCache,
    circuit::{Admission, Circuit},
    config::GitHubConfig,
    endpoint::Endpoint,
    error::{ErrorBody, GitHubError},
    metrics::GitHubMetrics,
    pacing::Pacer,
    ratelimit::{self, RateLimitInfo, RateLimitTracker, WaitDecision},
};

/// Redirects followed for one call: a moved repository is one hop.
const MAX_REDIRECTS: u32 = 3;

/// GitHub's JSON media type, pinned to the REST API v3 format.
pub(crate) const JSON: &str = "application/vnd.github+json";
/// A file's bytes instead of its JSON description (used for files over 1 MB).
pub(crate) const RAW: &str = "application/vnd.github.v3.raw";

/// One request to make.
#[derive(Clone)]
pub(crate) struct Call {
    pub endpoint: Endpoint,
    /// Path and query, relative to the base URL (octocrab joins them).
    pub path: String,
    pub body: Option<serde_json::Value>,
    pub accept: &'static str,
}

/// GitHub's answer, body read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why one attempt got no usable answer.
enum Failure {
    /// Worth another attempt: 5xx, timeout, connection error.
    Retryable { status: Option<u16>, reason: String },
    /// Not worth one.
    Fatal(GitHubError),
}

/// The shared machinery of one client.
pub(crate) struct Transport {
    pub config: GitHubConfig,
    pub cache: EtagCache,
    pub rate: RateLimitTracker,
    pub metrics: Arc<GitHubMetrics>,
    pub pacer: Arc<Pacer>,
    pub circuit: Arc<Circuit>,
    next_write: Mutex<Option<tokio::time::Instant>>,
    rng: Mutex<fastrand::Rng>,
}

impl Transport {
    pub fn new(config: GitHubConfig, metrics: Arc<GitHubMetrics>) -> Self {
        let pacer = Arc::new(Pacer::new(config.pacing));
        metrics.watch_pacer(pacer.clone());
        let circuit = Circuit::new(config.circuit);
        metrics.watch_circuit(circuit.clone());
        Self {
            pacer,
            circuit,
            cache: EtagCache::new(config.cache_entries, config.cache_bytes),
            config,
            rate: RateLimitTracker::default(),
            metrics,
            next_write: Mutex::new(None),
            rng: Mutex::new(fastrand::Rng::new()),
        }
    }

    /// Sends `call`, waiting out rate limits and retrying failures, and returns the first
    /// answer that is final: any 2xx/3xx, or a 4xx that is not a rate limit. A write to a renamed
    /// repository is sent again where GitHub's 307/308 points (reads' redirects are followed below
    /// octocrab).
    pub async fn send(
        &self,
        octo: &Octocrab,
        call: &Call,
        if_none_match: Option<&str>,
    ) -> Result<Reply, GitHubError> {
        self.send_when(octo, call, if_none_match, None).await
    }

    /// [`Transport::send`], asking `ready` at the last moment before each attempt leaves, after
    /// every wait (rate limit, write spacing, pacing): a write decided on a read that a newer
    /// change made stale while it waited is not sent ([`GitHubError::Superseded`]).
    pub async fn send_when(
        &self,
        octo: &Octocrab,
        call: &Call,
        if_none_match: Option<&str>,
        ready: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<Reply, GitHubError> {
        let policy = self.config.rate_limit;
        let mut attempt = 0u32;
        let mut limit_hits = 0u32;
        let mut redirects = 0u32;
        let mut moved: Option<Call> = None;
        loop {
            let call = moved.as_ref().unwrap_or(call);
            // In an outage only the circuit's probe is sent; every other call fails at once, and
            // is resynced when the circuit closes.
            let mut probe = match self.circuit.admit() {
                Admission::Go(probe) => probe,
                Admission::Refused { probe_at } => {
                    self.metrics.outage_refusal();
                    return Err(GitHubError::Outage {
                        endpoint: call.endpoint.template().to_owned(),
                        retry_in: probe_at.saturating_duration_since(tokio::time::Instant::now()),
                    });
                }
            };
            self.wait_for_rate_limit().await?;
            if call.endpoint.is_spaced() {
                self.space_write().await;
            }
            let slot = self.pacer.admit(call.endpoint).await;
            if !slot.waited.is_zero() {
                self.metrics.paced(slot.waited);
            }
            if ready.is_some_and(|ready| !ready()) {
                debug!(
                    endpoint = call.endpoint.template(),
                    "not sent: the read it was based on is stale"
                );
                return Err(GitHubError::Superseded {
                    endpoint: call.endpoint.template().to_owned(),
                });
            }
            let outcome = self.attempt(octo, call, if_none_match).await;
            drop(slot);
            let outage = match &outcome {
                Ok(reply) if !reply.status.is_server_error() => {
                    if self.circuit.answered(probe.take()) {
                        info!("GitHub answers again: the outage circuit is closed");
                    }
                    false
                }
                Ok(_) | Err(Failure::Retryable { .. }) => {
                    let was_open = self.circuit.is_open();
                    let open = self.circuit.failed(probe.take());
                    if open && !was_open {
                        warn!(
                            endpoint = call.endpoint.template(),
                            "GitHub fails broadly: the outage circuit is open; one probe at a time until it answers"
                        );
                    }
                    open
                }
                // No verdict on GitHub (a request that could not be built): the next call probes.
                Err(Failure::Fatal(_)) => false,
            };
            drop(probe);
            let failure = match outcome {
                Ok(reply) => {
                    self.metrics
                        .request(call.endpoint, Some(reply.status.as_u16()));
                    let info = RateLimitInfo::from_headers(&reply.headers);
                    self.rate.observe(&info);
                    let seen = self.rate.snapshot();
                    self.metrics
                        .rate_limit(seen.remaining, seen.limit, seen.reset);
                    if reply.status.is_server_error() {
                        Failure::Retryable {
                            status: Some(reply.status.as_u16()),
                            reason: ErrorBody::parse(&reply.body).message,
                        }
                    } else if reply.status.is_client_error() {
                        let message = ErrorBody::parse(&reply.body).message;
                        let now = SystemTime::now();
                        match ratelimit::classify(
                            reply.status,
                            &info,
                            &message,
                            now,
                            limit_hits,
                            &policy,
                        ) {
                            Some(hit) => {
                                limit_hits += 1;
                                warn!(endpoint = call.endpoint.template(), kind = hit.kind.as_str(),
                                      until = ?hit.until, %message, "GitHub rate limit");
                                self.rate.block_until(hit.until);
                                if limit_hits >= policy.max_limited_attempts {
                                    self.metrics.rate_limited_error();
                                    return Err(GitHubError::RateLimited {
                                        until: hit.until,
                                        kind: hit.kind.as_str(),
                                    });
                                }
                                // The wait itself happens in the gate at the top of the loop.
                                continue;
                            }
                            None => return Ok(reply),
                        }
                    } else if let Some(to) = self.redirected(call, &reply)? {
                        redirects += 1;
                        if redirects > MAX_REDIRECTS {
                            return Err(GitHubError::Api {
                                status: reply.status.as_u16(),
                                endpoint: call.endpoint.template().to_owned(),
                                message: format!("more than {MAX_REDIRECTS} redirects"),
                                documentation_url: None,
                            });
                        }
                        warn!(endpoint = call.endpoint.template(), from = %call.path, to = %to.path,
                              "GitHub redirected a write: the repository was renamed or transferred. \
                               Its webhooks now carry the new name, which trackers of the old one \
                               do not match: track it under its new name");
                        moved = Some(to);
                        continue;
                    } else {
                        return Ok(reply);
                    }
                }
                Err(failure) => {
                    if let Failure::Retryable { .. } = failure {
                        self.metrics.request(call.endpoint, None);
                    }
                    failure
                }
            };
            match failure {
                Failure::Fatal(error) => return Err(error),
                Failure::Retryable { status, reason } => {
                    attempt += 1;
                    // With the circuit open, its probes retry for everyone.
                    if outage || attempt >= self.config.retry.max_attempts {
                        return Err(GitHubError::Unavailable {
                            endpoint: call.endpoint.template().to_owned(),
                            attempts: attempt,
                            status,
                            last: reason,
                        });
                    }
                    let delay = {
                        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                        self.config.retry.backoff.delay(attempt - 1, &mut rng)
                    };
                    debug!(endpoint = call.endpoint.template(), attempt, ?status, %reason, ?delay,
                           "retrying GitHub request");
                    self.metrics.retry();
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Where a 307/308 sends `call`, on the same API (GitHub answers a write to a renamed
    /// repository so); `None` for any other answer. A redirect elsewhere is refused: the
    /// credentials are not sent to another host.
    fn redirected(&self, call: &Call, reply: &Reply) -> Result<Option<Call>, GitHubError> {
        if !matches!(
            reply.status,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        ) {
            return Ok(None);
        }
        let location = reply
            .headers
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default();
        let base = self.config.base_url.trim_end_matches('/');
        if location.is_empty() {
            return Err(GitHubError::Api {
                status: reply.status.as_u16(),
                endpoint: call.endpoint.template().to_owned(),
                message: "a redirect without a Location".to_owned(),
                documentation_url: None,
            });
        }
        match location.strip_prefix(base).filter(|p| p.starts_with('/')) {
            Some(path) => Ok(Some(Call {
                path: path.to_owned(),
                ..call.clone()
            })),
            None => Err(GitHubError::Api {
                status: reply.status.as_u16(),
                endpoint: call.endpoint.template().to_owned(),
                message: format!("redirected away from {base} to {location:?}; not followed"),
                documentation_url: None,
            }),
        }
    }

    /// Waits while the quota is spent or a limit answer asked us to stay away; fails instead of
    /// waiting longer than the policy allows.
    async fn wait_for_rate_limit(&self) -> Result<(), GitHubError> {
        let policy = self.config.rate_limit;
        loop {
            let now = SystemTime::now();
            let Some(until) = self.rate.wait_until(now, policy.reset_margin) else {
                return Ok(());
            };
            match ratelimit::decide_wait(until, now, policy.max_wait) {
                WaitDecision::Go => return Ok(()),
                WaitDecision::GiveUp => {
                    self.metrics.rate_limited_error();
                    return Err(GitHubError::RateLimited {
                        until,
                        kind: "quota spent",
                    });
                }
                WaitDecision::Wait(wait) => {
                    debug!(?wait, "waiting for the GitHub rate limit");
                    self.metrics.rate_limit_wait(wait);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Spaces writes at least `write_interval` apart: each takes the next free slot.
    pub(crate) async fn space_write(&self) {
        let interval = self.config.rate_limit.write_interval;
        if interval.is_zero() {
            return;
        }
        let now = tokio::time::Instant::now();
        let slot = {
            let mut next = self.next_write.lock().unwrap_or_else(|e| e.into_inner());
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + interval);
            slot
        };
        if slot > now {
            self.metrics.write_delay(slot - now);
            tokio::time::sleep_until(slot).await;
        }
    }

    /// One attempt, bounded by the request timeout.
    async fn attempt(
        &self,
        octo: &Octocrab,
        call: &Call,
        if_none_match: Option<&str>,
    ) -> Result<Reply, Failure> {
        let mut builder = http::Request::builder()
            .method(call.endpoint.method())
            .uri(call.path.as_str())
            .header(header::ACCEPT, call.accept)
            .header(header::USER_AGENT, self.config.user_agent.as_str());
        if let Some(etag) = if_none_match.and_then(|e| HeaderValue::from_str(e).ok()) {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        let request = octo
            .build_request(builder, call.body.as_ref())
            .map_err(|e| Failure::Fatal(GitHubError::Config(format!("building a request: {e}"))))?;
        let max_body = self.config.max_response_bytes;
        let exchange = async {
            let response = octo.execute(request).await.map_err(octocrab_failure)?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| Failure::Retryable {
                    status: Some(parts.status.as_u16()),
                    reason: format!("reading the body: {e}"),
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(self.config.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Retryable {
                status: None,
                reason: format!("no answer within {:?}", self.config.request_timeout),
            }),
        }
    }
}

/// octocrab fails before any answer for transport errors, and for App token exchanges that
/// GitHub refused (those carry GitHub's status).
fn octocrab_failure(error: octocrab::Error) -> Failure {
    match error {
        octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. } => Failure::Retryable {
            status: None,
            reason: transport_reason(&error),
        },
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code;
            if status.is_server_error() {
                Failure::Retryable {
                    status: Some(status.as_u16()),
                    reason: source.message,
                }
            } else if status == StatusCode::UNAUTHORIZED {
                Failure::Fatal(GitHubError::BadCredentials {
                    message: source.message,
                })
            } else {
                Failure::Fatal(GitHubError::Auth(format!(
                    "installation token request answered {status}: {}",
                    source.message
                )))
            }
        }
        octocrab::Error::JWT { source, .. } => {
            Failure::Fatal(GitHubError::Auth(format!("signing the App JWT: {source}")))
        }
        other => Failure::Fatal(GitHubError::Auth(other.to_string())),
    }
}

/// The innermost cause, which says what happened (connection refused, timed out, DNS).
fn transport_reason(error: &(dyn std::error::Error + 'static)) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    reason
}

/// The error for a final 4xx answer. `what` names the object of a 404.
pub(crate) fn status_error(endpoint: Endpoint, reply: &Reply, what: &str) -> GitHubError {
    let body = ErrorBody::parse(&reply.body);
    let endpoint = endpoint.template().to_owned();
    match reply.status {
        StatusCode::UNAUTHORIZED => GitHubError::BadCredentials {
            message: body.message,
        },
        StatusCode::FORBIDDEN => GitHubError::Forbidden {
            endpoint,
            message: body.message,
        },
        StatusCode::NOT_FOUND => GitHubError::NotFound {
            what: what.to_owned(),
            message: body.message,
        },
        StatusCode::UNPROCESSABLE_ENTITY => GitHubError::Validation {
            endpoint,
            message: body.message,
            errors: body.errors,
        },
        status => GitHubError::Api {
            status: status.as_u16(),
            endpoint,
            message: body.message,
            documentation_url: body.documentation_url,
        },
    }
}

/// The ETag of an answer, if it has one.
pub(crate) fn etag_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
