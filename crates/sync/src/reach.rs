//! Which targets a merged PR's change reaches. A target whose rendered objects are the same at the
//! merge commit and at its first parent holds nothing of the PR's to deploy or watch: it gets no
//! DriftMonitor, and no deployment, check or row of the comment. A change to an overlay reaches
//! that overlay's cluster; a change to a base that two overlays render reaches both.
//!
//! Rules:
//! - decided once per merge commit and target (a commit never changes), and kept in the tracker's
//!   status, so a resync asks nothing; a target edited in the spec since is decided again;
//! - a target that cannot be rendered or parsed at a commit is reached: its monitor says why;
//! - a target that cannot be decided now (GitHub or the renderer failing) keeps the monitor it
//!   has, gets none yet if it has none, and the sync is retried.

use async_trait::async_trait;
use prtracker_api::{DriftMonitor, PullRequestTracker, Reach, TargetReached};

use crate::{
    error::SyncError,
    monitors::{self, Target},
};

/// Computes whether a monitor would have anything to check: the adapter that renders and reads
/// manifests (the drift layer) answers.
#[async_trait]
pub trait ChangeReach: Send + Sync {
    /// Whether the PR's change that `monitor` would check is not empty. `Ok(true)` as well where
    /// the change can never be computed at that commit (the monitor then says why); `Err` where
    /// it cannot be computed now.
    async fn reaches(&self, monitor: &DriftMonitor) -> Result<bool, String>;
}

/// The targets a merged PR's change reaches, as decided for this sync.
#[derive(Debug)]
pub struct Reached {
    /// The clusters that get (or keep) a monitor.
    pub clusters: Vec<String>,
    /// What to keep in the status: every target decided (none when nothing was decided).
    pub record: Option<Reach>,
    /// The first target that could not be decided now: the sync is retried.
    pub undecided: Option<SyncError>,
}

impl Reached {
    /// Every target of the spec, undecided: before the merge, or without a [`ChangeReach`].
    pub fn every(tracker: &PullRequestTracker) -> Self {
        Self {
            clusters: tracker.spec.cluster_names(),
            record: None,
            undecided: None,
        }
    }
}

/// Decides, for each of the tracker's targets, whether the merge commit's change reaches it,
/// asking `reach` only for targets the status has not decided for this commit.
pub async fn decide(
    reach: &dyn ChangeReach,
    tracker: &PullRequestTracker,
    target: Target<'_>,
    existing: &[DriftMonitor],
) -> Result<Reached, SyncError> {
    let recorded = tracker.status.as_ref().and_then(|s| s.reach.as_ref());
    let mut record = Reach {
        commit: target.commit.to_owned(),
        targets: Vec::new(),
    };
    let mut reached = Reached {
        clusters: Vec::new(),
        record: None,
        undecided: None,
    };
    for spec_target in tracker.spec.targets() {
        let known = recorded.and_then(|r| r.reached(target.commit, &spec_target));
        let decided = match known {
            Some(known) => Some(known),
            None => {
                let monitor = monitors::desired(tracker, &spec_target.cluster, target)?;
                match reach.reaches(&monitor).await {
                    Ok(answer) => Some(answer),
                    Err(why) => {
                        reached.undecided.get_or_insert(SyncError::Undecided {
                            cluster: spec_target.cluster.clone(),
                            why,
                        });
                        None
                    }
                }
            }
        };
        let keeps_monitor = match decided {
            Some(answer) => {
                record.targets.push(TargetReached {
                    cluster: spec_target.cluster.clone(),
                    path: spec_target.path.clone(),
                    values: spec_target.values.clone(),
                    reached: answer,
                });
                answer
            }
            None => existing
                .iter()
                .any(|m| m.spec.cluster == spec_target.cluster),
        };
        if keeps_monitor {
            reached.clusters.push(spec_target.cluster);
        }
    }
    reached.record = Some(record);
    Ok(reached)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use prtracker_api::{DriftMonitor, PullRequestTracker};
    use serde_json::json;

    use super::*;

    const MERGE: &str = "0000000000000000000000000000000000000002";

    /// Answers from a list of (path, reached); a path not listed cannot be decided now. Counts
    /// the questions.
    struct Answers {
        reached: Vec<(&'static str, bool)>,
        asked: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl ChangeReach for Answers {
        async fn reaches(&self, monitor: &DriftMonitor) -> Result<bool, String> {
            let path = monitor.spec.source.path.clone();
            self.asked.lock().expect("lock").push(path.clone());
            self.reached
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, reached)| *reached)
                .ok_or_else(|| format!("GitHub answered 502 for {path}"))
        }
    }

    fn tracker(status: serde_json::Value) -> PullRequestTracker {
        serde_json::from_value(json!({
            "apiVersion": "prtracker.io/v1alpha1",
            "kind": "PullRequestTracker",
            "metadata": {"name": "octo-org-shop-7", "namespace": "ns", "uid": "u-1"},
            "spec": {
                "repository": "octo-org/shop",
                "number": 7,
                "targets": [
                    {"cluster": "prod", "path": "deploy/overlays/prod"},
                    {"cluster": "staging", "path": "deploy/overlays/staging"},
                ],
            },
            "status": status,
        }))
        .expect("a tracker")
    }

    fn target() -> Target<'static> {
        Target {
            commit: MERGE,
            base_branch: Some("main"),
            interval: "5m",
        }
    }

    fn answers(reached: Vec<(&'static str, bool)>) -> Answers {
        Answers {
            reached,
            asked: Mutex::default(),
        }
    }

    #[tokio::test]
    async fn only_the_targets_the_change_reaches_get_a_monitor_and_the_decision_is_recorded() {
        let tracker = tracker(json!({}));
        let reach = answers(vec![
            ("deploy/overlays/prod", true),
            ("deploy/overlays/staging", false),
        ]);
        let reached = decide(&reach, &tracker, target(), &[])
            .await
            .expect("decided");
        assert_eq!(reached.clusters, ["prod"]);
        assert!(reached.undecided.is_none());
        let record = reached.record.expect("a record");
        assert_eq!(record.commit, MERGE);
        let decided: Vec<(&str, bool)> = record
            .targets
            .iter()
            .map(|t| (t.cluster.as_str(), t.reached))
            .collect();
        assert_eq!(decided, [("prod", true), ("staging", false)]);
    }

    #[tokio::test]
    async fn a_decision_recorded_for_the_commit_is_not_asked_again_but_an_edited_target_is() {
        let recorded = json!({"reach": {"commit": MERGE, "targets": [
            {"cluster": "prod", "path": "deploy/overlays/prod", "reached": true},
            // Decided when staging read another path: decided again.
            {"cluster": "staging", "path": "deploy/staging", "reached": true},
        ]}});
        let reach = answers(vec![("deploy/overlays/staging", false)]);
        let reached = decide(&reach, &tracker(recorded), target(), &[])
            .await
            .expect("decided");
        assert_eq!(reached.clusters, ["prod"]);
        assert_eq!(
            *reach.asked.lock().expect("lock"),
            ["deploy/overlays/staging"]
        );

        // Recorded for another commit: everything is asked again.
        let other = json!({"reach": {"commit": "1111111111111111111111111111111111111111",
            "targets": [{"cluster": "prod", "path": "deploy/overlays/prod", "reached": false}]}});
        let reach = answers(vec![
            ("deploy/overlays/prod", true),
            ("deploy/overlays/staging", true),
        ]);
        let reached = decide(&reach, &tracker(other), target(), &[])
            .await
            .expect("decided");
        assert_eq!(reached.clusters, ["prod", "staging"]);
        assert_eq!(reach.asked.lock().expect("lock").len(), 2);
    }

    #[tokio::test]
    async fn a_target_not_decidable_now_keeps_the_monitor_it_has_gets_none_else_and_is_retried() {
        let tracker = tracker(json!({}));
        let reach = answers(vec![]);
        let staging_monitor: DriftMonitor = serde_json::from_value(json!({
            "apiVersion": "prtracker.io/v1alpha1",
            "kind": "DriftMonitor",
            "metadata": {"name": "octo-org-shop-7-staging", "namespace": "ns"},
            "spec": {"tracker": "octo-org-shop-7", "cluster": "staging",
                "source": {"repository": "octo-org/shop", "commit": MERGE,
                    "path": "deploy/overlays/staging"}},
        }))
        .expect("a monitor");
        let reached = decide(&reach, &tracker, target(), &[staging_monitor])
            .await
            .expect("decided");
        assert_eq!(reached.clusters, ["staging"]);
        assert!(reached.record.expect("a record").targets.is_empty());
        let error = reached.undecided.expect("retried").to_string();
        assert!(
            error.contains("prod") && error.contains("502"),
            "names the target and the cause: {error}"
        );
    }
}
