//! Who set a field: the live object's `managedFields` (server-side apply's record of each field's
//! managers), read as the drift report writes paths, so a field another controller owns by design
//! (an autoscaler's `spec.replicas`) can be left out of a verdict.
//!
//! `fieldsV1` is a tree: `f:<name>` a field, `k:<json>` a list item by its key fields, `v:<json>` an
//! item of a set, `i:<n>` an item by position, `.` the node itself. An empty node is a leaf.

use serde_json::Value;

use crate::diff::child_path;

/// Every path, as the drift report writes it, that one of `managers` owns in `live`. A keyed item
/// is written once per key field (`[name=web]`, and `[containerPort=80]` for a port keyed by
/// port and protocol), as the report keys it by one of them.
pub fn owned_paths(live: &Value, managers: &[String]) -> Vec<String> {
    let Some(entries) = live
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
        if !managers.iter().any(|m| m == manager) {
            continue;
        }
        if let Some(fields) = entry.get("fieldsV1") {
            walk(fields, "", &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

fn walk(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(children) = node.as_object() else {
        return;
    };
    if (children.is_empty() || children.contains_key(".")) && !path.is_empty() {
        out.push(path.to_owned());
    }
    for (key, child) in children {
        if let Some(name) = key.strip_prefix("f:") {
            walk(child, &child_path(path, name), out);
        } else if let Some(json) = key.strip_prefix("k:") {
            let Ok(Value::Object(item)) = serde_json::from_str::<Value>(json) else {
                continue;
            };
            for (field, value) in &item {
                let label = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                walk(child, &format!("{path}[{field}={label}]"), out);
            }
        } else if let Some(index) = key.strip_prefix("i:") {
            walk(child, &format!("{path}[{index}]"), out);
        }
    }
}

/// Whether `path` is one of `owned`, or lies under one.
pub fn is_owned(path: &str, owned: &[String]) -> bool {
    owned.iter().any(|o| {
        path == o
            || path
                .strip_prefix(o.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn live() -> Value {
        let web = json!({"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}});
        let proxy = json!({"k:{\"name\":\"istio-proxy\"}": {".": {}, "f:image": {}}});
        let port = json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}}});
        json!({"metadata": {"managedFields": [
            {
                "manager": "kubectl",
                "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": web}}}}
            },
            {
                "manager": "hpa-controller",
                "operation": "Update",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}
            },
            {
                "manager": "istio-injector",
                "operation": "Update",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {
                    "f:containers": proxy,
                    "f:ports": port
                }}}}
            }
        ]}})
    }

    #[test]
    fn the_fields_of_the_named_managers_only() {
        assert_eq!(
            owned_paths(&live(), &["hpa-controller".to_owned()]),
            ["spec.replicas"]
        );
        let injector = owned_paths(&live(), &["istio-injector".to_owned()]);
        assert!(
            injector.contains(&"spec.template.spec.containers[name=istio-proxy].image".to_owned())
        );
        assert!(injector.contains(&"spec.template.spec.ports[containerPort=80]".to_owned()));
        assert!(injector.contains(&"spec.template.spec.ports[protocol=TCP]".to_owned()));
        assert!(owned_paths(&live(), &["nobody".to_owned()]).is_empty());
        assert!(owned_paths(&json!({}), &["hpa-controller".to_owned()]).is_empty());
    }

    #[test]
    fn a_path_is_owned_by_itself_or_an_ancestor_only() {
        let owned = vec!["spec.replicas".to_owned(), "data".to_owned()];
        assert!(is_owned("spec.replicas", &owned));
        assert!(is_owned("data.a", &owned));
        assert!(is_owned("data[\"a.b\"]", &owned));
        assert!(!is_owned("spec.replicasMax", &owned));
        assert!(!is_owned("spec", &owned));
    }
}
