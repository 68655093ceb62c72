//! Each desired object against the live one in a cluster, like `kubectl diff`:
//!
//! 1. the API of every apiVersion the manifests use is discovered (one request per group-version);
//!    a kind the cluster does not serve is an error naming it (`UnknownKind`), not drift; for the
//!    objects a PR removed ([`Comparer::presence`]) it means they are absent;
//! 2. live objects are read: with one LIST per resource type and namespace where the manifests hold
//!    at least [`CompareOptions::list_threshold`] objects of it, else with a GET each; an object
//!    that is not there is drift (missing);
//! 3. an object whose live state already holds every value its manifest sets
//!    ([`diff::holds`]) is in sync without more ado;
//! 4. every other object is applied server-side as a dry run, with the operator's own field manager
//!    and force: the result is what the object would become, so where it differs from the live
//!    object in a field the manifest sets, the manifest is not what runs ([`diff::differences`]);
//!    defaults, admission and server-set metadata are the same on both sides and do not count.
//!    A dry run the apiserver refuses (an immutable field changed) is drift too.
//!
//! A namespaced object without a namespace goes to [`CompareOptions::default_namespace`]
//! (`default`, as with kubectl); a namespace on a cluster-scoped object is ignored.
//! Reads and dry runs run concurrently, at most [`CompareOptions::concurrency`] at a time.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use kube::{
    Api, Client,
    api::{DynamicObject, ListParams, Patch, PatchParams},
    core::GroupVersion,
    discovery::{self, ApiCapabilities, ApiResource, Scope},
};
use prtracker_api::{
    DriftedResource, FieldDrift,
    monitor::{MAX_DRIFTED_RESOURCES, MAX_FIELDS_PER_RESOURCE},
};
use serde_json::Value;

pub use report::{CompareOptions, DriftReport, LiveRef};

use crate::{
    diff::{self, Values},
    error::{ClusterError, DriftError, is_unreachable},
    managed,
    manifests::DesiredObject,
    normalize,
};

/// The field manager of the dry-run applies: the operator's own, so that what it would own is told
/// apart from what people and other tools own.
pub const FIELD_MANAGER: &str = "prtracker-drift";

/// The path reported when the apiserver refuses to apply a manifest at all.
pub const REFUSED_PATH: &str = "(apply refused)";

/// Compares desired objects with one cluster.
#[derive(Clone)]
pub struct Comparer {
    client: Client,
    cluster: String,
    options: CompareOptions,
}

/// A desired object, resolved against the cluster's API.
struct Resolved<'a> {
    desired: &'a DesiredObject,
    /// `None`: the cluster does not serve the kind.
    resource: Option<(ApiResource, Scope)>,
    namespace: Option<String>,
}

/// What became of one object.
enum Outcome {
    InSync,
    Missing,
    Drifted(Vec<FieldDrift>),
}

impl Comparer {
    pub fn new(client: Client, cluster: impl Into<String>, options: CompareOptions) -> Self {
        Self {
            client,
            cluster: cluster.into(),
            options,
        }
    }

    /// Compares every desired object with the cluster.
    pub async fn compare(&self, desired: &[DesiredObject]) -> Result<DriftReport, DriftError> {
        let resolved = self.resolve(desired).await?;
        // An object of a kind the cluster does not serve cannot be there, nor be applied: that is
        // no drift but a cluster without the API (a CRD not installed, a version removed).
        if let Some(unknown) = resolved.iter().find(|r| r.resource.is_none()) {
            return Err(DriftError::UnknownKind {
                cluster: self.cluster.clone(),
                api_version: unknown.desired.api_version.clone(),
                kind: unknown.desired.kind.clone(),
                name: unknown.desired.name.clone(),
            });
        }
        let live = self.read_live(&resolved).await?;
        let concurrency = self.options.concurrency.max(1);
        // Futures are collected before they are streamed (here and below): a stream that maps
        // borrowed items through a closure makes a future rustc cannot prove `Send` for every
        // lifetime, and the controller runs checks on a multi-threaded runtime.
        let pending: Vec<_> = resolved
            .iter()
            .zip(live)
            .map(|(object, live)| self.outcome(object, live))
            .collect();
        let outcomes: Vec<Outcome> = stream::iter(pending)
            .buffered(concurrency)
            .try_collect()
            .await?;
        let mut report = self.report(&resolved, outcomes);
        report.watched = live_refs(&resolved);
        Ok(report)
    }

    /// Whether each object is in the cluster (for objects whose absence is the point: the ones a PR
    /// removed). A kind the cluster does not serve has no objects.
    pub async fn presence(&self, objects: &[DesiredObject]) -> Result<Vec<bool>, DriftError> {
        Ok(self.presence_watched(objects).await?.0)
    }

    /// [`Comparer::presence`], and the objects as the cluster's API names them (those of a kind
    /// it serves).
    pub async fn presence_watched(
        &self,
        objects: &[DesiredObject],
    ) -> Result<(Vec<bool>, Vec<LiveRef>), DriftError> {
        let resolved = self.resolve(objects).await?;
        let live = self.read_live(&resolved).await?;
        Ok((
            live.iter().map(Option::is_some).collect(),
            live_refs(&resolved),
        ))
    }

    /// Step 1: the resource and scope of every object.
    async fn resolve<'a>(
        &self,
        desired: &'a [DesiredObject],
    ) -> Result<Vec<Resolved<'a>>, DriftError> {
        let versions: Vec<&str> = {
            let mut v: Vec<&str> = desired.iter().map(|d| d.api_version.as_str()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let pending: Vec<_> = versions
            .into_iter()
            .map(|api_version| async move {
                let resources = self.discover(api_version).await?;
                Ok::<_, DriftError>((api_version, resources))
            })
            .collect();
        let groups: HashMap<&str, Vec<(ApiResource, ApiCapabilities)>> = stream::iter(pending)
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        Ok(desired
            .iter()
            .map(|object| {
                let resource = groups
                    .get(object.api_version.as_str())
                    .and_then(|resources| resources.iter().find(|(ar, _)| ar.kind == object.kind))
                    .map(|(ar, caps)| (ar.clone(), caps.scope.clone()));
                let namespace = match &resource {
                    Some((_, Scope::Namespaced)) => Some(
                        object
                            .namespace
                            .clone()
                            .unwrap_or_else(|| self.options.default_namespace.clone()),
                    ),
                    Some((_, Scope::Cluster)) => None,
                    None => object.namespace.clone(),
                };
                Resolved {
                    desired: object,
                    resource,
                    namespace,
                }
            })
            .collect())
    }

    /// The resources of one group-version; none when the cluster does not serve it.
    async fn discover(
        &self,
        api_version: &str,
    ) -> Result<Vec<(ApiResource, ApiCapabilities)>, DriftError> {
        let Ok(gv) = api_version.parse::<GroupVersion>() else {
            return Ok(Vec::new());
        };
        match discovery::pinned_group(&self.client, &gv).await {
            Ok(group) => Ok(group.versioned_resources(&gv.version)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
            Err(source) if is_unreachable(&source) => Err(self.unreachable(&source)),
            Err(source) => Err(DriftError::Discovery {
                cluster: self.cluster.clone(),
                api_version: api_version.to_owned(),
                source: Box::new(source),
            }),
        }
    }

    /// Step 2: the live object of each (in order), `None` where there is none.
    async fn read_live(&self, resolved: &[Resolved<'_>]) -> Result<Vec<Option<Value>>, DriftError> {
        // (group, version, plural, namespace) → indices of the objects of that type there.
        let mut by_type: BTreeMap<(String, String, String, Option<String>), Vec<usize>> =
            BTreeMap::new();
        for (index, object) in resolved.iter().enumerate() {
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
        let mut live: Vec<Option<Value>> = vec![None; resolved.len()];
        let pending: Vec<_> = by_type
            .into_values()
            .map(|indices| self.read_type(resolved, indices))
            .collect();
        let listed: Vec<Vec<(usize, Option<Value>)>> = stream::iter(pending)
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        for (index, object) in listed.into_iter().flatten() {
            live[index] = object;
        }
        Ok(live)
    }

    /// The live objects of one type in one namespace: one LIST, or a GET each.
    async fn read_type(
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

    /// Steps 3 and 4 for one object.
    async fn outcome(
        &self,
        object: &Resolved<'_>,
        live: Option<Value>,
    ) -> Result<Outcome, DriftError> {
        let (Some((ar, _)), Some(live)) = (&object.resource, live) else {
            return Ok(Outcome::Missing);
        };
        let desired = normalize::desired(object.desired.body.clone());
        // Who set what is read before normalising drops managedFields.
        let live_raw = if object.desired.ignore_managers.is_empty() {
            Value::Null
        } else {
            live.clone()
        };
        let live = normalize::served(live);
        if self.options.skip_held {
            let mut held = desired.clone();
            normalize::strip_identity(&mut held);
            normalize::drop_empty_maps(&mut held);
            if diff::holds(&held, &live) {
                return Ok(Outcome::InSync);
            }
        }
        let mut body = object.desired.body.clone();
        set_namespace(&mut body, object.namespace.as_deref());
        let name = object.desired.name.as_str();
        let params = PatchParams::apply(&self.options.field_manager)
            .force()
            .dry_run();
        let api = self.api(ar, object.namespace.as_deref());
        let dry_run = match api.patch(name, &params, &Patch::Apply(&body)).await {
            Ok(result) => serde_json::to_value(result).map_err(|e| self.encode_error(name, e))?,
            Err(kube::Error::Api(status)) if matches!(status.code, 400 | 422) => {
                return Ok(Outcome::Drifted(vec![FieldDrift {
                    path: REFUSED_PATH.to_owned(),
                    desired: None,
                    live: Some(diff::cut(&status.message)),
                }]));
            }
            Err(e) => {
                return Err(self.kube_error("dry-run applying", object.desired.display_name(), e));
            }
        };
        let values = if object.desired.api_version == "v1" && object.desired.kind == "Secret" {
            Values::Redacted
        } else {
            Values::Shown
        };
        let mut found = diff::differences(&desired, &normalize::served(dry_run), &live, values);
        if !object.desired.ignore_managers.is_empty() {
            let owned = managed::owned_paths(&live_raw, &object.desired.ignore_managers);
            found.retain(|d| !managed::is_owned(&d.path, &owned));
        }
        if found.is_empty() {
            return Ok(Outcome::InSync);
        }
        Ok(Outcome::Drifted(
            found
                .into_iter()
                .take(MAX_FIELDS_PER_RESOURCE)
                .map(|d| FieldDrift {
                    path: d.path,
                    desired: d.desired,
                    live: d.live,
                })
                .collect(),
        ))
    }

    fn report(&self, resolved: &[Resolved<'_>], outcomes: Vec<Outcome>) -> DriftReport {
        let mut report = DriftReport {
            checked: u32::try_from(resolved.len()).unwrap_or(u32::MAX),
            ..DriftReport::default()
        };
        for (object, outcome) in resolved.iter().zip(outcomes) {
            let (missing, fields) = match outcome {
                Outcome::InSync => continue,
                Outcome::Missing => {
                    report.missing += 1;
                    (true, Vec::new())
                }
                Outcome::Drifted(fields) => {
                    report.drifted += 1;
                    (false, fields)
                }
            };
            if report.resources.len() < MAX_DRIFTED_RESOURCES {
                report.resources.push(DriftedResource {
                    api_version: object.desired.api_version.clone(),
                    kind: object.desired.kind.clone(),
                    namespace: object.namespace.clone(),
                    name: object.desired.name.clone(),
                    missing,
                    fields,
                });
            }
        }
        report
    }

    fn api(&self, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, ar),
            None => Api::all_with(self.client.clone(), ar),
        }
    }

    fn unreachable(&self, error: &kube::Error) -> DriftError {
        DriftError::Cluster(ClusterError::Unreachable {
            cluster: self.cluster.clone(),
            reason: error.to_string(),
        })
    }

    fn kube_error(&self, action: &'static str, object: String, error: kube::Error) -> DriftError {
        if is_unreachable(&error) {
            return self.unreachable(&error);
        }
        DriftError::Kube {
            cluster: self.cluster.clone(),
            action,
            object,
            source: Box::new(error),
        }
    }

    fn encode_error(&self, name: &str, error: serde_json::Error) -> DriftError {
        DriftError::Kube {
            cluster: self.cluster.clone(),
            action: "encoding",
            object: name.to_owned(),
            source: Box::new(kube::Error::SerdeError(error)),
        }
    }
}

/// Sets (or, for a cluster-scoped object, removes) `metadata.namespace` in an object to apply.
fn set_namespace(body: &mut Value, namespace: Option<&str>) {
    let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    match namespace {
        Some(namespace) => {
            metadata.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
        }
        None => {
            metadata.remove("namespace");
        }
    }
}

/// The resolved objects of a kind the cluster serves, as its API names them.
fn live_refs(resolved: &[Resolved<'_>]) -> Vec<LiveRef> {
    resolved
        .iter()
        .filter_map(|r| {
            let (resource, _) = r.resource.as_ref()?;
            Some(LiveRef {
                resource: resource.clone(),
                namespace: r.namespace.clone(),
                name: r.desired.name.clone(),
            })
        })
        .collect()
}

mod report;
#[cfg(test)]
mod tests;
