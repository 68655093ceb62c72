//! The field-level comparison of one object: which of the fields a manifest sets would change if it
//! were applied. Pure functions over JSON; the cluster is asked elsewhere ([`crate::compare`]).
//!
//! Rules:
//! - only the fields the manifest sets are walked; a field the manifest does not set is not drift;
//! - a field differs when the dry-run result (what the object would become) and the live object
//!   differ at its path; the report shows the manifest's value and the live one;
//! - maps are walked key by key; lists of objects are matched by a key field ([`list_key`]) when
//!   every item has a distinct one, else by position; lists of scalars are compared whole;
//! - when a map or list differs but none of the manifest's fields in it do (an atomic map replaced,
//!   an item removed), the map or list itself is reported;
//! - values are JSON, cut to [`MAX_VALUE_CHARS`] characters; a Secret's values are `<redacted>`.

use prtracker_api::monitor::MAX_VALUE_CHARS;
use serde_json::Value;

/// What a Secret's values are replaced by in a report.
pub const REDACTED: &str = "<redacted>";

/// The fields, in the order they appear in the item, that identify an item of a list of objects:
/// `name` (containers, env, volumes, ports), then the keys Kubernetes merges other lists by.
pub const LIST_KEYS: [&str; 6] = [
    "name",
    "containerPort",
    "port",
    "mountPath",
    "devicePath",
    "ip",
];

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    /// The manifest's value, as JSON.
    pub desired: Option<String>,
    /// The live value, as JSON; `None` where the live object does not have the field.
    pub live: Option<String>,
}

/// How values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    Shown,
    /// A Secret: every value outside `metadata` is `<redacted>`.
    Redacted,
}

/// The fields of `desired` whose `dry_run` and `live` values differ. All three are normalised.
pub fn differences(
    desired: &Value,
    dry_run: &Value,
    live: &Value,
    values: Values,
) -> Vec<Difference> {
    let mut out = Vec::new();
    if dry_run == live {
        return out;
    }
    if let Value::Object(fields) = desired {
        for (key, value) in fields {
            let path = child_path("", key);
            walk(
                value,
                dry_run.get(key),
                live.get(key),
                &path,
                values,
                &mut out,
            );
        }
    }
    out
}

/// Whether `live` already holds every value `desired` sets: maps as subsets, lists of the same
/// length element by element, scalars equal. When it does, applying `desired` changes none of
/// its fields, and no dry-run is needed. (An atomic map with an extra live key counts as held, as
/// it does for `kubectl diff`'s client-side merge; so does a list element with keys the server
/// filled in, such as a container's defaults, which [`differences`] would not report either, as
/// the manifest does not set them.)
pub fn holds(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, dv)| l.get(k).is_some_and(|lv| holds(dv, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| holds(dv, lv))
        }
        _ => desired == live,
    }
}

fn walk<'a>(
    desired: &Value,
    dry_run: Option<&'a Value>,
    live: Option<&'a Value>,
    path: &str,
    values: Values,
    out: &mut Vec<Difference>,
) {
    if dry_run == live {
        return;
    }
    let before = out.len();
    match desired {
        Value::Object(fields) => {
            for (key, value) in fields {
                walk(
                    value,
                    dry_run.and_then(|v| v.get(key)),
                    live.and_then(|v| v.get(key)),
                    &child_path(path, key),
                    values,
                    out,
                );
            }
        }
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            let dry_items = dry_run.and_then(Value::as_array);
            let live_items = live.and_then(Value::as_array);
            match list_key(items) {
                Some(key) => {
                    for item in items {
                        let id = item.get(key);
                        let find = |list: Option<&'a Vec<Value>>| -> Option<&'a Value> {
                            list.and_then(|l| l.iter().find(|i| i.get(key) == id))
                        };
                        let label = id.map(scalar_text).unwrap_or_default();
                        walk(
                            item,
                            find(dry_items),
                            find(live_items),
                            &format!("{path}[{key}={label}]"),
                            values,
                            out,
                        );
                    }
                }
                None => {
                    for (index, item) in items.iter().enumerate() {
                        walk(
                            item,
                            dry_items.and_then(|l| l.get(index)),
                            live_items.and_then(|l| l.get(index)),
                            &format!("{path}[{index}]"),
                            values,
                            out,
                        );
                    }
                }
            }
        }
        _ => {}
    }
    if out.len() == before {
        out.push(Difference {
            path: path.to_owned(),
            desired: Some(shown(desired, path, values)),
            live: live.map(|v| shown(v, path, values)),
        });
    }
}

/// The field that identifies the items of a list: the first of [`LIST_KEYS`] that every item has,
/// as a scalar, with distinct values.
pub fn list_key(items: &[Value]) -> Option<&'static str> {
    LIST_KEYS.into_iter().find(|key| {
        let ids: Vec<&Value> = items.iter().filter_map(|item| item.get(*key)).collect();
        ids.len() == items.len()
            && ids.iter().all(|id| id.is_string() || id.is_number())
            && ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id))
    })
}

/// `parent.key`, or `parent["key"]` for keys that are not plain identifiers (`example.com/team`).
pub fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.to_owned())),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn shown(value: &Value, path: &str, values: Values) -> String {
    if values == Values::Redacted && !path.starts_with("metadata") {
        return REDACTED.to_owned();
    }
    cut(&value.to_string())
}

/// `text` cut to [`MAX_VALUE_CHARS`] characters, ending with `…` when cut.
pub fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(
        desired: Value,
        dry_run: Value,
        live: Value,
    ) -> Vec<(String, Option<String>, Option<String>)> {
        differences(&desired, &dry_run, &live, Values::Shown)
            .into_iter()
            .map(|d| (d.path, d.desired, d.live))
            .collect()
    }

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn a_changed_scalar_is_reported_with_both_values() {
        let found = paths(
            json!({"spec": {"replicas": 3}}),
            json!({"spec": {"replicas": 3, "paused": false}}),
            json!({"spec": {"replicas": 5, "paused": false}}),
        );
        assert_eq!(found, [("spec.replicas".into(), some("3"), some("5"))]);
    }

    #[test]
    fn the_manifests_value_is_shown_even_when_the_server_normalises_it() {
        let found = paths(
            json!({"cpu": "1000m"}),
            json!({"cpu": "1"}),
            json!({"cpu": "2"}),
        );
        assert_eq!(found, [("cpu".into(), some("\"1000m\""), some("\"2\""))]);
        assert!(
            paths(
                json!({"cpu": "1000m"}),
                json!({"cpu": "1"}),
                json!({"cpu": "1"})
            )
            .is_empty()
        );
    }

    #[test]
    fn fields_the_manifest_does_not_set_are_not_walked() {
        let found = paths(
            json!({"data": {"a": "1"}}),
            json!({"data": {"a": "1"}, "extra": 1}),
            json!({"data": {"a": "1"}, "extra": 2}),
        );
        assert!(found.is_empty());
    }

    #[test]
    fn a_missing_live_key_has_no_live_value() {
        let found = paths(
            json!({"data": {"a": "1", "b": "2"}}),
            json!({"data": {"a": "1", "b": "2"}}),
            json!({"data": {"a": "1"}}),
        );
        assert_eq!(found, [("data.b".into(), some("\"2\""), None)]);
    }

    #[test]
    fn lists_of_named_objects_are_matched_by_name() {
        let desired = json!({"containers": [{"name": "app", "image": "app:2"}, {"name": "side", "image": "s:1"}]});
        let dry_run = json!({"containers": [{"name": "side", "image": "s:1", "x": 1}, {"name": "app", "image": "app:2", "x": 1}]});
        let live = json!({"containers": [{"name": "side", "image": "s:1", "x": 1}, {"name": "app", "image": "app:1", "x": 1}]});
        assert_eq!(
            paths(desired, dry_run, live),
            [(
                "containers[name=app].image".into(),
                some("\"app:2\""),
                some("\"app:1\"")
            )]
        );
    }

    #[test]
    fn lists_of_ports_are_matched_by_port() {
        assert_eq!(
            list_key(&[json!({"port": 80}), json!({"port": 443})]),
            Some("port")
        );
        assert_eq!(
            list_key(&[json!({"name": "a"}), json!({"name": "a"})]),
            None
        );
        assert_eq!(list_key(&[json!({"effect": "NoSchedule"})]), None);
    }

    #[test]
    fn unkeyed_lists_are_matched_by_position() {
        let found = paths(
            json!({"rules": [{"verbs": ["get"]}]}),
            json!({"rules": [{"verbs": ["get"]}]}),
            json!({"rules": [{"verbs": ["get", "list"]}]}),
        );
        assert_eq!(
            found,
            [(
                "rules[0].verbs".into(),
                some("[\"get\"]"),
                some("[\"get\",\"list\"]")
            )]
        );
    }

    #[test]
    fn a_difference_outside_the_manifests_fields_reports_the_container() {
        // An atomic map (a Service's selector) loses a key a person added.
        let found = paths(
            json!({"selector": {"app": "web"}}),
            json!({"selector": {"app": "web"}}),
            json!({"selector": {"app": "web", "tier": "x"}}),
        );
        assert_eq!(
            found,
            [(
                "selector".into(),
                some("{\"app\":\"web\"}"),
                some("{\"app\":\"web\",\"tier\":\"x\"}")
            )]
        );
    }

    #[test]
    fn odd_keys_are_quoted() {
        assert_eq!(
            child_path("metadata.annotations", "example.com/team"),
            "metadata.annotations[\"example.com/team\"]"
        );
        assert_eq!(child_path("", "spec"), "spec");
        assert_eq!(child_path("data", "app_config-1"), "data.app_config-1");
    }

    #[test]
    fn secrets_are_redacted_but_metadata_is_not() {
        let found = differences(
            &json!({"data": {"password": "bmV3"}, "metadata": {"labels": {"a": "1"}}}),
            &json!({"data": {"password": "bmV3"}, "metadata": {"labels": {"a": "1"}}}),
            &json!({"data": {"password": "b2xk"}, "metadata": {"labels": {"a": "2"}}}),
            Values::Redacted,
        );
        let shown: Vec<_> = found
            .iter()
            .map(|d| (d.path.as_str(), d.desired.as_deref(), d.live.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("data.password", Some(REDACTED), Some(REDACTED)),
                ("metadata.labels.a", Some("\"1\""), Some("\"2\"")),
            ]
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(1000);
        let cut_text = cut(&long);
        assert_eq!(cut_text.chars().count(), MAX_VALUE_CHARS);
        assert!(cut_text.ends_with('…'));
        assert_eq!(cut("short"), "short");
    }

    #[test]
    fn holds_is_subset_for_maps_and_element_by_element_for_lists_of_one_length() {
        assert!(holds(
            &json!({"a": {"b": 1}}),
            &json!({"a": {"b": 1, "c": 2}, "d": 3})
        ));
        assert!(!holds(&json!({"a": {"b": 1}}), &json!({"a": {"b": 2}})));
        assert!(!holds(&json!({"a": [1]}), &json!({"a": [1, 2]})));
        assert!(!holds(&json!({"a": [1, 2]}), &json!({"a": [2, 1]})));
        // A container the server filled with defaults holds the manifest's.
        assert!(holds(
            &json!({"l": [{"name": "x", "image": "a"}]}),
            &json!({"l": [{"name": "x", "image": "a", "imagePullPolicy": "Always"}]})
        ));
        assert!(!holds(
            &json!({"l": [{"name": "x", "image": "a"}]}),
            &json!({"l": [{"name": "x", "image": "b"}]})
        ));
        // A sidecar added by hand: not held (the dry run decides).
        assert!(!holds(
            &json!({"l": [{"name": "x"}]}),
            &json!({"l": [{"name": "x"}, {"name": "y"}]})
        ));
        assert!(!holds(&json!({"a": 1}), &json!({})));
    }
}
