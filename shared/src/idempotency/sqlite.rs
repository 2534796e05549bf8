//! SQLite adapter of the `IdempotencyStore` port: one row per webhook and key, expired rows swept.

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{OptionalExtension as _, Row, params};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

use super::{
    IdempotencyKey, IdempotencyStore, Record, State, StoredResponse, from_millis, millis, state_name,
};
use crate::store::{DbError, Role, SqliteDb, StoreError};

/// The table, created when the store is opened; `IF NOT EXISTS` makes that a no-op on an existing database.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS idempotency_keys (
    webhook_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    token        TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,
    status       INTEGER,
    content_type TEXT,
    body         BLOB,
    code         TEXT,
    message      TEXT,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, key)
) STRICT;
CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys (expires_ms);
";
/// Expired rows are deleted by a reservation at most this often (milliseconds).
const SWEEP_EVERY_MS: i64 = 60_000;
/// A reservation that finds a row, which is then released before it is read, tries again this many times.
const RESERVE_ATTEMPTS: usize = 3;
const COLUMNS: &str = "webhook_id, key, token, fingerprint, state, status, content_type, body, code, message, created_ms, expires_ms";

/// Keys in the `idempotency_keys` table of the SQLite database the config store uses (its store connection).
pub struct SqliteIdempotencyStore {
    db: SqliteDb,
    last_sweep_ms: Arc<AtomicI64>,
}

impl SqliteIdempotencyStore {
    /// Creates the table if needed.
    pub async fn open(db: SqliteDb) -> Result<Self, StoreError> {
        let store = Self {
            db,
            last_sweep_ms: Arc::new(AtomicI64::new(0)),
        };
        store
            .db
            .call(Role::Store, |c| Ok(c.execute_batch(SCHEMA)?))
            .await
            .map_err(|e| store.error(e))?;
        Ok(store)
    }

    fn error(&self, error: DbError) -> StoreError {
        if error.is_missing_table() {
            StoreError::Missing(format!("{} (table idempotency_keys)", self.db.name()))
        } else {
            StoreError::Backend(Box::new(error))
        }
    }
}

/// The nullable columns of a state: status, content type, body, code, message.
type StateColumns = (
    Option<u16>,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
);

fn state_columns(state: &State) -> (&'static str, StateColumns) {
    match state {
        State::InProgress => (state_name::IN_PROGRESS, (None, None, None, None, None)),
        State::Done(r) => (
            state_name::DONE,
            (
                Some(r.status),
                Some(r.content_type.clone()),
                Some(r.body.to_vec()),
                None,
                None,
            ),
        ),
        State::Blocked { code, message } => (
            state_name::BLOCKED,
            (None, None, None, Some(code.clone()), Some(message.clone())),
        ),
    }
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Record, String>> {
    let webhook_id: String = row.get(0)?;
    let key: String = row.get(1)?;
    let state: String = row.get(4)?;
    let status: Option<u16> = row.get(5)?;
    let content_type: Option<String> = row.get(6)?;
    let body: Option<Vec<u8>> = row.get(7)?;
    let code: Option<String> = row.get(8)?;
    let message: Option<String> = row.get(9)?;
    let (token, fingerprint, created_ms, expires_ms) = (row.get(2)?, row.get(3)?, row.get(10)?, row.get(11)?);
    Ok((|| {
        let state = match (state.as_str(), status, content_type, body) {
            (state_name::IN_PROGRESS, ..) => State::InProgress,
            (state_name::DONE, Some(status), Some(content_type), Some(body)) => State::Done(StoredResponse {
                status,
                content_type,
                body: Bytes::from(body),
            }),
            (state_name::BLOCKED, ..) => State::Blocked {
                code: code.unwrap_or_default(),
                message: message.unwrap_or_default(),
            },
            (other, ..) => return Err(format!("unknown or incomplete state {other:?}")),
        };
        Ok(Record {
            webhook_id: webhook_id
                .parse()
                .map_err(|_| format!("bad webhook id {webhook_id:?}"))?,
            key: IdempotencyKey::parse(key.as_bytes()).map_err(|e| e.to_string())?,
            token,
            fingerprint,
            state,
            created_at: from_millis(created_ms),
            expires_at: from_millis(expires_ms),
        })
    })())
}

/// The columns that name a reservation: webhook, key, token.
fn slot(record: &Record) -> (String, String, String) {
    (
        record.webhook_id.to_string(),
        record.key.as_str().to_owned(),
        record.token.clone(),
    )
}

fn corrupt(key: &IdempotencyKey, reason: String) -> StoreError {
    StoreError::Corrupt {
        id: format!("idempotency key {key}"),
        reason,
    }
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn reserve(&self, claim: &Record) -> Result<Option<Record>, StoreError> {
        let now = millis(OffsetDateTime::now_utc());
        let sweep = now - self.last_sweep_ms.load(Ordering::Relaxed) >= SWEEP_EVERY_MS;
        if sweep {
            self.last_sweep_ms.store(now, Ordering::Relaxed);
        }
        let (state, columns) = state_columns(&claim.state);
        let (webhook_id, key) = (claim.webhook_id.to_string(), claim.key.as_str().to_owned());
        let (token, fingerprint) = (claim.token.clone(), claim.fingerprint.clone());
        let (created, expires) = (millis(claim.created_at), millis(claim.expires_at));
        let found = self
            .db
            .call(Role::Store, move |c| {
                if sweep {
                    c.execute("DELETE FROM idempotency_keys WHERE expires_ms <= ?1", [now])?;
                }
                for _ in 0..RESERVE_ATTEMPTS {
                    // Inserts, or takes over an expired row; an unexpired row is left alone (no change).
                    let changed = c.execute(
                        &format!(
                            "INSERT INTO idempotency_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                             ON CONFLICT (webhook_id, key) DO UPDATE SET token = excluded.token,
                                 fingerprint = excluded.fingerprint, state = excluded.state, status = excluded.status,
                                 content_type = excluded.content_type, body = excluded.body, code = excluded.code,
                                 message = excluded.message, created_ms = excluded.created_ms,
                                 expires_ms = excluded.expires_ms
                             WHERE idempotency_keys.expires_ms <= ?13"
                        ),
                        params![
                            webhook_id, key, token, fingerprint, state, columns.0, columns.1, columns.2,
                            columns.3, columns.4, created, expires, now
                        ],
                    )?;
                    if changed == 1 {
                        return Ok(None);
                    }
                    let existing = c
                        .query_row(
                            &format!("SELECT {COLUMNS} FROM idempotency_keys WHERE webhook_id = ?1 AND key = ?2"),
                            params![webhook_id, key],
                            decode,
                        )
                        .optional()?;
                    if let Some(existing) = existing {
                        return Ok(Some(existing));
                    }
                }
                Err(DbError::Worker("the key kept changing while it was reserved".into()))
            })
            .await
            .map_err(|e| self.error(e))?;
        match found {
            None => Ok(None),
            Some(Ok(record)) => Ok(Some(record)),
            Some(Err(reason)) => Err(corrupt(&claim.key, reason)),
        }
    }

    async fn settle(&self, record: &Record) -> Result<(), StoreError> {
        let (name, columns) = state_columns(&record.state);
        let (webhook_id, key, token) = slot(record);
        self.db
            .call(Role::Store, move |c| {
                c.execute(
                    "UPDATE idempotency_keys SET state = ?1, status = ?2, content_type = ?3, body = ?4, code = ?5,
                         message = ?6 WHERE webhook_id = ?7 AND key = ?8 AND token = ?9",
                    params![name, columns.0, columns.1, columns.2, columns.3, columns.4, webhook_id, key, token],
                )?;
                Ok(())
            })
            .await
            .map_err(|e| self.error(e))
    }

    async fn release(&self, record: &Record) -> Result<(), StoreError> {
        let (webhook_id, key, token) = slot(record);
        self.db
            .call(Role::Store, move |c| {
                c.execute(
                    "DELETE FROM idempotency_keys WHERE webhook_id = ?1 AND key = ?2 AND token = ?3",
                    params![webhook_id, key, token],
                )?;
                Ok(())
            })
            .await
            .map_err(|e| self.error(e))
    }
}
