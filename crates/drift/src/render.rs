//! A target rendered as a CD tool would before it is compared (issue #15): a directory holding a
//! kustomization is built with kustomize; anything else is read as it is. The bases it refers to
//! are read from the same commit; remote bases are refused before anything runs, so rendering
//! never reaches the network. The tool runs in a scratch directory removed afterwards, with a
//! time limit and a limit on what it may print, and only so many run at once.

mod chart;
mod references;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use prtracker_domain::Repository;
use prtracker_github::{GitHubApi, GitHubError, RepoFile};
use tokio::{io::AsyncReadExt, sync::Semaphore};

pub use references::{KUSTOMIZATION_FILES, ReferenceError, is_under, join, referenced_paths};

use crate::{error::DriftError, manifests::ManifestError};

/// The most directories one render may read besides the target's own.
const MAX_DIRECTORIES: usize = 64;

/// How kustomize is run: its own binary (`kustomize build DIR`) or kubectl's (`kubectl
/// kustomize DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kustomize {
    Binary(PathBuf),
    Kubectl(PathBuf),
}

/// What one render runs.
enum Tool<'a> {
    Kustomize(&'a Kustomize),
    /// `helm template` of a chart, with its values files (repository paths) in order.
    Helm {
        binary: &'a Path,
        values: &'a [String],
    },
}

impl Tool<'_> {
    fn name(&self) -> &'static str {
        match self {
            Tool::Kustomize(_) => "kustomize",
            Tool::Helm { .. } => "helm",
        }
    }
}

/// Renders targets; without the tool a target needs, its check is an error that says what to
/// install.
#[derive(Debug, Clone)]
pub struct Renderer {
    kustomize: Option<Kustomize>,
    helm: Option<PathBuf>,
    timeout: Duration,
    max_output: usize,
    /// Renders run in the operator's own container: each tool's memory and its buffered output
    /// count against the operator's limit, and their CPU against each other's time limits.
    slots: Arc<Semaphore>,
}

/// Renders at once unless told otherwise: a monitor reconcile each would run 16 tools together.
pub const DEFAULT_RENDER_CONCURRENCY: usize = 2;

impl Default for Renderer {
    fn default() -> Self {
        Self {
            kustomize: None,
            helm: None,
            timeout: Duration::from_secs(60),
            max_output: 64 * 1024 * 1024,
            slots: Arc::new(Semaphore::new(DEFAULT_RENDER_CONCURRENCY)),
        }
    }
}

impl Renderer {
    /// Kustomize as named: a path or a name looked up on `PATH`; a name ending in `kubectl`
    /// runs `kubectl kustomize`.
    pub fn with_kustomize(mut self, command: &Path) -> Self {
        let is_kubectl = command
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("kubectl"));
        self.kustomize = Some(if is_kubectl {
            Kustomize::Kubectl(command.to_owned())
        } else {
            Kustomize::Binary(command.to_owned())
        });
        self
    }

    /// The helm binary that renders charts (`helm template`).
    pub fn with_helm(mut self, helm: &Path) -> Self {
        self.helm = Some(helm.to_owned());
        self
    }

    pub fn with_limits(mut self, timeout: Duration, max_output: usize) -> Self {
        self.timeout = timeout;
        self.max_output = max_output;
        self
    }

    /// At most `renders` tools run at once (at least one); the others wait their turn, and
    /// their time limit starts when they do.
    pub fn with_concurrency(mut self, renders: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(renders.max(1)));
        self
    }

    /// The files to parse for `path` at `commit`: `files` (read under `path`) as they are, or,
    /// where `path` is a Helm chart or holds a kustomization, the tool's output as one file.
    pub async fn render(
        &self,
        github: &dyn GitHubApi,
        repo: &Repository,
        commit: &str,
        path: &str,
        values: &[String],
        files: Vec<RepoFile>,
    ) -> Result<Result<Vec<RepoFile>, ManifestError>, DriftError> {
        let Some(path) = join(".", path) else {
            return Ok(Err(ManifestError::Render {
                path: path.to_owned(),
                reason: "the path leads out of the repository".to_owned(),
            }));
        };
        let chart = join(&path, "Chart.yaml").unwrap_or_default();
        if let Some(chart) = files.iter().find(|f| f.path == chart) {
            let Some(helm) = &self.helm else {
                return Ok(Err(ManifestError::Render {
                    path: path.clone(),
                    reason: format!(
                        "{} is a Helm chart, which needs helm, which this operator was not given (--helm)",
                        chart.path
                    ),
                }));
            };
            if let Err(reason) = chart::dependencies_vendored(&chart.content, &path, &files) {
                return Ok(Err(ManifestError::Render { path, reason }));
            }
            let files = match chart::with_values(github, repo, commit, &path, values, files).await?
            {
                Ok(files) => files,
                Err(error) => return Ok(Err(error)),
            };
            return self
                .build(
                    Tool::Helm {
                        binary: helm,
                        values,
                    },
                    &path,
                    &files,
                )
                .await;
        }
        let Some(kustomization) = kustomization_in(&files, &path) else {
            return Ok(Ok(files));
        };
        let Some(kustomize) = &self.kustomize else {
            return Ok(Err(ManifestError::Render {
                path: path.clone(),
                reason: format!(
                    "{kustomization} needs kustomize, which this operator was not given (--kustomize: a kustomize or kubectl binary)"
                ),
            }));
        };
        let files = match gather(github, repo, commit, &path, files).await? {
            Ok(files) => files,
            Err(error) => return Ok(Err(error)),
        };
        self.build(Tool::Kustomize(kustomize), &path, &files).await
    }

    /// Writes `files` into a scratch directory and builds `path` there. What the input decides
    /// (kustomize's refusal, the limits) is a `ManifestError`, final for the commit; what the
    /// machine does (no scratch space, the tool not starting) is a `DriftError`, retried.
    async fn build(
        &self,
        tool: Tool<'_>,
        path: &str,
        files: &[RepoFile],
    ) -> Result<Result<Vec<RepoFile>, ManifestError>, DriftError> {
        let failed = |reason: String| ManifestError::Render {
            path: path.to_owned(),
            reason,
        };
        let machine = |reason: String| DriftError::Render {
            path: path.to_owned(),
            reason,
        };
        // Held until the scratch directory is gone, so the renders' disk is bounded too.
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| machine(format!("a render slot: {e}")))?;
        let scratch =
            tempfile::tempdir().map_err(|e| machine(format!("a scratch directory: {e}")))?;
        for file in files {
            // Names from GitHub were checked for `..`, `/` and NUL when read; join keeps them in.
            let Some(relative) = join(".", &file.path) else {
                return Ok(Err(failed(format!(
                    "{} leads out of the repository",
                    file.path
                ))));
            };
            let target = scratch.path().join(&relative);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| machine(e.to_string()))?;
            }
            std::fs::write(&target, &file.content).map_err(|e| machine(e.to_string()))?;
        }
        let dir = scratch.path().join(path);
        let mut command = match &tool {
            Tool::Kustomize(Kustomize::Binary(binary)) => {
                let mut c = tokio::process::Command::new(binary);
                c.arg("build").arg(&dir);
                c
            }
            Tool::Kustomize(Kustomize::Kubectl(kubectl)) => {
                let mut c = tokio::process::Command::new(kubectl);
                c.arg("kustomize").arg(&dir);
                c
            }
            Tool::Helm { binary, values } => {
                let mut c = tokio::process::Command::new(binary);
                c.args(["template", "prtracker"]).arg(&dir);
                for value in values.iter().filter_map(|v| join(".", v)) {
                    c.arg("--values").arg(scratch.path().join(value));
                }
                c
            }
        };
        let name = tool.name();
        // Nothing from the operator's environment: no credentials, no proxies, no plugins; helm's
        // homes in the scratch directory.
        command
            .env_clear()
            .env("HOME", scratch.path())
            .env("HELM_CACHE_HOME", scratch.path().join(".helm/cache"))
            .env("HELM_CONFIG_HOME", scratch.path().join(".helm/config"))
            .env("HELM_DATA_HOME", scratch.path().join(".helm/data"))
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| machine(format!("cannot run {name}: {e}")))?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(machine(format!("{name}'s output could not be read")));
        };
        let limit = self.max_output;
        // Its messages are read aside, so a tool that prints without end is stopped at the
        // output limit rather than waited for.
        // Read to the end (a closed pipe would kill a tool that warns a lot), kept to 1 KiB.
        let errors = tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                let room = 1024usize.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            kept
        });
        let run = async {
            let mut out = Vec::new();
            stdout
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .await
                .map_err(|e| failed(e.to_string()))?;
            if out.len() > limit {
                return Err(failed(format!(
                    "{name} printed more than {limit} bytes: stopped"
                )));
            }
            let status = child.wait().await.map_err(|e| failed(e.to_string()))?;
            if !status.success() {
                let err = errors.await.unwrap_or_default();
                let message = String::from_utf8_lossy(&err);
                let message = message
                    .trim()
                    .replace(&format!("{}/", scratch.path().display()), "");
                return Err(failed(format!("{name} failed: {message}")));
            }
            Ok(out)
        };
        let out = match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(out)) => out,
            Ok(Err(error)) => return Ok(Err(error)),
            Err(_) => {
                return Ok(Err(failed(format!(
                    "{name} ran longer than {:?}: stopped",
                    self.timeout
                ))));
            }
        };
        Ok(Ok(vec![RepoFile {
            // Named as YAML, which it is, so it is parsed as the manifests are.
            path: format!("{path} ({name} output).yaml"),
            sha: String::new(),
            content: out,
        }]))
    }
}

/// The kustomization file at `path` itself, if there is one.
fn kustomization_in(files: &[RepoFile], path: &str) -> Option<String> {
    KUSTOMIZATION_FILES.iter().find_map(|name| {
        let wanted = join(path, name)?;
        files.iter().any(|f| f.path == wanted).then_some(wanted)
    })
}

/// `files` and every directory outside `path` their kustomizations refer to, read from the
/// same commit, until nothing new is referred to.
async fn gather(
    github: &dyn GitHubApi,
    repo: &Repository,
    commit: &str,
    path: &str,
    mut files: Vec<RepoFile>,
) -> Result<Result<Vec<RepoFile>, ManifestError>, DriftError> {
    let mut read: BTreeSet<String> = BTreeSet::from([path.to_owned()]);
    let mut parsed: BTreeSet<String> = BTreeSet::new();
    loop {
        let mut wanted = BTreeSet::new();
        for file in &files {
            let (dir, name) = file
                .path
                .rsplit_once('/')
                .unwrap_or((".", file.path.as_str()));
            if !KUSTOMIZATION_FILES.contains(&name) || !parsed.insert(file.path.clone()) {
                continue;
            }
            let references = match referenced_paths(&file.content, dir) {
                Ok(references) => references,
                Err(error) => return Ok(Err(reference_error(path, &file.path, error))),
            };
            for reference in references {
                // A kustomization that takes in a directory holding the target would take in
                // the target itself (kustomize calls it a cycle) and read half the repository.
                if is_under(path, &reference) {
                    return Ok(Err(ManifestError::Render {
                        path: path.to_owned(),
                        reason: format!(
                            "{} refers to {reference}, which holds the target itself",
                            file.path
                        ),
                    }));
                }
                if !read.iter().any(|r| is_under(&reference, r)) {
                    wanted.insert(reference);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(Ok(files));
        }
        for dir in wanted {
            if read.len() >= MAX_DIRECTORIES {
                return Ok(Err(ManifestError::Render {
                    path: path.to_owned(),
                    reason: format!(
                        "the kustomizations refer to more than {MAX_DIRECTORIES} directories"
                    ),
                }));
            }
            match github.read_files(repo, &dir, commit).await {
                Ok(more) => files.extend(more),
                Err(GitHubError::NotFound { .. }) => {
                    return Ok(Err(ManifestError::Render {
                        path: path.to_owned(),
                        reason: format!(
                            "{dir}, which a kustomization refers to, is not in the repository at this commit"
                        ),
                    }));
                }
                Err(error) => return Err(error.into()),
            }
            read.insert(dir);
        }
    }
}

fn reference_error(path: &str, file: &str, error: ReferenceError) -> ManifestError {
    let reason = match error {
        ReferenceError::Remote { entry } => format!(
            "{file} refers to {entry}, which is no plain file of the repository (a URL or a remote base): rendering never fetches from the network; vendor it in the repository"
        ),
        ReferenceError::Escapes { entry } => {
            format!("{file} refers to {entry}, which leads out of the repository")
        }
        ReferenceError::Unsupported { field } => {
            format!("{file} uses {field}, which would run or fetch something: not supported")
        }
        ReferenceError::Parse { reason } => format!("{file} does not parse: {reason}"),
    };
    ManifestError::Render {
        path: path.to_owned(),
        reason,
    }
}
