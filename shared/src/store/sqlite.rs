//! SQLite adapter of the `ConfigStore` port: one row per webhook, its credentials sealed inside the JSON.

use async_trait::async_trait;
use rusqlite::{OptionalExtension as _, params};

use super::sqlite_cache::{DbState, DecodedConfigs};
use super::sqlite_db::{DbError, Role};
use super::{ConfigStore, SqliteDb, StoreError, next_version};
use crate::config::{WebhookConfig, WebhookId};
use crate::seal::Sealer;

/// Webhook configurations in the `webhooks` table: key columns plus the config as a JSON document whose
/// credentials are sealed by `sealer` (clear ones from older stores are read, and sealed on the next write).
/// Lookups are answered from the decoded configs while the database is unchanged (`DecodedConfigs`).
pub struct SqliteConfigStore {
    db: SqliteDb,
    sealer: Sealer,
    decoded: DecodedConfigs,
}

impl SqliteConfigStore {
    pub fn new(db: SqliteDb, sealer: Sealer) -> Self {
        Self {
            db,
            sealer,
            decoded: DecodedConfigs::default(),
        }
    }

    async fn encode(&self, config: &WebhookConfig) -> Result<String, StoreError> {
        super::seal_config(&self.sealer, config).await
    }

    async fn decode(&self, id: &str, json: &str) -> Result<WebhookConfig, StoreError> {
        super::open_config(&self.sealer, id, json).await
    }

    fn error(&self, error: DbError) -> StoreError {
        if error.is_missing_table() {
            StoreError::Missing(format!("{} (table webhooks)", self.db.name()))
        } else {
            StoreError::Backend(Box::new(error))
        }
    }
}

fn timestamp(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn version_column(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// What an `UPDATE … WHERE version = ?` that changed nothing means.
enum UpdateMiss {
    Done,
    NotFound,
    Conflict,
}

#[async_trait]
impl ConfigStore for SqliteConfigStore {
    async fn create(&self, config: &WebhookConfig) -> Result<(), StoreError> {
        let (id, json) = (config.id.to_string(), self.encode(config).await?);
        let (version, updated_at) = (version_column(config.version)?, timestamp(config.updated_at));
        let inserted = self
            .db
            .call(Role::Store, move |c| {
                let sql = "INSERT INTO webhooks (id, version, updated_at, config) VALUES (?1, ?2, ?3, ?4) \
                           ON CONFLICT (id) DO NOTHING";
                Ok(c.execute(sql, params![id, version, updated_at, json])?)
            })
            .await
            .map_err(|e| self.error(e))?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(config.id));
        }
        Ok(())
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<WebhookConfig>, StoreError> {
        // The connection is seldom busy: the state is checked here, without a trip to the blocking pool.
        if let Some(Ok(now)) = self.db.try_here(Role::Store, |c| DbState::read(c))
            && let Some(config) = self.decoded.get(id, now)
        {
            return Ok(config);
        }
        let key = id.to_string();
        let (read_at, json) = self
            .db
            .call(Role::Store, move |c| {
                let read_at = DbState::read(c)?;
                let mut statement = c.prepare_cached("SELECT config FROM webhooks WHERE id = ?1")?;
                let json = statement
                    .query_row([key], |row| row.get::<_, String>(0))
                    .optional()?;
                Ok((read_at, json))
            })
            .await
            .map_err(|e| self.error(e))?;
        let config = match json {
            Some(json) => Some(self.decode(&id.to_string(), &json).await?),
            None => None,
        };
        self.decoded.remember(*id, read_at, config.clone());
        Ok(config)
    }

    async fn list(&self) -> Result<Vec<WebhookConfig>, StoreError> {
        let rows = self
            .db
            .call(Role::Store, |c| {
                let mut statement = c.prepare_cached("SELECT id, config FROM webhooks ORDER BY id")?;
                let rows = statement
                    .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
            .map_err(|e| self.error(e))?;
        let mut configs = Vec::with_capacity(rows.len());
        for (id, json) in &rows {
            configs.push(self.decode(id, json).await?);
        }
        Ok(configs)
    }

    async fn update(&self, config: &WebhookConfig) -> Result<WebhookConfig, StoreError> {
        let next = next_version(config);
        let (id, json) = (config.id.to_string(), self.encode(&next).await?);
        let (expected, version) = (version_column(config.version)?, version_column(next.version)?);
        let updated_at = timestamp(next.updated_at);
        let outcome = self
            .db
            .call(Role::Store, move |c| {
                let tx = c.transaction()?;
                let sql = "UPDATE webhooks SET version = ?1, updated_at = ?2, config = ?3 WHERE id = ?4 AND version = ?5";
                let changed = tx.execute(sql, params![version, updated_at, json, id, expected])?;
                let outcome = if changed > 0 {
                    UpdateMiss::Done
                } else if tx.query_row("SELECT 1 FROM webhooks WHERE id = ?1", [&id], |_| Ok(())).optional()?.is_some() {
                    UpdateMiss::Conflict
                } else {
                    UpdateMiss::NotFound
                };
                tx.commit()?;
                Ok(outcome)
            })
            .await
            .map_err(|e| self.error(e))?;
        match outcome {
            UpdateMiss::Done => Ok(next),
            UpdateMiss::NotFound => Err(StoreError::NotFound(config.id)),
            UpdateMiss::Conflict => Err(StoreError::Conflict {
                id: config.id,
                expected: config.version,
            }),
        }
    }

    async fn delete(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let key = id.to_string();
        let deleted = self
            .db
            .call(Role::Store, move |c| {
                Ok(c.execute("DELETE FROM webhooks WHERE id = ?1", [key])?)
            })
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
#[path = "sqlite_cache_tests.rs"]
mod cache_tests;
