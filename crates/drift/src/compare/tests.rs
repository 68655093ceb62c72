use serde_json::json;

use super::*;

#[test]
fn the_namespace_is_set_or_removed() {
    let mut namespaced = json!({"metadata": {"name": "a"}});
    set_namespace(&mut namespaced, Some("default"));
    assert_eq!(
        namespaced,
        json!({"metadata": {"name": "a", "namespace": "default"}})
    );
    let mut cluster = json!({"metadata": {"name": "a", "namespace": "x"}});
    set_namespace(&mut cluster, None);
    assert_eq!(cluster, json!({"metadata": {"name": "a"}}));
}

#[test]
fn a_report_is_in_sync_without_drifted_or_missing_objects() {
    assert!(
        DriftReport {
            checked: 3,
            ..DriftReport::default()
        }
        .in_sync()
    );
    assert!(
        !DriftReport {
            checked: 3,
            missing: 1,
            ..DriftReport::default()
        }
        .in_sync()
    );
}
