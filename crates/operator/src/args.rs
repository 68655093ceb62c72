//! `prtracker run`'s flags (every one also an environment variable), and their validation into an
//! [`OperatorConfig`] before anything is contacted or written.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::Args;
use prtracker_api::{IgnoreRule, Repository};
use prtracker_domain::LabelPrefix;
use prtracker_github::{AppInstallation, CircuitPolicy, GitHubAuth, GitHubConfig, PacingPolicy};

use crate::server::ServerLimits;

mod render;
mod surfaces;
mod values;
pub use render::{RenderArgs, RenderConfig};
pub use surfaces::{SurfaceArgs, SurfaceConfig};
pub use values::{parse_bytes, parse_duration};

/// The flags of `prtracker run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// GitHub's REST API; for GitHub Enterprise Server, https://HOST/api/v3.
    #[arg(long, env = "PRTRACKER_GITHUB_API_URL", default_value = prtracker_github::GITHUB_API)]
    pub github_api_url: String,

    /// A GitHub token (prefer --github-token-file, so it does not show in the process list).
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,

    /// A file holding the GitHub token (a mounted Secret); it wins over GITHUB_TOKEN, which people
    /// often have exported for other tools.
    #[arg(long, env = "PRTRACKER_GITHUB_TOKEN_FILE")]
    pub github_token_file: Option<PathBuf>,

    /// Authenticate as this GitHub App (with --github-app-private-key-file).
    #[arg(
        long,
        env = "PRTRACKER_GITHUB_APP_ID",
        requires = "github_app_private_key_file"
    )]
    pub github_app_id: Option<u64>,

    /// The GitHub App's private key (PEM).
    #[arg(
        long,
        env = "PRTRACKER_GITHUB_APP_PRIVATE_KEY_FILE",
        requires = "github_app_id"
    )]
    pub github_app_private_key_file: Option<PathBuf>,

    /// The App's installation; found per repository owner when not given.
    #[arg(
        long,
        env = "PRTRACKER_GITHUB_APP_INSTALLATION_ID",
        requires = "github_app_id"
    )]
    pub github_app_installation_id: Option<u64>,

    /// A file holding a webhook secret; repeat the flag (or separate paths with commas) to accept
    /// several during a rotation.
    #[arg(
        long,
        env = "PRTRACKER_WEBHOOK_SECRET_FILE",
        value_delimiter = ',',
        required = true
    )]
    pub webhook_secret_file: Vec<PathBuf>,

    /// Where /webhook, /metrics, /healthz and /readyz are served.
    #[arg(long, env = "PRTRACKER_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Connections the HTTP server (webhook, metrics, probes) serves at once; past it, a new one is
    /// closed as soon as it is accepted.
    #[arg(long, env = "PRTRACKER_WEBHOOK_MAX_CONNECTIONS", default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS)]
    pub webhook_max_connections: usize,

    /// How long a client has to send a request's headers; a slower one, or a keep-alive
    /// connection idle that long, is closed.
    #[arg(long, env = "PRTRACKER_WEBHOOK_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_header_timeout: Duration,

    /// How long a delivery's body has to arrive once its headers have (408 after it).
    #[arg(long, env = "PRTRACKER_WEBHOOK_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub webhook_body_timeout: Duration,

    /// Bytes of webhook bodies held in memory at once by all deliveries in flight (a byte count, or
    /// with Ki, Mi or Gi); a delivery beyond it gets 503 with Retry-After before it is read. Bodies
    /// larger than this (or than GitHub's 25Mi) are refused with 413.
    #[arg(long, env = "PRTRACKER_WEBHOOK_BODY_BUDGET", default_value = "32Mi", value_parser = parse_bytes)]
    pub webhook_body_budget: usize,

    /// Delivery ids remembered to drop GitHub's repeated deliveries (at most 72 bytes each); 0
    /// remembers none.
    #[arg(long, env = "PRTRACKER_WEBHOOK_DEDUP_CAPACITY", default_value_t = crate::webhook::DEFAULT_DEDUP_CAPACITY)]
    pub webhook_dedup_capacity: usize,

    /// Watch trackers in this namespace only (default: all namespaces).
    #[arg(long, env = "PRTRACKER_NAMESPACE")]
    pub namespace: Option<String>,

    /// The prefix of state labels.
    #[arg(long, env = "PRTRACKER_LABEL_PREFIX", default_value = prtracker_domain::DEFAULT_PREFIX)]
    pub label_prefix: String,

    /// How often every tracker is checked against GitHub even without a webhook (a lost webhook is
    /// repaired within this time). A Go-style duration: 30s, 5m, 1h.
    #[arg(long, env = "PRTRACKER_RESYNC_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// Track every open PR of this repository (OWNER/NAME); repeatable, or comma-separated.
    #[arg(
        long = "track-repo",
        env = "PRTRACKER_TRACK_REPOS",
        value_delimiter = ','
    )]
    pub track_repos: Vec<Repository>,

    /// The namespace auto-tracked PRs' trackers are created in (default: --namespace, else `default`).
    #[arg(long, env = "PRTRACKER_TRACKER_NAMESPACE")]
    pub tracker_namespace: Option<String>,

    /// Clusters an auto-tracked PR is monitored in after merge (comma-separated).
    #[arg(long, env = "PRTRACKER_DEFAULT_CLUSTERS", value_delimiter = ',')]
    pub default_clusters: Vec<String>,

    /// Where an auto-tracked PR's manifests live in its repository.
    #[arg(long, env = "PRTRACKER_MANIFESTS_PATH", default_value = ".")]
    pub manifests_path: String,

    /// A cluster an auto-tracked PR is monitored in, with the path rendered for it, as
    /// CLUSTER=PATH (repeatable, or comma-separated): an overlay per environment. Replaces
    /// --default-clusters and --manifests-path.
    #[arg(long = "target", env = "PRTRACKER_TARGETS", value_delimiter = ',')]
    pub targets: Vec<String>,

    /// The check interval of the DriftMonitors the operator creates: the safety net under the
    /// cluster watches (an unwatched monitor is checked at least every 5m).
    #[arg(long, env = "PRTRACKER_MONITOR_INTERVAL", default_value = prtracker_api::interval::DEFAULT_INTERVAL)]
    pub monitor_interval: String,

    /// Watch target clusters for changes to what live monitors judge, checking a monitor from
    /// the watch's cache as soon as one changes; false: interval checks only.
    #[arg(long, env = "PRTRACKER_WATCH_CLUSTERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_clusters: bool,

    /// How long a drift must hold before it moves a PR's label (a rollout, a flapping autoscaler):
    /// an edit undone sooner never reaches the PR. A tracker's spec.settleWindow overrides it.
    #[arg(long, env = "PRTRACKER_SETTLE_WINDOW", default_value = "2m", value_parser = parse_duration)]
    pub settle_window: Duration,

    /// A YAML file of fields no drift check judges, as a list of rules in the shape of a tracker's
    /// spec.ignoreDifferences (kind, group, name, namespace, jsonPointers,
    /// managedFieldsManagers); e.g. the replicas of every Deployment under an autoscaler.
    #[arg(long, env = "PRTRACKER_IGNORE_DIFFERENCES_FILE")]
    pub ignore_differences_file: Option<PathBuf>,

    /// How targets that are kustomizations or charts are rendered.
    #[command(flatten)]
    pub render: RenderArgs,

    /// Where the Secrets of target clusters live (labelled prtracker.io/cluster=NAME, key
    /// kubeconfig); default: the pod's namespace (POD_NAMESPACE), else prtracker-system.
    #[arg(long, env = "PRTRACKER_CLUSTER_SECRETS_NAMESPACE")]
    pub cluster_secrets_namespace: Option<String>,

    /// GitHub points (a read 1, a write 5) the operator spends in any minute, below GitHub's
    /// secondary limit of 900. 0 turns pacing off: for a GitHub Enterprise Server without rate
    /// limits.
    #[arg(
        long,
        env = "PRTRACKER_GITHUB_POINTS_PER_MINUTE",
        default_value_t = 800
    )]
    pub github_points_per_minute: u32,

    /// Delete the trackers of PRs closed longer ago than this, with an Event, once they are done:
    /// closed unmerged, or merged with every field of their change since superseded (a live
    /// change is kept). Their monitors go with them. Off by default: trackers are kept for good.
    #[arg(long, env = "PRTRACKER_FORGET_AFTER", value_parser = parse_duration)]
    pub forget_after: Option<Duration>,

    /// What a merged PR shows on GitHub beyond its label.
    #[command(flatten)]
    pub surfaces: SurfaceArgs,

    /// Elect one working replica through a coordination.k8s.io Lease.
    #[arg(long, env = "PRTRACKER_LEADER_ELECT")]
    pub leader_elect: bool,

    /// The Lease's namespace (default: the pod's, from POD_NAMESPACE, else `default`).
    #[arg(long, env = "PRTRACKER_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// The Lease's name.
    #[arg(long, env = "PRTRACKER_LEASE_NAME", default_value = "prtracker-leader")]
    pub lease_name: String,

    /// How long a lease lasts without renewal; another replica takes over after it.
    #[arg(long, env = "PRTRACKER_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
}

/// Everything `run` needs, validated.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    pub github: GitHubConfig,
    pub webhook_secrets: Vec<Vec<u8>>,
    pub listen: SocketAddr,
    /// The HTTP server's connection cap and header timeout.
    pub server: ServerLimits,
    /// The webhook body's read timeout.
    pub webhook_body_timeout: Duration,
    /// The budget of webhook bodies in flight, in bytes.
    pub webhook_body_budget: usize,
    /// The largest webhook body, in bytes: GitHub's 25 MiB, or the budget if smaller.
    pub webhook_max_body_bytes: usize,
    pub webhook_dedup_capacity: usize,
    pub namespace: Option<String>,
    pub label_prefix: LabelPrefix,
    pub resync_interval: Duration,
    pub track_repos: Vec<Repository>,
    pub tracker_namespace: String,
    pub default_clusters: Vec<String>,
    pub manifests_path: String,
    /// Per cluster, the path an auto-tracked PR's monitor reads; empty for the shorthand above.
    pub targets: Vec<prtracker_api::Target>,
    /// What builds kustomizations and renders charts, and each render's limits.
    pub render: RenderConfig,
    pub monitor_interval: String,
    pub watch_clusters: bool,
    pub cluster_secrets_namespace: String,
    pub leader_election: Option<LeaderElection>,
    pub settle_window: Duration,
    pub ignore_differences: Vec<IgnoreRule>,
    pub forget_after: Option<Duration>,
    pub surfaces: SurfaceConfig,
}

#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub namespace: String,
    pub lease_name: String,
    pub duration: Duration,
    pub identity: String,
}

impl RunArgs {
    /// Checks every flag and reads every file, so a mistake is reported before the operator contacts
    /// anything.
    pub fn validate(&self) -> anyhow::Result<OperatorConfig> {
        let auth = self.github_auth()?;
        let pacing = match self.github_points_per_minute {
            0 => PacingPolicy::UNLIMITED,
            points => PacingPolicy {
                points,
                ..PacingPolicy::default()
            },
        };
        if let Err(problem) = pacing.validate() {
            bail!("--github-points-per-minute: {problem}");
        }
        // In an outage GitHub is probed at least once per resync, so a PR is consistent again
        // within one resync after GitHub is back.
        let circuit = CircuitPolicy {
            max_probe_wait: CircuitPolicy::default()
                .max_probe_wait
                .min(self.resync_interval),
            ..CircuitPolicy::default()
        };
        let github = GitHubConfig::new(auth)
            .with_base_url(self.github_api_url.trim_end_matches('/'))
            .with_pacing(pacing)
            .with_circuit(circuit);
        let mut webhook_secrets = Vec::new();
        for path in &self.webhook_secret_file {
            let secret = read_secret(path)
                .with_context(|| format!("--webhook-secret-file {}", path.display()))?;
            webhook_secrets.push(secret.into_bytes());
        }
        if self.webhook_max_connections == 0 {
            bail!("--webhook-max-connections must be at least 1");
        }
        if self.webhook_header_timeout < Duration::from_secs(1) {
            bail!("--webhook-header-timeout must be at least 1s");
        }
        if self.webhook_body_timeout < Duration::from_secs(1) {
            bail!("--webhook-body-timeout must be at least 1s");
        }
        if self.webhook_body_budget < 1024 * 1024 {
            bail!(
                "--webhook-body-budget must be at least 1Mi: GitHub's pull_request payloads reach hundreds of KB"
            );
        }
        let label_prefix = LabelPrefix::new(self.label_prefix.clone()).context("--label-prefix")?;
        if self.resync_interval < Duration::from_secs(2) {
            bail!(
                "--resync-interval must be at least 2s: every resync reads each repository's change feed"
            );
        }
        for cluster in &self.default_clusters {
            if !prtracker_api::is_cluster_name(cluster) {
                bail!(
                    "--default-clusters: {cluster:?} is not a cluster name (a DNS label: a-z, 0-9, '-')"
                );
            }
        }
        let targets = values::targets(&self.targets)?;
        if !targets.is_empty() && !self.default_clusters.is_empty() {
            bail!("--target and --default-clusters: give one (each target names its cluster)");
        }
        prtracker_api::interval::parse_interval(&self.monitor_interval)
            .context("--monitor-interval")?;
        if self.manifests_path.starts_with('/') || self.manifests_path.split('/').any(|s| s == "..")
        {
            bail!("--manifests-path must be relative to the repository root, without '..'");
        }
        if self.settle_window > Duration::from_secs(3600) {
            bail!("--settle-window must be at most 1h: a drift held longer is not a rollout");
        }
        let ignore_differences = match &self.ignore_differences_file {
            Some(path) => read_ignore_rules(path)
                .with_context(|| format!("--ignore-differences-file {}", path.display()))?,
            None => Vec::new(),
        };
        let pod_namespace = std::env::var("POD_NAMESPACE").ok();
        let tracker_namespace = self
            .tracker_namespace
            .clone()
            .or_else(|| self.namespace.clone())
            .unwrap_or_else(|| "default".to_owned());
        let cluster_secrets_namespace = self
            .cluster_secrets_namespace
            .clone()
            .or_else(|| pod_namespace.clone())
            .unwrap_or_else(|| "prtracker-system".to_owned());
        let leader_election = self.leader_elect.then(|| LeaderElection {
            namespace: self
                .lease_namespace
                .clone()
                .or(pod_namespace)
                .unwrap_or_else(|| "default".to_owned()),
            lease_name: self.lease_name.clone(),
            duration: self.lease_duration,
            identity: std::env::var("POD_NAME")
                .or_else(|_| std::env::var("HOSTNAME"))
                .unwrap_or_else(|_| format!("prtracker-{}", std::process::id())),
        });
        let surfaces = self.surfaces.validate(&github.auth)?;
        Ok(OperatorConfig {
            github,
            webhook_secrets,
            listen: self.listen,
            server: ServerLimits {
                max_connections: self.webhook_max_connections,
                header_read_timeout: self.webhook_header_timeout,
            },
            webhook_body_timeout: self.webhook_body_timeout,
            webhook_body_budget: self.webhook_body_budget,
            webhook_max_body_bytes: self
                .webhook_body_budget
                .min(crate::webhook::DEFAULT_MAX_BODY_BYTES),
            webhook_dedup_capacity: self.webhook_dedup_capacity,
            namespace: self.namespace.clone(),
            label_prefix,
            resync_interval: self.resync_interval,
            track_repos: self.track_repos.clone(),
            tracker_namespace,
            default_clusters: self.default_clusters.clone(),
            manifests_path: self.manifests_path.clone(),
            targets,
            render: self.render.validate()?,
            monitor_interval: self.monitor_interval.clone(),
            watch_clusters: self.watch_clusters,
            cluster_secrets_namespace,
            leader_election,
            settle_window: self.settle_window,
            ignore_differences,
            forget_after: self.forget_after.filter(|d| !d.is_zero()),
            surfaces,
        })
    }

    fn github_auth(&self) -> anyhow::Result<GitHubAuth> {
        if let (Some(app_id), Some(key_file)) =
            (self.github_app_id, &self.github_app_private_key_file)
        {
            let private_key_pem = std::fs::read_to_string(key_file)
                .with_context(|| format!("--github-app-private-key-file {}", key_file.display()))?;
            if !private_key_pem.contains("PRIVATE KEY") {
                bail!(
                    "--github-app-private-key-file {} holds no PEM private key",
                    key_file.display()
                );
            }
            let installation = self
                .github_app_installation_id
                .map_or(AppInstallation::Discover, AppInstallation::Id);
            return Ok(GitHubAuth::App {
                app_id,
                private_key_pem,
                installation,
            });
        }
        if let Some(path) = &self.github_token_file {
            let token = read_secret(path)
                .with_context(|| format!("--github-token-file {}", path.display()))?;
            return Ok(GitHubAuth::Token(token));
        }
        match &self.github_token {
            Some(token) if !token.trim().is_empty() => {
                Ok(GitHubAuth::Token(token.trim().to_owned()))
            }
            _ => bail!(
                "no GitHub credentials: set GITHUB_TOKEN, --github-token-file, or --github-app-id with --github-app-private-key-file"
            ),
        }
    }
}

/// A secret from a file, without the trailing newline editors and `kubectl create secret` leave.
/// The rules of an ignore-differences file: a YAML list of rules, each with a kind, and JSON
/// pointers starting with `/`.
fn read_ignore_rules(path: &std::path::Path) -> anyhow::Result<Vec<IgnoreRule>> {
    let text = std::fs::read_to_string(path)?;
    let rules: Vec<IgnoreRule> = serde_yaml_ng::from_str(&text).context("not a list of rules")?;
    for (index, rule) in rules.iter().enumerate() {
        if rule.kind.is_empty() {
            bail!("rule {}: a kind (or *) is needed", index + 1);
        }
        if let Some(pointer) = rule.json_pointers.iter().find(|p| !p.starts_with('/')) {
            bail!(
                "rule {}: {pointer:?} is not a JSON pointer (/spec/replicas)",
                index + 1
            );
        }
    }
    Ok(rules)
}

fn read_secret(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).context("cannot read it")?;
    let secret = text.trim_end_matches(['\n', '\r']).to_owned();
    if secret.trim().is_empty() {
        bail!("it is empty");
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap counts an environment variable as given, so a conflict between the two would refuse
    /// everyone with GITHUB_TOKEN exported; the file wins instead.
    #[test]
    fn a_token_file_wins_over_a_token() {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            run: RunArgs,
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("token");
        std::fs::write(&file, "from-the-file\n").expect("written");
        let parsed = <Command as clap::Parser>::try_parse_from([
            "run".as_ref(),
            "--github-token=from-the-environment".as_ref(),
            std::ffi::OsStr::new("--github-token-file"),
            file.as_os_str(),
            "--webhook-secret-file=unused".as_ref(),
        ])
        .expect("both may be given");
        match parsed.run.github_auth().expect("credentials") {
            GitHubAuth::Token(token) => assert_eq!(token, "from-the-file"),
            _ => panic!("the token file was not used"),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }
}
