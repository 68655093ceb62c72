//! A tracker's DriftMonitors: the one it should have per cluster, how the plan sees those it has,
//! and the writes that create, update or retire them.

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};
use prtracker_api::{
    DriftMonitor, DriftMonitorSpec, ManifestSource, PullRequestTracker, names::monitor_name,
};
use prtracker_domain::MonitorSeen;

use crate::error::SyncError;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "prtracker";

/// Marks a monitor with the name of its tracker, to find a tracker's monitors by label.
pub const TRACKER_LABEL: &str = "prtracker.io/tracker";

/// What a tracker's monitors check: the merge commit, the branch it merged into, how often.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub commit: &'a str,
    pub base_branch: Option<&'a str>,
    pub interval: &'a str,
}

/// The monitor `tracker` should have for `cluster`.
pub fn desired(
    tracker: &PullRequestTracker,
    cluster: &str,
    target: Target<'_>,
) -> Result<DriftMonitor, SyncError> {
    let name = tracker.name_any();
    let namespace = tracker
        .namespace()
        .ok_or(SyncError::MissingField("namespace"))?;
    let owner = tracker
        .controller_owner_ref(&())
        .ok_or(SyncError::MissingField("metadata.uid"))?;
    let mut monitor = DriftMonitor::new(
        &monitor_name(&name, cluster),
        DriftMonitorSpec {
            tracker: name.clone(),
            cluster: cluster.to_owned(),
            source: ManifestSource {
                repository: tracker.spec.repository.clone(),
                commit: target.commit.to_owned(),
                path: tracker.spec.path_for(cluster).to_owned(),
                base_branch: target.base_branch.map(str::to_owned),
                values: tracker.spec.values_for(cluster),
            },
            interval: target.interval.to_owned(),
            ignore_differences: tracker.spec.ignore_differences.clone(),
        },
    );
    monitor.metadata.namespace = Some(namespace);
    monitor.metadata.owner_references = Some(vec![owner]);
    monitor
        .metadata
        .labels
        .get_or_insert_default()
        .insert(TRACKER_LABEL.into(), name);
    Ok(monitor)
}

/// The monitors as the plan sees them: up to date when their spec is what `desired` would give,
/// and for how long a drift they report has held (as of `now`).
pub fn seen(
    tracker: &PullRequestTracker,
    target: Option<Target<'_>>,
    monitors: &[DriftMonitor],
    now: Timestamp,
) -> Vec<MonitorSeen> {
    monitors
        .iter()
        .map(|monitor| {
            let wanted =
                target.and_then(|target| desired(tracker, &monitor.spec.cluster, target).ok());
            let status = monitor.status.as_ref();
            let drifted_for = status
                .and_then(|s| s.drifted_since.as_ref())
                .map(|since| held_for(since.0, now));
            MonitorSeen {
                cluster: monitor.spec.cluster.clone(),
                up_to_date: wanted.is_some_and(|wanted| wanted.spec == monitor.spec),
                phase: status.and_then(|s| s.phase),
                drifted_for,
            }
        })
        .collect()
}

/// The time from `since` to `now`; zero when the clocks disagree the other way.
fn held_for(since: Timestamp, now: Timestamp) -> std::time::Duration {
    let millis = now.as_millisecond().saturating_sub(since.as_millisecond());
    std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// Creates or updates a monitor: server-side apply under the operator's field manager, so a second
/// call changes nothing.
pub async fn apply(client: &Client, monitor: &DriftMonitor) -> Result<DriftMonitor, SyncError> {
    let namespace = monitor
        .namespace()
        .ok_or(SyncError::MissingField("namespace"))?;
    let api: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    Ok(api
        .patch(
            &monitor.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(monitor),
        )
        .await?)
}

/// Deletes a monitor; one already gone is done.
pub async fn retire(client: &Client, monitor: &DriftMonitor) -> Result<(), SyncError> {
    let namespace = monitor
        .namespace()
        .ok_or(SyncError::MissingField("namespace"))?;
    let api: Api<DriftMonitor> = Api::namespaced(client.clone(), &namespace);
    match api
        .delete(&monitor.name_any(), &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}
