//! An execution-log decorator for the Lambda hosts: it hands each entry's summary (model, method, Odoo calls)
//! to the request's structured log line, and flushes the log before the response is returned (Lambda freezes
//! the process once it is, which would strand entries still queued for a background write).

use async_trait::async_trait;
use bitconn::execution_log::{ExecutionLog, ExecutionLogEntry, LogError, LogQuery};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Longest a response waits for the execution log to flush; past it the write finishes in a later invocation.
pub const LOG_SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the request's log line reports about the call, taken from its execution-log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSummary {
    pub method: Option<String>,
    pub model: Option<String>,
    pub odoo_calls: u32,
    pub outcome: &'static str,
}

pub struct ObservedLog {
    inner: Arc<dyn ExecutionLog>,
    recorded: Mutex<Vec<CallSummary>>,
}

impl ObservedLog {
    pub fn new(inner: Arc<dyn ExecutionLog>) -> Self {
        Self {
            inner,
            recorded: Mutex::default(),
        }
    }

    /// Flushes the log (bounded by `timeout`) and returns the summaries of the entries recorded since the last
    /// call. The gateway awaits `record` before it answers, so a request's entries are all here once it has
    /// answered; one Lambda execution environment serves one request at a time, so they are its own.
    pub async fn settle(&self, timeout: Duration) -> Vec<CallSummary> {
        match tokio::time::timeout(timeout, self.inner.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "execution log flush failed"),
            Err(_) => tracing::warn!("execution log write still pending after {timeout:?}"),
        }
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl ExecutionLog for ObservedLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        let summary = CallSummary {
            method: entry.method.clone(),
            model: entry.model.clone(),
            odoo_calls: entry.odoo_calls,
            outcome: entry.outcome.as_str(),
        };
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(summary);
        self.inner.record(entry).await
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        self.inner.query(query).await
    }

    async fn flush(&self) -> Result<(), LogError> {
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitconn::execution_log::{BackgroundLog, MemoryExecutionLog, Outcome};

    fn entry() -> ExecutionLogEntry {
        ExecutionLogEntry {
            at: time::OffsetDateTime::now_utc(),
            webhook_id: bitconn::config::WebhookId::generate(),
            http_verb: "POST".into(),
            method: Some("search".into()),
            model: Some("res.partner".into()),
            outcome: Outcome::OdooError,
            status: 200,
            duration_ms: 3,
            odoo_calls: 2,
            error_code: None,
            request_body: "{}".into(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn settle_flushes_queued_writes_and_reports_them_once() {
        let sink = Arc::new(MemoryExecutionLog::new());
        // A writer that would not run on its own during the test: only the flush in `settle` stores the entry.
        let queued = BackgroundLog::with_limits(sink.clone(), 10, 10, Duration::from_secs(3600));
        let log = ObservedLog::new(Arc::new(queued));
        log.record(entry()).await.unwrap();
        assert!(sink.query(&LogQuery::default()).await.unwrap().is_empty());
        let summaries = log.settle(LOG_SETTLE_TIMEOUT).await;
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].model.as_deref(), Some("res.partner"));
        assert_eq!(summaries[0].method.as_deref(), Some("search"));
        assert_eq!(summaries[0].odoo_calls, 2);
        assert_eq!(summaries[0].outcome, "odoo_error");
        assert_eq!(
            sink.query(&LogQuery::default()).await.unwrap().len(),
            1,
            "written before settle returned"
        );
        assert!(
            log.settle(LOG_SETTLE_TIMEOUT).await.is_empty(),
            "summaries are handed out once"
        );
    }

    /// A sink whose flush never finishes, like a store that stopped answering.
    struct StuckSink(MemoryExecutionLog);

    #[async_trait]
    impl ExecutionLog for StuckSink {
        async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
            self.0.record(entry).await
        }
        async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
            self.0.query(query).await
        }
        async fn flush(&self) -> Result<(), LogError> {
            std::future::pending().await
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn settle_gives_up_on_a_stuck_flush_after_the_timeout() {
        let log = ObservedLog::new(Arc::new(StuckSink(MemoryExecutionLog::new())));
        log.record(entry()).await.unwrap();
        let started = tokio::time::Instant::now();
        let summaries = log.settle(LOG_SETTLE_TIMEOUT).await;
        assert_eq!(started.elapsed(), LOG_SETTLE_TIMEOUT);
        assert_eq!(
            summaries.len(),
            1,
            "summaries are reported even when the flush times out"
        );
    }
}
