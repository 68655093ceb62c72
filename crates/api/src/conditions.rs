//! The condition types of prtracker's resources, and their schema as the API conventions ask:
//! a list keyed by `type`, so each writer owns its own conditions under server-side apply.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// The tracker's status follows GitHub (its last sync succeeded).
pub const SYNCED: &str = "Synced";
/// GitHub's labels and the tracker agree, with exactly one state label on the PR.
pub const CONSISTENT: &str = "Consistent";
/// The resource is in the state it should be: synced and consistent, or for a monitor, checked.
pub const READY: &str = "Ready";

pub(crate) fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = Condition::json_schema(generator);
    json_schema!({
        "type": "array",
        "items": item,
        "maxItems": 16,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}
