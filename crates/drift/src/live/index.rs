//! What each watch follows, for whom, and what it last saw: pure bookkeeping, no Kubernetes
//! calls. A watch is one cluster, resource type and namespace; it follows the objects some
//! monitor's change holds, keeping of each a digest and the object as a check compares it
//! (without status and the server's bookkeeping), so that a check the watch starts is served
//! from here and not from the apiserver.
//!
//! A monitor starts following an object with how its check saw it (a digest, or absent); where
//! the watch has seen it otherwise since (at once when the watch runs, else when its listing
//! ends), the monitor is named: an edit made between a check and its watch is not missed.
//!
//! What is known of a followed object is current only while its watch is: from the end of a
//! listing until the watch breaks. An object followed after its watch listed it is known from how
//! the monitor's check saw it, or from a later read ([`Index::offer`]), when that is what the
//! watch has (the digests agree); else it is unknown until an event names it.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use kube::discovery::ApiResource;
use serde_json::Value;

use crate::compare::Seen;

/// A DriftMonitor: its namespace and name.
pub type MonitorKey = (String, String);

/// One watch: a resource type in one namespace (or cluster-wide) of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchKey {
    pub cluster: String,
    pub resource: ApiResource,
    pub namespace: Option<String>,
}

/// The watches to start and to stop after a change of interest, and the monitors to check at
/// once: a watch already running found their objects changed since their check saw them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub start: Vec<WatchKey>,
    pub stop: Vec<WatchKey>,
    pub check: Vec<MonitorKey>,
}

/// What a watch knows of one followed object.
#[derive(Debug, Clone)]
enum Known {
    Present {
        digest: u64,
        object: Arc<Value>,
        /// Its JSON's length: what keeping it costs, roughly.
        bytes: usize,
    },
    Absent,
}

impl Known {
    fn present(digest: u64, object: Arc<Value>) -> Self {
        let bytes = object.to_string().len();
        Self::Present {
            digest,
            object,
            bytes,
        }
    }
}

/// Whether a monitor's objects are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// Every watch it needs has listed and runs: an edit names it at once.
    Yes,
    /// Some watch it needs has not listed yet.
    Starting,
    /// Some watch it needs failed, for this reason; it is being retried.
    Failing(String),
    /// It follows nothing.
    No,
}

#[derive(Debug, Default)]
struct Watch {
    /// The monitors that follow each object, by name.
    followers: HashMap<String, HashSet<MonitorKey>>,
    /// What is known of each followed object.
    known: HashMap<String, Known>,
    /// Followed objects nothing is known of yet.
    unknown: HashSet<String>,
    /// The digest of every object the watch saw (followed or not), to compare with how a check
    /// saw an object that starts being followed.
    digests: HashMap<String, u64>,
    /// Monitors that started following an object while the watch was not current, with how
    /// their check saw it: compared when the listing ends.
    pending: HashMap<String, Vec<(MonitorKey, Seen)>>,
    /// Whether its first listing has ended.
    listed: bool,
    /// Whether what it knows is current: a listing ended and the watch has not broken since.
    current: bool,
    /// Why it last failed, until it lists again.
    failing: Option<String>,
}

/// Every watch and every monitor's interest.
#[derive(Debug, Default)]
pub struct Index {
    watches: HashMap<WatchKey, Watch>,
    interests: HashMap<MonitorKey, HashSet<(WatchKey, String)>>,
}

impl Index {
    /// Sets the objects `monitor` follows (replacing what it followed), each with how its check
    /// saw it: the watches that now have a first follower start, those left without one stop,
    /// and where a running watch has seen an object change since, the monitor is to be checked.
    pub fn set(
        &mut self,
        monitor: MonitorKey,
        wanted: HashMap<(WatchKey, String), Seen>,
    ) -> Changes {
        let keys: HashSet<(WatchKey, String)> = wanted.keys().cloned().collect();
        let had = self.interests.get(&monitor).cloned().unwrap_or_default();
        if had == keys {
            return Changes::default();
        }
        let before: HashSet<WatchKey> = self.watches.keys().cloned().collect();
        self.unfollow(&monitor);
        let mut check = false;
        for ((key, name), seen) in &wanted {
            let watch = self.watches.entry(key.clone()).or_default();
            if !watch.known.contains_key(name) {
                watch.unknown.insert(name.clone());
            }
            if !had.contains(&(key.clone(), name.clone())) {
                if !watch.current {
                    watch
                        .pending
                        .entry(name.clone())
                        .or_default()
                        .push((monitor.clone(), seen.clone()));
                } else if seen.differs_from(watch.digests.get(name).copied()) {
                    check = true;
                } else if watch.unknown.remove(name) {
                    // What the check saw is what the watch has: kept, to serve the next check.
                    let known = match seen {
                        Seen::As { digest, object } => {
                            Some(Known::present(*digest, object.clone()))
                        }
                        Seen::Absent => Some(Known::Absent),
                        Seen::Unknown => None,
                    };
                    match known {
                        Some(known) => {
                            watch.known.insert(name.clone(), known);
                        }
                        None => {
                            watch.unknown.insert(name.clone());
                        }
                    }
                }
            }
            watch
                .followers
                .entry(name.clone())
                .or_default()
                .insert(monitor.clone());
        }
        if !keys.is_empty() {
            self.interests.insert(monitor.clone(), keys);
        }
        let after: HashSet<WatchKey> = self.watches.keys().cloned().collect();
        Changes {
            start: after.difference(&before).cloned().collect(),
            stop: before.difference(&after).cloned().collect(),
            check: if check { vec![monitor] } else { Vec::new() },
        }
    }

    /// `monitor` follows nothing any more: the watches left without a follower stop.
    pub fn forget(&mut self, monitor: &MonitorKey) -> Changes {
        self.set(monitor.clone(), HashMap::new())
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
            if let Some(pending) = watch.pending.get_mut(&name) {
                pending.retain(|(m, _)| m != monitor);
            }
            if let Some(followers) = watch.followers.get_mut(&name) {
                followers.remove(monitor);
                if followers.is_empty() {
                    watch.followers.remove(&name);
                    watch.known.remove(&name);
                    watch.unknown.remove(&name);
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

    /// An object of `key` seen with `digest`, kept as `object` when followed: the monitors
    /// following it, when it changed and `notify` (the first listing of a watch notifies no one
    /// by itself: its followers' checks saw their objects, compared when the listing ends).
    pub fn seen(
        &mut self,
        key: &WatchKey,
        name: &str,
        digest: u64,
        object: Arc<Value>,
        notify: bool,
    ) -> Vec<MonitorKey> {
        let Some(watch) = self.watches.get_mut(key) else {
            return Vec::new();
        };
        watch.digests.insert(name.to_owned(), digest);
        let Some(followers) = watch.followers.get(name) else {
            return Vec::new();
        };
        watch.unknown.remove(name);
        let before = watch
            .known
            .insert(name.to_owned(), Known::present(digest, object));
        let changed = !matches!(before, Some(Known::Present { digest: d, .. }) if d == digest);
        if notify && changed {
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
        let Some(followers) = watch.followers.get(name) else {
            return Vec::new();
        };
        watch.unknown.remove(name);
        watch.known.insert(name.to_owned(), Known::Absent);
        followers.iter().cloned().collect()
    }

    /// A listing of `key` begins: until it ends, what the watch knows is not current.
    pub fn listing(&mut self, key: &WatchKey) {
        if let Some(watch) = self.watches.get_mut(key) {
            watch.current = false;
        }
    }

    /// A listing of `key` has ended, having named `listed`: followed objects it did not name are
    /// absent; those seen before went meanwhile, and their followers are returned (unless this is
    /// the watch's `first` listing). From now on what changes names its followers.
    pub fn listed(
        &mut self,
        key: &WatchKey,
        listed: &HashSet<String>,
        first: bool,
    ) -> Vec<MonitorKey> {
        let Some(watch) = self.watches.get_mut(key) else {
            return Vec::new();
        };
        let went: Vec<String> = watch
            .known
            .iter()
            .filter(|(name, known)| {
                matches!(known, Known::Present { .. }) && !listed.contains(*name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        // Followed before the listing passed them, and not there: absent. One named by the
        // listing but still unknown was followed after the listing passed it.
        let absent: Vec<String> = watch
            .unknown
            .iter()
            .filter(|name| !listed.contains(*name))
            .cloned()
            .collect();
        let mut monitors = HashSet::new();
        for name in went {
            watch.known.insert(name.clone(), Known::Absent);
            if let Some(followers) = watch.followers.get(&name)
                && !first
            {
                monitors.extend(followers.iter().cloned());
            }
        }
        for name in absent {
            watch.unknown.remove(&name);
            watch.known.insert(name, Known::Absent);
        }
        watch.digests.retain(|name, _| listed.contains(name));
        // Monitors that started following during the break (or before the first listing), whose
        // object is no longer what their check saw.
        for (name, pending) in watch.pending.drain() {
            let now = watch.digests.get(&name).copied();
            monitors.extend(
                pending
                    .into_iter()
                    .filter(|(_, seen)| seen.differs_from(now))
                    .map(|(monitor, _)| monitor),
            );
        }
        watch.listed = true;
        watch.current = true;
        watch.failing = None;
        monitors.into_iter().collect()
    }

    /// The watch of `key` failed: what it knows is no longer current.
    pub fn broken(&mut self, key: &WatchKey, why: &str) {
        if let Some(watch) = self.watches.get_mut(key) {
            watch.current = false;
            watch.failing = Some(why.to_owned());
        }
    }

    /// Every monitor following an object of `key`.
    pub fn followers(&self, key: &WatchKey) -> Vec<MonitorKey> {
        let Some(watch) = self.watches.get(key) else {
            return Vec::new();
        };
        let monitors: HashSet<MonitorKey> = watch.followers.values().flatten().cloned().collect();
        monitors.into_iter().collect()
    }

    /// What the watch of `key` knows of `name`: `None` when nothing current is known (not
    /// followed, not listed, broken, or followed since), `Some(None)` when it is absent.
    pub fn cached(&self, key: &WatchKey, name: &str) -> Option<Option<Arc<Value>>> {
        let watch = self.watches.get(key)?;
        if !watch.current || watch.unknown.contains(name) {
            return None;
        }
        match watch.known.get(name)? {
            Known::Present { object, .. } => Some(Some(object.clone())),
            Known::Absent => Some(None),
        }
    }

    /// What a read of the apiserver found of `name` (`None`: not there): kept when the object is
    /// still unknown, its watch is current, and it is what the watch has (same digest, or absent
    /// for both), so no event the watch skipped can be newer.
    pub fn offer(&mut self, key: &WatchKey, name: &str, found: Option<(u64, Arc<Value>)>) {
        let Some(watch) = self.watches.get_mut(key) else {
            return;
        };
        let now = watch.digests.get(name).copied();
        if !watch.current || !watch.unknown.contains(name) || found.as_ref().map(|f| f.0) != now {
            return;
        }
        watch.unknown.remove(name);
        let known = match found {
            Some((digest, object)) => Known::present(digest, object),
            None => Known::Absent,
        };
        watch.known.insert(name.to_owned(), known);
    }

    /// Whether the objects `monitor` follows are watched.
    pub fn watched(&self, monitor: &MonitorKey) -> Watched {
        let Some(followed) = self.interests.get(monitor) else {
            return Watched::No;
        };
        let mut state = Watched::Yes;
        for (key, _) in followed {
            let Some(watch) = self.watches.get(key) else {
                continue;
            };
            if let Some(why) = &watch.failing {
                return Watched::Failing(why.clone());
            }
            if !watch.current {
                state = Watched::Starting;
            }
        }
        state
    }

    /// Watches running (or to run).
    pub fn watches(&self) -> usize {
        self.watches.len()
    }

    /// Watches that failed and have not listed again since.
    pub fn failing_watches(&self) -> usize {
        self.watches
            .values()
            .filter(|w| w.failing.is_some())
            .count()
    }

    /// Watches whose first listing has ended.
    pub fn listed_watches(&self) -> usize {
        self.watches.values().filter(|w| w.listed).count()
    }

    /// Objects followed, across every watch.
    pub fn objects(&self) -> usize {
        self.watches.values().map(|w| w.followers.len()).sum()
    }

    /// Bytes of the objects kept, roughly (their JSON's length).
    pub fn kept_bytes(&self) -> usize {
        self.watches
            .values()
            .flat_map(|w| w.known.values())
            .map(|known| match known {
                Known::Present { bytes, .. } => *bytes,
                Known::Absent => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests;
