//! `Queue` on SQLite for `bitconn serve`: one table in its own connection (WAL, so a commit survives the process
//! being killed), leases as tokens checked on every ack, retry and dead-letter.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _, params};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{DEDUP_WINDOW, DeadJob, Job, Queue, QueueError, Receipt, Received, duration_millis, millis};
use crate::outbound::sqlite_worker::{SqliteWorker, shared_worker};
use crate::store::SqliteLocation;

/// How long a write waits for another writer (the delivery log on the same file) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbound_queue (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT UNIQUE,
    job         TEXT NOT NULL,
    state       TEXT NOT NULL,
    visible_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease       TEXT,
    finished_at INTEGER,
    reason      TEXT,
    grp         TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS outbound_queue_ready ON outbound_queue (state, visible_at, id);
CREATE INDEX IF NOT EXISTS outbound_queue_finished ON outbound_queue (state, finished_at);
";
/// Added after the first release of the table: ordering groups (`Queue::enqueue_in`).
const GROUP_COLUMN: &str = "ALTER TABLE outbound_queue ADD COLUMN grp TEXT";
const GROUP_INDEX: &str = "CREATE INDEX IF NOT EXISTS outbound_queue_group ON outbound_queue (grp, state, id) WHERE grp IS NOT NULL";
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;
/// Finished jobs' dedup keys are forgotten at most this often (not on every enqueue).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct SqliteQueue {
    /// The thread owning the database's connection, shared with the delivery log: concurrent enqueues and
    /// acknowledgements (and attempts logged) share one commit.
    worker: SqliteWorker,
    /// When the last sweep of finished jobs ran (ms since the epoch).
    last_sweep: Arc<std::sync::atomic::AtomicI64>,
}

/// A connection to an outbound database file (created 0600, WAL).
pub(crate) fn open_connection(location: &SqliteLocation) -> Result<Connection, String> {
    let connection = match location {
        SqliteLocation::InMemory => Connection::open_in_memory().map_err(|e| e.to_string())?,
        SqliteLocation::File(path) => {
            crate::store::make_private(path)?;
            Connection::open(path).map_err(|e| e.to_string())?
        }
    };
    connection.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    // Every statement the queue and the delivery log run stays prepared (the default keeps 16).
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .map_err(|e| e.to_string())?;
    Ok(connection)
}

fn backend(e: impl std::fmt::Display) -> QueueError {
    QueueError::Backend(e.to_string())
}

impl SqliteQueue {
    pub async fn open(location: &SqliteLocation) -> Result<Self, QueueError> {
        let location = location.clone();
        let worker =
            tokio::task::spawn_blocking(move || shared_worker(&location, || open_connection(&location)))
                .await
                .map_err(backend)?
                .map_err(QueueError::Backend)?;
        worker
            .call(|c| {
                c.execute_batch(SCHEMA)?;
                if c.prepare("SELECT grp FROM outbound_queue LIMIT 0").is_err() {
                    c.execute_batch(GROUP_COLUMN)?;
                }
                c.execute_batch(GROUP_INDEX)
            })
            .await
            .map_err(backend)?
            .map_err(backend)?;
        Ok(Self {
            worker,
            last_sweep: Arc::default(),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        self.worker.call(f).await.map_err(backend)?
    }

    /// Runs `f` in a transaction shared with the writes waiting beside it; answers once that one committed.
    async fn grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        self.worker.grouped(f).await.map_err(backend)?
    }

    /// Runs `change` on the job `receipt` leases, if the lease still holds.
    async fn on_lease(
        &self,
        receipt: &Receipt,
        sql: &'static str,
        value: Option<String>,
        at: i64,
    ) -> Result<(), QueueError> {
        let receipt = receipt.clone();
        self.grouped(move |tx| {
            let now = millis(SystemTime::now());
            let Ok(id) = receipt.message_id.parse::<i64>() else {
                return Err(QueueError::LeaseLost(receipt.message_id));
            };
            let changed = tx
                .prepare_cached(sql)
                .and_then(|mut update| update.execute(params![at, value, id, receipt.lease, now]))
                .map_err(backend)?;
            if changed == 0 {
                return Err(QueueError::LeaseLost(receipt.message_id));
            }
            Ok(())
        })
        .await
    }
}

fn decode(text: &str) -> Result<Job, QueueError> {
    serde_json::from_str(text).map_err(|e| QueueError::Corrupt(e.to_string()))
}

/// Forgets the dedup keys of jobs that finished before `cutoff` (done ones are deleted, dead ones kept).
fn sweep(tx: &rusqlite::Transaction<'_>, cutoff: i64) -> Result<(), QueueError> {
    tx.execute(
        "DELETE FROM outbound_queue WHERE state = 'done' AND finished_at < ?1",
        params![cutoff],
    )
    .map_err(backend)?;
    tx.execute(
        "UPDATE outbound_queue SET dedup_key = NULL WHERE state = 'dead' AND finished_at < ?1 AND dedup_key IS NOT NULL",
        params![cutoff],
    )
    .map_err(backend)?;
    Ok(())
}

/// Every lease check: the id, the lease token, and the lease not yet expired.
macro_rules! leased {
    () => {
        " WHERE id = ?3 AND lease = ?4 AND state = 'ready' AND visible_at > ?5"
    };
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn enqueue_in(
        &self,
        dedup_key: &str,
        job: &Job,
        not_before: SystemTime,
        group: Option<&str>,
    ) -> Result<bool, QueueError> {
        let text = serde_json::to_string(job).map_err(|e| QueueError::Corrupt(e.to_string()))?;
        let key = dedup_key.to_owned();
        let group = group.map(str::to_owned);
        let last_sweep = self.last_sweep.clone();
        self.grouped(move |tx| {
            use std::sync::atomic::Ordering;
            let now = millis(SystemTime::now());
            let cutoff = now - duration_millis(DEDUP_WINDOW);
            let swept = last_sweep.load(Ordering::Relaxed);
            if now - swept >= duration_millis(SWEEP_EVERY) {
                last_sweep.store(now, Ordering::Relaxed);
                sweep(tx, cutoff)?;
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO outbound_queue (dedup_key, job, state, visible_at, grp)
                     VALUES (?1, ?2, 'ready', ?3, ?4)",
                )
                .and_then(|mut insert| insert.execute(params![key, text, millis(not_before), group]))
                .map_err(backend)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn receive(&self, max: usize, lease: Duration) -> Result<Vec<Received>, QueueError> {
        let max = i64::try_from(max.min(super::MAX_RECEIVE)).unwrap_or(1);
        self.call(move |c| {
            let now = millis(SystemTime::now());
            let until = now.saturating_add(duration_millis(lease));
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let rows: Vec<(i64, String, u32)> = {
                let mut select = tx
                    .prepare_cached(
                        "SELECT id, job, attempts FROM outbound_queue AS q WHERE state = 'ready' AND visible_at <= ?1
                         AND (grp IS NULL OR id = (SELECT MIN(id) FROM outbound_queue
                                                   WHERE grp = q.grp AND state = 'ready'))
                         ORDER BY visible_at, id LIMIT ?2",
                    )
                    .map_err(backend)?;
                select
                    .query_map(params![now, max], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(backend)?
                    .collect::<Result<_, _>>()
                    .map_err(backend)?
            };
            let mut out = Vec::with_capacity(rows.len());
            let mut lease = tx
                .prepare_cached(
                    "UPDATE outbound_queue SET lease = ?1, visible_at = ?2, attempts = attempts + 1 WHERE id = ?3",
                )
                .map_err(backend)?;
            for (id, text, attempts) in rows {
                let token = uuid::Uuid::new_v4().simple().to_string();
                lease.execute(params![token, until, id]).map_err(backend)?;
                match decode(&text) {
                    Ok(job) => out.push(Received {
                        receipt: Receipt {
                            message_id: id.to_string(),
                            lease: token,
                        },
                        job,
                        attempt: attempts + 1,
                    }),
                    Err(e) => {
                        tracing::error!(message = id, error = %e, "undecodable job dead-lettered");
                        tx.execute(
                            "UPDATE outbound_queue SET state = 'dead', finished_at = ?1, reason = ?2 WHERE id = ?3",
                            params![now, e.to_string(), id],
                        )
                        .map_err(backend)?;
                    }
                }
            }
            drop(lease);
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        let now = millis(SystemTime::now());
        self.on_lease(
            receipt,
            concat!(
                "UPDATE outbound_queue SET state = 'done', finished_at = ?1, lease = ?2",
                leased!()
            ),
            None,
            now,
        )
        .await
    }

    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        let at = millis(SystemTime::now()).saturating_add(duration_millis(delay));
        self.on_lease(
            receipt,
            concat!("UPDATE outbound_queue SET visible_at = ?1, lease = ?2", leased!()),
            None,
            at,
        )
        .await
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<(), QueueError> {
        let now = millis(SystemTime::now());
        self.on_lease(
            receipt,
            concat!(
                "UPDATE outbound_queue SET state = 'dead', finished_at = ?1, reason = ?2",
                leased!()
            ),
            Some(reason.to_owned()),
            now,
        )
        .await
    }

    async fn dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |c| {
            let mut select = c
                .prepare_cached(
                    "SELECT id, job, attempts, reason FROM outbound_queue WHERE state = 'dead'
                     ORDER BY finished_at, id LIMIT ?1",
                )
                .map_err(backend)?;
            let rows: Vec<(i64, String, u32, Option<String>)> = select
                .query_map(params![limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(id, text, attempts, reason)| {
                    Ok(DeadJob {
                        message_id: id.to_string(),
                        handle: id.to_string(),
                        job: decode(&text)?,
                        attempts,
                        reason: reason.unwrap_or_default(),
                    })
                })
                .collect()
        })
        .await
    }

    /// A removed dead job becomes a finished one: its dedup key is still remembered until the window ends.
    async fn remove_dead(&self, handle: &str) -> Result<(), QueueError> {
        let Ok(id) = handle.parse::<i64>() else {
            return Err(QueueError::LeaseLost(handle.to_owned()));
        };
        self.grouped(move |tx| {
            tx.execute(
                "UPDATE outbound_queue SET state = 'done' WHERE id = ?1 AND state = 'dead'",
                params![id],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

impl SqliteQueue {
    /// Makes every leased job visible at once: `bitconn serve` is the file's only consumer, so at its start
    /// any lease left belongs to a process that died, and its jobs need not wait for the lease to end.
    pub async fn release_leases(&self) -> Result<u64, QueueError> {
        self.call(|c| {
            let now = millis(SystemTime::now());
            c.execute(
                "UPDATE outbound_queue SET visible_at = ?1, lease = NULL WHERE state = 'ready' AND lease IS NOT NULL",
                params![now],
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }

    /// Jobs not yet acknowledged or dead (for tests and `serve`'s shutdown report).
    pub async fn pending(&self) -> Result<u64, QueueError> {
        self.call(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM outbound_queue WHERE state = 'ready'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|n| u64::try_from(n.unwrap_or(0)).unwrap_or(0))
            .map_err(backend)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(event_id: &str) -> Job {
        Job::Deliver {
            event_id: event_id.into(),
            webhook_id: crate::config::WebhookId::generate(),
            model: "res.partner".parse().unwrap(),
            ids: vec![1],
            event: None,
            extra: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_enqueues_grouped_in_one_commit_keep_every_job_once() {
        let dir = tempfile::tempdir().unwrap();
        let location = SqliteLocation::File(dir.path().join("outbound.db"));
        let queue = SqliteQueue::open(&location).await.unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let key = format!("evt_{}", i % 100);
                    queue.enqueue(&key, &job(&key), SystemTime::now()).await.unwrap()
                })
            })
            .collect();
        let mut inserted = 0;
        for task in tasks {
            inserted += usize::from(task.await.unwrap());
        }
        assert_eq!(inserted, 100, "each dedup key queued once");
        drop(queue);
        let reopened = SqliteQueue::open(&location).await.unwrap();
        assert_eq!(
            reopened.pending().await.unwrap(),
            100,
            "every answered enqueue was committed"
        );
    }
}
