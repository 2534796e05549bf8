//! In-memory `DeliveryLog` for tests and throwaway runs.

use async_trait::async_trait;
use std::sync::{Mutex, PoisonError};

use super::{Attempt, DeliveryLog, DeliveryLogError};
use crate::config::WebhookId;

/// Most attempts kept; the oldest go first.
const MAX_KEPT: usize = 10_000;

#[derive(Default)]
pub struct MemoryDeliveryLog {
    attempts: Mutex<Vec<Attempt>>,
}

impl MemoryDeliveryLog {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn record(&self, attempt: Attempt) -> Result<(), DeliveryLogError> {
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        if attempts.len() >= MAX_KEPT {
            attempts.remove(0);
        }
        attempts.push(attempt);
        Ok(())
    }

    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError> {
        let attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(attempts
            .iter()
            .rev()
            .filter(|a| webhook.is_none_or(|w| a.webhook_id == w))
            .take(limit)
            .cloned()
            .collect())
    }
}
