//! `DeliveryLog` on SQLite, beside the queue in the outbound database; entries older than the retention are
//! neither returned nor kept.

use async_trait::async_trait;
use rusqlite::{Connection, params};
use std::sync::{Arc, Mutex, PoisonError};
use time::OffsetDateTime;

use super::{Attempt, AttemptOutcome, DeliveryLog, DeliveryLogError};
use crate::config::WebhookId;
use crate::store::SqliteLocation;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at_ns       INTEGER NOT NULL,
    url         TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT,
    response    TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, at_ns);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (at_ns);
";

#[derive(Clone)]
pub struct SqliteDeliveryLog {
    connection: Arc<Mutex<Connection>>,
    retention: time::Duration,
}

fn err(e: impl std::fmt::Display) -> DeliveryLogError {
    DeliveryLogError(e.to_string())
}

impl SqliteDeliveryLog {
    /// Opens (creating) the log in the outbound database at `location`; `retention` as the execution log's.
    pub async fn open(
        location: &SqliteLocation,
        retention: time::Duration,
    ) -> Result<Self, DeliveryLogError> {
        let location = location.clone();
        let connection = tokio::task::spawn_blocking(move || {
            let connection = crate::outbound::queue::shared_connection(&location)?;
            let open = connection.lock().unwrap_or_else(PoisonError::into_inner);
            open.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
            drop(open);
            Ok::<_, String>(connection)
        })
        .await
        .map_err(err)?
        .map_err(DeliveryLogError)?;
        Ok(Self {
            connection,
            retention,
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, i64) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DeliveryLogError> {
        let connection = self.connection.clone();
        let cutoff = nanos(OffsetDateTime::now_utc() - self.retention);
        tokio::task::spawn_blocking(move || {
            f(&connection.lock().unwrap_or_else(PoisonError::into_inner), cutoff)
        })
        .await
        .map_err(err)?
        .map_err(err)
    }
}

fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

#[async_trait]
impl DeliveryLog for SqliteDeliveryLog {
    async fn record(&self, a: Attempt) -> Result<(), DeliveryLogError> {
        self.call(move |c, cutoff| {
            c.execute("DELETE FROM deliveries WHERE at_ns < ?1", params![cutoff])?;
            c.execute(
                "INSERT INTO deliveries (event_id, webhook_id, attempt, at_ns, url, outcome, status, duration_ms, error, response)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    a.event_id,
                    a.webhook_id.to_string(),
                    a.attempt,
                    nanos(a.at),
                    a.url,
                    a.outcome.as_str(),
                    a.status,
                    i64::try_from(a.duration_ms).unwrap_or(i64::MAX),
                    a.error,
                    a.response
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError> {
        let webhook = webhook.map(|w| w.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |c, cutoff| {
            let mut select = c.prepare_cached(
                "SELECT event_id, webhook_id, attempt, at_ns, url, outcome, status, duration_ms, error, response
                 FROM deliveries WHERE at_ns >= ?1 AND (?2 IS NULL OR webhook_id = ?2)
                 ORDER BY at_ns DESC, seq DESC LIMIT ?3",
            )?;
            let rows = select.query_map(params![cutoff, webhook, limit], |r| {
                let id: String = r.get(1)?;
                let at: i64 = r.get(3)?;
                let outcome: String = r.get(5)?;
                let duration: i64 = r.get(7)?;
                Ok(Attempt {
                    event_id: r.get(0)?,
                    webhook_id: id.parse().unwrap_or_else(|_| WebhookId::generate()),
                    attempt: r.get(2)?,
                    at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(at))
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    url: r.get(4)?,
                    outcome: AttemptOutcome::parse(&outcome).unwrap_or(AttemptOutcome::Skipped),
                    status: r.get(6)?,
                    duration_ms: u64::try_from(duration).unwrap_or(0),
                    error: r.get(8)?,
                    response: r.get(9)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
