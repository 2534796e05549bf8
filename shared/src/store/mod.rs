//! The `ConfigStore` port: where webhook configurations live (memory, SQLite, DynamoDB).

mod cached;
#[cfg(feature = "dynamodb")]
pub(crate) mod dynamodb;
mod memory;
mod open;
mod spec;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_cache;
#[cfg(feature = "sqlite")]
mod sqlite_db;

pub use cached::{CachedConfigStore, DEFAULT_CONFIG_CACHE_TTL};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoConfigStore, create_log_table, create_webhooks_table};
pub use memory::MemoryConfigStore;
#[cfg(feature = "dynamodb")]
pub use open::open_dynamodb_deliveries;
pub use open::{StoreOptions, Stores, init_stores, init_stores_with, open_stores, open_stores_with};
#[cfg(feature = "kms")]
pub use open::{aws_http_client, aws_sdk_config};
pub use spec::{InvalidStoreSpec, SqliteLocation, StoreSpec};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteConfigStore;
#[cfg(feature = "sqlite")]
pub use sqlite_db::SqliteDb;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite_db::{DbError, Role, make_private};

use async_trait::async_trait;

use crate::config::{WebhookConfig, WebhookId};
use crate::seal::{Sealer, open_document, seal_document};

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
    /// A stored credential could not be sealed or opened (no key configured, wrong key, altered value).
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
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

/// The stored JSON of `config`, its credentials sealed: what the SQLite and DynamoDB adapters write.
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) async fn seal_config(sealer: &Sealer, config: &WebhookConfig) -> Result<String, StoreError> {
    let mut document = serde_json::to_value(config).map_err(|e| StoreError::Backend(Box::new(e)))?;
    seal_document(sealer, &config.id.to_string(), &mut document).await?;
    serde_json::to_string(&document).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// A stored JSON config with its credentials opened; clear ones (older stores) are read as they are.
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) async fn open_config(sealer: &Sealer, id: &str, json: &str) -> Result<WebhookConfig, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        id: id.to_owned(),
        reason,
    };
    let mut document: serde_json::Value = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    let clear = open_document(sealer, id, &mut document).await?;
    if clear > 0 {
        tracing::debug!(
            webhook = id,
            "stored credentials in clear; they are sealed on the next write"
        );
    }
    serde_json::from_value(document).map_err(|e| corrupt(e.to_string()))
}
