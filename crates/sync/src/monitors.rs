//! A tracker's DriftMonitors: the one it should have per cluster, how the plan sees those it has,
//! and the writes that create, update or retire them.

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

/// The monitor `tracker` should have for `cluster`, checking `commit`.
pub fn desired(
    tracker: &PullRequestTracker,
    cluster: &str,
    commit: &str,
    interval: &str,
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
                commit: commit.to_owned(),
                path: tracker.spec.manifests_path.clone(),
            },
            interval: interval.to_owned(),
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

/// The monitors as the plan sees them: up to date when their spec is what `desired` would give.
pub fn seen(
    tracker: &PullRequestTracker,
    commit: Option<&str>,
    interval: &str,
    monitors: &[DriftMonitor],
) -> Vec<MonitorSeen> {
    monitors
        .iter()
        .map(|monitor| {
            let wanted = commit
                .and_then(|commit| desired(tracker, &monitor.spec.cluster, commit, interval).ok());
            MonitorSeen {
                cluster: monitor.spec.cluster.clone(),
                up_to_date: wanted.is_some_and(|wanted| wanted.spec == monitor.spec),
                phase: monitor.status.as_ref().and_then(|s| s.phase),
            }
        })
        .collect()
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
