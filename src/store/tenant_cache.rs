//! Tenants by slug, kept for a short time so the webhook hot path does not read the store
//! on every request. `tenant apply` (often from another process) reaches a running
//! process within the time to live; secrets given as `*_file` are still read per use.
//!
//! Hand-rolled rather than `moka`: one map, a fixed time to live and a size cap are all it
//! needs, and unknown slugs are cached too so a stranger hammering `/webhook/nope/…` costs
//! no store reads either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Result, Store, Tenant};

/// Most slugs kept; past it the map starts afresh (a flood of made-up slugs cannot grow it).
const MAX_ENTRIES: usize = 10_000;

/// When a slug was read, and what it named (`None`: no such tenant).
type Entry = (Instant, Option<Arc<Tenant>>);

/// A read-through cache of [`Store::find_tenant`].
pub struct TenantCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl TenantCache {
    /// A cache keeping each answer for `ttl` (zero: always ask the store).
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The tenant called `slug`, from the cache when fresh.
    pub async fn find(&self, store: &dyn Store, slug: &str) -> Result<Option<Arc<Tenant>>> {
        if self.ttl.is_zero() {
            return Ok(store.find_tenant(slug).await?.map(Arc::new));
        }
        let now = Instant::now();
        if let Some((at, tenant)) = self.lock().get(slug)
            && now.duration_since(*at) < self.ttl
        {
            return Ok(tenant.clone());
        }
        let tenant = store.find_tenant(slug).await?.map(Arc::new);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(slug.to_string(), (now, tenant.clone()));
        Ok(tenant)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tenant::TenantFile;
    use time::OffsetDateTime;

    async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    fn tenant(name: &str) -> TenantFile {
        toml::from_str(&format!("slug = \"acme\"\nname = \"{name}\"\n[webhook]\nsecrets = [\"s\"]\n")).unwrap()
    }

    #[tokio::test]
    async fn answers_from_memory_until_the_ttl_passes() {
        let (_dir, store) = store().await;
        let cache = TenantCache::new(Duration::from_millis(150));
        assert!(cache.find(store.as_ref(), "acme").await.unwrap().is_none(), "unknown slugs are answered too");
        store.upsert_tenant(&tenant("First"), OffsetDateTime::now_utc()).await.unwrap();
        assert!(cache.find(store.as_ref(), "acme").await.unwrap().is_none(), "the miss is cached");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.find(store.as_ref(), "acme").await.unwrap().unwrap().name, "First");
        store.upsert_tenant(&tenant("Second"), OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(cache.find(store.as_ref(), "acme").await.unwrap().unwrap().name, "First", "still fresh");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(cache.find(store.as_ref(), "acme").await.unwrap().unwrap().name, "Second");
    }

    #[tokio::test]
    async fn a_zero_ttl_always_reads_the_store() {
        let (_dir, store) = store().await;
        let cache = TenantCache::new(Duration::ZERO);
        store.upsert_tenant(&tenant("First"), OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(cache.find(store.as_ref(), "acme").await.unwrap().unwrap().name, "First");
        store.upsert_tenant(&tenant("Second"), OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(cache.find(store.as_ref(), "acme").await.unwrap().unwrap().name, "Second");
    }
}
