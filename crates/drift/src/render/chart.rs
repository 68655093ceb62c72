//! A Helm chart as a target: its dependencies must be vendored (`helm dependency build` would
//! fetch them, and rendering never reaches the network), and its values files are read from the
//! same commit as the chart.

use prtracker_domain::Repository;
use prtracker_github::{GitHubApi, GitHubError, RepoFile};
use serde_yaml_ng::Value;

use super::join;
use crate::{error::DriftError, manifests::ManifestError};

/// `Ok` when every dependency `Chart.yaml` names is in the chart's `charts/` directory, as a
/// directory or an archive; else why not, naming the dependency.
pub fn dependencies_vendored(
    chart_yaml: &[u8],
    path: &str,
    files: &[RepoFile],
) -> Result<(), String> {
    let chart: Value = serde_yaml_ng::from_slice(chart_yaml)
        .map_err(|e| format!("{path}/Chart.yaml does not parse: {e}"))?;
    let dependencies = chart
        .get("dependencies")
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for dependency in dependencies {
        let name = dependency.get("name").and_then(Value::as_str).unwrap_or("");
        let source = dependency
            .get("repository")
            .and_then(Value::as_str)
            .unwrap_or("");
        let charts = join(path, "charts").unwrap_or_default();
        let vendored = !name.is_empty()
            && files.iter().any(|f| {
                f.path.starts_with(&format!("{charts}/{name}/"))
                    || f.path
                        .strip_prefix(&format!("{charts}/{name}-"))
                        .is_some_and(|rest| rest.ends_with(".tgz") && !rest.contains('/'))
            });
        if !vendored {
            return Err(format!(
                "{path}/Chart.yaml depends on {name:?} ({source}), which is not vendored in {charts}/: helm dependency build is never run, as it would fetch; vendor the chart in the repository"
            ));
        }
    }
    Ok(())
}

/// `files` and the values files, read from the same commit.
pub async fn with_values(
    github: &dyn GitHubApi,
    repo: &Repository,
    commit: &str,
    path: &str,
    values: &[String],
    mut files: Vec<RepoFile>,
) -> Result<Result<Vec<RepoFile>, ManifestError>, DriftError> {
    for value in values {
        let failed = |reason: String| ManifestError::Render {
            path: path.to_owned(),
            reason,
        };
        let Some(file) = join(".", value) else {
            return Ok(Err(failed(format!(
                "the values file {value} leads out of the repository"
            ))));
        };
        if files.iter().any(|f| f.path == file) {
            continue;
        }
        match github.read_files(repo, &file, commit).await {
            Ok(read) if !read.is_empty() => files.extend(read),
            Ok(_) | Err(GitHubError::NotFound { .. }) => {
                return Ok(Err(failed(format!(
                    "the values file {value} is not in the repository at this commit"
                ))));
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Ok(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> RepoFile {
        RepoFile {
            path: path.into(),
            sha: String::new(),
            content: Vec::new(),
        }
    }

    #[test]
    fn a_dependency_must_be_vendored_as_a_directory_or_an_archive() {
        let chart = b"name: shop\ndependencies:\n  - name: redis\n    version: 1.2.3\n    repository: https://charts.example.com\n";
        let error = dependencies_vendored(chart, "deploy/shop", &[file("deploy/shop/Chart.yaml")])
            .expect_err("not vendored");
        assert!(
            error.contains("\"redis\"") && error.contains("https://charts.example.com"),
            "{error}"
        );
        for vendored in [
            "deploy/shop/charts/redis/Chart.yaml",
            "deploy/shop/charts/redis-1.2.3.tgz",
        ] {
            assert_eq!(
                dependencies_vendored(chart, "deploy/shop", &[file(vendored)]),
                Ok(()),
                "{vendored}"
            );
        }
        assert_eq!(
            dependencies_vendored(b"name: plain\n", "deploy", &[]),
            Ok(())
        );
    }
}
