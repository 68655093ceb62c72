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
    let documents = if path.to_ascii_lowercase().ends_with(".json") {
        vec![parse_json(path, text)?]
    } else {
        parse_yaml_documents(path, text)?
    };
    let mut objects = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        let number = index + 1;
        if document.is_null() {
            continue;
        }
        expand(path, number, document, &mut objects)?;
    }
    Ok(objects)
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
        api_version,
        kind,
        name,
        namespace,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> RepoFile {
        RepoFile {
            path: path.to_owned(),
            sha: "0".repeat(40),
            content: content.as_bytes().to_vec(),
        }
    }

    const CONFIGMAP: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

    #[test]
    fn several_documents_and_empty_ones() {
        let text = format!(
            "---\n{CONFIGMAP}---\n---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n"
        );
        let objects = parse_file("m.yaml", text.as_bytes()).expect("parses");
        let names: Vec<_> = objects.iter().map(|o| o.display_name()).collect();
        assert_eq!(names, ["ConfigMap/a", "Namespace/n"]);
        assert_eq!(objects[0].document, 1);
        assert_eq!(objects[1].document, 4);
    }

    #[test]
    fn lists_are_expanded() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"x"}},
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}]}"#;
        let objects = parse_file("l.json", text.as_bytes()).expect("parses");
        let names: Vec<_> = objects.iter().map(|o| o.display_name()).collect();
        assert_eq!(names, ["ConfigMap/x/a", "ConfigMap/b"]);
        assert!(objects.iter().all(|o| o.file == "l.json"));
    }

    #[test]
    fn typed_lists_are_expanded_too() {
        let text = format!(
            "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}"
        );
        let objects = parse_file("l.yml", text.as_bytes()).expect("parses");
        assert_eq!(objects.len(), 1);
    }

    #[test]
    fn other_files_are_ignored() {
        let files = [
            file("README.md", "# not yaml: {"),
            file("app/cm.YAML", CONFIGMAP),
            file("kustomization.txt", "x"),
        ];
        let objects = parse_manifests(&files, ParseLimits::default()).expect("parses");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].file, "app/cm.YAML");
    }

    #[test]
    fn a_yaml_error_names_the_file_and_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: {\n";
        let error = parse_file("bad.yaml", text.as_bytes()).expect_err("does not parse");
        let ManifestError::Parse { file, line, .. } = &error else {
            panic!("unexpected error {error:?}");
        };
        assert_eq!(file, "bad.yaml");
        assert_eq!(*line, Some(5), "{error}");
        assert!(error.to_string().starts_with("bad.yaml, line 5"), "{error}");
    }

    #[test]
    fn a_json_error_names_the_file_and_line() {
        let error = parse_file("bad.json", b"{\n\"kind\": \n}").expect_err("does not parse");
        assert!(error.to_string().starts_with("bad.json, line 3"), "{error}");
    }

    #[test]
    fn objects_need_api_version_kind_and_name() {
        for (text, reason) in [
            ("kind: ConfigMap\nmetadata: {name: a}", "no apiVersion"),
            ("apiVersion: v1\nmetadata: {name: a}", "no kind"),
            ("apiVersion: v1\nkind: ConfigMap\n", "no metadata.name"),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}",
                "generateName",
            ),
            ("- a\n- b\n", "not an object"),
        ] {
            let error = parse_file("x.yaml", text.as_bytes()).expect_err(text);
            assert!(error.to_string().contains(reason), "{error}");
            assert!(
                error.to_string().starts_with("x.yaml, document 1"),
                "{error}"
            );
        }
    }

    #[test]
    fn an_object_may_be_defined_once() {
        let files = [file("a.yaml", CONFIGMAP), file("b.yaml", CONFIGMAP)];
        let error = parse_manifests(&files, ParseLimits::default()).expect_err("duplicate");
        assert_eq!(
            error.to_string(),
            "a.yaml, document 1 and b.yaml, document 1 both define ConfigMap/a"
        );
    }

    #[test]
    fn limits_are_kept() {
        let text: String = (0..5)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"))
            .collect();
        let files = [file("many.yaml", &text)];
        let few = ParseLimits {
            max_objects: 4,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_manifests(&files, few),
            Err(ManifestError::TooManyObjects { limit: 4 })
        );
        let small = ParseLimits {
            max_bytes: 10,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_manifests(&files, small),
            Err(ManifestError::TooLarge { limit: 10 })
        );
    }

    #[test]
    fn binary_files_are_an_error_not_a_panic() {
        let error = parse_file("x.yaml", &[0xff, 0xfe, 0x00]).expect_err("not text");
        assert!(error.to_string().contains("not UTF-8"), "{error}");
    }

    #[test]
    fn yaml_keys_that_are_not_strings_are_an_error() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  1: x\n";
        // serde_json keys must be strings; YAML's integer keys are refused with a location.
        match parse_file("x.yaml", text.as_bytes()) {
            Ok(objects) => assert_eq!(objects[0].body["data"]["1"], "x"),
            Err(error) => assert!(error.to_string().starts_with("x.yaml"), "{error}"),
        }
    }
}
