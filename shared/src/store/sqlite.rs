//! SQLite adapter of the `ConfigStore` port, and the database handle the SQLite execution log shares.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _, params};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{ConfigStore, SqliteLocation, StoreError, next_version};
use crate::config::{WebhookConfig, WebhookId};

/// How long a write waits for another process holding the database lock (e.g. the CLI while `serve` runs).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Bumped when the schema changes; stored in `PRAGMA user_version`.
const SCHEMA_VERSION: u32 = 1;
/// Both tables; `IF NOT EXISTS` makes opening an existing database a no-op.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
    id         TEXT PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    config     TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS execution_log (
    seq          INTEGER PRIMARY KEY,
    webhook_id   TEXT NOT NULL,
    at_ns        INTEGER NOT NULL,
    http_verb    TEXT NOT NULL,
    method       TEXT,
    model        TEXT,
    outcome      TEXT NOT NULL,
    status       INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    odoo_calls   INTEGER NOT NULL,
    error_code   TEXT,
    request_body TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS execution_log_by_webhook ON execution_log (webhook_id, at_ns);
CREATE INDEX IF NOT EXISTS execution_log_by_time ON execution_log (at_ns);
";

/// Why a database call failed, before it is turned into the caller's port error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("the SQLite worker stopped: {0}")]
    Worker(String),
    #[error("cannot open {name}: {source}")]
    Open { name: String, source: rusqlite::Error },
}

impl DbError {
    /// A table was dropped or the file replaced after it was opened.
    pub(crate) fn is_missing_table(&self) -> bool {
        self.to_string().contains("no such table")
    }
}

/// One SQLite connection (WAL mode) shared by the config store and the execution log of the same database.
/// Calls run on tokio's blocking pool, so the async runtime never waits on disk.
#[derive(Clone)]
pub struct SqliteDb {
    connection: Arc<Mutex<Connection>>,
    name: Arc<str>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database and its schema.
    pub async fn open(location: &SqliteLocation) -> Result<Self, StoreError> {
        let location = location.clone();
        let name: Arc<str> = match &location {
            SqliteLocation::InMemory => "SQLite database :memory:".into(),
            SqliteLocation::File(path) => format!("SQLite database {}", path.display()).into(),
        };
        let connection = tokio::task::spawn_blocking(move || open_connection(&location))
            .await
            .map_err(|e| StoreError::Backend(Box::new(DbError::Worker(e.to_string()))))?
            .map_err(|source| {
                StoreError::Backend(Box::new(DbError::Open {
                    name: name.to_string(),
                    source,
                }))
            })?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            name,
        })
    }

    /// What error messages call this database.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut connection)
        })
        .await
        .map_err(|e| DbError::Worker(e.to_string()))?
    }
}

fn open_connection(location: &SqliteLocation) -> rusqlite::Result<Connection> {
    let connection = match location {
        SqliteLocation::InMemory => Connection::open_in_memory()?,
        SqliteLocation::File(path) => Connection::open(path)?,
    };
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers (the CLI's `logs`) never block the writer; NORMAL sync is durable across application crashes.
    connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    connection.execute_batch(SCHEMA)?;
    connection.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
    Ok(connection)
}

/// Webhook configurations in the `webhooks` table: key columns plus the config as a JSON document.
pub struct SqliteConfigStore {
    db: SqliteDb,
}

impl SqliteConfigStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    fn error(&self, error: DbError) -> StoreError {
        if error.is_missing_table() {
            StoreError::Missing(format!("{} (table webhooks)", self.db.name()))
        } else {
            StoreError::Backend(Box::new(error))
        }
    }
}

fn encode(config: &WebhookConfig) -> Result<String, StoreError> {
    serde_json::to_string(config).map_err(|e| StoreError::Backend(Box::new(e)))
}

fn decode(id: &str, json: &str) -> Result<WebhookConfig, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
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
        let (id, json) = (config.id.to_string(), encode(config)?);
        let (version, updated_at) = (version_column(config.version)?, timestamp(config.updated_at));
        let inserted = self
            .db
            .call(move |c| {
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
        let key = id.to_string();
        let json = self
            .db
            .call(move |c| {
                let mut statement = c.prepare_cached("SELECT config FROM webhooks WHERE id = ?1")?;
                Ok(statement
                    .query_row([key], |row| row.get::<_, String>(0))
                    .optional()?)
            })
            .await
            .map_err(|e| self.error(e))?;
        json.map(|json| decode(&id.to_string(), &json)).transpose()
    }

    async fn list(&self) -> Result<Vec<WebhookConfig>, StoreError> {
        let rows = self
            .db
            .call(|c| {
                let mut statement = c.prepare_cached("SELECT id, config FROM webhooks ORDER BY id")?;
                let rows = statement
                    .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(|(id, json)| decode(id, json)).collect()
    }

    async fn update(&self, config: &WebhookConfig) -> Result<WebhookConfig, StoreError> {
        let next = next_version(config);
        let (id, json) = (config.id.to_string(), encode(&next)?);
        let (expected, version) = (version_column(config.version)?, version_column(next.version)?);
        let updated_at = timestamp(next.updated_at);
        let outcome = self
            .db
            .call(move |c| {
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
            .call(move |c| Ok(c.execute("DELETE FROM webhooks WHERE id = ?1", [key])?))
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted > 0)
    }
}
