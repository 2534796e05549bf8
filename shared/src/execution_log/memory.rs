//! In-memory execution log, for tests and throwaway local runs.

use async_trait::async_trait;
use std::sync::{Mutex, PoisonError};
use time::{Duration, OffsetDateTime};

use super::{DEFAULT_RETENTION, ExecutionLog, ExecutionLogEntry, LogError, LogQuery};

#[derive(Default)]
pub struct MemoryExecutionLog {
    entries: Mutex<Vec<ExecutionLogEntry>>,
    retention: Option<Duration>,
}

impl MemoryExecutionLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_retention(retention: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            retention: Some(retention),
        }
    }

    fn retention(&self) -> Duration {
        self.retention.unwrap_or(DEFAULT_RETENTION)
    }
}

#[async_trait]
impl ExecutionLog for MemoryExecutionLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        let now = OffsetDateTime::now_utc();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest_kept = now - self.retention();
        entries.retain(|e| e.at >= oldest_kept);
        // Keep time order even when entries arrive late (batched writers).
        let at = entries.partition_point(|e| e.at <= entry.at);
        entries.insert(at, entry);
        Ok(())
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        let oldest_kept = query.oldest_kept(self.retention(), OffsetDateTime::now_utc());
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let matching = entries
            .iter()
            .filter(|e| e.at >= oldest_kept && query.webhook_id.is_none_or(|id| e.webhook_id == id));
        Ok(matching
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }
}
