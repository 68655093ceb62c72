//! The object a change asks of the cluster: its identity, and each field of the change at its
//! value, nothing else.

use serde_json::{Map, Value};

use super::{FieldChange, Segment};
use crate::manifests::DesiredObject;

/// The object `change` asks of the cluster: its identity, and each field of the change at its
/// value (list items with their key), nothing else. A cluster that holds these holds the change.
pub fn partial_object(object: &DesiredObject, fields: &[FieldChange]) -> Value {
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(object.name.clone()));
    if let Some(namespace) = &object.namespace {
        metadata.insert("namespace".into(), Value::String(namespace.clone()));
    }
    let mut body = Value::Object(Map::from_iter([
        (
            "apiVersion".to_owned(),
            Value::String(object.api_version.clone()),
        ),
        ("kind".to_owned(), Value::String(object.kind.clone())),
        ("metadata".to_owned(), Value::Object(metadata)),
    ]));
    for field in fields {
        set(&mut body, &field.path.0, field.value.clone());
    }
    body
}

/// Sets `value` at `path` in `target`, making the maps and keyed items on the way.
fn set(target: &mut Value, path: &[Segment], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        merge(target, value);
        return;
    };
    match first {
        Segment::Key(key) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(map) = target {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                set(slot, rest, value);
            }
        }
        Segment::Item { key, value: id } => {
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            if let Value::Array(items) = target {
                let index = match items.iter().position(|i| i.get(key) == Some(id)) {
                    Some(index) => index,
                    None => {
                        items.push(Value::Object(Map::from_iter([(key.clone(), id.clone())])));
                        items.len() - 1
                    }
                };
                set(&mut items[index], rest, value);
            }
        }
    }
}

/// Puts `value` in `slot`; two maps merge (a whole new item laid over its key).
fn merge(slot: &mut Value, value: Value) {
    match (slot, value) {
        (Value::Object(existing), Value::Object(new)) => {
            for (key, value) in new {
                existing.insert(key, value);
            }
        }
        (slot, value) => *slot = value,
    }
}
