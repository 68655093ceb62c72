//! The flags of rendering (issue #15): which tools build kustomizations and render charts, and the
//! limits every render runs within.

use std::{path::PathBuf, time::Duration};

use anyhow::bail;
use clap::Args;
use prtracker_drift::DEFAULT_RENDER_CONCURRENCY;

use super::values::{self, parse_bytes, parse_duration};

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// The kustomize (or kubectl) binary that builds targets holding a kustomization; default:
    /// `kustomize`, else `kubectl`, on PATH.
    #[arg(long, env = "PRTRACKER_KUSTOMIZE")]
    pub kustomize: Option<PathBuf>,

    /// The helm binary that renders targets that are charts (`helm template`); default: `helm`
    /// on PATH.
    #[arg(long, env = "PRTRACKER_HELM")]
    pub helm: Option<PathBuf>,

    /// How long one render (kustomize build, helm template) may run before it is stopped; the
    /// commit's target then says Error, for good.
    #[arg(long, env = "PRTRACKER_RENDER_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub render_timeout: Duration,

    /// How much one render may print before it is stopped (e.g. 64Mi).
    #[arg(long, env = "PRTRACKER_RENDER_MAX_OUTPUT", default_value = "64Mi", value_parser = parse_bytes)]
    pub render_max_output: usize,

    /// How many renders may run at once; the others wait their turn. They run in the operator's
    /// container, within its memory limit.
    #[arg(long, env = "PRTRACKER_RENDER_CONCURRENCY", default_value_t = DEFAULT_RENDER_CONCURRENCY)]
    pub render_concurrency: usize,
}

/// What builds kustomizations and renders charts (if anything was found), and each render's
/// limits.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    pub kustomize: Option<PathBuf>,
    pub helm: Option<PathBuf>,
    pub timeout: Duration,
    pub max_output: usize,
    pub concurrency: usize,
}

impl RenderArgs {
    /// Refuses limits that would stop every render; finds the tools on PATH where none is named.
    pub fn validate(&self) -> anyhow::Result<RenderConfig> {
        if self.render_timeout < Duration::from_secs(1) {
            bail!("--render-timeout must be at least 1s");
        }
        if self.render_max_output < 64 * 1024 {
            bail!("--render-max-output must be at least 64Ki");
        }
        if self.render_concurrency == 0 {
            bail!("--render-concurrency must be at least 1");
        }
        Ok(RenderConfig {
            kustomize: self.kustomize.clone().or_else(values::kustomize_on_path),
            helm: self.helm.clone().or_else(|| values::on_path(&["helm"])),
            timeout: self.render_timeout,
            max_output: self.render_max_output,
            concurrency: self.render_concurrency,
        })
    }
}
