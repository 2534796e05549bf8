//! `BackgroundLog`: hands entries to a background writer so recording costs the request path almost nothing.

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

use super::{ExecutionLog, ExecutionLogEntry, LogError, LogQuery};

/// Entries waiting for the writer before new ones are dropped (a burst the sink cannot keep up with).
pub const DEFAULT_LOG_QUEUE: usize = 4096;
/// Most entries written in one batch (DynamoDB's `BatchWriteItem` takes 25 items per request).
pub const DEFAULT_LOG_BATCH: usize = 100;

enum Message {
    Entry(ExecutionLogEntry),
    /// Answered once every entry queued before it is written (or has failed).
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// What happened to the entries handed to a `BackgroundLog` so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackgroundLogStats {
    /// Stored by the sink.
    pub written: u64,
    /// Refused because the queue was full (or the writer had stopped).
    pub dropped: u64,
    /// Lost because the sink failed to store them.
    pub failed: u64,
}

/// Wraps a sink: `record` only queues (never blocks, never fails; when the queue is full the entry is dropped and
/// counted), and a task writes queued entries in batches. Queries read the sink after the queue is written.
pub struct BackgroundLog {
    sink: Arc<dyn ExecutionLog>,
    sender: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

impl BackgroundLog {
    /// Starts the writer task on the current tokio runtime, with the default queue and batch sizes.
    pub fn spawn(sink: Arc<dyn ExecutionLog>) -> Self {
        Self::with_limits(sink, DEFAULT_LOG_QUEUE, DEFAULT_LOG_BATCH)
    }

    pub fn with_limits(sink: Arc<dyn ExecutionLog>, queue: usize, batch: usize) -> Self {
        let (sender, receiver) = mpsc::channel(queue.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(write_batches(
            Arc::clone(&sink),
            receiver,
            batch.max(1),
            Arc::clone(&counters),
        ));
        Self {
            sink,
            sender,
            counters,
        }
    }

    pub fn stats(&self) -> BackgroundLogStats {
        BackgroundLogStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

async fn write_batches(
    sink: Arc<dyn ExecutionLog>,
    mut receiver: mpsc::Receiver<Message>,
    batch: usize,
    counters: Arc<Counters>,
) {
    let mut entries = Vec::with_capacity(batch);
    let mut waiters = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Entry(entry) => entries.push(entry),
                Message::Flush(waiter) => {
                    waiters.push(waiter);
                    break;
                }
            }
            if entries.len() < batch {
                next = receiver.try_recv().ok();
            }
        }
        if !entries.is_empty() {
            let count = entries.len() as u64;
            match sink.record_batch(std::mem::take(&mut entries)).await {
                Ok(()) => counters.written.fetch_add(count, Ordering::Relaxed),
                Err(error) => {
                    tracing::warn!(%error, entries = count, "execution log entries could not be stored");
                    counters.failed.fetch_add(count, Ordering::Relaxed)
                }
            };
            entries = Vec::with_capacity(batch);
        }
        for waiter in waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

#[async_trait]
impl ExecutionLog for BackgroundLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        if self.sender.try_send(Message::Entry(entry)).is_err() {
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Warn on the 1st, 2nd, 4th, 8th… drop: visible, but no flood of warnings during an overload.
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "execution log queue full; entries dropped");
            }
        }
        Ok(())
    }

    async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
        for entry in entries {
            self.record(entry).await?;
        }
        Ok(())
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        self.flush().await?;
        self.sink.query(query).await
    }

    async fn flush(&self) -> Result<(), LogError> {
        let (waiter, done) = oneshot::channel();
        let stopped = || LogError::message("the execution log writer has stopped");
        self.sender
            .send(Message::Flush(waiter))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?;
        self.sink.flush().await
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

    /// A sink that waits for a signal before each batch, to fill the queue deterministically.
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
            for entry in entries {
                self.inner.record(entry).await?;
            }
            Ok(())
        }
        async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
            self.inner.query(query).await
        }
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
                failed: 0
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

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let sink = Arc::new(GatedSink {
            inner: MemoryExecutionLog::new(),
            gate: tokio::sync::Semaphore::new(0),
        });
        let log = BackgroundLog::with_limits(sink.clone(), 4, 2);
        let id = WebhookId::generate();
        // The writer takes the first batch and waits at the gate; the queue then holds 4 more; the rest drop.
        log.record(entry(id, 0)).await.unwrap();
        tokio::task::yield_now().await;
        while log.sender.capacity() < 4 {
            tokio::task::yield_now().await;
        }
        for n in 1..=10 {
            log.record(entry(id, n)).await.unwrap();
        }
        assert_eq!(log.stats().dropped, 6);
        sink.gate.add_permits(100);
        log.flush().await.unwrap();
        assert_eq!(sink.inner.query(&LogQuery::default()).await.unwrap().len(), 5);
        assert_eq!(
            log.stats(),
            BackgroundLogStats {
                written: 5,
                dropped: 6,
                failed: 0
            }
        );
    }
}
