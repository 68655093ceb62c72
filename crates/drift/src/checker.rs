//! One check of a `DriftMonitor`: the PR's change computed from the manifests at the merge commit
//! and its first parent, the fields a later commit of the base branch changed set aside
//! (superseded), and what remains compared with the cluster, field by field.
//!
//! What a check costs: GitHub is asked for the merge commit's parents and the manifests at both
//! commits once (commits never change), and for the base branch's head at most once per
//! [`DriftChecker::with_head_max_age`] per branch; the cluster, as [`crate::compare`] says, its
//! API discovered once and kept, its objects read from the watches' cache in a check a watch
//! started ([`Reads::Cache`]). A
//! monitor whose change is empty or superseded is not checked again.

use std::{sync::Arc, time::Duration};

use kube::ResourceExt;
use prtracker_api::{DriftMonitor, IgnoreRule, ManifestSource};
use prtracker_github::GitHubApi;
use tracing::{debug, instrument};

use crate::render::Renderer;

use crate::{
    change::{self, Change, ObjectChange},
    clusters::ClusterRegistry,
    compare::{CompareOptions, Comparer, DiscoveryCache, DriftReport, ObjectCache},
    error::{ClusterError, DriftError},
    manifests::{DesiredObject, ParseLimits},
    sources::{BaseHeads, DEFAULT_CACHE_BYTES, ManifestCache},
};

/// At most this many lines of the change are kept in a monitor's status.
pub const MAX_CHANGE_LINES: usize = 20;
/// How far back the base branch is walked to name the commit that superseded a change.
const MAX_SUPERSEDE_WALK: usize = 64;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checked {
    /// The merge commit's first parent.
    pub parent: Option<String>,
    /// The change, a line an object.
    pub change: Vec<String>,
    /// Fields of the change judged (not ignored, not superseded).
    pub watched: u32,
    /// Fields of the change the base branch has since changed.
    pub superseded: u32,
    /// Of the fields judged, those the cluster does not hold.
    pub drifted: u32,
    /// What the cluster runs of the change (objects missing or differing).
    pub report: DriftReport,
    pub outcome: Outcome,
}

/// The check's finding in one word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Outcome {
    /// The merge changed nothing under the path (that is not ignored).
    NothingToDeploy,
    /// Every field of the change has since been changed through the repository, from this commit
    /// of the base branch on.
    Superseded { by: String },
    /// Every field judged holds in the cluster.
    #[default]
    Holds,
    /// Some field judged does not.
    DoesNotHold,
}

/// Checks monitors: reads their commits' manifests, resolves their clusters, compares.
#[derive(Clone)]
pub struct DriftChecker {
    github: Arc<dyn GitHubApi>,
    clusters: ClusterRegistry,
    limits: ParseLimits,
    options: CompareOptions,
    ignore: Arc<Vec<IgnoreRule>>,
    manifests: Arc<ManifestCache>,
    heads: Arc<BaseHeads>,
    renderer: Arc<Renderer>,
    discovery: Arc<DiscoveryCache>,
    cache: Option<Arc<dyn ObjectCache>>,
}

/// Where a check reads the live objects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The apiserver: a check at the monitor's interval, the safety net under the watches.
    Cluster,
    /// The watches' cache where it keeps an object current, else the apiserver: a check a watch
    /// started.
    Cache,
}

impl DriftChecker {
    pub fn new(github: Arc<dyn GitHubApi>, clusters: ClusterRegistry) -> Self {
        Self {
            github,
            clusters,
            limits: ParseLimits::default(),
            options: CompareOptions::default(),
            ignore: Arc::new(Vec::new()),
            manifests: Arc::new(ManifestCache::new(DEFAULT_CACHE_BYTES)),
            heads: Arc::new(BaseHeads::new(Duration::from_secs(60))),
            renderer: Arc::new(Renderer::default()),
            discovery: Arc::default(),
            cache: None,
        }
    }

    /// Live objects for [`Reads::Cache`] checks.
    pub fn with_object_cache(mut self, cache: Arc<dyn ObjectCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// How targets holding a kustomization are rendered.
    pub fn with_renderer(mut self, renderer: Renderer) -> Self {
        self.renderer = Arc::new(renderer);
        self
    }

    pub fn with_options(mut self, options: CompareOptions) -> Self {
        self.options = options;
        self
    }

    pub fn with_limits(mut self, limits: ParseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Ignore rules for every monitor, besides each monitor's own.
    pub fn with_ignore_rules(mut self, rules: Vec<IgnoreRule>) -> Self {
        self.ignore = Arc::new(rules);
        self
    }

    /// How long a base branch's head is taken as known before GitHub is asked again.
    pub fn with_head_max_age(mut self, max_age: Duration) -> Self {
        self.heads = Arc::new(BaseHeads::new(max_age));
        self
    }

    pub fn clusters(&self) -> &ClusterRegistry {
        &self.clusters
    }

    /// Entries and bytes of manifests kept.
    pub fn cache_size(&self) -> (usize, usize) {
        self.manifests.size()
    }

    /// The objects under `source.path` at `commit`.
    async fn objects_at(
        &self,
        source: &ManifestSource,
        commit: &str,
    ) -> Result<Arc<Result<Vec<DesiredObject>, crate::ManifestError>>, DriftError> {
        self.manifests
            .objects_at(
                self.github.as_ref(),
                source,
                commit,
                self.limits,
                &self.renderer,
            )
            .await
    }

    async fn objects(
        &self,
        source: &ManifestSource,
        commit: &str,
    ) -> Result<Vec<DesiredObject>, DriftError> {
        match &*self.objects_at(source, commit).await? {
            Ok(objects) => Ok(objects.clone()),
            Err(error) => Err(DriftError::ManifestAt {
                commit: commit.to_owned(),
                source: error.clone(),
            }),
        }
    }

    /// The PR's change for `monitor`, ignore rules applied, and the merge commit's first parent.
    pub async fn change(
        &self,
        monitor: &DriftMonitor,
    ) -> Result<(Change, Option<String>), DriftError> {
        let source = &monitor.spec.source;
        let parents = self
            .github
            .commit_parents(&source.repository, &source.commit)
            .await?;
        let parent = parents.first().cloned();
        let after = self.objects(source, &source.commit).await?;
        let before = match &parent {
            Some(parent) => self.objects(source, parent).await?,
            None => Vec::new(),
        };
        let rules: Vec<IgnoreRule> = self
            .ignore
            .iter()
            .chain(&monitor.spec.ignore_differences)
            .cloned()
            .collect();
        let mut change = Change::between(&before, &after).without_ignored(&rules);
        for object in &mut change.objects {
            let managers = managers_for(&rules, object);
            match object {
                ObjectChange::Set { object, .. } | ObjectChange::Removed { object } => {
                    object.ignore_managers = managers;
                }
            }
        }
        Ok((change, parent))
    }

    /// One check of `monitor`, reading the cluster.
    pub async fn check(&self, monitor: &DriftMonitor) -> Result<Checked, DriftError> {
        self.check_from(monitor, Reads::Cluster).await
    }

    /// One check of `monitor`, reading live objects from `reads`.
    #[instrument(skip_all, fields(monitor = %monitor.name_any(), cluster = %monitor.spec.cluster))]
    pub async fn check_from(
        &self,
        monitor: &DriftMonitor,
        reads: Reads,
    ) -> Result<Checked, DriftError> {
        let source = &monitor.spec.source;
        let (change, parent) = self.change(monitor).await?;
        let mut checked = Checked {
            parent,
            change: change.summary(MAX_CHANGE_LINES),
            ..Checked::default()
        };
        if change.is_empty() {
            checked.outcome = Outcome::NothingToDeploy;
            return Ok(checked);
        }
        let mut fresh = false;
        loop {
            let (superseded, head, was_fresh) = self.superseded(source, &change, fresh).await?;
            checked.superseded = count(superseded.len());
            if superseded.len() == change.field_count()
                && let Some(head) = head
            {
                let by = self.superseding_commit(source, &change, &head).await?;
                checked.outcome = Outcome::Superseded { by };
                return Ok(checked);
            }
            let active = active(change.clone(), &superseded);
            checked.watched = count(active.field_count());

            let cluster = monitor.spec.cluster.as_str();
            let client = self.clusters.client(cluster).await?;
            let mut comparer = Comparer::new(client, cluster, self.options.clone())
                .with_discovery(self.discovery.clone());
            if let (Reads::Cache, Some(cache)) = (reads, &self.cache) {
                comparer = comparer.with_cache(cache.clone());
            }
            let result = self.compare(&comparer, &active).await;
            if result.is_err() {
                // Its API asked afresh next time: a group-version may have gone, the cluster moved.
                self.discovery.forget(cluster);
            }
            if let Err(DriftError::Cluster(ClusterError::Unreachable { .. })) = &result {
                // Built afresh next time, in case the address or credentials behind it changed.
                self.clusters.forget(cluster);
            }
            let (report, drifted) = result?;
            // Drift is only drift where the base branch still holds the PR's value: a head seen a
            // while ago may not show the commit that changed it, so ask for the head afresh before
            // calling anything drifted.
            if drifted > 0 && !was_fresh {
                fresh = true;
                continue;
            }
            checked.drifted = drifted;
            checked.outcome = if drifted == 0 {
                Outcome::Holds
            } else {
                Outcome::DoesNotHold
            };
            debug!(
                watched = checked.watched,
                drifted,
                superseded = checked.superseded,
                "checked"
            );
            checked.report = report;
            return Ok(checked);
        }
    }

    /// The base branch's head, when it is another commit than the merge.
    async fn head(
        &self,
        source: &ManifestSource,
        fresh: bool,
    ) -> Result<Option<String>, DriftError> {
        let Some(branch) = &source.base_branch else {
            return Ok(None);
        };
        let head = self
            .heads
            .head(self.github.as_ref(), &source.repository, branch, fresh)
            .await?;
        Ok(Some(head).filter(|head| head != &source.commit))
    }

    /// The fields of the change the base branch's head no longer holds at the PR's value, that
    /// head, and whether it was asked for afresh. A head seen a while ago may predate the merge
    /// itself: before anything is called superseded, the head is asked for afresh
    /// (conditionally, so an unmoved one costs a 304); `fresh` asks for that at once.
    async fn superseded(
        &self,
        source: &ManifestSource,
        change: &Change,
        mut fresh: bool,
    ) -> Result<(Vec<(usize, usize)>, Option<String>, bool), DriftError> {
        if source.base_branch.is_none() {
            // No branch to look at: nothing is ever superseded, and nothing is stale.
            return Ok((Vec::new(), None, true));
        }
        loop {
            let Some(head) = self.head(source, fresh).await? else {
                return Ok((Vec::new(), None, fresh));
            };
            let at_head = self.objects(source, &head).await?;
            let superseded = change::superseded(change, &at_head);
            if superseded.is_empty() || fresh {
                return Ok((superseded, Some(head), fresh));
            }
            fresh = true;
        }
    }

    /// The first commit of the base branch, after the merge, from which on every field of the
    /// change is superseded: the branch's first parents walked back from `head` (at most
    /// [`MAX_SUPERSEDE_WALK`] commits), then bisected. Where the merge is further back, `head`.
    async fn superseding_commit(
        &self,
        source: &ManifestSource,
        change: &Change,
        head: &str,
    ) -> Result<String, DriftError> {
        let repo = &source.repository;
        let mut chain = vec![head.to_owned()];
        let mut reached = false;
        while chain.len() <= MAX_SUPERSEDE_WALK {
            let Some(last) = chain.last() else { break };
            let parents = self.github.commit_parents(repo, last).await?;
            match parents.first() {
                Some(parent) if parent == &source.commit => {
                    reached = true;
                    break;
                }
                Some(parent) => chain.push(parent.clone()),
                None => break,
            }
        }
        if !reached {
            return Ok(head.to_owned());
        }
        chain.reverse();
        let fields = change.field_count();
        let (mut low, mut high) = (0, chain.len() - 1);
        while low < high {
            let middle = (low + high) / 2;
            let at = self.objects(source, &chain[middle]).await?;
            if change::superseded(change, &at).len() == fields {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        Ok(chain[low].clone())
    }
}

/// The field managers the rules that cover `object` ignore.
fn managers_for(rules: &[IgnoreRule], object: &ObjectChange) -> Vec<String> {
    let object = object.object();
    let mut managers: Vec<String> = rules
        .iter()
        .filter(|r| {
            r.covers(
                object.group(),
                &object.kind,
                object.namespace.as_deref(),
                &object.name,
            )
        })
        .flat_map(|r| r.managed_fields_managers.iter().cloned())
        .collect();
    managers.sort();
    managers.dedup();
    managers
}

/// The change without its superseded fields (and without objects left with none).
fn active(change: Change, superseded: &[(usize, usize)]) -> Change {
    let objects = change
        .objects
        .into_iter()
        .enumerate()
        .filter_map(|(index, object)| match object {
            ObjectChange::Set {
                object,
                added,
                fields,
            } => {
                let fields: Vec<_> = fields
                    .into_iter()
                    .enumerate()
                    .filter(|(f, _)| !superseded.contains(&(index, *f)))
                    .map(|(_, field)| field)
                    .collect();
                (!fields.is_empty()).then_some(ObjectChange::Set {
                    object,
                    added,
                    fields,
                })
            }
            ObjectChange::Removed { object } => {
                (!superseded.contains(&(index, 0))).then_some(ObjectChange::Removed { object })
            }
        })
        .collect();
    Change { objects }
}

pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

mod against_cluster;
