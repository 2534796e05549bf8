//! A delivery-log decorator for the dispatch function: one structured log line per delivery attempt (event,
//! webhook, attempt, outcome, status, duration; never headers or bodies), then the attempt goes to the log.

use async_trait::async_trait;
use bitconn::config::WebhookId;
use bitconn::outbound::deliveries::{Attempt, DeliveryLog, DeliveryLogError, DeliveryQuery, EventSummary};
use std::sync::Arc;

pub struct TracedDeliveryLog {
    inner: Arc<dyn DeliveryLog>,
}

impl TracedDeliveryLog {
    pub fn new(inner: Arc<dyn DeliveryLog>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl DeliveryLog for TracedDeliveryLog {
    async fn record(&self, attempt: Attempt) -> Result<(), DeliveryLogError> {
        tracing::info!(
            event_id = %attempt.event_id,
            webhook_id = %attempt.webhook_id,
            attempt = attempt.attempt,
            outcome = attempt.outcome.as_str(),
            status = attempt.status.unwrap_or(0),
            duration_ms = attempt.duration_ms,
            error = attempt.error.as_deref().unwrap_or(""),
            "delivery attempt"
        );
        self.inner.record(attempt).await
    }

    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError> {
        self.inner.list(webhook, limit).await
    }

    async fn events(&self, query: &DeliveryQuery) -> Result<Vec<EventSummary>, DeliveryLogError> {
        self.inner.events(query).await
    }

    async fn event(&self, event_id: &str) -> Result<Vec<Attempt>, DeliveryLogError> {
        self.inner.event(event_id).await
    }
}
