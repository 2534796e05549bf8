//! An execution-log decorator for the Lambda hosts: it lets a request wait until its log entry is written
//! (Lambda freezes the process once the response is returned, which would strand a background write) and
//! hands the entry's summary (model, method, Odoo calls) to the request's structured log line.

use async_trait::async_trait;
use bitconn::execution_log::{ExecutionLog, ExecutionLogEntry, LogError, LogQuery};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Longest a response waits for its execution-log write; past it the write finishes in a later invocation.
pub const LOG_SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the request's log line reports about the call, taken from its execution-log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSummary {
    pub method: Option<String>,
    pub model: Option<String>,
    pub odoo_calls: u32,
    pub outcome: String,
}

pub struct ObservedLog {
    inner: Arc<dyn ExecutionLog>,
    pending: AtomicUsize,
    idle: Notify,
    finished: Mutex<Vec<CallSummary>>,
}

impl ObservedLog {
    pub fn new(inner: Arc<dyn ExecutionLog>) -> Self {
        Self {
            inner,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            finished: Mutex::default(),
        }
    }

    /// Lets entries handed over during the request start, waits (bounded) until they are handed to the log and
    /// the log is flushed, and returns their summaries. One Lambda execution environment serves one request at a
    /// time, so these are its own.
    pub async fn settle(&self, timeout: Duration) -> Vec<CallSummary> {
        tokio::task::yield_now().await;
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.pending.load(Ordering::Acquire) == 0 {
                    break;
                }
                idle.await;
            }
            self.inner.flush().await
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "execution log flush failed"),
            Err(_) => tracing::warn!("execution log write still pending after {timeout:?}"),
        }
        std::mem::take(&mut *self.finished.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl ExecutionLog for ObservedLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let summary = CallSummary {
            method: entry.method.clone(),
            model: entry.model.clone(),
            odoo_calls: entry.odoo_calls,
            outcome: format!("{:?}", entry.outcome).to_lowercase(),
        };
        let result = self.inner.record(entry).await;
        self.finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(summary);
        self.pending.fetch_sub(1, Ordering::AcqRel);
        self.idle.notify_waiters();
        result
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
    use bitconn::execution_log::{MemoryExecutionLog, Outcome};

    fn entry() -> ExecutionLogEntry {
        ExecutionLogEntry {
            at: time::OffsetDateTime::now_utc(),
            webhook_id: bitconn::config::WebhookId::generate(),
            http_verb: "POST".into(),
            method: Some("search".into()),
            model: Some("res.partner".into()),
            outcome: Outcome::Success,
            status: 200,
            duration_ms: 3,
            odoo_calls: 2,
            error_code: None,
            request_body: "{}".into(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn settle_waits_for_spawned_writes_and_reports_them() {
        let inner = Arc::new(MemoryExecutionLog::new());
        let log = Arc::new(ObservedLog::new(inner.clone()));
        let spawned = log.clone();
        tokio::spawn(async move { spawned.record(entry()).await });
        let summaries = log.settle(LOG_SETTLE_TIMEOUT).await;
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].model.as_deref(), Some("res.partner"));
        assert_eq!(summaries[0].odoo_calls, 2);
        assert_eq!(summaries[0].outcome, "success");
        assert_eq!(
            inner.query(&LogQuery::default()).await.unwrap().len(),
            1,
            "written before settle returned"
        );
        assert!(
            log.settle(LOG_SETTLE_TIMEOUT).await.is_empty(),
            "summaries are handed out once"
        );
    }
}
