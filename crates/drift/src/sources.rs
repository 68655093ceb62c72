//! What checks read from GitHub, read once: the manifests at a commit (a commit never changes, so
//! they are kept, parse errors included, in a cache bounded in bytes) and the head of a base branch
//! (moving, so asked again at most once per interval, and conditionally: an unmoved head is a 304).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use lru::LruCache;
use prtracker_api::ManifestSource;
use prtracker_domain::Repository;
use prtracker_github::{GitHubApi, GitHubError};

use crate::{
    error::{DriftError, ManifestError},
    manifests::{DesiredObject, ParseLimits, parse_manifests},
    render::Renderer,
};

/// The objects at a commit, or why they cannot be had there (for good: it is the same commit).
pub type ObjectsAt = Arc<Result<Vec<DesiredObject>, ManifestError>>;

/// Bytes of manifests kept across every commit, by default.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

struct Cached {
    objects: ObjectsAt,
    bytes: usize,
}

/// Where manifests were read: repository, commit, path, and a chart's values files.
type Place = (String, String, String, Vec<String>);

/// Manifests by place, and the bytes they hold.
struct Entries {
    cached: LruCache<Place, Cached>,
    bytes: usize,
}

/// Manifests by (repository, commit, path).
pub struct ManifestCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
}

impl ManifestCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                cached: LruCache::unbounded(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    fn get(&self, key: &Place) -> Option<ObjectsAt> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.cached.get(key).map(|c| c.objects.clone())
    }

    fn put(&self, key: Place, objects: ObjectsAt, bytes: usize) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entries = &mut *guard;
        if let Some(old) = entries.cached.put(key, Cached { objects, bytes }) {
            entries.bytes = entries.bytes.saturating_sub(old.bytes);
        }
        entries.bytes += bytes;
        while entries.bytes > self.max_bytes && entries.cached.len() > 1 {
            match entries.cached.pop_lru() {
                Some((_, evicted)) => entries.bytes = entries.bytes.saturating_sub(evicted.bytes),
                None => break,
            }
        }
    }

    /// Entries and bytes held.
    pub fn size(&self) -> (usize, usize) {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        (entries.cached.len(), entries.bytes)
    }

    /// The objects under `source`'s path (rendered with its values) at `commit`, which may be
    /// another commit than the source's: from the cache, or read from GitHub and kept. A path
    /// absent at the commit holds no objects (a PR may add or remove the whole directory).
    pub async fn objects_at(
        &self,
        github: &dyn GitHubApi,
        source: &ManifestSource,
        commit: &str,
        limits: ParseLimits,
        renderer: &Renderer,
    ) -> Result<ObjectsAt, DriftError> {
        let (repo, path, values) = (&source.repository, source.path.as_str(), &source.values);
        let key = (
            repo.to_string(),
            commit.to_owned(),
            path.to_owned(),
            values.to_vec(),
        );
        if let Some(objects) = self.get(&key) {
            return Ok(objects);
        }
        let files = match github.read_files(repo, path, commit).await {
            Ok(files) => files,
            Err(GitHubError::NotFound { .. }) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        let read: HashSet<String> = files.iter().map(|f| f.path.clone()).collect();
        // A kustomization is built; its output is what is parsed and kept.
        let rendered = renderer
            .render(github, repo, commit, path, values, files)
            .await?;
        let objects: ObjectsAt = match rendered {
            Ok(files) => {
                let bytes = files.iter().map(|f| f.content.len()).sum::<usize>() + 256;
                let objects = Arc::new(parse_manifests(&files, limits).map(|mut objects| {
                    // A line of a tool's output is no place in the repository.
                    for object in objects.iter_mut().filter(|o| !read.contains(&o.file)) {
                        object.line = None;
                    }
                    objects
                }));
                self.put(key, objects.clone(), bytes);
                return Ok(objects);
            }
            Err(error) => Arc::new(Err(error)),
        };
        let bytes = 256;
        self.put(key, objects.clone(), bytes);
        Ok(objects)
    }
}

/// Base branch heads, asked of GitHub at most once per `max_age` per branch.
pub struct BaseHeads {
    heads: Mutex<HashMap<(String, String), (String, Instant)>>,
    max_age: Duration,
}

impl BaseHeads {
    pub fn new(max_age: Duration) -> Self {
        Self {
            heads: Mutex::new(HashMap::new()),
            max_age,
        }
    }

    /// The head of `branch`: as last seen if that is recent (and `fresh` is not asked), else from
    /// GitHub (conditionally: an unmoved head costs a 304).
    pub async fn head(
        &self,
        github: &dyn GitHubApi,
        repo: &Repository,
        branch: &str,
        fresh: bool,
    ) -> Result<String, DriftError> {
        let key = (repo.to_string().to_ascii_lowercase(), branch.to_owned());
        if !fresh
            && let Some((sha, seen)) = self
                .heads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
            && seen.elapsed() < self.max_age
        {
            return Ok(sha);
        }
        let sha = github.branch_head(repo, branch).await?;
        self.heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (sha.clone(), Instant::now()));
        Ok(sha)
    }
}
