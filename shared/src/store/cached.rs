//! `CachedConfigStore`: keeps recent reads for a few seconds, so a warm function does not read the table per call.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use super::{ConfigStore, StoreError};
use crate::config::{WebhookConfig, WebhookId};

/// How stale a cached config may be: a disabled webhook or rotated secret takes effect within this time.
pub const DEFAULT_CONFIG_CACHE_TTL: Duration = Duration::from_secs(5);
/// Most webhooks (known or unknown ids) remembered at once; beyond it expired entries, then all, are forgotten.
const MAX_CACHED_CONFIGS: usize = 1024;

/// Caches `get` results (including "no such webhook", so scans of random ids do not reach the table) for at
/// most `ttl`. Writes through this wrapper forget the entry at once; writes elsewhere show after `ttl`.
pub struct CachedConfigStore {
    inner: Arc<dyn ConfigStore>,
    ttl: Duration,
    entries: Mutex<HashMap<WebhookId, (Instant, Option<WebhookConfig>)>>,
}

impl CachedConfigStore {
    pub fn new(inner: Arc<dyn ConfigStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::default(),
        }
    }

    fn cached(&self, id: &WebhookId) -> Option<Option<WebhookConfig>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (stored_at, config) = entries.get(id)?;
        (stored_at.elapsed() < self.ttl).then(|| config.clone())
    }

    fn remember(&self, id: WebhookId, config: Option<WebhookConfig>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_CONFIGS {
            entries.retain(|_, (stored_at, _)| stored_at.elapsed() < self.ttl);
            if entries.len() >= MAX_CACHED_CONFIGS {
                entries.clear();
            }
        }
        entries.insert(id, (Instant::now(), config));
    }

    fn forget(&self, id: &WebhookId) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

#[async_trait]
impl ConfigStore for CachedConfigStore {
    async fn create(&self, config: &WebhookConfig) -> Result<(), StoreError> {
        let result = self.inner.create(config).await;
        self.forget(&config.id);
        result
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<WebhookConfig>, StoreError> {
        if self.ttl.is_zero() {
            return self.inner.get(id).await;
        }
        if let Some(config) = self.cached(id) {
            return Ok(config);
        }
        let config = self.inner.get(id).await?;
        self.remember(*id, config.clone());
        Ok(config)
    }

    async fn list(&self) -> Result<Vec<WebhookConfig>, StoreError> {
        self.inner.list().await
    }

    async fn update(&self, config: &WebhookConfig) -> Result<WebhookConfig, StoreError> {
        let result = self.inner.update(config).await;
        self.forget(&config.id);
        result
    }

    async fn delete(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let result = self.inner.delete(id).await;
        self.forget(id);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelAccess, NewWebhook, OdooConnection, Permissions};
    use crate::store::MemoryConfigStore;

    fn webhook() -> WebhookConfig {
        let new = NewWebhook {
            name: "cached".into(),
            odoo: OdooConnection {
                url: "http://odoo".into(),
                db: "db".into(),
                login: "u".into(),
                api_key: "k".into(),
            },
            models: ModelAccess::All,
            permissions: Permissions::default(),
        };
        WebhookConfig::create(new, time::OffsetDateTime::now_utc()).0
    }

    #[tokio::test(start_paused = true)]
    async fn changes_made_elsewhere_show_after_the_ttl() {
        let backing = Arc::new(MemoryConfigStore::new());
        let cached = CachedConfigStore::new(backing.clone(), Duration::from_secs(5));
        let config = webhook();
        backing.create(&config).await.unwrap();
        assert!(cached.get(&config.id).await.unwrap().unwrap().enabled);

        let mut disabled = config.clone();
        disabled.enabled = false;
        backing.update(&disabled).await.unwrap();
        tokio::time::advance(Duration::from_millis(4900)).await;
        assert!(
            cached.get(&config.id).await.unwrap().unwrap().enabled,
            "still within the TTL"
        );
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(
            !cached.get(&config.id).await.unwrap().unwrap().enabled,
            "TTL over: the change shows"
        );

        backing.delete(&config.id).await.unwrap();
        assert!(cached.get(&config.id).await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(cached.get(&config.id).await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_ids_are_cached_and_own_writes_show_at_once() {
        let backing = Arc::new(MemoryConfigStore::new());
        let cached = CachedConfigStore::new(backing.clone(), Duration::from_secs(5));
        let config = webhook();
        assert!(cached.get(&config.id).await.unwrap().is_none());
        backing.create(&config).await.unwrap();
        assert!(
            cached.get(&config.id).await.unwrap().is_none(),
            "a miss is cached too"
        );

        let other = webhook();
        assert!(cached.get(&other.id).await.unwrap().is_none());
        cached.create(&other).await.unwrap();
        let stored = cached.get(&other.id).await.unwrap().unwrap();
        let mut renamed = stored.clone();
        renamed.name = "renamed".into();
        cached.update(&renamed).await.unwrap();
        assert_eq!(cached.get(&other.id).await.unwrap().unwrap().name, "renamed");
        assert!(cached.delete(&other.id).await.unwrap());
        assert!(cached.get(&other.id).await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_ttl_disables_caching() {
        let backing = Arc::new(MemoryConfigStore::new());
        let cached = CachedConfigStore::new(backing.clone(), Duration::ZERO);
        let config = webhook();
        assert!(cached.get(&config.id).await.unwrap().is_none());
        backing.create(&config).await.unwrap();
        assert!(cached.get(&config.id).await.unwrap().is_some());
    }
}
