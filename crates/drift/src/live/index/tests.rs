use serde_json::json;

use super::*;

fn key(kind: &str, namespace: &str) -> WatchKey {
    WatchKey {
        cluster: "prod".into(),
        resource: ApiResource {
            group: "apps".into(),
            version: "v1".into(),
            api_version: "apps/v1".into(),
            kind: kind.into(),
            plural: format!("{}s", kind.to_lowercase()),
        },
        namespace: Some(namespace.into()),
    }
}

fn monitor(name: &str) -> MonitorKey {
    ("ns".into(), name.into())
}

fn follows(items: &[(&WatchKey, &str)]) -> HashMap<(WatchKey, String), Seen> {
    items
        .iter()
        .map(|(k, n)| (((*k).clone(), (*n).to_owned()), Seen::Unknown))
        .collect()
}

#[test]
fn a_watch_starts_with_its_first_follower_and_stops_with_its_last() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    let changes = index.set(monitor("a"), follows(&[(&deployments, "web")]));
    assert_eq!(changes.start, std::slice::from_ref(&deployments));
    // A second follower of the same type and namespace shares the watch.
    let changes = index.set(monitor("b"), follows(&[(&deployments, "api")]));
    assert_eq!(changes, Changes::default());
    assert_eq!(index.watches(), 1);
    assert_eq!(index.objects(), 2);
    // Setting the same again changes nothing.
    assert_eq!(
        index.set(monitor("a"), follows(&[(&deployments, "web")])),
        Changes::default()
    );
    assert_eq!(index.forget(&monitor("a")), Changes::default());
    let changes = index.forget(&monitor("b"));
    assert_eq!(changes.stop, [deployments]);
    assert_eq!(index.watches(), 0);
}

#[test]
fn a_monitor_moving_to_another_type_stops_the_old_watch_and_starts_the_new() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    let statefulsets = key("StatefulSet", "shop");
    index.set(monitor("a"), follows(&[(&deployments, "web")]));
    let changes = index.set(monitor("a"), follows(&[(&statefulsets, "db")]));
    assert_eq!(changes.start, std::slice::from_ref(&statefulsets));
    assert_eq!(changes.stop, [deployments]);
    // Keeping one type and adding another starts only the new one.
    let changes = index.set(
        monitor("a"),
        follows(&[(&statefulsets, "db"), (&key("Deployment", "shop"), "web")]),
    );
    assert_eq!(changes.start, [key("Deployment", "shop")]);
    assert!(changes.stop.is_empty(), "{changes:?}");
}

fn object(replicas: u32) -> Arc<Value> {
    Arc::new(json!({"spec": {"replicas": replicas}}))
}

#[test]
fn only_a_changed_followed_object_names_its_followers_and_not_on_the_first_listing() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    index.set(monitor("a"), follows(&[(&deployments, "web")]));
    index.set(monitor("b"), follows(&[(&deployments, "web")]));
    // The first listing records, notifies nothing.
    assert!(
        index
            .seen(&deployments, "web", 1, object(1), false)
            .is_empty()
    );
    // An object nobody follows is not even recorded.
    assert!(
        index
            .seen(&deployments, "other", 9, object(9), true)
            .is_empty()
    );
    // The same digest again (a status update): nothing.
    assert!(
        index
            .seen(&deployments, "web", 1, object(1), true)
            .is_empty()
    );
    let mut told = index.seen(&deployments, "web", 2, object(2), true);
    told.sort();
    assert_eq!(told, [monitor("a"), monitor("b")]);
    assert_eq!(index.gone(&deployments, "web").len(), 2);
}

#[test]
fn a_relisting_names_the_followers_of_what_went_while_the_watch_was_broken() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    index.set(
        monitor("a"),
        follows(&[(&deployments, "web"), (&deployments, "api")]),
    );
    index.seen(&deployments, "web", 1, object(1), false);
    index.seen(&deployments, "api", 1, object(1), false);
    let listed: HashSet<String> = ["web".to_owned(), "api".to_owned()].into();
    assert!(index.listed(&deployments, &listed, true).is_empty());
    index.broken(&deployments, "connection refused");
    assert_eq!(index.followers(&deployments), [monitor("a")]);
    index.listing(&deployments);
    let listed: HashSet<String> = ["web".to_owned()].into();
    assert_eq!(index.listed(&deployments, &listed, false), [monitor("a")]);
    // Once gone, it is not named again.
    assert!(index.listed(&deployments, &listed, false).is_empty());
    assert_eq!(index.cached(&deployments, "api"), Some(None));
}

#[test]
fn what_a_watch_knows_is_served_only_while_it_is_current() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    index.set(
        monitor("a"),
        follows(&[(&deployments, "web"), (&deployments, "gone")]),
    );
    index.seen(&deployments, "web", 1, object(3), false);
    // Before the listing ends nothing is served.
    assert_eq!(index.cached(&deployments, "web"), None);
    index.listed(&deployments, &["web".to_owned()].into(), true);
    assert_eq!(index.cached(&deployments, "web"), Some(Some(object(3))));
    // Followed, not listed: absent.
    assert_eq!(index.cached(&deployments, "gone"), Some(None));
    // Not followed: unknown.
    assert_eq!(index.cached(&deployments, "other"), None);
    index.broken(&deployments, "the watch ended");
    assert_eq!(index.cached(&deployments, "web"), None);
    assert_eq!(
        index.watched(&monitor("a")),
        Watched::Failing("the watch ended".into())
    );
    index.listing(&deployments);
    index.listed(&deployments, &["web".to_owned()].into(), false);
    assert_eq!(index.watched(&monitor("a")), Watched::Yes);
    assert_eq!(index.watched(&monitor("z")), Watched::No);
}

fn as_seen(digest: u64, replicas: u32) -> Seen {
    Seen::As {
        digest,
        object: object(replicas),
    }
}

#[test]
fn an_object_followed_after_the_listing_is_kept_from_a_read_that_agrees_with_the_watch() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    index.set(monitor("a"), follows(&[(&deployments, "web")]));
    // The watch saw api at 5 and nothing of db (not followed then).
    index.seen(&deployments, "api", 5, object(5), false);
    index.listed(
        &deployments,
        &["web".to_owned(), "api".to_owned()].into(),
        true,
    );
    index.set(
        monitor("b"),
        follows(&[(&deployments, "api"), (&deployments, "db")]),
    );
    assert_eq!(index.cached(&deployments, "api"), None);
    // A read older than the watch's view is not kept.
    index.offer(&deployments, "api", Some((4, object(4))));
    assert_eq!(index.cached(&deployments, "api"), None);
    // One that agrees is; so is an absence both agree on.
    index.offer(&deployments, "api", Some((5, object(5))));
    assert_eq!(index.cached(&deployments, "api"), Some(Some(object(5))));
    index.offer(&deployments, "db", None);
    assert_eq!(index.cached(&deployments, "db"), Some(None));
    // An offer never overrides what an event said.
    index.seen(&deployments, "api", 6, object(6), true);
    index.offer(&deployments, "api", Some((5, object(5))));
    assert_eq!(index.cached(&deployments, "api"), Some(Some(object(6))));
    // A relisting during which "cache" was followed, after the listing passed it: unknown.
    index.set(monitor("c"), follows(&[(&deployments, "cache")]));
    index.listing(&deployments);
    let relisted = ["web".to_owned(), "api".to_owned(), "cache".to_owned()].into();
    index.listed(&deployments, &relisted, false);
    assert_eq!(index.cached(&deployments, "cache"), None);
    assert_eq!(index.cached(&deployments, "api"), Some(Some(object(6))));
    assert_eq!(index.kept_bytes(), object(6).to_string().len());
}

#[test]
fn a_check_that_saw_what_a_running_watch_has_leaves_the_object_kept() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    index.set(monitor("a"), follows(&[(&deployments, "web")]));
    index.seen(&deployments, "db", 4, object(4), false);
    index.listed(
        &deployments,
        &["web".to_owned(), "db".to_owned()].into(),
        true,
    );
    let wanted = [((deployments.clone(), "db".to_owned()), as_seen(4, 4))].into();
    let changes = index.set(monitor("b"), wanted);
    assert!(changes.check.is_empty(), "{changes:?}");
    assert_eq!(index.cached(&deployments, "db"), Some(Some(object(4))));
}

#[test]
fn deleted_monitors_are_forgotten_by_retain() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    index.set(monitor("a"), follows(&[(&deployments, "web")]));
    index.set(monitor("b"), follows(&[(&key("Deployment", "pay"), "web")]));
    let changes = index.retain(|m| m.1 == "a");
    assert_eq!(changes.stop, [key("Deployment", "pay")]);
    assert_eq!(index.watches(), 1);
}

#[test]
fn an_object_changed_between_a_check_and_its_watch_names_the_monitor() {
    let mut index = Index::default();
    let deployments = key("Deployment", "shop");
    let seen = |name: &str, seen: Seen| -> HashMap<(WatchKey, String), Seen> {
        [((deployments.clone(), name.to_owned()), seen)].into()
    };
    // A new watch: the check saw web at 1; the first listing finds 2.
    index.set(monitor("a"), seen("web", as_seen(1, 1)));
    index.set(monitor("b"), seen("api", as_seen(7, 7)));
    index.seen(&deployments, "web", 2, object(2), false);
    index.seen(&deployments, "api", 7, object(7), false);
    let listed = ["web".to_owned(), "api".to_owned()].into();
    assert_eq!(index.listed(&deployments, &listed, true), [monitor("a")]);
    // A running watch: one checked when the object was absent, and it is there now, is named at
    // once; one that saw what the watch saw is not.
    index.seen(&deployments, "db", 4, object(4), true);
    let changes = index.set(monitor("c"), seen("db", Seen::Absent));
    assert_eq!(changes.check, [monitor("c")]);
    let changes = index.set(monitor("d"), seen("db", as_seen(4, 4)));
    assert!(changes.check.is_empty(), "{changes:?}");
    // Following the same again names no one.
    assert!(
        index
            .set(monitor("c"), seen("db", Seen::Absent))
            .check
            .is_empty()
    );
}
