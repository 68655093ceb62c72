//! The desired state: the Kubernetes objects of the manifest files read at a commit.
//!
//! Rules, as `kubectl apply -f DIR` reads a directory:
//! - files ending `.yaml`, `.yml` or `.json` are manifests; every other file is ignored;
//! - a YAML file may hold several documents separated by `---`; empty documents are skipped;
//! - an object of kind `List` (or any `…List` with `items`) stands for its items;
//! - every object needs `apiVersion`, `kind` and `metadata.name` (`generateName` cannot be compared);
//! - one object (apiVersion group, kind, namespace, name) may be defined once;
//! - a file that does not parse is an error naming the file and the line, never a panic;
//! - at most [`ParseLimits::max_objects`] objects and [`ParseLimits::max_bytes`] bytes are read.

use std::collections::BTreeMap;

use prtracker_github::RepoFile;
use serde::Deserialize;
use serde_json::Value;

/// Why the desired objects could not be read from the manifests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{file}{}: {reason}", location(.line, .column))]
    Parse {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        reason: String,
    },
    #[error("{file}, document {document}: {reason}")]
    Invalid {
        file: String,
        document: usize,
        reason: String,
    },
    #[error("the manifests hold more than {limit} objects: split them, or raise the limit")]
    TooManyObjects { limit: usize },
    #[error("the manifests are larger than {limit} bytes: split them, or raise the limit")]
    TooLarge { limit: usize },
    #[error("{first} and {second} both define {object}")]
    Duplicate {
        object: String,
        first: String,
        second: String,
    },
    #[error("no manifests (.yaml, .yml or .json) under {path}")]
    Empty { path: String },
    /// The target could not be rendered (kustomize's own message, or why it was not run).
    #[error("rendering {path}: {reason}")]
    Render { path: String, reason: String },
}

fn location(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(", line {line}, column {column}"),
        (Some(line), None) => format!(", line {line}"),
        _ => String::new(),
    }
}

/// What one check may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    pub max_objects: usize,
    pub max_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_objects: 2_000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// One object the manifests define.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredObject {
    /// The file it came from, and the document's number in it (from 1).
    pub file: String,
    pub document: usize,
    /// The line its document starts on, where the file is the repository's own (not rendered
    /// output) and its documents could be placed.
    pub line: Option<usize>,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// As written; a namespaced object without one goes to the check's default namespace.
    pub namespace: Option<String>,
    /// The whole object, as written.
    pub body: Value,
    /// Field managers whose fields are not judged in this object (the ignore rules that cover it).
    pub ignore_managers: Vec<String>,
}

impl DesiredObject {
    /// `Kind/name` or `Kind/namespace/name`, for messages.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The API group of the object (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }
}

/// Whether a file is a manifest, by its name.
pub fn is_manifest(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")
}

/// Every object of the manifest files among `files`, in file order.
pub fn parse_manifests(
    files: &[RepoFile],
    limits: ParseLimits,
) -> Result<Vec<DesiredObject>, ManifestError> {
    let mut objects = Vec::new();
    let mut bytes = 0usize;
    let mut seen: BTreeMap<(String, String, Option<String>, String), String> = BTreeMap::new();
    for file in files.iter().filter(|f| is_manifest(&f.path)) {
        bytes = bytes.saturating_add(file.content.len());
        if bytes > limits.max_bytes {
            return Err(ManifestError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        for object in parse_file(&file.path, &file.content)? {
            let key = (
                object.group().to_owned(),
                object.kind.clone(),
                object.namespace.clone(),
                object.name.clone(),
            );
            let place = format!("{}, document {}", object.file, object.document);
            if let Some(first) = seen.insert(key, place.clone()) {
                return Err(ManifestError::Duplicate {
                    object: object.display_name(),
                    first,
                    second: place,
                });
            }
            objects.push(object);
            if objects.len() > limits.max_objects {
                return Err(ManifestError::TooManyObjects {
                    limit: limits.max_objects,
                });
            }
        }
    }
    Ok(objects)
}

/// The objects of one manifest file.
pub fn parse_file(path: &str, content: &[u8]) -> Result<Vec<DesiredObject>, ManifestError> {
    let text = std::str::from_utf8(content).map_err(|e| ManifestError::Parse {
        file: path.to_owned(),
        line: None,
        column: None,
        reason: format!("not UTF-8 text ({e})"),
    })?;
    let (documents, starts) = if path.to_ascii_lowercase().ends_with(".json") {
        (vec![parse_json(path, text)?], vec![1])
    } else {
        (parse_yaml_documents(path, text)?, document_starts(text))
    };
    // Lines only where every document was placed: a wrong line is worse than none.
    let placed = starts.len() == documents.len();
    let mut objects = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        let number = index + 1;
        if document.is_null() {
            continue;
        }
        let from = objects.len();
        expand(path, number, document, &mut objects)?;
        if placed {
            for object in &mut objects[from..] {
                object.line = starts.get(index).copied();
            }
        }
    }
    Ok(objects)
}

/// The line each document of a YAML stream starts on: its first line after a `---` separator, or,
/// for a first document without one, its first line that is not blank or a comment.
fn document_starts(text: &str) -> Vec<usize> {
    let separator = |line: &str| {
        line.strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    };
    let mut starts = Vec::new();
    let mut before_any = true;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let blank = line.trim().is_empty() || line.starts_with('#') || line.starts_with('%');
        if separator(line) {
            starts.push(number + 1);
            before_any = false;
        } else if before_any && !blank {
            starts.push(number);
            before_any = false;
        }
    }
    starts
}

fn parse_json(path: &str, text: &str) -> Result<Value, ManifestError> {
    serde_json::from_str(text).map_err(|e| ManifestError::Parse {
        file: path.to_owned(),
        line: Some(e.line()),
        column: Some(e.column()),
        reason: e.to_string(),
    })
}

/// Every document of a YAML stream; an empty document is `null`.
fn parse_yaml_documents(path: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut documents = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| {
            let location = e.location();
            ManifestError::Parse {
                file: path.to_owned(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                reason: e.to_string(),
            }
        })?;
        documents.push(value);
    }
    Ok(documents)
}

/// Adds `document` to `out`: itself, or its items if it is a list.
fn expand(
    path: &str,
    number: usize,
    document: Value,
    out: &mut Vec<DesiredObject>,
) -> Result<(), ManifestError> {
    let invalid = |reason: String| ManifestError::Invalid {
        file: path.to_owned(),
        document: number,
        reason,
    };
    let Value::Object(map) = document else {
        return Err(invalid("not an object (a mapping of fields)".to_owned()));
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if is_list_kind(kind, &map) {
        let Some(Value::Array(items)) = map.get("items") else {
            return Err(invalid(format!("a {kind} without items")));
        };
        for item in items {
            if let Value::Object(_) = item {
                out.push(object(path, number, item.clone()).map_err(&invalid)?);
            } else {
                return Err(invalid(format!("an item of the {kind} is not an object")));
            }
        }
        return Ok(());
    }
    out.push(object(path, number, Value::Object(map)).map_err(invalid)?);
    Ok(())
}

fn is_list_kind(kind: &str, map: &serde_json::Map<String, Value>) -> bool {
    kind == "List" || (kind.ends_with("List") && map.get("items").is_some_and(Value::is_array))
}

/// One object, with its identity checked.
fn object(path: &str, number: usize, body: Value) -> Result<DesiredObject, String> {
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let api_version = text("/apiVersion").ok_or("the object has no apiVersion")?;
    let kind = text("/kind").ok_or("the object has no kind")?;
    let name = text("/metadata/name").ok_or_else(|| {
        if text("/metadata/generateName").is_some() {
            format!(
                "{kind} has generateName but no name: an object without a name cannot be compared"
            )
        } else {
            format!("{kind} has no metadata.name")
        }
    })?;
    let namespace = text("/metadata/namespace");
    Ok(DesiredObject {
        ignore_managers: Vec::new(),
        file: path.to_owned(),
        document: number,
        line: None,
        api_version,
        kind,
        name,
        namespace,
        body,
    })
}

// Named by path: the fuzz crate includes this file by path too, and rustfmt looks for the module
// beside it.
#[cfg(test)]
#[path = "manifests/tests.rs"]
mod tests;
