//! The one way the operator writes a status, for trackers and monitors alike: through the status
//! subresource, guarded by the object's resourceVersion (a write never overwrites a newer object),
//! and only when the status says something new, times aside (an unchanged verdict costs no write).

use k8s_openapi::{
    NamespaceResourceScope,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{Api, Client, Resource, ResourceExt, api::PostParams};
use serde::{Serialize, de::DeserializeOwned};

use crate::{DriftMonitor, DriftMonitorStatus, PullRequestTracker, PullRequestTrackerStatus};

/// A resource whose status the operator writes.
pub trait HasStatus:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
{
    type Status: Clone + PartialEq;

    fn status(&self) -> Option<&Self::Status>;

    fn set_status(&mut self, status: Self::Status);

    /// The status without what changes at every sync or check (its times): two statuses that
    /// compare equal here are not worth a write.
    fn without_times(status: &Self::Status) -> Self::Status;
}

/// Why a status could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StatusWriteError {
    /// The object changed since it was read: read it again and retry.
    #[error("{kind} {name} changed while it was being written; retry with the newer object")]
    Conflict { kind: String, name: String },
    #[error("{kind} {name} has no namespace")]
    NoNamespace { kind: String, name: String },
    #[error("writing the status of {kind} {name}: {source}")]
    Kube {
        kind: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// Whether `next` says anything the object's current status does not, times aside.
pub fn needs_write<K: HasStatus>(object: &K, next: &K::Status) -> bool {
    match object.status() {
        None => true,
        Some(current) => K::without_times(current) != K::without_times(next),
    }
}

/// Writes `status` if [`needs_write`] says so: `Ok(Some(object as written))`, or `Ok(None)` when
/// nothing needed writing.
pub async fn write_status<K: HasStatus>(
    client: &Client,
    object: &K,
    status: K::Status,
) -> Result<Option<K>, StatusWriteError> {
    if !needs_write(object, &status) {
        return Ok(None);
    }
    replace_status(client, object, status).await.map(Some)
}

/// Replaces the status, whatever it was, guarded by the object's resourceVersion.
pub async fn replace_status<K: HasStatus>(
    client: &Client,
    object: &K,
    status: K::Status,
) -> Result<K, StatusWriteError> {
    let kind = K::kind(&()).into_owned();
    let name = object.name_any();
    let Some(namespace) = object.namespace() else {
        return Err(StatusWriteError::NoNamespace { kind, name });
    };
    let api: Api<K> = Api::namespaced(client.clone(), &namespace);
    let mut updated = object.clone();
    updated.set_status(status);
    match api
        .replace_status(&name, &PostParams::default(), &updated)
        .await
    {
        Ok(written) => Ok(written),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            Err(StatusWriteError::Conflict { kind, name })
        }
        Err(source) => Err(StatusWriteError::Kube {
            kind,
            name,
            source: Box::new(source),
        }),
    }
}

fn conditions_without_times(conditions: &mut [Condition]) {
    for condition in conditions {
        condition.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
}

impl HasStatus for PullRequestTracker {
    type Status = PullRequestTrackerStatus;

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }

    fn set_status(&mut self, status: Self::Status) {
        self.status = Some(status);
    }

    fn without_times(status: &Self::Status) -> Self::Status {
        let mut status = status.clone();
        status.last_sync_time = None;
        if let Some(result) = status.last_sync_result.as_mut() {
            result.sync_time = None;
        }
        conditions_without_times(&mut status.conditions);
        status
    }
}

impl HasStatus for DriftMonitor {
    type Status = DriftMonitorStatus;

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }

    fn set_status(&mut self, status: Self::Status) {
        self.status = Some(status);
    }

    fn without_times(status: &Self::Status) -> Self::Status {
        let mut status = status.clone();
        status.last_check_time = None;
        conditions_without_times(&mut status.conditions);
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DriftMonitorSpec, ManifestSource, PullRequestTrackerSpec};
    use prtracker_domain::{DriftPhase, PrState};

    fn tracker(status: PullRequestTrackerStatus) -> PullRequestTracker {
        let mut tracker = PullRequestTracker::new(
            "t",
            PullRequestTrackerSpec {
                repository: "o/r".parse().expect("repository"),
                number: 1,
                clusters: Vec::new(),
                manifests_path: ".".into(),
                targets: Vec::new(),
                settle_window: None,
                ignore_differences: Vec::new(),
            },
        );
        tracker.status = Some(status);
        tracker
    }

    #[test]
    fn times_alone_are_no_reason_to_write_a_tracker() {
        let before = PullRequestTrackerStatus {
            state: Some(PrState::Open),
            last_sync_time: Some(Time(Timestamp::UNIX_EPOCH)),
            ..Default::default()
        };
        let object = tracker(before.clone());
        let mut later = before.clone();
        later.last_sync_time = Some(Time(Timestamp::now()));
        assert!(!needs_write(&object, &later));
        later.state = Some(PrState::Approved);
        assert!(needs_write(&object, &later));
    }

    #[test]
    fn times_alone_are_no_reason_to_write_a_monitor() {
        let mut monitor = DriftMonitor::new(
            "m",
            DriftMonitorSpec {
                tracker: "t".into(),
                cluster: "c".into(),
                source: ManifestSource {
                    repository: "o/r".parse().expect("repository"),
                    commit: "a".repeat(40),
                    path: ".".into(),
                    base_branch: None,
                    values: Vec::new(),
                },
                interval: "5m".into(),
                ignore_differences: Vec::new(),
            },
        );
        let status = DriftMonitorStatus {
            phase: Some(DriftPhase::InSync),
            last_check_time: Some(Time(Timestamp::UNIX_EPOCH)),
            ..Default::default()
        };
        monitor.status = Some(status.clone());
        let mut later = status;
        later.last_check_time = Some(Time(Timestamp::now()));
        assert!(!needs_write(&monitor, &later));
        later.phase = Some(DriftPhase::Drifted);
        assert!(needs_write(&monitor, &later));
    }

    #[test]
    fn an_object_without_status_always_needs_one() {
        let mut object = tracker(PullRequestTrackerStatus::default());
        object.status = None;
        assert!(needs_write(&object, &PullRequestTrackerStatus::default()));
    }
}
