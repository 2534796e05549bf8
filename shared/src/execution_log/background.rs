//! `BackgroundLog`: hands entries to a background writer so recording costs the request path almost nothing.

use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

use super::{ExecutionLog, ExecutionLogEntry, LogError, LogQuery};

/// Entries waiting for the writer before new ones are dropped (a burst the sink cannot keep up with).
pub const DEFAULT_LOG_QUEUE: usize = 4096;
/// Entries that wake the writer early; also the most written in one batch.
pub const DEFAULT_LOG_BATCH: usize = 100;
/// How long an entry may wait for the writer when traffic is light.
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_millis(200);
/// Tries at storing one batch before its entries are given up (a database locked by another process, a
/// throttled table). With the pauses below and SQLite's 1 s busy wait per try, a sink may be unavailable for
/// about 9 s without losing an entry.
pub const LOG_WRITE_ATTEMPTS: u32 = 6;
/// Pause after the first failed try; doubled after each further one (0.1, 0.2, 0.4, 0.8, 1.6 s).
pub const LOG_RETRY_FIRST_PAUSE: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
}

/// What happened to the entries handed to a `BackgroundLog` so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackgroundLogStats {
    /// Stored by the sink.
    pub written: u64,
    /// Refused because the queue was full.
    pub dropped: u64,
    /// Lost because the sink failed to store them `LOG_WRITE_ATTEMPTS` times.
    pub failed: u64,
    /// Batches tried again after a failure (whether or not a later try succeeded).
    pub retried: u64,
}

impl BackgroundLogStats {
    /// Entries that never reached the sink: refused by a full queue, or given up after every try.
    pub fn lost(&self) -> u64 {
        self.dropped + self.failed
    }
}

struct Shared {
    sink: Arc<dyn ExecutionLog>,
    pending: Mutex<Vec<ExecutionLogEntry>>,
    queue: usize,
    batch: usize,
    wake: Notify,
    /// Held while entries are being written, so `flush` also waits for a batch already in flight.
    writing: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    counters: Counters,
    first_pause: Duration,
}

impl Shared {
    /// Writes everything pending, batch by batch. Failures are counted and logged, never returned.
    async fn write_pending(&self) {
        let _writing = self.writing.lock().await;
        loop {
            let batch: Vec<_> = {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                let take = pending.len().min(self.batch);
                pending.drain(..take).collect()
            };
            if batch.is_empty() {
                return;
            }
            self.write_batch(batch).await;
        }
    }

    /// Stores one batch, trying again with doubling pauses; the entries count as failed after the last try.
    async fn write_batch(&self, batch: Vec<ExecutionLogEntry>) {
        let count = batch.len() as u64;
        let mut pause = self.first_pause;
        for attempt in 1..=LOG_WRITE_ATTEMPTS {
            let error = match self.sink.record_batch(batch.clone()).await {
                Ok(()) => {
                    self.counters.written.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Err(error) => error,
            };
            if attempt == LOG_WRITE_ATTEMPTS {
                let failed = self.counters.failed.fetch_add(count, Ordering::Relaxed) + count;
                tracing::warn!(%error, entries = count, failed_so_far = failed, "execution log entries lost after {LOG_WRITE_ATTEMPTS} tries");
                return;
            }
            self.counters.retried.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%error, entries = count, attempt, "execution log batch not stored yet; trying again");
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
}

/// Wraps a sink: `record` appends to a bounded in-memory queue (no await, no system call; when the queue is
/// full the entry is dropped and counted) and a task writes the queue in batches, every `interval` or as soon
/// as a batch is full. Queries first write what is queued, so they see every entry recorded before them.
pub struct BackgroundLog {
    shared: Arc<Shared>,
}

impl BackgroundLog {
    /// Starts the writer task on the current tokio runtime, with the default limits.
    pub fn spawn(sink: Arc<dyn ExecutionLog>) -> Self {
        Self::with_limits(sink, DEFAULT_LOG_QUEUE, DEFAULT_LOG_BATCH, DEFAULT_LOG_INTERVAL)
    }

    pub fn with_limits(sink: Arc<dyn ExecutionLog>, queue: usize, batch: usize, interval: Duration) -> Self {
        let shared = Arc::new(Shared {
            sink,
            pending: Mutex::new(Vec::new()),
            queue: queue.max(1),
            batch: batch.max(1),
            wake: Notify::new(),
            writing: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
            first_pause: LOG_RETRY_FIRST_PAUSE,
        });
        tokio::spawn(write_in_background(Arc::clone(&shared), interval));
        Self { shared }
    }

    pub fn stats(&self) -> BackgroundLogStats {
        let counters = &self.shared.counters;
        BackgroundLogStats {
            written: counters.written.load(Ordering::Relaxed),
            dropped: counters.dropped.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
        }
    }

    /// The request-path part of `record`: no await point, so callers on any thread pay only a short lock.
    pub fn enqueue(&self, entry: ExecutionLogEntry) {
        let shared = &self.shared;
        let queued = {
            let mut pending = shared.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.len() >= shared.queue {
                None
            } else {
                pending.push(entry);
                Some(pending.len())
            }
        };
        match queued {
            Some(len) if len == shared.batch => shared.wake.notify_one(),
            Some(_) => {}
            None => {
                let dropped = shared.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Warn on the 1st, 2nd, 4th, 8th… drop: visible, without a flood of warnings during an overload.
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "execution log queue full; entries dropped");
                }
            }
        }
    }
}

async fn write_in_background(shared: Arc<Shared>, interval: Duration) {
    loop {
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
        shared.write_pending().await;
        if shared.closed.load(Ordering::Acquire) {
            // Entries recorded between the last write and the close.
            shared.write_pending().await;
            return;
        }
    }
}

impl Drop for BackgroundLog {
    /// The writer stores what is still queued, then stops (as long as the runtime keeps running).
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

#[async_trait]
impl ExecutionLog for BackgroundLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        self.enqueue(entry);
        Ok(())
    }

    async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
        entries.into_iter().for_each(|entry| self.enqueue(entry));
        Ok(())
    }

    fn delivery(&self) -> Option<BackgroundLogStats> {
        Some(self.stats())
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        self.flush().await?;
        self.shared.sink.query(query).await
    }

    /// Writes everything queued so far (failures are counted, as in the background) and flushes the sink.
    async fn flush(&self) -> Result<(), LogError> {
        self.shared.write_pending().await;
        self.shared.sink.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebhookId;
    use crate::execution_log::{MemoryExecutionLog, Outcome};
    use time::OffsetDateTime;

    fn entry(id: WebhookId, n: u64) -> ExecutionLogEntry {
        ExecutionLogEntry {
            at: OffsetDateTime::now_utc(),
            webhook_id: id,
            http_verb: "POST".into(),
            method: Some("search".into()),
            model: Some("res.partner".into()),
            outcome: Outcome::Success,
            status: 200,
            duration_ms: n,
            odoo_calls: 1,
            error_code: None,
            request_body: "{}".into(),
        }
    }

    /// A sink that waits for a permit before each batch, to hold the writer deterministically.
    struct GatedSink {
        inner: MemoryExecutionLog,
        gate: tokio::sync::Semaphore,
    }

    #[async_trait]
    impl ExecutionLog for GatedSink {
        async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
            self.inner.record(entry).await
        }
        async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
            self.gate.acquire().await.map_err(LogError::backend)?.forget();
            self.inner.record_batch(entries).await
        }
        async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
            self.inner.query(query).await
        }
    }

    fn pending(log: &BackgroundLog) -> usize {
        log.shared.pending.lock().unwrap().len()
    }

    #[tokio::test]
    async fn entries_are_written_in_the_background_and_visible_after_flush() {
        let sink = Arc::new(MemoryExecutionLog::new());
        let log = BackgroundLog::spawn(sink.clone());
        let id = WebhookId::generate();
        for n in 0..250 {
            log.record(entry(id, n)).await.unwrap();
        }
        log.flush().await.unwrap();
        assert_eq!(sink.query(&LogQuery::default()).await.unwrap().len(), 250);
        assert_eq!(
            log.stats(),
            BackgroundLogStats {
                written: 250,
                dropped: 0,
                failed: 0,
                retried: 0
            }
        );
        assert_eq!(
            log.query(&LogQuery {
                limit: Some(3),
                ..LogQuery::default()
            })
            .await
            .unwrap()
            .len(),
            3
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_writer_runs_on_its_own_when_a_batch_fills_or_the_interval_ends() {
        let sink = Arc::new(MemoryExecutionLog::new());
        let log = BackgroundLog::with_limits(sink.clone(), 100, 10, Duration::from_secs(1));
        let id = WebhookId::generate();
        for n in 0..10 {
            log.enqueue(entry(id, n));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(log.stats().written, 10, "a full batch wakes the writer");
        log.enqueue(entry(id, 10));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(log.stats().written, 10);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(log.stats().written, 11, "the interval writes what is left");
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let gate = tokio::sync::Semaphore::new(0);
        let sink = Arc::new(GatedSink {
            inner: MemoryExecutionLog::new(),
            gate,
        });
        let log = BackgroundLog::with_limits(sink.clone(), 4, 2, Duration::from_secs(3600));
        let id = WebhookId::generate();
        // The first full batch wakes the writer, which takes it and waits at the gate.
        log.enqueue(entry(id, 0));
        log.enqueue(entry(id, 1));
        while pending(&log) > 0 {
            tokio::task::yield_now().await;
        }
        // The queue takes 4 more; the other 5 are dropped without waiting.
        for n in 2..=10 {
            log.enqueue(entry(id, n));
        }
        assert_eq!(log.stats().dropped, 5);
        sink.gate.add_permits(100);
        log.flush().await.unwrap();
        assert_eq!(sink.inner.query(&LogQuery::default()).await.unwrap().len(), 6);
        assert_eq!(
            log.stats(),
            BackgroundLogStats {
                written: 6,
                dropped: 5,
                failed: 0,
                retried: 0
            }
        );
    }

    /// A sink that fails its first `failures` batches, as a locked database would.
    struct FlakySink {
        inner: MemoryExecutionLog,
        failures: AtomicU64,
    }

    #[async_trait]
    impl ExecutionLog for FlakySink {
        async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
            self.inner.record(entry).await
        }
        async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
            let left = self.failures.load(Ordering::Relaxed);
            if left > 0 {
                self.failures.store(left - 1, Ordering::Relaxed);
                return Err(LogError::message("database is locked"));
            }
            self.inner.record_batch(entries).await
        }
        async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
            self.inner.query(query).await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_batch_is_tried_again_and_nothing_is_lost() {
        let sink = Arc::new(FlakySink {
            inner: MemoryExecutionLog::new(),
            failures: AtomicU64::new(u64::from(LOG_WRITE_ATTEMPTS) - 1),
        });
        let log = BackgroundLog::with_limits(sink.clone(), 100, 50, Duration::from_secs(3600));
        let id = WebhookId::generate();
        for n in 0..10 {
            log.enqueue(entry(id, n));
        }
        log.flush().await.unwrap();
        assert_eq!(sink.inner.query(&LogQuery::default()).await.unwrap().len(), 10);
        let stats = log.delivery().unwrap();
        assert_eq!(
            (stats.written, stats.lost(), stats.retried),
            (10, 0, u64::from(LOG_WRITE_ATTEMPTS) - 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_never_stores_is_counted_as_lost_after_the_last_try() {
        let sink = Arc::new(FlakySink {
            inner: MemoryExecutionLog::new(),
            failures: AtomicU64::new(u64::from(LOG_WRITE_ATTEMPTS)),
        });
        let log = BackgroundLog::with_limits(sink.clone(), 100, 50, Duration::from_secs(3600));
        let id = WebhookId::generate();
        for n in 0..3 {
            log.enqueue(entry(id, n));
        }
        let started = tokio::time::Instant::now();
        log.flush().await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(3100),
            "the pauses double from 100 ms"
        );
        let stats = log.stats();
        assert_eq!((stats.written, stats.failed, stats.lost()), (0, 3, 3));
        log.enqueue(entry(id, 3));
        log.flush().await.unwrap();
        assert_eq!(
            log.stats().written,
            1,
            "the writer goes on after giving a batch up"
        );
    }

    #[tokio::test]
    async fn dropping_the_log_writes_what_is_queued() {
        let sink = Arc::new(MemoryExecutionLog::new());
        let log = BackgroundLog::with_limits(sink.clone(), 100, 50, Duration::from_secs(3600));
        let id = WebhookId::generate();
        for n in 0..7 {
            log.enqueue(entry(id, n));
        }
        drop(log);
        for _ in 0..100 {
            if sink.query(&LogQuery::default()).await.unwrap().len() == 7 {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("queued entries were not written after drop");
    }
}
