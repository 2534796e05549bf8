//! The execution log port: one entry per inbound call, kept for a retention period (15 days by default).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::config::WebhookId;

/// How long entries are kept unless configured otherwise, as the original module's log does.
pub const DEFAULT_RETENTION: Duration = Duration::days(15);
/// Longest request body kept in an entry (after credentials are removed).
pub const MAX_LOGGED_BODY_BYTES: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// The caller's request was refused (4xx other than an Odoo fault).
    Rejected,
    /// Odoo answered with a fault.
    OdooError,
    /// Odoo could not be reached or timed out, or the gateway failed.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionLogEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub webhook_id: WebhookId,
    pub http_verb: String,
    pub method: Option<String>,
    pub model: Option<String>,
    pub outcome: Outcome,
    pub status: u16,
    pub duration_ms: u64,
    pub odoo_calls: u32,
    pub error_code: Option<String>,
    /// The request body, truncated to `MAX_LOGGED_BODY_BYTES`, with credentials removed.
    pub request_body: String,
}

#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    pub webhook_id: Option<WebhookId>,
    pub since: Option<OffsetDateTime>,
    pub limit: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the execution log {0} does not exist; create it with `bitconn store init`")]
    Missing(String),
    #[error("execution log unavailable: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where execution log entries go. Recording must never fail or noticeably slow the request it describes,
/// so callers hand entries over and move on (adapters may buffer and write in the background).
#[async_trait]
pub trait ExecutionLog: Send + Sync {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError>;
    /// Entries matching `query`, oldest first, never ones past their retention.
    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError>;
}

/// In-memory execution log, for tests and throwaway local runs.
#[derive(Default)]
pub struct MemoryExecutionLog {
    entries: std::sync::Mutex<Vec<ExecutionLogEntry>>,
    retention: Option<Duration>,
}

impl MemoryExecutionLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_retention(retention: Duration) -> Self {
        Self { entries: Default::default(), retention: Some(retention) }
    }
}

#[async_trait]
impl ExecutionLog for MemoryExecutionLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(entry);
        Ok(())
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        let oldest_kept = OffsetDateTime::now_utc() - self.retention.unwrap_or(DEFAULT_RETENTION);
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let matching = entries.iter().filter(|e| {
            e.at >= oldest_kept
                && query.webhook_id.is_none_or(|id| e.webhook_id == id)
                && query.since.is_none_or(|since| e.at >= since)
        });
        Ok(matching.take(query.limit.unwrap_or(usize::MAX)).cloned().collect())
    }
}
