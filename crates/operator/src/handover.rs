//! Deliveries a follower passes on to the leader. The follower annotates the PR's trackers with
//! the delivery's id ([`REFRESH_ANNOTATION`]), which the leader's watch takes up as a change heard
//! of, and, for `labeled` and `unlabeled`, with the label change itself
//! ([`LABEL_CHANGE_ANNOTATION`]): so the leader knows the echo of its own label write from a
//! person's change whichever replica GitHub delivered it to.

use std::{num::NonZeroUsize, sync::Mutex};

use kube::ResourceExt;
use lru::LruCache;
use prtracker_api::PullRequestTracker;
use prtracker_sync::LabelWrite;
use serde_json::{Value, json};

use crate::ledger::{ChangeLedger, PrKey, key};

/// A follower replica sets this annotation (to the delivery id) to pass a webhook on to the leader:
/// the leader's watch reconciles a tracker whose generation or this annotation changed.
pub const REFRESH_ANNOTATION: &str = "prtracker.io/webhook-delivery";

/// The label change of the delivery a follower passed on last, after the delivery's id:
/// `DELIVERY labeled NAME` or `DELIVERY unlabeled NAME`. The id ties it to its delivery: a
/// follower of an older version passes a delivery on without clearing it.
pub const LABEL_CHANGE_ANNOTATION: &str = "prtracker.io/webhook-label-change";

/// Trackers whose last delivery is remembered; one forgotten reads its next as a plain change.
const CAPACITY: usize = 65_536;

/// The label a `pull_request` delivery of `action` added or removed (`labeled`, `unlabeled`).
/// Not a method of the event: the fuzz crate builds the payload parser without the sync layer.
pub fn label_change(action: &str, label: Option<&str>) -> Option<LabelWrite> {
    let label = label?.to_owned();
    match action {
        "labeled" => Some(LabelWrite::Add(label)),
        "unlabeled" => Some(LabelWrite::Remove(label)),
        _ => None,
    }
}

/// The metadata patch that passes delivery `delivery` on; a delivery that is no label change
/// clears the previous one's.
pub fn passed_on(delivery: &str, change: Option<&LabelWrite>) -> Value {
    json!({ "metadata": { "annotations": {
        REFRESH_ANNOTATION: delivery,
        LABEL_CHANGE_ANNOTATION: change.map(|change| describe(delivery, change)),
    } } })
}

fn describe(delivery: &str, change: &LabelWrite) -> String {
    match change {
        LabelWrite::Add(label) => format!("{delivery} labeled {label}"),
        LabelWrite::Remove(label) => format!("{delivery} unlabeled {label}"),
    }
}

/// The label change described for `delivery`, if the annotation is that delivery's.
fn described(text: &str, delivery: &str) -> Option<LabelWrite> {
    let change = text.strip_prefix(delivery)?.strip_prefix(' ')?;
    match change.split_once(' ')? {
        ("labeled", label) => Some(LabelWrite::Add(label.to_owned())),
        ("unlabeled", label) => Some(LabelWrite::Remove(label.to_owned())),
        _ => None,
    }
}

/// What the leader's tracker watch tells its ledger of each tracker it sees change.
pub struct HandOvers {
    /// Each tracker's delivery id as last seen, by uid.
    deliveries: Mutex<LruCache<String, Option<String>>>,
    /// Each PR's delivery told last: one passed on to two trackers of a PR is one change.
    told: Mutex<LruCache<PrKey, String>>,
}

impl Default for HandOvers {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Self {
            deliveries: Mutex::new(LruCache::new(capacity)),
            told: Mutex::new(LruCache::new(capacity)),
        }
    }
}

impl HandOvers {
    /// `tracker` changed (its spec, or a delivery passed on): the ledger hears of it. A delivery
    /// new since the last sight of the tracker that was a label change is told as one, so an echo
    /// of the leader's own write is known; anything else (a spec edit, a tracker first seen,
    /// whose annotation may be old) is a plain change.
    pub fn tell(&self, ledger: &ChangeLedger, tracker: &PullRequestTracker) {
        let (repo, number) = (&tracker.spec.repository, tracker.spec.number);
        let delivery = tracker.annotations().get(REFRESH_ANNOTATION).cloned();
        let new_delivery = tracker.uid().is_some_and(|uid| {
            let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            deliveries
                .put(uid, delivery.clone())
                .is_some_and(|before| before != delivery)
        });
        let Some(delivery) = delivery.filter(|_| new_delivery) else {
            ledger.tell(repo, number);
            return;
        };
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        if told.put(key(repo, number), delivery.clone()).as_ref() == Some(&delivery) {
            // Told already, through another tracker of the same PR.
            return;
        }
        drop(told);
        let change = tracker
            .annotations()
            .get(LABEL_CHANGE_ANNOTATION)
            .and_then(|text| described(text, &delivery));
        ledger.tell_delivery(repo, number, change.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use prtracker_api::PullRequestTrackerSpec;
    use prtracker_sync::Freshness;

    use super::*;

    fn tracker(annotations: &Value) -> PullRequestTracker {
        let mut tracker = PullRequestTracker::new(
            "shop-7",
            PullRequestTrackerSpec {
                repository: "octo-org/shop".parse().expect("repository"),
                number: 7,
                clusters: vec!["in-cluster".into()],
                manifests_path: "deploy".into(),
                targets: Vec::new(),
                settle_window: None,
                ignore_differences: Vec::new(),
            },
        );
        tracker.metadata.uid = Some("uid-7".into());
        let annotations = annotations["metadata"]["annotations"]
            .as_object()
            .expect("annotations")
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect();
        tracker.metadata.annotations = Some(annotations);
        tracker
    }

    #[test]
    fn a_passed_on_echo_of_the_leaders_own_write_is_no_change() {
        let ledger = ChangeLedger::default();
        let handovers = HandOvers::default();
        let (repo, number) = ("octo-org/shop".parse().expect("repository"), 7);
        let added = LabelWrite::Add("state/deployed".into());

        // First sight, with the annotations of an old delivery: a plain change.
        let before = ledger.heard(&repo, number);
        handovers.tell(&ledger, &tracker(&passed_on("d-1", Some(&added))));
        assert!(ledger.heard(&repo, number) > before);
        assert_eq!(ledger.last_added(&repo, number), None);

        // The leader writes; the follower passes the write's webhook on: its own echo.
        ledger.expect_echo(&repo, number, &added);
        let before = ledger.heard(&repo, number);
        handovers.tell(&ledger, &tracker(&passed_on("d-2", Some(&added))));
        assert_eq!(ledger.heard(&repo, number), before);

        // A person removes it: a change. The same tracker seen again (a spec edit): a change,
        // and not the delivery's label change once more.
        let removed = LabelWrite::Remove("state/deployed".into());
        handovers.tell(&ledger, &tracker(&passed_on("d-3", Some(&removed))));
        let after_removal = ledger.heard(&repo, number);
        assert!(after_removal > before);
        ledger.expect_echo(&repo, number, &removed);
        handovers.tell(&ledger, &tracker(&passed_on("d-3", Some(&removed))));
        assert!(ledger.heard(&repo, number) > after_removal);

        // A person's label passed on is their intent, as at the leader's own endpoint.
        let chosen = LabelWrite::Add("state/approved".into());
        handovers.tell(&ledger, &tracker(&passed_on("d-4", Some(&chosen))));
        assert_eq!(
            ledger
                .last_added(&repo, number)
                .map(|(label, _)| label)
                .as_deref(),
            Some("state/approved")
        );

        // A delivery that is no label change clears the annotation.
        assert_eq!(
            passed_on("d-5", None)["metadata"]["annotations"][LABEL_CHANGE_ANNOTATION],
            Value::Null
        );
        assert_eq!(
            described("d-6 labeled state/open", "d-6"),
            Some(LabelWrite::Add("state/open".into()))
        );
        assert_eq!(described("d-6 closed", "d-6"), None);
        assert_eq!(
            label_change("unlabeled", Some("state/open")),
            Some(LabelWrite::Remove("state/open".into()))
        );
        assert_eq!(label_change("closed", Some("state/open")), None);
        assert_eq!(label_change("labeled", None), None);
        // Another delivery's: a follower of an older version passed d-7 on and left it.
        assert_eq!(described("d-6 labeled state/open", "d-7"), None);
        assert_eq!(
            described(" unlabeled my label", ""),
            Some(LabelWrite::Remove("my label".into()))
        );
    }

    #[test]
    fn a_delivery_passed_on_to_two_trackers_of_one_pr_is_told_once() {
        let ledger = ChangeLedger::default();
        let handovers = HandOvers::default();
        let (repo, number) = ("octo-org/shop".parse().expect("repository"), 7);
        let added = LabelWrite::Add("state/deployed".into());
        let mut other = tracker(&passed_on("d-1", None));
        other.metadata.uid = Some("uid-7-other".into());
        handovers.tell(&ledger, &tracker(&passed_on("d-1", None)));
        handovers.tell(&ledger, &other);

        // The leader's own write comes back, passed on to both trackers: its echo, and no more.
        ledger.expect_echo(&repo, number, &added);
        let before = ledger.heard(&repo, number);
        handovers.tell(&ledger, &tracker(&passed_on("d-2", Some(&added))));
        let mut other = tracker(&passed_on("d-2", Some(&added)));
        other.metadata.uid = Some("uid-7-other".into());
        handovers.tell(&ledger, &other);
        assert_eq!(ledger.heard(&repo, number), before);
        assert_eq!(ledger.last_added(&repo, number), None);
    }
}
