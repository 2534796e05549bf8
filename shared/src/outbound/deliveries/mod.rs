//! The delivery log: one entry per delivery attempt (status, duration, error, the payload and headers sent
//! without credentials, the start of the response), read back per event or as a filtered list of events, and
//! kept as long as the execution log. Memory, SQLite and DynamoDB (a table with TTL) adapters.

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{BY_WEBHOOK_INDEX, DynamoDeliveryLog, create_deliveries_table};
pub use memory::MemoryDeliveryLog;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteDeliveryLog;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::config::WebhookId;
use crate::execution_log::{redact_and_truncate, redact_value};

/// Most bytes of a receiver's answer kept per attempt.
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// Most bytes of a queued job kept for replay (its ids list may be long); a larger one is not kept.
pub const MAX_LOGGED_JOB_BYTES: usize = 64 * 1024;
/// Largest body whose credentials are redacted for the log; a larger one is logged by its size only (parsing
/// it at every attempt would cost more than the delivery).
pub const MAX_REDACTED_PAYLOAD_BYTES: usize = 256 * 1024;
/// Events a listing returns unless asked for another number, and the most it ever returns.
pub const DEFAULT_LIST_LIMIT: usize = 50;
pub const MAX_LIST_LIMIT: usize = 1000;

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
    /// A test delivery that did not get a 2xx (tests are never retried).
    Failed,
    /// Nothing was sent: a native event's record never became visible (Odoo rolled the change back).
    Phantom,
}

const OUTCOMES: [AttemptOutcome; 7] = [
    AttemptOutcome::Delivered,
    AttemptOutcome::Retrying,
    AttemptOutcome::Dead,
    AttemptOutcome::Disabled,
    AttemptOutcome::Skipped,
    AttemptOutcome::Failed,
    AttemptOutcome::Phantom,
];

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
            Self::Disabled => "disabled",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Phantom => "phantom",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        OUTCOMES.into_iter().find(|o| o.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The `webhook-id` sent (the same on every attempt of one delivery, and on its replays).
    pub event_id: String,
    pub webhook_id: WebhookId,
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The URL with its placeholders filled, without a `user:password@` part.
    pub url: String,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The start of the receiver's answer, at most `MAX_RESPONSE_BYTES` (cut at a character boundary).
    pub response: Option<String>,
    /// Sent by `bitconn outbound test`, not by the dispatcher.
    #[serde(default)]
    pub test: bool,
    /// The body sent, credentials redacted and cut like an execution log body (`logged_payload`).
    #[serde(default)]
    pub payload: Option<String>,
    /// The headers sent: custom headers' values and signatures are never kept, only that they were sent.
    #[serde(default)]
    pub request_headers: BTreeMap<String, String>,
    /// The queued job this attempt delivered (`extra` credentials redacted), what a replay queues again.
    #[serde(default)]
    pub job: Option<Value>,
}

/// Which attempt an event's summary shows: the highest rank, the last recorded of equal ones. A delivered
/// attempt outranks every other (a duplicate or a replay failing later does not undo a delivery the receiver
/// got); among the rest the latest by time wins, so an attempt recorded late (a retry that finished after a
/// newer one was logged) never brings back an older status. Every adapter applies this one rule.
pub fn summary_rank(attempt: &Attempt) -> (bool, OffsetDateTime) {
    (attempt.outcome == AttemptOutcome::Delivered, attempt.at)
}

/// The attempt an event's summary shows (`summary_rank`), of attempts in the order they were recorded.
pub fn summary_attempt(attempts: &[Attempt]) -> Option<&Attempt> {
    attempts.iter().max_by_key(|a| summary_rank(a))
}

/// One event as a listing shows it: its latest attempt and how many there were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    pub event_id: String,
    pub webhook_id: WebhookId,
    /// The outcome of the latest attempt (of the delivered one, once there is one: `summary_rank`).
    pub status: AttemptOutcome,
    pub test: bool,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    pub url: String,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

impl EventSummary {
    /// The summary of one event's attempts (in the order they were recorded); `None` for no attempt.
    pub fn of(attempts: &[Attempt]) -> Option<Self> {
        let first = attempts.iter().map(|a| a.at).min()?;
        let last = attempts.iter().reduce(|best, a| {
            if summary_rank(a) >= summary_rank(best) {
                a
            } else {
                best
            }
        })?;
        Some(Self {
            event_id: last.event_id.clone(),
            webhook_id: last.webhook_id,
            status: last.outcome,
            test: last.test,
            attempts: u32::try_from(attempts.len()).unwrap_or(u32::MAX),
            first_at: first,
            last_at: last.at,
            url: last.url.clone(),
            last_status: last.status,
            last_error: last.error.clone(),
        })
    }
}

/// Which events a listing keeps, by their latest attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Is(AttemptOutcome),
    /// Not delivered: retrying, dead, or a failed test.
    Failed,
    /// Test deliveries, whatever their outcome.
    Test,
}

impl std::str::FromStr for StatusFilter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "failed" => Ok(Self::Failed),
            "test" => Ok(Self::Test),
            other => AttemptOutcome::parse(other).map(Self::Is).ok_or_else(|| {
                format!(
                    "`{other}` is not a delivery status: delivered, failed, retrying, dead, skipped, disabled or test"
                )
            }),
        }
    }
}

impl StatusFilter {
    pub fn matches(self, event: &EventSummary) -> bool {
        match self {
            Self::Is(outcome) => event.status == outcome,
            Self::Failed => matches!(
                event.status,
                AttemptOutcome::Retrying | AttemptOutcome::Dead | AttemptOutcome::Failed
            ),
            Self::Test => event.test,
        }
    }

    /// The outcomes it keeps (`None`: any outcome, tests only).
    pub fn outcomes(self) -> Option<Vec<AttemptOutcome>> {
        match self {
            Self::Is(outcome) => Some(vec![outcome]),
            Self::Failed => Some(vec![
                AttemptOutcome::Retrying,
                AttemptOutcome::Dead,
                AttemptOutcome::Failed,
            ]),
            Self::Test => None,
        }
    }
}

/// A listing of events, newest (latest attempt) first.
#[derive(Clone, Debug)]
pub struct DeliveryQuery {
    pub webhook: Option<WebhookId>,
    pub status: Option<StatusFilter>,
    /// Events whose latest attempt is at or after this (never before the retention window).
    pub since: Option<OffsetDateTime>,
    /// At most this many (capped at `MAX_LIST_LIMIT`).
    pub limit: usize,
}

impl Default for DeliveryQuery {
    fn default() -> Self {
        Self {
            webhook: None,
            status: None,
            since: None,
            limit: DEFAULT_LIST_LIMIT,
        }
    }
}

impl DeliveryQuery {
    /// The oldest latest-attempt time an answer may hold: `since`, never before the retention window.
    pub fn oldest_kept(&self, retention: time::Duration, now: OffsetDateTime) -> OffsetDateTime {
        let window = now - retention;
        self.since.map_or(window, |since| since.max(window))
    }

    pub fn capped_limit(&self) -> usize {
        self.limit.min(MAX_LIST_LIMIT)
    }

    /// Whether an event belongs in the answer (the window is the adapter's to apply).
    pub fn keeps(&self, event: &EventSummary) -> bool {
        self.webhook.is_none_or(|w| event.webhook_id == w) && self.status.is_none_or(|s| s.matches(event))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("delivery log unavailable: {0}")]
pub struct DeliveryLogError(pub String);

#[async_trait]
pub trait DeliveryLog: Send + Sync {
    async fn record(&self, attempt: Attempt) -> Result<(), DeliveryLogError>;
    /// Attempts of one webhook (or all), newest first.
    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError>;
    /// Events matching `query`, newest first.
    async fn events(&self, query: &DeliveryQuery) -> Result<Vec<EventSummary>, DeliveryLogError>;
    /// Every attempt of one event still kept, in the order they were made (empty when there is none).
    async fn event(&self, event_id: &str) -> Result<Vec<Attempt>, DeliveryLogError>;
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

/// A body as the log keeps it: credential-like keys' values redacted, cut to the execution log's size.
pub fn logged_payload(body: &[u8]) -> String {
    if body.len() > MAX_REDACTED_PAYLOAD_BYTES {
        return format!("[payload of {} bytes not kept]", body.len());
    }
    redact_and_truncate(&String::from_utf8_lossy(body))
}

/// A job as the log keeps it for replay: credential-like keys redacted; `None` when it is too large to keep.
pub fn logged_job(job: &impl Serialize) -> Option<Value> {
    let mut value = serde_json::to_value(job).ok()?;
    redact_value(&mut value);
    (value.to_string().len() <= MAX_LOGGED_JOB_BYTES).then_some(value)
}

/// Sorts events newest first and keeps the first `limit` (what every adapter answers with).
pub(crate) fn newest_first(mut events: Vec<EventSummary>, limit: usize) -> Vec<EventSummary> {
    events.sort_by(|a, b| {
        b.last_at
            .cmp(&a.last_at)
            .then_with(|| b.event_id.cmp(&a.event_id))
    });
    events.truncate(limit);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_and_failed_covers_every_failure() {
        for name in [
            "delivered",
            "retrying",
            "dead",
            "skipped",
            "disabled",
            "failed",
            "test",
        ] {
            assert!(name.parse::<StatusFilter>().is_ok(), "{name}");
        }
        let error = "gone".parse::<StatusFilter>().unwrap_err();
        assert!(error.contains("delivered, failed"), "{error}");
        assert_eq!(
            StatusFilter::Failed.outcomes().unwrap(),
            [
                AttemptOutcome::Retrying,
                AttemptOutcome::Dead,
                AttemptOutcome::Failed
            ]
        );
    }

    #[test]
    fn kept_jobs_lose_credentials_and_large_ones_are_not_kept() {
        let job = serde_json::json!({"type": "deliver", "extra": {"api_token": "t0k", "source": "odoo"}});
        let kept = logged_job(&job).unwrap();
        assert_eq!(kept["extra"]["api_token"], crate::execution_log::REDACTED);
        assert_eq!(kept["extra"]["source"], "odoo");
        let ids: Vec<i64> = (0..20_000).collect();
        assert!(logged_job(&serde_json::json!({ "ids": ids })).is_none());
    }

    fn attempt(outcome: AttemptOutcome, seconds: i64) -> Attempt {
        Attempt {
            event_id: "evt_1".into(),
            webhook_id: WebhookId::generate(),
            attempt: 1,
            at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds),
            url: "https://example.com/hook".into(),
            outcome,
            status: None,
            duration_ms: 1,
            error: None,
            response: None,
            test: false,
            payload: None,
            request_headers: BTreeMap::new(),
            job: None,
        }
    }

    #[test]
    fn the_summary_attempt_is_the_latest_by_time_and_a_delivery_outranks_later_failures() {
        use AttemptOutcome::{Dead, Delivered, Retrying};
        // A retry recorded after the dead letter, though it happened before it.
        let late = [attempt(Dead, 20), attempt(Retrying, 10)];
        assert_eq!(summary_attempt(&late).unwrap().outcome, Dead);
        let delivered = [attempt(Delivered, 5), attempt(Dead, 30)];
        assert_eq!(summary_attempt(&delivered).unwrap().outcome, Delivered);
        let tie = [attempt(Retrying, 7), attempt(Dead, 7)];
        assert_eq!(
            summary_attempt(&tie).unwrap().outcome,
            Dead,
            "of equal ones, the last recorded"
        );
        assert!(summary_attempt(&[]).is_none());
    }

    #[test]
    fn payloads_are_redacted() {
        let logged = logged_payload(br#"{"records":[{"name":"A","password":"hunter2"}]}"#);
        assert!(!logged.contains("hunter2"), "{logged}");
        assert!(logged.contains("\"A\""));
        let large = format!(
            "{{\"password\":\"p\",\"pad\":\"{}\"}}",
            "x".repeat(MAX_REDACTED_PAYLOAD_BYTES)
        );
        assert!(logged_payload(large.as_bytes()).starts_with("[payload of"));
    }
}
