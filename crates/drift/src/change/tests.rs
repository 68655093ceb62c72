use serde_json::json;

use super::*;

fn object(body: Value) -> DesiredObject {
    DesiredObject {
        file: "deploy/app.yaml".into(),
        document: 1,
        line: Some(1),
        api_version: body["apiVersion"].as_str().unwrap_or_default().to_owned(),
        kind: body["kind"].as_str().unwrap_or_default().to_owned(),
        name: body["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        namespace: body["metadata"]["namespace"].as_str().map(str::to_owned),
        body,
        ignore_managers: Vec::new(),
    }
}

fn deployment(replicas: u32, image: &str) -> DesiredObject {
    object(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 80}]},
                {"name": "proxy", "image": "envoy:1"}
            ]}}
        }
    }))
}

fn config(data: Value) -> DesiredObject {
    object(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"},
        "data": data
    }))
}

fn paths(change: &Change) -> Vec<String> {
    change
        .objects
        .iter()
        .flat_map(|c| match c {
            ObjectChange::Set { fields, .. } => fields
                .iter()
                .map(|f| format!("{} {}", display(c.object()), f.path))
                .collect(),
            ObjectChange::Removed { object } => vec![format!("{} removed", display(object))],
        })
        .collect()
}

#[test]
fn a_modified_object_changes_only_the_fields_that_differ() {
    let change = Change::between(
        &[deployment(3, "web:1"), config(json!({"a": "1"}))],
        &[deployment(3, "web:2"), config(json!({"a": "1"}))],
    );
    assert_eq!(
        paths(&change),
        ["Deployment shop/web spec.template.spec.containers[name=web].image"]
    );
    let ObjectChange::Set { fields, added, .. } = &change.objects[0] else {
        panic!("a set");
    };
    assert!(!added);
    assert_eq!(fields[0].value, json!("web:2"));
}

#[test]
fn an_added_object_changes_every_field_it_sets_but_its_identity() {
    let change = Change::between(&[], &[config(json!({"a": "1", "b": "2"}))]);
    assert_eq!(
        paths(&change),
        [
            "ConfigMap shop/settings data.a",
            "ConfigMap shop/settings data.b"
        ]
    );
}

#[test]
fn an_added_object_with_nothing_but_its_identity_is_one_change_itself() {
    let namespace =
        object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
    let change = Change::between(&[], std::slice::from_ref(&namespace));
    assert_eq!(paths(&change), ["Namespace shop (object)"]);
    assert!(superseded(&change, &[namespace]).is_empty(), "still there");
    assert_eq!(superseded(&change, &[]).len(), 1, "gone since");
}

#[test]
fn a_removed_object_is_one_change_its_absence() {
    let change = Change::between(&[config(json!({"a": "1"}))], &[]);
    assert_eq!(paths(&change), ["ConfigMap shop/settings removed"]);
    assert_eq!(change.field_count(), 1);
}

#[test]
fn an_unchanged_path_is_an_empty_change() {
    let change = Change::between(&[deployment(3, "web:1")], &[deployment(3, "web:1")]);
    assert!(change.is_empty());
    assert!(Change::between(&[], &[]).is_empty());
}

#[test]
fn a_new_api_version_of_the_same_object_is_the_same_object() {
    let mut newer = deployment(3, "web:1");
    newer.api_version = "apps/v2".into();
    newer.body["apiVersion"] = json!("apps/v2");
    assert!(Change::between(&[deployment(3, "web:1")], &[newer]).is_empty());
}

#[test]
fn a_removed_field_is_not_part_of_the_change() {
    let change = Change::between(
        &[config(json!({"a": "1", "b": "2"}))],
        &[config(json!({"a": "1"}))],
    );
    assert!(change.is_empty());
}

#[test]
fn lists_without_keys_change_as_one_field() {
    let mut before = config(json!({}));
    before.body["spec"] = json!({"args": ["a", "b"]});
    let mut after = before.clone();
    after.body["spec"] = json!({"args": ["a", "c"]});
    let change = Change::between(&[before], &[after]);
    assert_eq!(paths(&change), ["ConfigMap shop/settings spec.args"]);
}

#[test]
fn a_new_item_of_a_keyed_list_is_its_fields() {
    let before = deployment(3, "web:1");
    let mut after = before.clone();
    after.body["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "sidecar", "image": "log:1"}));
    let change = Change::between(&[before], &[after]);
    assert_eq!(
        paths(&change),
        ["Deployment shop/web spec.template.spec.containers[name=sidecar].image"]
    );
}

#[test]
fn the_partial_object_holds_the_changes_fields_and_identity_only() {
    let change = Change::between(&[deployment(3, "web:1")], &[deployment(5, "web:2")]);
    let ObjectChange::Set { object, fields, .. } = &change.objects[0] else {
        panic!("a set");
    };
    assert_eq!(
        partial_object(object, fields),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 5,
                "template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}
            }
        })
    );
}

#[test]
fn a_field_the_head_holds_otherwise_is_superseded() {
    let change = Change::between(&[deployment(3, "web:1")], &[deployment(5, "web:2")]);
    // A later PR changed the image again; replicas stand as the PR set them.
    let head = [deployment(5, "web:3")];
    let superseded = superseded(&change, &head);
    let ObjectChange::Set { fields, .. } = &change.objects[0] else {
        panic!("a set");
    };
    let names: Vec<String> = superseded
        .iter()
        .map(|(o, f)| {
            assert_eq!(*o, 0);
            fields[*f].path.to_string()
        })
        .collect();
    assert_eq!(names, ["spec.template.spec.containers[name=web].image"]);
    // The head still at the PR's values: nothing superseded; the object gone: everything.
    assert!(super::superseded(&change, &[deployment(5, "web:2")]).is_empty());
    assert_eq!(super::superseded(&change, &[]).len(), 2);
}

#[test]
fn a_removed_object_back_at_the_head_is_superseded() {
    let change = Change::between(&[config(json!({"a": "1"}))], &[]);
    assert!(superseded(&change, &[]).is_empty());
    assert_eq!(superseded(&change, &[config(json!({"a": "2"}))]), [(0, 0)]);
}

#[test]
fn ignore_rules_drop_the_fields_under_their_pointers() {
    let change = Change::between(&[deployment(3, "web:1")], &[deployment(5, "web:2")]);
    let rule = IgnoreRule {
        group: Some("apps".into()),
        kind: "Deployment".into(),
        json_pointers: vec!["/spec/replicas".into()],
        ..Default::default()
    };
    let kept = change.clone().without_ignored(&[rule]);
    assert_eq!(
        paths(&kept),
        ["Deployment shop/web spec.template.spec.containers[name=web].image"]
    );
    let everything = IgnoreRule {
        kind: "Deployment".into(),
        json_pointers: vec!["/spec".into()],
        ..Default::default()
    };
    assert!(change.clone().without_ignored(&[everything]).is_empty());
    let elsewhere = IgnoreRule {
        kind: "StatefulSet".into(),
        json_pointers: vec!["/spec".into()],
        ..Default::default()
    };
    assert_eq!(change.clone().without_ignored(&[elsewhere]), change);
}

#[test]
fn the_summary_is_bounded_and_says_how_much_more() {
    let objects: Vec<DesiredObject> = (0..5)
        .map(|i| {
            let mut c = config(json!({"a": i.to_string()}));
            c.name = format!("settings-{i}");
            c
        })
        .collect();
    let change = Change::between(&[], &objects);
    let summary = change.summary(2);
    assert_eq!(summary.len(), 2);
    assert!(summary[1].ends_with("(and 3 more objects)"), "{summary:?}");
    assert!(summary[0].contains("ConfigMap shop/settings-0: added (1 fields)"));
}
