//! The command line, as clap types. Every flag of a long-running command also reads an environment
//! variable, for Deployments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeps GitHub pull request state labels and Kubernetes custom resources in sync, and tells on the
/// PR whether its merged change is live in every cluster.
#[derive(Debug, Parser)]
#[command(name = "prtracker", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// How log lines are written to stderr.
    #[arg(long, global = true, env = "PRTRACKER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator: the controllers, the GitHub webhook endpoint, metrics and health probes.
    Run(Box<prtracker_operator::RunArgs>),
    /// The whole system on this machine, and a pull request's life played through it: two local
    /// clusters, the GitHub simulator, the operator; opened, approved, merged, deployed, drifted,
    /// repaired. Needs the control plane built by scripts/build-control-plane.sh, and the development
    /// build (`cargo run -p prtracker --features dev -- demo`).
    Demo {
        /// Keep everything running at the end, until Ctrl-C, to explore with kubectl.
        #[arg(long)]
        keep: bool,
    },
    /// Print the CustomResourceDefinitions as YAML (pipe to `kubectl apply -f -`), or write one file each.
    Crds {
        /// Write `<crd name>.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Tools for developing prtracker and trying it out locally (development build only:
    /// `--features dev`).
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Start a real local control plane (etcd and kube-apiservers) and run until interrupted.
    ///
    /// Prints each cluster's kubeconfig path, for `kubectl --kubeconfig PATH` or `export KUBECONFIG=PATH`.
    /// The binaries come from scripts/build-control-plane.sh.
    ControlPlane {
        /// A cluster to start (repeatable); each is its own kube-apiserver.
        #[arg(long = "cluster", value_name = "NAME", default_value = "primary")]
        clusters: Vec<String>,
        /// Do not install prtracker's CRDs.
        #[arg(long)]
        no_crds: bool,
    },
    /// Start the project's GitHub API simulator and run until interrupted.
    ///
    /// It answers GitHub's REST paths (pull requests, labels, contents) with GitHub's status codes,
    /// headers and bodies, delivers signed webhooks, and is driven through its control API under
    /// /_sim (create repositories and PRs, label and merge as a person would, inject faults).
    Github {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// A repository to create at start (OWNER/NAME); repeatable.
        #[arg(long = "repo", value_name = "OWNER/NAME")]
        repos: Vec<String>,
        /// The token clients must present (any other is refused with 401).
        #[arg(long, default_value = "sim-token")]
        token: String,
        /// Deliver webhooks to this URL.
        #[arg(long)]
        webhook_url: Option<String>,
        /// A file holding the secret that signs webhook deliveries.
        #[arg(long, requires = "webhook_url")]
        webhook_secret_file: Option<PathBuf>,
    },
}

impl Cli {
    pub fn init_logging(&self) {
        // kube-client logs every failed request at ERROR, including the expected ones (an apiserver
        // still starting); callers report the failures that matter, with context, so it is off by
        // default. RUST_LOG overrides all of this.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,kube_client::client::builder=off")
        });
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder.json().init(),
        }
    }
}
