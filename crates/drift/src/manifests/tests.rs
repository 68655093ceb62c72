use super::*;

fn file(path: &str, content: &str) -> RepoFile {
    RepoFile {
        path: path.to_owned(),
        sha: "0".repeat(40),
        content: content.as_bytes().to_vec(),
    }
}

#[test]
fn each_object_knows_the_line_its_document_starts_on() {
    let text = "# the shop\n\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# b\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n--- \napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: c\n";
    let objects = parse_file("deploy/app.yaml", text.as_bytes()).expect("parses");
    let lines: Vec<(&str, Option<usize>)> =
        objects.iter().map(|o| (o.name.as_str(), o.line)).collect();
    assert_eq!(lines, [("a", Some(3)), ("b", Some(8)), ("c", Some(14))]);
    let leading = parse_file(
        "x.yaml",
        b"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .expect("parses");
    assert_eq!(leading[0].line, Some(2));
    let json = parse_file(
        "x.json",
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}"#,
    )
    .expect("parses");
    assert_eq!(json[0].line, Some(1));
}

#[test]
fn a_trailing_separator_and_empty_documents_keep_the_lines_right() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n---\n";
    let objects = parse_file("x.yaml", text.as_bytes()).expect("parses");
    let lines: Vec<Option<usize>> = objects.iter().map(|o| o.line).collect();
    assert_eq!(lines, [Some(1), Some(7)]);
}

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

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
