//! The `ConfigStore` port: where webhook configurations live (memory, SQLite, DynamoDB).

mod cached;
#[cfg(feature = "dynamodb")]
pub(crate) mod dynamodb;
mod memory;
mod open;
mod spec;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use cached::{CachedConfigStore, DEFAULT_CONFIG_CACHE_TTL};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoConfigStore, create_log_table, create_webhooks_table};
pub use memory::MemoryConfigStore;
pub use open::{StoreOptions, Stores, init_stores, init_stores_with, open_stores, open_stores_with};
pub use spec::{InvalidStoreSpec, SqliteLocation, StoreSpec};
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::DbError;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConfigStore, SqliteDb};

use async_trait::async_trait;

use crate::config::{WebhookConfig, WebhookId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("webhook {0} already exists")]
    AlreadyExists(WebhookId),
    #[error("webhook {0} not found")]
    NotFound(WebhookId),
    /// The stored version is not the one the caller read: someone else updated it meanwhile.
    #[error("webhook {id} was changed concurrently (expected version {expected})")]
    Conflict { id: WebhookId, expected: u64 },
    #[error("the store {0} does not exist; create it with `bitconn store init`")]
    Missing(String),
    #[error("stored webhook {id} cannot be decoded: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("config store unavailable: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store kind was left out of this build (a cargo feature of the `bitconn` crate).
    #[error(
        "this build cannot use `{kind}` stores (built without the `{feature}` feature of the bitconn crate)"
    )]
    Unsupported {
        kind: &'static str,
        feature: &'static str,
    },
}

/// Webhook configurations by id. Implementations must make `create` refuse to overwrite and `update`
/// succeed only when the stored `version` equals the given config's `version` (it then stores `version + 1`).
#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn create(&self, config: &WebhookConfig) -> Result<(), StoreError>;
    async fn get(&self, id: &WebhookId) -> Result<Option<WebhookConfig>, StoreError>;
    async fn list(&self) -> Result<Vec<WebhookConfig>, StoreError>;
    /// Stores `config` if nobody changed it since it was read; returns what is now stored.
    async fn update(&self, config: &WebhookConfig) -> Result<WebhookConfig, StoreError>;
    /// Returns whether a webhook was deleted.
    async fn delete(&self, id: &WebhookId) -> Result<bool, StoreError>;
}

/// The new stored form of an updated config: next version, fresh timestamp.
pub fn next_version(config: &WebhookConfig) -> WebhookConfig {
    let mut next = config.clone();
    next.version = config.version + 1;
    next.updated_at = time::OffsetDateTime::now_utc();
    next
}
