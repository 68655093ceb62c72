//! What a kustomization refers to outside its own directory, read from its text: the
//! directories to fetch from the same commit before kustomize can build it. Pure.
//!
//! kustomize's default load restrictor lets a kustomization read files under its own directory
//! only; other directories come in as `resources`, `bases` or `components`. So those entries are
//! all that may point outside, and each is a directory (or a file beside it, read with it).

use serde_yaml_ng::Value;

/// The names kustomize looks for in a directory, in its order.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Why a kustomization's references cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// A base or resource fetched over the network, which rendering never does.
    Remote { entry: String },
    /// A path leading out of the repository.
    Escapes { entry: String },
    /// A kustomization feature that would run or fetch something (Helm charts inflated by
    /// kustomize, plugins).
    Unsupported { field: String },
    /// The kustomization does not parse.
    Parse { reason: String },
}

/// The repository paths `kustomization` (the text of the kustomization in directory `dir`, a
/// repository path) refers to through `resources`, `bases` and `components`, normalised.
pub fn referenced_paths(kustomization: &[u8], dir: &str) -> Result<Vec<String>, ReferenceError> {
    let doc: Value =
        serde_yaml_ng::from_slice(kustomization).map_err(|e| ReferenceError::Parse {
            reason: e.to_string(),
        })?;
    if let Some(map) = doc.as_mapping() {
        for key in map.keys() {
            let key = key.as_str().unwrap_or("(a key that is not text)");
            if !KNOWN_FIELDS.contains(&key) {
                return Err(ReferenceError::Unsupported {
                    field: key.to_owned(),
                });
            }
        }
    }
    for file in file_fields(&doc) {
        if is_remote(file) {
            return Err(ReferenceError::Remote {
                entry: file.to_owned(),
            });
        }
        if join(dir, file).is_none() {
            return Err(ReferenceError::Escapes {
                entry: file.to_owned(),
            });
        }
    }
    let mut paths = Vec::new();
    for field in ["resources", "bases", "components"] {
        let Some(entries) = doc.get(field).and_then(Value::as_sequence) else {
            continue;
        };
        for entry in entries.iter().filter_map(Value::as_str) {
            if is_remote(entry) {
                return Err(ReferenceError::Remote {
                    entry: entry.to_owned(),
                });
            }
            let path = join(dir, entry).ok_or_else(|| ReferenceError::Escapes {
                entry: entry.to_owned(),
            })?;
            paths.push(path);
        }
    }
    Ok(paths)
}

/// The top-level fields of a kustomization that only hold data or plain relative paths. Others
/// (`helmCharts`, `generators`, `transformers`, `validators`, plugins, fields of a newer
/// kustomize) are refused: they may run or fetch something.
const KNOWN_FIELDS: [&str; 29] = [
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "crds",
    "configurations",
    "openapi",
    "replacements",
    "vars",
    "sortOptions",
    "buildMetadata",
    "nameReference",
    "namespaceReference",
];

/// Every value of the kustomization that names a file: patch and replacement paths, CRD and
/// configuration files, the OpenAPI schema, generators' files and env files.
fn file_fields(doc: &Value) -> Vec<&str> {
    fn strings(v: Option<&Value>) -> Vec<&str> {
        v.and_then(Value::as_sequence)
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
    let mut files = Vec::new();
    for field in ["patches", "patchesJson6902", "replacements"] {
        for item in doc
            .get(field)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            files.extend(item.get("path").and_then(Value::as_str));
        }
    }
    // An entry with a line break is an inline patch, not a file.
    files.extend(
        strings(doc.get("patchesStrategicMerge"))
            .into_iter()
            .filter(|p| !p.contains('\n')),
    );
    files.extend(strings(doc.get("crds")));
    files.extend(strings(doc.get("configurations")));
    files.extend(
        doc.get("openapi")
            .and_then(|o| o.get("path"))
            .and_then(Value::as_str),
    );
    for field in ["configMapGenerator", "secretGenerator"] {
        for item in doc
            .get(field)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            // A `files` entry may be `key=path`.
            files.extend(
                strings(item.get("files"))
                    .into_iter()
                    .map(|f| f.split_once('=').map_or(f, |(_, path)| path)),
            );
            files.extend(strings(item.get("envs")));
            files.extend(item.get("env").and_then(Value::as_str));
        }
    }
    files
}

/// Whether kustomize would fetch `entry` over the network, or it is not a plain relative path:
/// a URL, a git address (`git@`, `gh:`, `github.com:`), a query, a backslash; or a host path.
fn is_remote(entry: &str) -> bool {
    let entry = entry.trim();
    entry.contains(':')
        || entry.contains('@')
        || entry.contains('?')
        || entry.contains('\\')
        || entry.split('/').next().is_some_and(|first| {
            first.contains('.')
                && first != "."
                && first != ".."
                && entry.contains('/')
                && looks_like_host(first)
        })
}

/// `github.com`, `gitlab.example.org`: a first segment that reads as a host name, not a file.
fn looks_like_host(segment: &str) -> bool {
    let labels: Vec<&str> = segment.split('.').collect();
    labels.len() >= 2
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        && !segment.ends_with(".yaml")
        && !segment.ends_with(".yml")
        && !segment.ends_with(".json")
}

/// `entry` relative to `dir` as a repository path, or `None` if it leads out of the repository.
pub fn join(dir: &str, entry: &str) -> Option<String> {
    if entry.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    for segment in entry.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// Whether repository path `path` is `dir` or under it.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "." || path == dir || path.starts_with(&format!("{dir}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlay_refers_to_its_base_as_a_repository_path() {
        let overlay = b"resources:\n  - ../../base\n  - extra.yaml\ncomponents:\n  - ../../components/probes\npatches:\n  - path: replicas.yaml\n";
        assert_eq!(
            referenced_paths(overlay, "deploy/overlays/prod").expect("paths"),
            [
                "deploy/base",
                "deploy/overlays/prod/extra.yaml",
                "deploy/components/probes"
            ]
        );
    }

    #[test]
    fn remote_bases_and_escapes_are_refused_naming_the_entry() {
        for remote in [
            "https://github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v1.0.6",
            "github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6",
            "git@github.com:owner/repo.git//deploy",
            "git::https://example.com/repo.git",
            "github.com/owner/repo/deploy",
        ] {
            let text = format!("resources:\n  - {remote}\n");
            assert_eq!(
                referenced_paths(text.as_bytes(), "deploy"),
                Err(ReferenceError::Remote {
                    entry: remote.to_owned()
                }),
                "{remote}"
            );
        }
        assert_eq!(
            referenced_paths(b"resources: [../../../etc]", "deploy/prod"),
            Err(ReferenceError::Escapes {
                entry: "../../../etc".to_owned()
            })
        );
        assert_eq!(
            referenced_paths(b"helmCharts: [{name: x}]", "deploy"),
            Err(ReferenceError::Unsupported {
                field: "helmCharts".to_owned()
            })
        );
        // A file whose name has dots is a file, not a host.
        assert_eq!(
            referenced_paths(b"resources: [app.v2.yaml]", "deploy").expect("paths"),
            ["deploy/app.v2.yaml"]
        );
    }

    #[test]
    fn every_file_a_kustomization_names_is_a_plain_relative_path() {
        for (text, entry) in [
            (
                "configMapGenerator: [{name: x, files: ['k=http://169.254.169.254/latest/meta-data']}]",
                "http://169.254.169.254/latest/meta-data",
            ),
            (
                "patches: [{path: 'https://example.com/p.yaml'}]",
                "https://example.com/p.yaml",
            ),
            (
                "openapi: {path: 'https://example.com/schema.json'}",
                "https://example.com/schema.json",
            ),
            (
                "crds: ['https://example.com/crd.yaml']",
                "https://example.com/crd.yaml",
            ),
            (
                "secretGenerator: [{name: s, envs: ['http://x/env']}]",
                "http://x/env",
            ),
            ("resources: ['gh:org/repo//deploy']", "gh:org/repo//deploy"),
            ("resources: ['GitHub.com:org/repo']", "GitHub.com:org/repo"),
            ("resources: ['GIT@host:org/repo']", "GIT@host:org/repo"),
        ] {
            assert_eq!(
                referenced_paths(text.as_bytes(), "deploy"),
                Err(ReferenceError::Remote {
                    entry: entry.to_owned()
                }),
                "{text}"
            );
        }
        assert_eq!(
            referenced_paths(b"patchesStrategicMerge: [../../../x.yaml]", "deploy"),
            Err(ReferenceError::Escapes {
                entry: "../../../x.yaml".to_owned()
            })
        );
        // Inline patches and plain files pass.
        let fine = b"patchesStrategicMerge:\n  - |\n    kind: Deployment\n    metadata: {name: a}\n  - p.yaml\nconfigMapGenerator: [{name: c, files: [k=conf/a.txt], envs: [a.env]}]\n";
        assert_eq!(
            referenced_paths(fine, "deploy").expect("fine"),
            Vec::<String>::new()
        );
        assert_eq!(
            referenced_paths(b"plugins: {}", "deploy"),
            Err(ReferenceError::Unsupported {
                field: "plugins".to_owned()
            })
        );
    }

    #[test]
    fn paths_join_and_stay_inside() {
        assert_eq!(join("a/b", "../c").as_deref(), Some("a/c"));
        assert_eq!(join(".", "x").as_deref(), Some("x"));
        assert_eq!(join("a", "..").as_deref(), Some("."));
        assert_eq!(join("a", "../.."), None);
        assert_eq!(join("a", "/etc"), None);
        assert!(is_under("a/b/c.yaml", "a/b"));
        assert!(!is_under("a/bc", "a/b"));
    }
}
