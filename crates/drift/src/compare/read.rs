//! Step 2 of a comparison: the live objects, from the watches' cache where it keeps them
//! current, else with one LIST per resource type and namespace where the manifests hold at least
//! [`CompareOptions::list_threshold`] objects of it, else with a GET each. What the apiserver
//! gave is offered to the cache.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{DynamicObject, ListParams};
use serde_json::Value;

use super::{Comparer, Resolved, live_ref};
use crate::error::DriftError;

impl Comparer {
    /// Step 2: the live object of each (in order), `None` where there is none.
    pub(super) async fn read_live(
        &self,
        resolved: &[Resolved<'_>],
    ) -> Result<Vec<Option<Value>>, DriftError> {
        let mut live: Vec<Option<Value>> = vec![None; resolved.len()];
        // (group, version, plural, namespace) → indices of the objects of that type there.
        let mut by_type: BTreeMap<(String, String, String, Option<String>), Vec<usize>> =
            BTreeMap::new();
        for (index, object) in resolved.iter().enumerate() {
            if let Some(kept) = self.kept(object) {
                live[index] = kept;
                continue;
            }
            if let Some((ar, _)) = &object.resource {
                by_type
                    .entry((
                        ar.group.clone(),
                        ar.version.clone(),
                        ar.plural.clone(),
                        object.namespace.clone(),
                    ))
                    .or_default()
                    .push(index);
            }
        }
        let pending: Vec<_> = by_type
            .into_values()
            .map(|indices| self.read_type(resolved, indices))
            .collect();
        let listed: Vec<Vec<(usize, Option<Value>)>> = stream::iter(pending)
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        for (index, object) in listed.into_iter().flatten() {
            if let (Some(cache), Some(reference)) =
                (&self.cache, resolved.get(index).and_then(live_ref))
            {
                cache.offer(&self.cluster, &reference, object.as_ref());
            }
            live[index] = object;
        }
        Ok(live)
    }

    /// The live objects of one type in one namespace: one LIST, or a GET each.
    pub(super) async fn read_type(
        &self,
        resolved: &[Resolved<'_>],
        indices: Vec<usize>,
    ) -> Result<Vec<(usize, Option<Value>)>, DriftError> {
        let Some(first) = indices.first().and_then(|i| resolved.get(*i)) else {
            return Ok(Vec::new());
        };
        let Some((ar, _)) = &first.resource else {
            return Ok(Vec::new());
        };
        let api = self.api(ar, first.namespace.as_deref());
        if indices.len() >= self.options.list_threshold {
            let list = api.list(&ListParams::default()).await.map_err(|e| {
                self.kube_error(
                    "listing",
                    format!("{} in {:?}", ar.plural, first.namespace),
                    e,
                )
            })?;
            let mut by_name: HashMap<String, DynamicObject> = list
                .items
                .into_iter()
                .filter_map(|o| o.metadata.name.clone().map(|name| (name, o)))
                .collect();
            return indices
                .into_iter()
                .map(|i| {
                    let name = resolved
                        .get(i)
                        .map(|r| r.desired.name.as_str())
                        .unwrap_or_default();
                    let object = by_name.remove(name).map(serde_json::to_value).transpose();
                    Ok((i, object.map_err(|e| self.encode_error(name, e))?))
                })
                .collect();
        }
        let pending: Vec<_> = indices
            .into_iter()
            .map(|i| {
                let api = api.clone();
                async move {
                    let name = resolved
                        .get(i)
                        .map(|r| r.desired.name.as_str())
                        .unwrap_or_default();
                    let object = api
                        .get_opt(name)
                        .await
                        .map_err(|e| self.kube_error("reading", name.to_owned(), e))?;
                    let value = object
                        .map(serde_json::to_value)
                        .transpose()
                        .map_err(|e| self.encode_error(name, e))?;
                    Ok::<_, DriftError>((i, value))
                }
            })
            .collect();
        stream::iter(pending)
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await
    }

    /// The live object as the cache keeps it (`Some(None)`: absent), where it keeps it current
    /// and no ignore rule needs its managedFields.
    fn kept(&self, object: &Resolved<'_>) -> Option<Option<Value>> {
        if !object.desired.ignore_managers.is_empty() {
            return None;
        }
        let cache = self.cache.as_ref()?;
        let kept = cache.cached(&self.cluster, &live_ref(object)?)?;
        Some(kept.map(|object| (*object).clone()))
    }
}
