//! A manifest file, read as YAML and as JSON: never a panic, every object it yields has the identity
//! a comparison needs, and that identity survives writing the object out and reading it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prtracker_fuzz::RepoFile;
use prtracker_fuzz::manifests::{
    DesiredObject, ManifestError, ParseLimits, parse_file, parse_manifests,
};
use serde_json::Value;

fuzz_target!(|content: &[u8]| {
    for path in ["deploy/app.yaml", "deploy/app.json"] {
        check(path, content);
    }
});

fn check(path: &str, content: &[u8]) {
    let objects = match parse_file(path, content) {
        Ok(objects) => objects,
        Err(error) => {
            // Every error names the file.
            assert!(error.to_string().starts_with(path), "{error}");
            return;
        }
    };
    for object in &objects {
        assert_eq!(object.file, path);
        assert!(object.document >= 1);
        assert!(
            !object.api_version.is_empty() && !object.kind.is_empty() && !object.name.is_empty()
        );
        assert_eq!(
            object.body["apiVersion"].as_str(),
            Some(object.api_version.as_str())
        );
        assert_eq!(object.body["kind"].as_str(), Some(object.kind.as_str()));
        assert_eq!(
            object.body["metadata"]["name"].as_str(),
            Some(object.name.as_str())
        );
        assert_eq!(
            object.body["metadata"]["namespace"]
                .as_str()
                .filter(|n| !n.is_empty()),
            object.namespace.as_deref()
        );
        let _ = object.display_name();
        roundtrip(object);
    }
    // The file alone, as a directory: the same objects, unless one is defined twice.
    let file = |path: &str| RepoFile {
        path: path.to_owned(),
        sha: "0".repeat(40),
        content: content.to_vec(),
    };
    match parse_manifests(&[file(path)], ParseLimits::default()) {
        Ok(read) => assert_eq!(read, objects),
        Err(ManifestError::Duplicate { .. } | ManifestError::TooManyObjects { .. }) => {}
        Err(error) => panic!("parse_file read it, parse_manifests said {error}"),
    }
    // Two copies of it: every object is defined twice.
    let twice = parse_manifests(
        &[file(path), file(&format!("copy/{path}"))],
        ParseLimits::default(),
    );
    match twice {
        Ok(read) => assert!(objects.is_empty() && read.is_empty()),
        Err(ManifestError::Duplicate { .. } | ManifestError::TooManyObjects { .. }) => {
            assert!(!objects.is_empty())
        }
        Err(error) => panic!("parse_file read it, parse_manifests said {error}"),
    }
}

/// The object, written as JSON, reads back as one object with the same identity (a list's item that
/// is itself a list excepted: alone, it stands for its items).
fn roundtrip(object: &DesiredObject) {
    let is_list = object.kind == "List"
        || (object.kind.ends_with("List") && object.body.get("items").is_some_and(Value::is_array));
    if is_list {
        return;
    }
    let json = serde_json::to_vec(&object.body).expect("a JSON value is written");
    let again = parse_file("again.json", &json).expect("a written object reads back");
    let [read] = again.as_slice() else {
        panic!("one object written, {} read", again.len());
    };
    assert_eq!(
        (&read.api_version, &read.kind, &read.namespace, &read.name),
        (
            &object.api_version,
            &object.kind,
            &object.namespace,
            &object.name
        )
    );
}
