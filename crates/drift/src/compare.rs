//! Each desired object against the live one in a cluster, like `kubectl diff`:
//!
//! 1. the API of every apiVersion the manifests use is discovered (one request per group-version,
//!    kept in a [`DiscoveryCache`] where one is given);
//!    a kind the cluster does not serve is an error naming it (`UnknownKind`), not drift; for the
//!    objects a PR removed ([`Comparer::presence`]) it means they are absent;
//! 2. live objects are read: from the watches' cache where one is given and keeps them current
//!    ([`ObjectCache`]), else with one LIST per resource type and namespace where the manifests
//!    hold at least [`CompareOptions::list_threshold`] objects of it, else with a GET each; an
//!    object that is not there is drift (missing);
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

use std::{collections::HashMap, sync::Arc, time::Instant};

use futures::{StreamExt, TryStreamExt, stream};
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams},
    core::GroupVersion,
    discovery::{self, ApiCapabilities, ApiResource, Scope},
};
use prtracker_api::{
    DriftedResource, FieldDrift,
    monitor::{MAX_DRIFTED_RESOURCES, MAX_FIELDS_PER_RESOURCE},
};
use serde_json::Value;

pub use cache::{DiscoveryCache, ObjectCache, digest};
pub use report::{CompareOptions, DriftReport, LiveRef, Seen};

use cache::{MISS_REFRESH, Resources};

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
    discovery: Option<Arc<DiscoveryCache>>,
    cache: Option<Arc<dyn ObjectCache>>,
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
            discovery: None,
            cache: None,
        }
    }

    /// The cluster's API taken from `discovery` where it was kept, and kept there.
    pub fn with_discovery(mut self, discovery: Arc<DiscoveryCache>) -> Self {
        self.discovery = Some(discovery);
        self
    }

    /// Live objects taken from `cache` where it keeps them current (except where an ignore rule
    /// needs an object's managedFields, which the cache does not keep).
    pub fn with_cache(mut self, cache: Arc<dyn ObjectCache>) -> Self {
        self.cache = Some(cache);
        self
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
        let watched = live_refs(&resolved, &live);
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
        report.watched = watched;
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
            live_refs(&resolved, &live),
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
                let kept = self
                    .discovery
                    .as_ref()
                    .and_then(|cache| cache.get(&self.cluster, api_version));
                let resources = match kept {
                    Some((resources, at)) => (resources, Some(at)),
                    None => (self.discover_and_keep(api_version).await?, None),
                };
                Ok::<_, DriftError>((api_version, resources))
            })
            .collect();
        let mut groups: HashMap<&str, (Resources, Option<Instant>)> = stream::iter(pending)
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        // A kind not in a group-version kept a while ago may have been installed since.
        let stale: Vec<&str> = groups
            .iter()
            .filter(|(api_version, (resources, kept))| {
                kept.is_some_and(|at| at.elapsed() >= MISS_REFRESH)
                    && desired.iter().any(|d| {
                        d.api_version == **api_version
                            && !resources.iter().any(|(ar, _)| ar.kind == d.kind)
                    })
            })
            .map(|(api_version, _)| *api_version)
            .collect();
        for api_version in stale {
            let resources = self.discover_and_keep(api_version).await?;
            groups.insert(api_version, (resources, None));
        }
        Ok(desired
            .iter()
            .map(|object| {
                let resource = groups
                    .get(object.api_version.as_str())
                    .and_then(|(resources, _)| {
                        resources.iter().find(|(ar, _)| ar.kind == object.kind)
                    })
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

    /// The resources of one group-version, asked of the cluster, and kept.
    async fn discover_and_keep(&self, api_version: &str) -> Result<Resources, DriftError> {
        let resources = Arc::new(self.discover(api_version).await?);
        if let Some(cache) = &self.discovery {
            cache.put(&self.cluster, api_version, resources.clone());
        }
        Ok(resources)
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
                let (file, line) = written_at(object.desired);
                report.resources.push(DriftedResource {
                    api_version: object.desired.api_version.clone(),
                    kind: object.desired.kind.clone(),
                    namespace: object.namespace.clone(),
                    name: object.desired.name.clone(),
                    missing,
                    fields,
                    file,
                    line,
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

/// The resolved objects of a kind the cluster serves, as its API names them and as they were
/// read (`live`, in the same order).
/// Where the repository writes `desired`, for a drifted object's status: its file and line, when
/// known (a path too long for the status is left out).
fn written_at(desired: &DesiredObject) -> (Option<String>, Option<u32>) {
    match desired.line {
        Some(line) if desired.file.len() <= prtracker_api::monitor::MAX_FILE_CHARS => {
            (Some(desired.file.clone()), u32::try_from(line).ok())
        }
        _ => (None, None),
    }
}

fn live_refs(resolved: &[Resolved<'_>], live: &[Option<Value>]) -> Vec<LiveRef> {
    resolved
        .iter()
        .zip(live)
        .filter_map(|(object, live)| {
            let mut reference = live_ref(object)?;
            reference.seen = Seen::of(live.as_ref());
            Some(reference)
        })
        .collect()
}

/// A resolved object of a kind the cluster serves, as its API names it.
fn live_ref(resolved: &Resolved<'_>) -> Option<LiveRef> {
    let (resource, _) = resolved.resource.as_ref()?;
    Some(LiveRef {
        resource: resource.clone(),
        namespace: resolved.namespace.clone(),
        name: resolved.desired.name.clone(),
        seen: Seen::Unknown,
    })
}

mod cache;
mod read;
mod report;
#[cfg(test)]
mod tests;
