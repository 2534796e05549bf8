//! In-memory `ConfigStore`, for unit tests of handlers and for throwaway local runs.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::{ConfigStore, StoreError, next_version};
use crate::config::{WebhookConfig, WebhookId};

#[derive(Default)]
pub struct MemoryConfigStore {
    configs: Mutex<BTreeMap<WebhookId, WebhookConfig>>,
}

impl MemoryConfigStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<WebhookId, WebhookConfig>) -> T) -> T {
        let mut guard = self.configs.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

#[async_trait]
impl ConfigStore for MemoryConfigStore {
    async fn create(&self, config: &WebhookConfig) -> Result<(), StoreError> {
        self.with(|configs| {
            if configs.contains_key(&config.id) {
                return Err(StoreError::AlreadyExists(config.id));
            }
            configs.insert(config.id, config.clone());
            Ok(())
        })
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<WebhookConfig>, StoreError> {
        Ok(self.with(|configs| configs.get(id).cloned()))
    }

    async fn list(&self) -> Result<Vec<WebhookConfig>, StoreError> {
        Ok(self.with(|configs| configs.values().cloned().collect()))
    }

    async fn update(&self, config: &WebhookConfig) -> Result<WebhookConfig, StoreError> {
        self.with(|configs| {
            let stored = configs
                .get_mut(&config.id)
                .ok_or(StoreError::NotFound(config.id))?;
            if stored.version != config.version {
                return Err(StoreError::Conflict {
                    id: config.id,
                    expected: config.version,
                });
            }
            *stored = next_version(config);
            Ok(stored.clone())
        })
    }

    async fn delete(&self, id: &WebhookId) -> Result<bool, StoreError> {
        Ok(self.with(|configs| configs.remove(id).is_some()))
    }
}
