//! The delivery log: one entry per delivery attempt (status, duration, error, the start of the response),
//! kept as long as the execution log. SQLite and memory here; a DynamoDB table with TTL comes with AWS.

mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryDeliveryLog;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteDeliveryLog;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::WebhookId;

/// Most bytes of a receiver's answer kept per attempt.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// What one attempt ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed and will be tried again.
    Retrying,
    /// It failed on its last attempt (or permanently) and went to the dead-letter list.
    Dead,
    /// The receiver answered `410 Gone`: the target was switched off.
    Disabled,
    /// Nothing was sent: the target is off or gone, or no record exists any more.
    Skipped,
    /// Nothing was sent: a native event's record never became visible (Odoo rolled the change back).
    Phantom,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
            Self::Disabled => "disabled",
            Self::Skipped => "skipped",
            Self::Phantom => "phantom",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Delivered,
            Self::Retrying,
            Self::Dead,
            Self::Disabled,
            Self::Skipped,
            Self::Phantom,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The `webhook-id` sent (the same on every attempt of one delivery).
    pub event_id: String,
    pub webhook_id: WebhookId,
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The URL with its placeholders filled (never the headers: they may hold credentials).
    pub url: String,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The start of the receiver's answer, at most `MAX_RESPONSE_BYTES` (cut at a character boundary).
    pub response: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("delivery log unavailable: {0}")]
pub struct DeliveryLogError(pub String);

#[async_trait]
pub trait DeliveryLog: Send + Sync {
    async fn record(&self, attempt: Attempt) -> Result<(), DeliveryLogError>;
    /// Attempts of one webhook (or all), newest first.
    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError>;
}

/// The first `MAX_RESPONSE_BYTES` of `bytes` as text (lossy), cut at a character boundary.
pub fn capped_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_RESPONSE_BYTES)]).into_owned();
    let mut end = text.len().min(MAX_RESPONSE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
