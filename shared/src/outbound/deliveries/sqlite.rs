//! `DeliveryLog` on SQLite, beside the queue in the outbound database: one row per attempt, events read by
//! grouping them; entries older than the retention are neither returned nor kept.

use async_trait::async_trait;
use rusqlite::{Connection, params};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

use serde_json::Value;

use super::{
    Attempt, AttemptOutcome, DeliveryLog, DeliveryLogError, DeliveryQuery, EventSummary, StatusFilter,
};
use crate::config::WebhookId;
use crate::outbound::sqlite_worker::{SqliteWorker, shared_worker};
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

/// Columns added after the first layout, added to an older file when it is opened.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("test", "INTEGER NOT NULL DEFAULT 0"),
    ("payload", "TEXT"),
    ("request_headers", "TEXT"),
    ("job", "TEXT"),
];
const EVENT_INDEX: &str = "CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_id, seq)";
const COLUMNS: &str = "event_id, webhook_id, attempt, at_ns, url, outcome, status, duration_ms, error, response, \
                       test, payload, request_headers, job";

#[derive(Clone)]
pub struct SqliteDeliveryLog {
    /// The thread owning the outbound database's connection, shared with the queue: attempts are written in the
    /// commits the queue's acknowledgements share.
    worker: SqliteWorker,
    retention: time::Duration,
    /// When entries past the retention were last deleted (ms since the epoch).
    last_sweep: Arc<AtomicI64>,
}

/// Entries past the retention are deleted at most this often (not with every attempt).
const SWEEP_EVERY_MS: i64 = 1_000;

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
        let worker = tokio::task::spawn_blocking(move || {
            shared_worker(&location, || crate::outbound::queue::open_connection(&location))
        })
        .await
        .map_err(err)?
        .map_err(DeliveryLogError)?;
        worker
            .call(|c| {
                c.execute_batch(SCHEMA)?;
                add_columns(c)
            })
            .await
            .map_err(err)?
            .map_err(err)?;
        Ok(Self {
            worker,
            retention,
            last_sweep: Arc::default(),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, i64) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DeliveryLogError> {
        let cutoff = nanos(OffsetDateTime::now_utc() - self.retention);
        self.worker
            .call(move |c| f(c, cutoff))
            .await
            .map_err(err)?
            .map_err(err)
    }
}

fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn add_columns(connection: &Connection) -> rusqlite::Result<()> {
    let mut info = connection.prepare("SELECT name FROM pragma_table_info('deliveries')")?;
    let present: Vec<String> = info.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for (name, definition) in ADDED_COLUMNS {
        if !present.iter().any(|p| p == name) {
            connection.execute_batch(&format!("ALTER TABLE deliveries ADD COLUMN {name} {definition}"))?;
        }
    }
    connection.execute_batch(EVENT_INDEX)
}

fn decode(r: &rusqlite::Row<'_>) -> rusqlite::Result<Attempt> {
    let id: String = r.get(1)?;
    let at: i64 = r.get(3)?;
    let outcome: String = r.get(5)?;
    let duration: i64 = r.get(7)?;
    let headers: Option<String> = r.get(12)?;
    let job: Option<String> = r.get(13)?;
    Ok(Attempt {
        event_id: r.get(0)?,
        webhook_id: id.parse().unwrap_or_else(|_| WebhookId::generate()),
        attempt: r.get(2)?,
        at: from_nanos(at),
        url: r.get(4)?,
        outcome: AttemptOutcome::parse(&outcome).unwrap_or(AttemptOutcome::Skipped),
        status: r.get(6)?,
        duration_ms: u64::try_from(duration).unwrap_or(0),
        error: r.get(8)?,
        response: r.get(9)?,
        test: r.get::<_, i64>(10)? != 0,
        payload: r.get(11)?,
        request_headers: headers
            .and_then(|h| serde_json::from_str(&h).ok())
            .unwrap_or_default(),
        job: job.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

fn from_nanos(at: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[async_trait]
impl DeliveryLog for SqliteDeliveryLog {
    async fn record(&self, a: Attempt) -> Result<(), DeliveryLogError> {
        let headers = serde_json::to_string(&a.request_headers).map_err(err)?;
        let job = a.job.as_ref().map(Value::to_string);
        let now = OffsetDateTime::now_utc();
        let cutoff = nanos(now - self.retention);
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let sweep = now_ms - self.last_sweep.load(Ordering::Relaxed) >= SWEEP_EVERY_MS;
        if sweep {
            self.last_sweep.store(now_ms, Ordering::Relaxed);
        }
        let written = self.worker.grouped(move |c| -> rusqlite::Result<()> {
            if sweep {
                c.execute("DELETE FROM deliveries WHERE at_ns < ?1", params![cutoff])?;
            }
            c.prepare_cached(&format!(
                "INSERT INTO deliveries ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ))?
            .execute(params![
                a.event_id,
                a.webhook_id.to_string(),
                a.attempt,
                nanos(a.at),
                a.url,
                a.outcome.as_str(),
                a.status,
                i64::try_from(a.duration_ms).unwrap_or(i64::MAX),
                a.error,
                a.response,
                a.test,
                a.payload,
                headers,
                job
            ])?;
            Ok(())
        });
        written.await.map_err(err)?.map_err(err)
    }

    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError> {
        let webhook = webhook.map(|w| w.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |c, cutoff| {
            let mut select = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM deliveries WHERE at_ns >= ?1 AND (?2 IS NULL OR webhook_id = ?2)
                 ORDER BY at_ns DESC, seq DESC LIMIT ?3"
            ))?;
            let rows = select.query_map(params![cutoff, webhook, limit], decode)?;
            rows.collect()
        })
        .await
    }

    async fn events(&self, query: &DeliveryQuery) -> Result<Vec<EventSummary>, DeliveryLogError> {
        let webhook = query.webhook.map(|w| w.to_string());
        let from = nanos(query.oldest_kept(self.retention, OffsetDateTime::now_utc()));
        // `,delivered,dead,` style: the outcomes kept, or NULL for any. Each event shows its attempt of the
        // highest `summary_rank` (delivered first, then the latest, then the last recorded).
        let outcomes = query.status.and_then(|s| s.outcomes()).map(|list| {
            let names: Vec<&str> = list.iter().map(|o| o.as_str()).collect();
            format!(",{},", names.join(","))
        });
        let tests_only = query.status == Some(StatusFilter::Test);
        let limit = i64::try_from(query.capped_limit()).unwrap_or(i64::MAX);
        self.call(move |c, cutoff| {
            let mut select = c.prepare_cached(
                "WITH ranked AS (
                     SELECT seq, count(*) OVER event AS n, min(at_ns) OVER event AS first_ns,
                            row_number() OVER (event ORDER BY outcome = 'delivered' DESC, at_ns DESC, seq DESC)
                                AS place
                     FROM deliveries WHERE at_ns >= ?1 AND (?2 IS NULL OR webhook_id = ?2)
                     WINDOW event AS (PARTITION BY event_id))
                 SELECT d.event_id, d.webhook_id, d.outcome, d.test, last.n, last.first_ns, d.at_ns, d.url,
                        d.status, d.error
                 FROM ranked AS last JOIN deliveries d ON d.seq = last.seq
                 WHERE last.place = 1 AND d.at_ns >= ?3 AND (?4 IS NULL OR instr(?4, ',' || d.outcome || ',') > 0)
                   AND (?5 = 0 OR d.test = 1)
                 ORDER BY d.at_ns DESC, d.event_id DESC LIMIT ?6",
            )?;
            let rows = select.query_map(
                params![cutoff, webhook, from.max(cutoff), outcomes, tests_only, limit],
                |r| {
                    let id: String = r.get(1)?;
                    let outcome: String = r.get(2)?;
                    Ok(EventSummary {
                        event_id: r.get(0)?,
                        webhook_id: id.parse().unwrap_or_else(|_| WebhookId::generate()),
                        status: AttemptOutcome::parse(&outcome).unwrap_or(AttemptOutcome::Skipped),
                        test: r.get::<_, i64>(3)? != 0,
                        attempts: r.get(4)?,
                        first_at: from_nanos(r.get(5)?),
                        last_at: from_nanos(r.get(6)?),
                        url: r.get(7)?,
                        last_status: r.get(8)?,
                        last_error: r.get(9)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    async fn event(&self, event_id: &str) -> Result<Vec<Attempt>, DeliveryLogError> {
        let event_id = event_id.to_owned();
        self.call(move |c, cutoff| {
            let mut select = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM deliveries WHERE event_id = ?1 AND at_ns >= ?2 ORDER BY seq"
            ))?;
            let rows = select.query_map(params![event_id, cutoff], decode)?;
            rows.collect()
        })
        .await
    }
}
