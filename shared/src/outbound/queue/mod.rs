//! The `Queue` port between the trigger and the dispatcher: jobs enqueued once per dedup key, leased to one
//! consumer at a time, acknowledged only after delivery, retried later by moving their visibility, and
//! dead-lettered after the last attempt (memory, SQLite and SQS), and opened from one spec.

mod memory;
mod open;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqs")]
mod sqs;

pub use memory::MemoryQueue;
pub use open::{InvalidQueueSpec, OpenedQueue, QueueSpec, SqsSpec, open_queue};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteQueue;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::open_connection;
#[cfg(feature = "sqs")]
pub use sqs::{Accepted, MAX_DELAY, MAX_RETRY_DELAY, NOT_BEFORE_ATTRIBUTE, SqsQueue, SqsRecord, queue_name};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{ModelName, WebhookId};

/// How long a dedup key is remembered after its job finished: a trigger repeated within it is dropped. (SQS
/// remembers it this long after the job was queued, as SQS FIFO's own deduplication does.)
pub const DEDUP_WINDOW: Duration = Duration::from_secs(300);
/// Most jobs one `receive` hands out.
pub const MAX_RECEIVE: usize = 100;

/// Every message on the queue; producer (trigger) and consumer (dispatcher) share this one type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Read `ids` of `model` as the webhook's Odoo user and deliver them to its outbound target.
    Deliver {
        /// Stable across retries: the Standard Webhooks `webhook-id` receivers deduplicate on.
        event_id: String,
        webhook_id: WebhookId,
        model: ModelName,
        ids: Vec<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extra: Option<Map<String, Value>>,
    },
    /// A native Odoo trigger's hint: re-read the record once Odoo has committed, then deliver what is there.
    Native(super::native::NativeEvent),
}

impl Job {
    pub fn event_id(&self) -> &str {
        match self {
            Self::Deliver { event_id, .. } => event_id,
            Self::Native(event) => &event.event_id,
        }
    }
}

/// Proof of a lease: only its holder may ack, retry or dead-letter the job, and only while the lease lasts
/// (a consumer that outlived its lease finds the job re-leased to another and changes nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: String,
    pub lease: String,
}

/// A leased job. `attempt` counts receives, this one included (1 on the first delivery attempt).
#[derive(Clone, Debug)]
pub struct Received {
    pub receipt: Receipt,
    pub job: Job,
    pub attempt: u32,
}

/// A job that used its last attempt, kept for inspection and replay.
#[derive(Clone, Debug)]
pub struct DeadJob {
    pub message_id: String,
    /// What `Queue::remove_dead` takes to remove this job from the dead-letter list once it was queued again
    /// (on SQS the receipt handle of the listing, valid until the dead-letter message is received again).
    pub handle: String,
    pub job: Job,
    pub attempts: u32,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the lease on {0} expired or the job is gone")]
    LeaseLost(String),
    #[error("a queued job cannot be decoded: {0}")]
    Corrupt(String),
    #[error("queue unavailable: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Queues `job`, first visible at `not_before`. Returns `false` (and queues nothing) when a job with the
    /// same `dedup_key` is queued or finished within `DEDUP_WINDOW`. Returns only once the job is durable.
    async fn enqueue(&self, dedup_key: &str, job: &Job, not_before: SystemTime) -> Result<bool, QueueError> {
        self.enqueue_in(dedup_key, job, not_before, None).await
    }
    /// `enqueue` into ordering `group` (an ordered webhook's id): the jobs of one group are handed out one at
    /// a time in the order they were queued, and a job waiting for its retry holds back those behind it until
    /// it is acknowledged or dead-lettered. `None` is `enqueue`.
    async fn enqueue_in(
        &self,
        dedup_key: &str,
        job: &Job,
        not_before: SystemTime,
        group: Option<&str>,
    ) -> Result<bool, QueueError>;
    /// Leases up to `max` visible jobs for `lease`; each stays invisible to others until then.
    async fn receive(&self, max: usize, lease: Duration) -> Result<Vec<Received>, QueueError>;
    /// The job is done: it is never handed out again.
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError>;
    /// Makes the job visible again after `delay` (the next attempt).
    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError>;
    /// Moves the job to the dead-letter list with `reason`.
    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<(), QueueError>;
    /// Dead jobs, oldest first.
    async fn dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError>;
    /// Removes a dead job that `dead` listed. A replay calls it only after the job was queued again, so a
    /// crash between the two leaves a duplicate (which `webhook-id` lets receivers drop), never a lost job.
    /// Removing one already removed changes nothing; on SQS a handle a later listing replaced is `LeaseLost`.
    async fn remove_dead(&self, handle: &str) -> Result<(), QueueError>;
}

/// Milliseconds since the epoch (0 before it), the queues' clock.
pub(crate) fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
