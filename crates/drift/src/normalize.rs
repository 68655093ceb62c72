//! Normalisation: what is taken out of (or made uniform in) an object before it is compared, one
//! rule a function, in the manner of Argo CD's diff normalisers.
//!
//! | rule | applies to | why |
//! | --- | --- | --- |
//! | [`strip_server_metadata`] | desired, dry-run, live | `managedFields`, `resourceVersion`, `generation`, `uid`, `creationTimestamp`, `selfLink` are the server's bookkeeping, not intent |
//! | [`strip_status`] | desired, dry-run, live | `status` is observed state; apply does not set it |
//! | [`strip_last_applied`] | desired, dry-run, live | `kubectl.kubernetes.io/last-applied-configuration` is how a client applied, not what it applied |
//! | [`strip_identity`] | dry-run, live | `apiVersion`, `kind`, `metadata.name`, `metadata.namespace` name the object; they are matched, not compared (a LIST's items lack `kind`) |
//! | [`drop_nulls`] | desired | a field set to `null` in a manifest is not set |
//! | [`fold_secret_string_data`] | desired | the apiserver folds a Secret's `stringData` into `data` (base64) on write |
//! | [`drop_empty_maps`] | dry-run, live | `metadata: {annotations: {}}` and no `annotations` mean the same |

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Map, Value};

/// The annotation `kubectl apply` (client-side) records the applied manifest in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Metadata fields the server sets and owns.
pub const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// The desired object as it is compared: its manifest without what a manifest cannot mean.
pub fn desired(mut object: Value) -> Value {
    drop_nulls(&mut object);
    strip_server_metadata(&mut object);
    strip_status(&mut object);
    strip_last_applied(&mut object);
    fold_secret_string_data(&mut object);
    object
}

/// A server's object (the live one, or a dry-run's result) as it is compared.
pub fn served(mut object: Value) -> Value {
    strip_server_metadata(&mut object);
    strip_status(&mut object);
    strip_last_applied(&mut object);
    strip_identity(&mut object);
    drop_empty_maps(&mut object);
    object
}

fn metadata(object: &mut Value) -> Option<&mut Map<String, Value>> {
    object.get_mut("metadata").and_then(Value::as_object_mut)
}

/// Removes the server's bookkeeping from `metadata`.
pub fn strip_server_metadata(object: &mut Value) {
    if let Some(metadata) = metadata(object) {
        for field in SERVER_METADATA {
            metadata.remove(field);
        }
    }
}

/// Removes `status`.
pub fn strip_status(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
}

/// Removes the last-applied annotation (and `annotations` if nothing else is left in it).
pub fn strip_last_applied(object: &mut Value) {
    let Some(metadata) = metadata(object) else {
        return;
    };
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
}

/// Removes the fields that name the object.
pub fn strip_identity(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
    }
    if let Some(metadata) = metadata(object) {
        metadata.remove("name");
        metadata.remove("namespace");
    }
}

/// Removes `null` values from maps, recursively (list items stay, so positions keep their meaning).
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Folds a core Secret's `stringData` into `data`, base64-encoded, `stringData` winning, as the
/// apiserver does when it stores a Secret.
pub fn fold_secret_string_data(object: &mut Value) {
    let is_secret = object.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && object.get("kind").and_then(Value::as_str) == Some("Secret");
    if !is_secret {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(data) = data {
        for (key, value) in string_data {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            data.insert(key, Value::String(BASE64.encode(text)));
        }
    }
}

/// Removes maps left empty at the top of `metadata` (`labels: {}`, `annotations: {}`).
pub fn drop_empty_maps(object: &mut Value) {
    if let Some(metadata) = metadata(object) {
        metadata.retain(|_, v| !matches!(v, Value::Object(m) if m.is_empty()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_metadata_is_stripped() {
        let mut object = json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "7",
            "generation": 2, "creationTimestamp": "2024-01-01T00:00:00Z", "selfLink": "/x",
            "managedFields": [{"manager": "kubectl"}], "labels": {"a": "b"}}});
        strip_server_metadata(&mut object);
        assert_eq!(
            object,
            json!({"metadata": {"name": "a", "labels": {"a": "b"}}})
        );
    }

    #[test]
    fn status_is_stripped() {
        let mut object = json!({"spec": {"replicas": 1}, "status": {"replicas": 0}});
        strip_status(&mut object);
        assert_eq!(object, json!({"spec": {"replicas": 1}}));
    }

    #[test]
    fn last_applied_is_stripped_and_an_empty_annotations_map_with_it() {
        let mut only = json!({"metadata": {"annotations": {LAST_APPLIED: "{}"}}});
        strip_last_applied(&mut only);
        assert_eq!(only, json!({"metadata": {}}));
        let mut more = json!({"metadata": {"annotations": {LAST_APPLIED: "{}", "team": "x"}}});
        strip_last_applied(&mut more);
        assert_eq!(more, json!({"metadata": {"annotations": {"team": "x"}}}));
    }

    #[test]
    fn identity_is_stripped() {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "labels": {}}, "data": {}});
        strip_identity(&mut object);
        assert_eq!(object, json!({"metadata": {"labels": {}}, "data": {}}));
    }

    #[test]
    fn nulls_are_not_set() {
        let mut object = json!({"metadata": {"creationTimestamp": null, "name": "a"},
            "spec": {"list": [null, {"x": null}]}});
        drop_nulls(&mut object);
        assert_eq!(
            object,
            json!({"metadata": {"name": "a"}, "spec": {"list": [null, {}]}})
        );
    }

    #[test]
    fn string_data_is_folded_into_data() {
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"a": "b2xk", "b": "Yg=="}, "stringData": {"a": "new", "c": "c"}});
        fold_secret_string_data(&mut secret);
        assert_eq!(
            secret,
            json!({"apiVersion": "v1", "kind": "Secret",
                "data": {"a": "bmV3", "b": "Yg==", "c": "Yw=="}})
        );
        let mut other = json!({"apiVersion": "example.com/v1", "kind": "Secret",
            "stringData": {"a": "x"}});
        let before = other.clone();
        fold_secret_string_data(&mut other);
        assert_eq!(other, before, "only core Secrets are folded");
    }

    #[test]
    fn empty_metadata_maps_are_dropped() {
        let mut object = json!({"metadata": {"labels": {}, "annotations": {"a": "b"}}});
        drop_empty_maps(&mut object);
        assert_eq!(object, json!({"metadata": {"annotations": {"a": "b"}}}));
    }

    #[test]
    fn desired_and_served_apply_their_rules() {
        let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "creationTimestamp": null,
                "annotations": {LAST_APPLIED: "{}"}},
            "data": {"k": "v"}, "status": {}});
        assert_eq!(
            desired(manifest.clone()),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
                "data": {"k": "v"}})
        );
        assert_eq!(
            served(manifest),
            json!({"metadata": {}, "data": {"k": "v"}})
        );
    }
}
