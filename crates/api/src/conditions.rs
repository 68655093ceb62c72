//! The condition types of prtracker's resources, their schema as the API conventions ask (a list
//! keyed by `type`, so each writer owns its own conditions under server-side apply), and how one is
//! set: its `lastTransitionTime` moves only when its status does, so an unchanged condition is an
//! unchanged object (and no write).

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// The conditions themselves are the domain's: which type, whether it holds, and why.
pub use prtracker_domain::condition::{CONSISTENT, ConditionUpdate, LIVE, READY, SYNCED, WATCHED};

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

/// Sets `update` in `conditions`, keeping the transition time when the status is unchanged.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    update: ConditionUpdate,
    generation: Option<i64>,
) {
    let status = if update.holds { "True" } else { "False" };
    let existing = conditions.iter_mut().find(|c| c.type_ == update.type_);
    let last_transition_time = match &existing {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    let condition = Condition {
        type_: update.type_.to_owned(),
        status: status.to_owned(),
        reason: update.reason.to_owned(),
        message: update.message,
        observed_generation: generation,
        last_transition_time,
    };
    match existing {
        Some(slot) => *slot = condition,
        None => conditions.push(condition),
    }
}

/// Whether the condition of `type_` is present and True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            ConditionUpdate::new("Synced", true, "Synced", "ok"),
            Some(1),
        );
        let first = conditions[0].last_transition_time.clone();
        std::thread::sleep(std::time::Duration::from_millis(5));
        set_condition(
            &mut conditions,
            ConditionUpdate::new("Synced", true, "Synced", "still ok"),
            Some(2),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, first);
        assert_eq!(conditions[0].message, "still ok");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set_condition(
            &mut conditions,
            ConditionUpdate::new("Synced", false, "GitHubError", "down"),
            Some(2),
        );
        assert_ne!(conditions[0].last_transition_time, first);
        assert!(!is_true(&conditions, "Synced"));
    }

    #[test]
    fn conditions_of_other_types_are_kept() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            ConditionUpdate::new("Synced", true, "Synced", ""),
            None,
        );
        set_condition(
            &mut conditions,
            ConditionUpdate::new("Consistent", false, "MissingLabel", ""),
            None,
        );
        assert_eq!(conditions.len(), 2);
        assert!(is_true(&conditions, "Synced"));
        assert!(!is_true(&conditions, "Consistent"));
    }
}
