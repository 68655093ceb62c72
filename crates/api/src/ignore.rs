//! Fields a drift check does not judge, as Argo CD's `ignoreDifferences` names them: fields another
//! controller owns by design (replicas under an autoscaler, what a mutating webhook sets), by kind
//! and JSON pointer, or by the field manager that last set them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One rule: the objects it covers, and what of them is not judged.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    /// The API group (`apps`; empty for the core group); any group when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub group: Option<String>,
    /// The kind (`Deployment`), or `*` for every kind.
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
    /// Only the object of this name; every object of the kind when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub name: Option<String>,
    /// Only objects in this namespace; every namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// JSON pointers (RFC 6901) to fields not judged, with what lies under them: `/spec/replicas`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 512), regex(pattern = r"^/")))]
    pub json_pointers: Vec<String>,
    /// Field managers (`kube-controller-manager`, `hpa-controller`) whose fields are not judged:
    /// a field of the change such a manager set last is theirs, not drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 128)))]
    pub managed_fields_managers: Vec<String>,
}

impl IgnoreRule {
    /// Whether the rule covers an object of this group, kind, namespace and name.
    pub fn covers(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        self.group.as_deref().is_none_or(|g| g == group)
            && (self.kind == "*" || self.kind == kind)
            && self.name.as_deref().is_none_or(|n| n == name)
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| Some(ns) == namespace)
    }

    /// The pointers as path segments, `~1` and `~0` decoded (RFC 6901).
    pub fn pointer_segments(&self) -> Vec<Vec<String>> {
        self.json_pointers
            .iter()
            .map(|pointer| {
                pointer
                    .split('/')
                    .skip(1)
                    .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_covers_what_it_names_and_nothing_else() {
        let rule = IgnoreRule {
            group: Some("apps".into()),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            ..Default::default()
        };
        assert!(rule.covers("apps", "Deployment", Some("shop"), "web"));
        assert!(!rule.covers("", "Deployment", Some("shop"), "web"));
        assert!(!rule.covers("apps", "StatefulSet", Some("shop"), "web"));
        assert!(!rule.covers("apps", "Deployment", Some("other"), "web"));
        let any = IgnoreRule {
            kind: "*".into(),
            ..Default::default()
        };
        assert!(any.covers("", "ConfigMap", None, "x"));
    }

    #[test]
    fn pointers_decode_as_rfc_6901_says() {
        let rule = IgnoreRule {
            kind: "*".into(),
            json_pointers: vec![
                "/spec/replicas".into(),
                "/metadata/annotations/example.com~1team".into(),
                "/data/a~0b".into(),
            ],
            ..Default::default()
        };
        assert_eq!(
            rule.pointer_segments(),
            [
                vec!["spec", "replicas"],
                vec!["metadata", "annotations", "example.com/team"],
                vec!["data", "a~b"],
            ]
        );
    }
}
