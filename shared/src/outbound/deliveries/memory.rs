//! In-memory `DeliveryLog` for tests and throwaway runs; entries past the retention are neither returned nor kept.

use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use time::OffsetDateTime;

use super::{Attempt, DeliveryLog, DeliveryLogError, DeliveryQuery, EventSummary, newest_first};
use crate::config::WebhookId;
use crate::execution_log::DEFAULT_RETENTION;

/// Most attempts kept; the oldest go first.
const MAX_KEPT: usize = 10_000;

pub struct MemoryDeliveryLog {
    attempts: Mutex<VecDeque<Attempt>>,
    retention: time::Duration,
}

impl Default for MemoryDeliveryLog {
    fn default() -> Self {
        Self::with_retention(DEFAULT_RETENTION)
    }
}

impl MemoryDeliveryLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_retention(retention: time::Duration) -> Self {
        Self {
            attempts: Mutex::default(),
            retention,
        }
    }

    /// The attempts still within the retention, in the order they were recorded.
    fn kept(&self) -> Vec<Attempt> {
        let cutoff = OffsetDateTime::now_utc() - self.retention;
        let attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        attempts.iter().filter(|a| a.at >= cutoff).cloned().collect()
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn record(&self, attempt: Attempt) -> Result<(), DeliveryLogError> {
        let cutoff = OffsetDateTime::now_utc() - self.retention;
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        // Recorded in time order (nearly): what fell out of the window is at the front.
        while attempts.front().is_some_and(|a| a.at < cutoff) || attempts.len() >= MAX_KEPT {
            attempts.pop_front();
        }
        attempts.push_back(attempt);
        Ok(())
    }

    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError> {
        Ok(self
            .kept()
            .into_iter()
            .rev()
            .filter(|a| webhook.is_none_or(|w| a.webhook_id == w))
            .take(limit)
            .collect())
    }

    async fn events(&self, query: &DeliveryQuery) -> Result<Vec<EventSummary>, DeliveryLogError> {
        let from = query.oldest_kept(self.retention, OffsetDateTime::now_utc());
        let mut by_event: HashMap<String, Vec<Attempt>> = HashMap::new();
        for attempt in self.kept() {
            by_event
                .entry(attempt.event_id.clone())
                .or_default()
                .push(attempt);
        }
        let events = by_event
            .values()
            .filter_map(|attempts| EventSummary::of(attempts))
            .filter(|e| e.last_at >= from && query.keeps(e))
            .collect();
        Ok(newest_first(events, query.capped_limit()))
    }

    async fn event(&self, event_id: &str) -> Result<Vec<Attempt>, DeliveryLogError> {
        Ok(self
            .kept()
            .into_iter()
            .filter(|a| a.event_id == event_id)
            .collect())
    }
}
