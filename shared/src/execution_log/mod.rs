//! The execution log port: one entry per inbound call, kept for a retention period (15 days by default).

mod background;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod memory;
mod redact;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use background::{
    BackgroundLog, BackgroundLogStats, DEFAULT_LOG_BATCH, DEFAULT_LOG_INTERVAL, DEFAULT_LOG_QUEUE,
    LOG_RETRY_FIRST_PAUSE, LOG_WRITE_ATTEMPTS,
};
#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoExecutionLog;
pub use memory::MemoryExecutionLog;
pub use redact::{REDACTED, redact_and_truncate, redact_json, redact_value};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteExecutionLog;

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

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Rejected => "rejected",
            Self::OdooError => "odoo_error",
            Self::Failed => "failed",
        }
    }

    /// Reads back what `as_str` wrote into a store.
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "rejected" => Some(Self::Rejected),
            "odoo_error" => Some(Self::OdooError),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
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

impl LogQuery {
    /// The oldest time an answer may contain: `since`, but never before the retention window.
    pub fn oldest_kept(&self, retention: Duration, now: OffsetDateTime) -> OffsetDateTime {
        let window_start = now - retention;
        self.since.map_or(window_start, |since| since.max(window_start))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the execution log {0} does not exist; create it with `bitconn store init`")]
    Missing(String),
    #[error("execution log unavailable: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
impl LogError {
    pub(crate) fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }

    pub(crate) fn message(message: impl Into<String>) -> Self {
        Self::Backend(message.into().into())
    }
}

/// Where execution log entries go. Recording must never fail or noticeably slow the request it describes,
/// so callers hand entries over and move on (adapters may buffer and write in the background).
#[async_trait]
pub trait ExecutionLog: Send + Sync {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError>;
    /// Entries matching `query`, oldest first, never ones past their retention.
    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError>;

    /// Several entries at once; adapters with a cheaper bulk write (one transaction, one batch request) override it.
    async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
        for entry in entries {
            self.record(entry).await?;
        }
        Ok(())
    }

    /// Waits until everything recorded so far is stored (buffering adapters; a no-op for the others).
    async fn flush(&self) -> Result<(), LogError> {
        Ok(())
    }

    /// What happened to the entries recorded so far — written, dropped, given up — for a log that buffers
    /// (`BackgroundLog`); `None` for sinks that answer every `record` themselves.
    fn delivery(&self) -> Option<BackgroundLogStats> {
        None
    }
}
