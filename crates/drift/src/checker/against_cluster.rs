//! The active change against one cluster: how many of its fields do not hold there.

use prtracker_api::{DriftedResource, FieldDrift};

use super::{DriftChecker, count};
use crate::{
    change::{self, Change, ObjectChange},
    compare::{Comparer, DriftReport},
    error::DriftError,
    manifests::DesiredObject,
};

impl DriftChecker {
    /// The active change against the cluster: the report, and how many fields do not hold.
    pub(super) async fn compare(
        &self,
        comparer: &Comparer,
        change: &Change,
    ) -> Result<(DriftReport, u32), DriftError> {
        let mut set = Vec::new();
        let mut fields_of = Vec::new();
        let mut removed = Vec::new();
        for object in &change.objects {
            match object {
                ObjectChange::Set { object, fields, .. } => {
                    let mut partial = object.clone();
                    partial.body = change::partial_object(object, fields);
                    set.push(partial);
                    fields_of.push(fields);
                }
                ObjectChange::Removed { object } => removed.push(object.clone()),
            }
        }
        let mut report = comparer.compare(&set).await?;
        let mut drifted = 0u32;
        for resource in &report.resources {
            let Some(index) = set.iter().position(|o| same(o, resource)) else {
                continue;
            };
            let fields = fields_of[index];
            drifted += if resource.missing {
                count(fields.len())
            } else {
                count(
                    fields
                        .iter()
                        .filter(|f| {
                            let path = f.path.to_string();
                            resource.fields.iter().any(|d| {
                                path == d.path
                                    || path.starts_with(&format!("{}.", d.path))
                                    || path.starts_with(&format!("{}[", d.path))
                                    || d.path == crate::compare::REFUSED_PATH
                            })
                        })
                        .count()
                        .max(1),
                )
            };
        }
        if !removed.is_empty() {
            let (present, watched) = comparer.presence_watched(&removed).await?;
            report.watched.extend(watched);
            report.checked += count(removed.len());
            for (object, present) in removed.iter().zip(present) {
                if present {
                    drifted += 1;
                    report.drifted += 1;
                    report.resources.push(DriftedResource {
                        api_version: object.api_version.clone(),
                        kind: object.kind.clone(),
                        namespace: object.namespace.clone(),
                        name: object.name.clone(),
                        missing: false,
                        fields: vec![FieldDrift {
                            path: "(object)".to_owned(),
                            desired: Some("absent: the PR removed it".to_owned()),
                            live: Some("present".to_owned()),
                        }],
                        // Written in the parent commit only: no file of the merge holds it.
                        ..DriftedResource::default()
                    });
                }
            }
        }
        Ok((report, drifted))
    }
}

fn same(object: &DesiredObject, resource: &DriftedResource) -> bool {
    object.kind == resource.kind
        && object.name == resource.name
        && object.api_version == resource.api_version
        && (object.namespace.is_none() || object.namespace == resource.namespace)
}
