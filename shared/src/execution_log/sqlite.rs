//! SQLite adapter of the execution log: rows in the `execution_log` table, expired rows swept on write.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use std::sync::Mutex;
use std::sync::PoisonError;
use time::{Duration, OffsetDateTime};
use tokio::time::Instant;

use super::{DEFAULT_RETENTION, ExecutionLog, ExecutionLogEntry, LogError, LogQuery, Outcome};
use crate::store::{DbError, Role, SqliteDb};

/// How often at most a write also deletes expired rows (one indexed range delete).
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

const INSERT: &str = "INSERT INTO execution_log (webhook_id, at_ns, http_verb, method, model, outcome, status, \
                      duration_ms, odoo_calls, error_code, request_body) \
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
const COLUMNS: &str = "webhook_id, at_ns, http_verb, method, model, outcome, status, duration_ms, odoo_calls, \
                       error_code, request_body";

pub struct SqliteExecutionLog {
    db: SqliteDb,
    retention: Duration,
    last_sweep: Mutex<Option<Instant>>,
}

impl SqliteExecutionLog {
    pub fn new(db: SqliteDb) -> Self {
        Self::with_retention(db, DEFAULT_RETENTION)
    }

    pub fn with_retention(db: SqliteDb, retention: Duration) -> Self {
        Self {
            db,
            retention,
            last_sweep: Mutex::new(None),
        }
    }

    fn error(&self, error: DbError) -> LogError {
        if error.is_missing_table() {
            LogError::Missing(format!("{} (table execution_log)", self.db.name()))
        } else {
            LogError::backend(error)
        }
    }

    /// True at most once per `SWEEP_INTERVAL`.
    fn sweep_due(&self) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|at| at.elapsed() >= SWEEP_INTERVAL);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

/// Nanoseconds since the epoch: sortable, exact, and fits an i64 until 2262.
fn to_ns(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(if at.year() < 1970 { i64::MIN } else { i64::MAX })
}

fn insert(connection: &Connection, entry: &ExecutionLogEntry) -> Result<(), DbError> {
    let mut statement = connection.prepare_cached(INSERT)?;
    statement.execute(params![
        entry.webhook_id.to_string(),
        to_ns(entry.at),
        entry.http_verb,
        entry.method,
        entry.model,
        entry.outcome.as_str(),
        entry.status,
        i64::try_from(entry.duration_ms).unwrap_or(i64::MAX),
        entry.odoo_calls,
        entry.error_code,
        entry.request_body,
    ])?;
    Ok(())
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<ExecutionLogEntry, String>> {
    let webhook_id: String = row.get(0)?;
    let at_ns: i64 = row.get(1)?;
    let outcome: String = row.get(5)?;
    let duration_ms: i64 = row.get(7)?;
    let decoded = (|| {
        Ok(ExecutionLogEntry {
            at: OffsetDateTime::from_unix_timestamp_nanos(at_ns.into()).map_err(|e| e.to_string())?,
            webhook_id: webhook_id
                .parse()
                .map_err(|e: crate::config::InvalidId| e.to_string())?,
            http_verb: row.get(2).map_err(|e| e.to_string())?,
            method: row.get(3).map_err(|e| e.to_string())?,
            model: row.get(4).map_err(|e| e.to_string())?,
            outcome: Outcome::from_stored(&outcome).ok_or_else(|| format!("unknown outcome `{outcome}`"))?,
            status: row.get(6).map_err(|e| e.to_string())?,
            duration_ms: u64::try_from(duration_ms).unwrap_or(0),
            odoo_calls: row.get(8).map_err(|e| e.to_string())?,
            error_code: row.get(9).map_err(|e| e.to_string())?,
            request_body: row.get(10).map_err(|e| e.to_string())?,
        })
    })();
    Ok(decoded)
}

#[async_trait]
impl ExecutionLog for SqliteExecutionLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        self.record_batch(vec![entry]).await
    }

    async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
        let sweep_before = self
            .sweep_due()
            .then(|| to_ns(OffsetDateTime::now_utc() - self.retention));
        self.db
            .call(Role::LogWrite, move |c| {
                let tx = c.transaction()?;
                for entry in &entries {
                    insert(&tx, entry)?;
                }
                if let Some(cutoff) = sweep_before {
                    tx.execute("DELETE FROM execution_log WHERE at_ns < ?1", [cutoff])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
            .map_err(|e| self.error(e))
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        let from = to_ns(query.oldest_kept(self.retention, OffsetDateTime::now_utc()));
        let webhook = query.webhook_id.map(|id| id.to_string());
        // SQLite reads a negative LIMIT as "no limit".
        let limit = query.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self
            .db
            .call(Role::LogRead, move |c| {
                let rows = match webhook {
                    Some(webhook) => {
                        let sql = format!(
                            "SELECT {COLUMNS} FROM execution_log WHERE webhook_id = ?1 AND at_ns >= ?2 \
                             ORDER BY at_ns, seq LIMIT ?3"
                        );
                        let mut statement = c.prepare_cached(&sql)?;
                        statement.query_map(params![webhook, from, limit], read_row)?.collect::<Result<Vec<_>, _>>()?
                    }
                    None => {
                        let sql = format!(
                            "SELECT {COLUMNS} FROM execution_log WHERE at_ns >= ?1 ORDER BY at_ns, seq LIMIT ?2"
                        );
                        let mut statement = c.prepare_cached(&sql)?;
                        statement.query_map(params![from, limit], read_row)?.collect::<Result<Vec<_>, _>>()?
                    }
                };
                Ok(rows)
            })
            .await
            .map_err(|e| self.error(e))?;
        rows.into_iter()
            .map(|row| {
                row.map_err(|reason| {
                    LogError::message(format!("stored execution log entry cannot be decoded: {reason}"))
                })
            })
            .collect()
    }
}
