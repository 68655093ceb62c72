//! What each watch follows, for whom, and what it last saw: pure bookkeeping, no Kubernetes
//! calls. A watch is one cluster, resource type and namespace; it follows the objects some
//! monitor's change holds, keeping a digest of each (never the object).

use std::collections::{HashMap, HashSet};

use kube::discovery::ApiResource;

/// A DriftMonitor: its namespace and name.
pub type MonitorKey = (String, String);

/// One watch: a resource type in one namespace (or cluster-wide) of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchKey {
    pub cluster: String,
    pub resource: ApiResource,
    pub namespace: Option<String>,
}

/// The watches to start and to stop after a change of interest.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub start: Vec<WatchKey>,
    pub stop: Vec<WatchKey>,
}

#[derive(Debug, Default)]
struct Watch {
    /// The monitors that follow each object, by name.
    followers: HashMap<String, HashSet<MonitorKey>>,
    /// The digest of each followed object as last seen.
    digests: HashMap<String, u64>,
    /// Whether its first listing has ended.
    listed: bool,
}

/// Every watch and every monitor's interest.
#[derive(Debug, Default)]
pub struct Index {
    watches: HashMap<WatchKey, Watch>,
    interests: HashMap<MonitorKey, HashSet<(WatchKey, String)>>,
}

impl Index {
    /// Sets the objects `monitor` follows (replacing what it followed): the watches that now
    /// have a first follower start, those left without one stop.
    pub fn set(&mut self, monitor: MonitorKey, wanted: HashSet<(WatchKey, String)>) -> Changes {
        if self
            .interests
            .get(&monitor)
            .map_or(wanted.is_empty(), |had| *had == wanted)
        {
            return Changes::default();
        }
        let before: HashSet<WatchKey> = self.watches.keys().cloned().collect();
        self.unfollow(&monitor);
        for (key, name) in &wanted {
            self.watches
                .entry(key.clone())
                .or_default()
                .followers
                .entry(name.clone())
                .or_default()
                .insert(monitor.clone());
        }
        if !wanted.is_empty() {
            self.interests.insert(monitor, wanted);
        }
        let after: HashSet<WatchKey> = self.watches.keys().cloned().collect();
        Changes {
            start: after.difference(&before).cloned().collect(),
            stop: before.difference(&after).cloned().collect(),
        }
    }

    /// `monitor` follows nothing any more: the watches left without a follower stop.
    pub fn forget(&mut self, monitor: &MonitorKey) -> Changes {
        self.set(monitor.clone(), HashSet::new())
    }

    /// Removes `monitor` as a follower, and the watches and digests no one follows any more.
    fn unfollow(&mut self, monitor: &MonitorKey) {
        let Some(followed) = self.interests.remove(monitor) else {
            return;
        };
        for (key, name) in followed {
            let Some(watch) = self.watches.get_mut(&key) else {
                continue;
            };
            if let Some(followers) = watch.followers.get_mut(&name) {
                followers.remove(monitor);
                if followers.is_empty() {
                    watch.followers.remove(&name);
                    watch.digests.remove(&name);
                }
            }
            if watch.followers.is_empty() {
                self.watches.remove(&key);
            }
        }
    }

    /// Forgets every monitor `keep` refuses (those deleted).
    pub fn retain(&mut self, keep: impl Fn(&MonitorKey) -> bool) -> Changes {
        let gone: Vec<MonitorKey> = self
            .interests
            .keys()
            .filter(|monitor| !keep(monitor))
            .cloned()
            .collect();
        let mut changes = Changes::default();
        for monitor in gone {
            changes.stop.extend(self.forget(&monitor).stop);
        }
        changes
    }

    /// Whether some monitor follows the object `name` of `key`.
    pub fn follows(&self, key: &WatchKey, name: &str) -> bool {
        self.watches
            .get(key)
            .is_some_and(|watch| watch.followers.contains_key(name))
    }

    /// An object of `key` seen with `digest`: the monitors following it, when it changed and
    /// `notify` (the first listing of a watch notifies nothing: its followers were just checked).
    pub fn seen(
        &mut self,
        key: &WatchKey,
        name: &str,
        digest: u64,
        notify: bool,
    ) -> Vec<MonitorKey> {
        let Some(watch) = self.watches.get_mut(key) else {
            return Vec::new();
        };
        let Some(followers) = watch.followers.get(name) else {
            return Vec::new();
        };
        let before = watch.digests.insert(name.to_owned(), digest);
        if notify && before != Some(digest) {
            followers.iter().cloned().collect()
        } else {
            Vec::new()
        }
    }

    /// An object of `key` was deleted: the monitors following it.
    pub fn gone(&mut self, key: &WatchKey, name: &str) -> Vec<MonitorKey> {
        let Some(watch) = self.watches.get_mut(key) else {
            return Vec::new();
        };
        watch.digests.remove(name);
        watch
            .followers
            .get(name)
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A listing after the watch broke has ended: followed objects seen before and not listed now
    /// went meanwhile.
    pub fn relisted(&mut self, key: &WatchKey, listed: &HashSet<String>) -> Vec<MonitorKey> {
        let Some(watch) = self.watches.get_mut(key) else {
            return Vec::new();
        };
        let went: Vec<String> = watch
            .digests
            .keys()
            .filter(|name| !listed.contains(*name))
            .cloned()
            .collect();
        let mut monitors = HashSet::new();
        for name in went {
            watch.digests.remove(&name);
            if let Some(followers) = watch.followers.get(&name) {
                monitors.extend(followers.iter().cloned());
            }
        }
        monitors.into_iter().collect()
    }

    /// The first listing of `key` has ended: from now on what changes names its followers.
    pub fn listed(&mut self, key: &WatchKey) {
        if let Some(watch) = self.watches.get_mut(key) {
            watch.listed = true;
        }
    }

    /// Watches running (or to run).
    pub fn watches(&self) -> usize {
        self.watches.len()
    }

    /// Watches whose first listing has ended.
    pub fn listed_watches(&self) -> usize {
        self.watches.values().filter(|w| w.listed).count()
    }

    /// Objects followed, across every watch.
    pub fn objects(&self) -> usize {
        self.watches.values().map(|w| w.followers.len()).sum()
    }
}

#[cfg(test)]
mod tests {
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

    fn follows(items: &[(&WatchKey, &str)]) -> HashSet<(WatchKey, String)> {
        items
            .iter()
            .map(|(k, n)| ((*k).clone(), (*n).to_owned()))
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

    #[test]
    fn only_a_changed_followed_object_names_its_followers_and_not_on_the_first_listing() {
        let mut index = Index::default();
        let deployments = key("Deployment", "shop");
        index.set(monitor("a"), follows(&[(&deployments, "web")]));
        index.set(monitor("b"), follows(&[(&deployments, "web")]));
        // The first listing records, notifies nothing.
        assert!(index.seen(&deployments, "web", 1, false).is_empty());
        // An object nobody follows is not even recorded.
        assert!(index.seen(&deployments, "other", 9, true).is_empty());
        // The same digest again (a status update): nothing.
        assert!(index.seen(&deployments, "web", 1, true).is_empty());
        let mut told = index.seen(&deployments, "web", 2, true);
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
        index.seen(&deployments, "web", 1, false);
        index.seen(&deployments, "api", 1, false);
        let listed: HashSet<String> = ["web".to_owned()].into();
        assert_eq!(index.relisted(&deployments, &listed), [monitor("a")]);
        // Once gone, it is not named again.
        assert!(index.relisted(&deployments, &listed).is_empty());
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
}
