//! The PR's change: what its merge changed under the path, object by object and field by field.
//! Pure functions over the desired objects at two commits.
//!
//! Rules:
//! - objects are matched by API group, kind, namespace and name (a new API version of the same
//!   object is the same object);
//! - an object only at the merge commit is added: every field it sets is part of the change (or,
//!   for an object that sets nothing but its identity, the object itself);
//! - an object only at the parent is removed: the change is its absence;
//! - in an object at both, a field is part of the change where its value differs: maps are walked
//!   key by key, lists of objects item by item when every item has a key (as the drift report keys
//!   them, `containers[name=web]`), anything else (a scalar, a list of scalars, a list without
//!   keys) is one field;
//! - a field the merge removed is not part of the change: the apiserver may default it, so its
//!   absence cannot be judged;
//! - identity (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace`) and `status` are never
//!   fields of a change.

use std::{collections::BTreeMap, fmt};

use prtracker_api::IgnoreRule;
use serde_json::{Map, Value};

use crate::{
    diff::{child_path, list_key},
    manifests::DesiredObject,
};

/// One step of a path into an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A key of a map.
    Key(String),
    /// The item of a list whose `key` field is `value`.
    Item { key: String, value: Value },
}

/// A path into an object, as the drift report writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    fn child(&self, segment: Segment) -> FieldPath {
        let mut segments = self.0.clone();
        segments.push(segment);
        FieldPath(segments)
    }

    /// Whether `self` is `other` or lies under it.
    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.0.len() >= other.0.len() && self.0[..other.0.len()] == other.0[..]
    }

    /// The value at this path in `object`, if there is one.
    pub fn value_in<'a>(&self, object: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(object, |value, segment| match segment {
                Segment::Key(key) => value.get(key),
                Segment::Item { key, value: id } => value
                    .as_array()?
                    .iter()
                    .find(|item| item.get(key) == Some(id)),
            })
    }

    /// Whether the path lies under a JSON pointer's segments (an item matches its key value, as
    /// Argo CD's pointers name list items by position, which a keyed list does not have, or by
    /// `*`).
    fn under_pointer(&self, pointer: &[String]) -> bool {
        pointer.len() <= self.0.len()
            && pointer
                .iter()
                .zip(&self.0)
                .all(|(p, segment)| match segment {
                    Segment::Key(key) => p == key,
                    Segment::Item { value, .. } => {
                        p == "*"
                            || value
                                .as_str()
                                .map_or_else(|| p == &value.to_string(), |v| p == v)
                    }
                })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(object)");
        }
        let mut path = String::new();
        for segment in &self.0 {
            path = match segment {
                Segment::Key(key) => child_path(&path, key),
                Segment::Item { key, value } => {
                    let label = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    format!("{path}[{key}={label}]")
                }
            };
        }
        f.write_str(&path)
    }
}

/// One field the merge set, and the value it set.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: FieldPath,
    pub value: Value,
}

/// What the merge did to one object.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectChange {
    /// The object is at the merge commit, with these fields set or changed (all of them when
    /// `added`).
    Set {
        object: DesiredObject,
        added: bool,
        fields: Vec<FieldChange>,
    },
    /// The object was at the parent and is not at the merge commit.
    Removed { object: DesiredObject },
}

impl ObjectChange {
    pub fn object(&self) -> &DesiredObject {
        match self {
            ObjectChange::Set { object, .. } | ObjectChange::Removed { object } => object,
        }
    }

    /// Fields judged: those set, or one for a removed object (its absence).
    pub fn field_count(&self) -> usize {
        match self {
            ObjectChange::Set { fields, .. } => fields.len(),
            ObjectChange::Removed { .. } => 1,
        }
    }
}

/// The PR's change under the path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    pub objects: Vec<ObjectChange>,
}

/// How objects are matched across commits: group, kind, namespace, name.
type ObjectKey = (String, String, Option<String>, String);

fn key(object: &DesiredObject) -> ObjectKey {
    (
        object.group().to_owned(),
        object.kind.clone(),
        object.namespace.clone(),
        object.name.clone(),
    )
}

impl Change {
    /// The change from the objects at the parent (`before`) to those at the merge commit.
    pub fn between(before: &[DesiredObject], after: &[DesiredObject]) -> Change {
        let before_by_key: BTreeMap<ObjectKey, &DesiredObject> =
            before.iter().map(|o| (key(o), o)).collect();
        let mut objects = Vec::new();
        for object in after {
            let previous = before_by_key.get(&key(object)).map(|o| &o.body);
            let mut fields = Vec::new();
            walk_object(&object.body, previous, &mut fields);
            // An added object that sets nothing but its identity (a Namespace) is still a change:
            // the object itself.
            if previous.is_none() && fields.is_empty() {
                fields.push(FieldChange {
                    path: FieldPath::default(),
                    value: Value::Object(Map::new()),
                });
            }
            if !fields.is_empty() {
                objects.push(ObjectChange::Set {
                    object: object.clone(),
                    added: previous.is_none(),
                    fields,
                });
            }
        }
        let after_keys: Vec<ObjectKey> = after.iter().map(key).collect();
        for object in before {
            if !after_keys.contains(&key(object)) {
                objects.push(ObjectChange::Removed {
                    object: object.clone(),
                });
            }
        }
        Change { objects }
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Fields judged, a removed object counting as one.
    pub fn field_count(&self) -> usize {
        self.objects.iter().map(ObjectChange::field_count).sum()
    }

    /// The change without what `rules` ignore by JSON pointer; objects left with nothing to judge
    /// drop out (a removed object only when a rule covers it with the pointer `/`... that is, any
    /// pointer: its absence is one field, the whole object).
    pub fn without_ignored(self, rules: &[IgnoreRule]) -> Change {
        let objects = self
            .objects
            .into_iter()
            .filter_map(|change| {
                let object = change.object();
                let pointers: Vec<Vec<String>> = rules
                    .iter()
                    .filter(|r| {
                        r.covers(
                            object.group(),
                            &object.kind,
                            object.namespace.as_deref(),
                            &object.name,
                        )
                    })
                    .flat_map(IgnoreRule::pointer_segments)
                    .collect();
                match change {
                    ObjectChange::Set {
                        object,
                        added,
                        fields,
                    } => {
                        let fields: Vec<FieldChange> = fields
                            .into_iter()
                            .filter(|f| !pointers.iter().any(|p| f.path.under_pointer(p)))
                            .collect();
                        (!fields.is_empty()).then_some(ObjectChange::Set {
                            object,
                            added,
                            fields,
                        })
                    }
                    ObjectChange::Removed { object } => {
                        let whole = pointers.iter().any(|p| p.iter().all(String::is_empty));
                        (!whole).then_some(ObjectChange::Removed { object })
                    }
                }
            })
            .collect();
        Change { objects }
    }

    /// One line an object, at most `max`, and a last line saying how many more:
    /// `Deployment shop/web: spec.replicas, spec.template.spec.containers[name=web].image`.
    pub fn summary(&self, max: usize) -> Vec<String> {
        let mut lines: Vec<String> = self
            .objects
            .iter()
            .take(max)
            .map(|change| {
                let object = change.object();
                let name = display(object);
                match change {
                    ObjectChange::Set {
                        added: true,
                        fields,
                        ..
                    } => format!("{name}: added ({} fields)", fields.len()),
                    ObjectChange::Set { fields, .. } => {
                        let paths: Vec<String> =
                            fields.iter().take(8).map(|f| f.path.to_string()).collect();
                        let more = fields.len().saturating_sub(paths.len());
                        let more = if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        };
                        format!("{name}: {}{more}", paths.join(", "))
                    }
                    ObjectChange::Removed { .. } => format!("{name}: removed"),
                }
            })
            .collect();
        if self.objects.len() > max
            && let Some(last) = lines.last_mut()
        {
            *last = format!("{last} (and {} more objects)", self.objects.len() - max);
        }
        lines
    }
}

/// `Kind namespace/name`, as a reviewer reads it.
pub fn display(object: &DesiredObject) -> String {
    match &object.namespace {
        Some(namespace) => format!("{} {namespace}/{}", object.kind, object.name),
        None => format!("{} {}", object.kind, object.name),
    }
}

/// Identity and what the server owns: never fields of a change.
fn is_identity(path: &FieldPath) -> bool {
    let keys: Vec<&str> = path
        .0
        .iter()
        .map(|s| match s {
            Segment::Key(k) => k.as_str(),
            Segment::Item { .. } => "",
        })
        .collect();
    matches!(
        keys.as_slice(),
        ["apiVersion"]
            | ["kind"]
            | ["status", ..]
            | ["metadata", "name" | "namespace" | "generateName"]
    )
}

fn walk_object(after: &Value, before: Option<&Value>, out: &mut Vec<FieldChange>) {
    walk(after, before, &FieldPath::default(), out);
}

fn walk(after: &Value, before: Option<&Value>, path: &FieldPath, out: &mut Vec<FieldChange>) {
    if is_identity(path) || before == Some(after) {
        return;
    }
    match after {
        Value::Object(fields) if before.is_none_or(Value::is_object) => {
            for (key, value) in fields {
                walk(
                    value,
                    before.and_then(|b| b.get(key)),
                    &path.child(Segment::Key(key.clone())),
                    out,
                );
            }
        }
        Value::Array(items) if keyed(items, before) => {
            let Some(key) = list_key(items) else {
                return;
            };
            let previous = before.and_then(Value::as_array);
            for item in items {
                let Some(id) = item.get(key) else {
                    continue;
                };
                let item_path = path.child(Segment::Item {
                    key: key.to_owned(),
                    value: id.clone(),
                });
                let before_item = previous.and_then(|l| l.iter().find(|i| i.get(key) == Some(id)));
                let count = out.len();
                if let Value::Object(fields) = item {
                    for (field, value) in fields.iter().filter(|(f, _)| f.as_str() != key) {
                        walk(
                            value,
                            before_item.and_then(|b| b.get(field)),
                            &item_path.child(Segment::Key(field.clone())),
                            out,
                        );
                    }
                }
                // A new item with nothing but its key is still a change: the item itself.
                if out.len() == count && before_item.is_none() {
                    out.push(FieldChange {
                        path: item_path,
                        value: item.clone(),
                    });
                }
            }
        }
        _ => out.push(FieldChange {
            path: path.clone(),
            value: after.clone(),
        }),
    }
}

/// Whether a list is walked item by item: a non-empty list of objects with a key, where the list
/// before (if any) is keyed by the same field.
fn keyed(items: &[Value], before: Option<&Value>) -> bool {
    if items.is_empty() || !items.iter().all(Value::is_object) {
        return false;
    }
    let Some(key) = list_key(items) else {
        return false;
    };
    match before {
        None => true,
        Some(Value::Array(previous)) => {
            previous.is_empty()
                || (previous.iter().all(Value::is_object)
                    && previous.iter().all(|item| item.get(key).is_some()))
        }
        Some(_) => false,
    }
}

/// The fields of the change the objects at another commit (the base branch's head) no longer
/// hold at the PR's value, by index into `change.objects` and then into its fields; a removed
/// object counts as superseded when it is back.
pub fn superseded(change: &Change, head: &[DesiredObject]) -> Vec<(usize, usize)> {
    let head_by_key: BTreeMap<ObjectKey, &DesiredObject> =
        head.iter().map(|o| (key(o), o)).collect();
    let mut out = Vec::new();
    for (index, change) in change.objects.iter().enumerate() {
        let at_head = head_by_key.get(&key(change.object()));
        match change {
            ObjectChange::Set { fields, .. } => {
                for (field_index, field) in fields.iter().enumerate() {
                    let held = at_head
                        .and_then(|o| field.path.value_in(&o.body))
                        .is_some_and(|v| holds_value(&field.value, v));
                    if !held {
                        out.push((index, field_index));
                    }
                }
            }
            ObjectChange::Removed { .. } => {
                if at_head.is_some() {
                    out.push((index, 0));
                }
            }
        }
    }
    out
}

/// Whether `actual` still has the value the change set: equal, or for a whole item or map, every
/// key of it (a later change adding a key to it does not undo this one).
fn holds_value(set: &Value, actual: &Value) -> bool {
    match (set, actual) {
        (Value::Object(set), Value::Object(actual)) => set
            .iter()
            .all(|(k, v)| actual.get(k).is_some_and(|a| holds_value(v, a))),
        _ => set == actual,
    }
}

mod partial;

pub use partial::partial_object;

#[cfg(test)]
mod tests;
