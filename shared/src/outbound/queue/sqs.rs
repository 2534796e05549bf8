//! `Queue` on Amazon SQS: a standard queue for unordered jobs, a FIFO queue (group = webhook) for ordered ones,
//! a dead-letter queue beside each, and dedup keys as conditional puts in a DynamoDB table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName as Attr};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::{
    DEDUP_WINDOW, DeadJob, Job, Queue, QueueError, Receipt, Received, SqsSpec, duration_millis, millis,
};

mod dead;

/// Longest `DelaySeconds` SQS takes; a job due later is received early and hidden again until it is due.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Longest retry wait one visibility change gives: SQS allows 12 h counted from the receive, and the receive
/// was at most a lease ago.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(12 * 3600 - 600);
/// Most messages one `ReceiveMessage` returns.
const RECEIVE_BATCH: usize = 10;
/// A first receive this much before `not_before` was an early one (clocks of SQS and the producer differ).
const EARLY_TOLERANCE_MS: i64 = 1000;
/// Message attributes this adapter sets.
/// The due time (ms since the epoch) of a job SQS could not delay itself.
pub const NOT_BEFORE_ATTRIBUTE: &str = "not_before_ms";
const REASON: &str = "dead_reason";
const ATTEMPTS: &str = "dead_attempts";
/// Partition-key prefix of dedup markers in the idempotency table: no webhook id starts with it.
const MARKER_PREFIX: &str = "outbound ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Standard,
    Fifo,
}

impl Lane {
    fn tag(self) -> &'static str {
        match self {
            Self::Standard => "std",
            Self::Fifo => "fifo",
        }
    }

    fn of_tag(tag: &str) -> Option<Self> {
        [Self::Standard, Self::Fifo].into_iter().find(|l| l.tag() == tag)
    }
}

/// A received message this process holds the lease of; settling it needs its body (for the dead-letter queue).
struct Inflight {
    lane: Lane,
    body: String,
    group: Option<String>,
    attempt: u32,
    deadline_ms: i64,
}

/// One SQS message as the receive call or a Lambda event record gives it.
#[derive(Clone, Debug, Default)]
pub struct SqsRecord {
    /// The queue's name (last segment of its URL or ARN), which tells the standard queue from the FIFO one.
    pub queue_name: String,
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
    pub group: Option<String>,
    /// The `not_before_ms` message attribute: set when SQS could not delay the job itself.
    pub not_before_ms: Option<i64>,
}

/// What becomes of a record handed to `SqsQueue::accept`.
#[derive(Debug)]
pub enum Accepted {
    /// A job to process, leased to this process.
    Job(Box<Received>),
    /// Not due yet: hidden again until it is (it stays on the queue).
    Deferred,
    /// Undecodable: moved to the dead-letter queue.
    Discarded,
}

pub struct SqsQueue {
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    spec: SqsSpec,
    inflight: Mutex<HashMap<String, Inflight>>,
}

fn backend<E: ProvideErrorMetadata + std::fmt::Debug>(operation: &str, error: &E) -> QueueError {
    QueueError::Backend(format!(
        "SQS {operation}: {}",
        error
            .message()
            .or(error.code())
            .map_or_else(|| format!("{error:?}"), str::to_owned)
    ))
}

/// Errors that mean the receipt no longer leases the message (it was settled, or handed to another consumer).
const LEASE_ERRORS: [&str; 3] = [
    "ReceiptHandleIsInvalid",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
];

fn sdk<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl Fn(SdkError<E, R>) -> QueueError {
    move |error| match error.as_service_error() {
        Some(service) if service.code().is_some_and(|c| LEASE_ERRORS.contains(&c)) => {
            QueueError::LeaseLost(format!("{operation}: {}", service.code().unwrap_or_default()))
        }
        Some(service) => backend(operation, service),
        None => QueueError::Backend(format!("SQS {operation}: {error}")),
    }
}

/// The last segment of a queue URL or ARN: its name.
pub fn queue_name(url_or_arn: &str) -> &str {
    url_or_arn.rsplit(['/', ':']).next().unwrap_or(url_or_arn)
}

/// Where a dedup key's marker lives: keys are global (not per webhook), hashed to a fixed size and spread
/// over 256 partitions so a burst of triggers does not meet one partition's write limit.
fn marker(dedup_key: &str) -> (String, String) {
    let hash = hex_digest(dedup_key);
    (format!("{MARKER_PREFIX}{}", &hash[..2]), hash)
}

fn hex_digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn string_attribute(value: impl Into<String>, kind: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type(kind)
        .string_value(value)
        .build()
        .map_err(|e| QueueError::Backend(e.to_string()))
}

fn seconds_up(d: Duration) -> i32 {
    i32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(i32::MAX)
}

impl SqsQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, dynamodb: aws_sdk_dynamodb::Client, spec: SqsSpec) -> Self {
        Self {
            sqs,
            dynamodb,
            spec,
            inflight: Mutex::default(),
        }
    }

    pub fn from_sdk_config(config: &aws_config::SdkConfig, spec: SqsSpec) -> Self {
        Self::new(
            aws_sdk_sqs::Client::new(config),
            aws_sdk_dynamodb::Client::new(config),
            spec,
        )
    }

    pub fn spec(&self) -> &SqsSpec {
        &self.spec
    }

    fn url(&self, lane: Lane) -> &str {
        match lane {
            Lane::Standard => &self.spec.standard,
            Lane::Fifo => self.spec.fifo.as_deref().unwrap_or(&self.spec.standard),
        }
    }

    fn dlq(&self, lane: Lane) -> &str {
        match lane {
            Lane::Standard => &self.spec.dlq,
            Lane::Fifo => self.spec.fifo_dlq.as_deref().unwrap_or(&self.spec.dlq),
        }
    }

    fn lane_of(&self, queue_name: &str) -> Lane {
        match &self.spec.fifo {
            Some(fifo) if self::queue_name(fifo) == queue_name => Lane::Fifo,
            _ => Lane::Standard,
        }
    }

    fn with_inflight<T>(&self, f: impl FnOnce(&mut HashMap<String, Inflight>) -> T) -> T {
        f(&mut self.inflight.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes the lease `receipt` names out of the in-flight list, if it still holds.
    fn take_lease(&self, receipt: &Receipt) -> Result<Inflight, QueueError> {
        let now = millis(SystemTime::now());
        self.with_inflight(|inflight| {
            inflight.retain(|_, i| i.deadline_ms > now);
            inflight.remove(&receipt.lease)
        })
        .ok_or_else(|| QueueError::LeaseLost(receipt.message_id.clone()))
    }

    /// Claims `dedup_key` for `DEDUP_WINDOW` past `due`; `false` when another job holds it.
    async fn claim(&self, dedup_key: &str, due: i64) -> Result<bool, QueueError> {
        let (partition, sort) = marker(dedup_key);
        let expires_ms = due.saturating_add(duration_millis(DEDUP_WINDOW));
        let now_s = millis(SystemTime::now()).div_euclid(1000);
        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.spec.dedup_table)
            .item("webhook_id", AttributeValue::S(partition))
            .item("idempotency_key", AttributeValue::S(sort))
            .item(
                "expires_at",
                AttributeValue::N((expires_ms.div_euclid(1000) + 1).to_string()),
            )
            .condition_expression("attribute_not_exists(idempotency_key) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now_s.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(QueueError::Backend(format!(
                "DynamoDB PutItem on {}: {}",
                self.spec.dedup_table,
                e.as_service_error()
                    .and_then(|s| s.message().map(str::to_owned))
                    .unwrap_or_else(|| e.to_string())
            ))),
        }
    }

    /// Forgets a claim whose job could not be sent, so a retry of the same trigger is not dropped.
    async fn release(&self, dedup_key: &str) {
        let (partition, sort) = marker(dedup_key);
        let result = self
            .dynamodb
            .delete_item()
            .table_name(&self.spec.dedup_table)
            .key("webhook_id", AttributeValue::S(partition))
            .key("idempotency_key", AttributeValue::S(sort))
            .send()
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "a dedup key of an unsent job stays claimed until it expires");
        }
    }

    /// A record received here or by the Lambda event source, leased until `lease` from now.
    pub async fn accept(&self, record: SqsRecord, lease: Duration) -> Result<Accepted, QueueError> {
        let lane = self.lane_of(&record.queue_name);
        let now = millis(SystemTime::now());
        if let Some(due) = record.not_before_ms.filter(|due| *due > now) {
            let wait = Duration::from_millis(u64::try_from(due - now).unwrap_or(0)).min(MAX_RETRY_DELAY);
            self.sqs
                .change_message_visibility()
                .queue_url(self.url(lane))
                .receipt_handle(&record.receipt_handle)
                .visibility_timeout(seconds_up(wait))
                .send()
                .await
                .map_err(sdk("ChangeMessageVisibility"))?;
            return Ok(Accepted::Deferred);
        }
        // Receives before the job was due were not attempts.
        let early = match (record.not_before_ms, record.first_receive_ms) {
            (Some(due), Some(first)) if first + EARLY_TOLERANCE_MS < due => {
                u32::try_from((due - first).div_euclid(duration_millis(MAX_RETRY_DELAY)) + 1).unwrap_or(0)
            }
            _ => 0,
        };
        let attempt = record.receive_count.saturating_sub(early).max(1);
        let job: Job = match serde_json::from_str(&record.body) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(message = %record.message_id, error = %e, "undecodable job dead-lettered");
                let inflight = Inflight {
                    lane,
                    body: record.body.clone(),
                    group: record.group.clone(),
                    attempt,
                    deadline_ms: i64::MAX,
                };
                self.bury(
                    &record.message_id,
                    &record.receipt_handle,
                    &inflight,
                    &format!("undecodable: {e}"),
                )
                .await?;
                return Ok(Accepted::Discarded);
            }
        };
        let message_id = format!("{}:{}", lane.tag(), record.message_id);
        self.with_inflight(|inflight| {
            inflight.insert(
                record.receipt_handle.clone(),
                Inflight {
                    lane,
                    body: record.body,
                    group: record.group,
                    attempt,
                    deadline_ms: now.saturating_add(duration_millis(lease)),
                },
            )
        });
        Ok(Accepted::Job(Box::new(Received {
            receipt: Receipt {
                message_id,
                lease: record.receipt_handle,
            },
            job,
            attempt,
        })))
    }

    /// Makes a record received but not processed visible again at once (a FIFO job behind a head that stays
    /// on the queue: left in flight it would hold its group until the visibility timeout ends).
    pub async fn hand_back(&self, record: &SqsRecord) -> Result<(), QueueError> {
        self.sqs
            .change_message_visibility()
            .queue_url(self.url(self.lane_of(&record.queue_name)))
            .receipt_handle(&record.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(sdk("ChangeMessageVisibility"))?;
        Ok(())
    }

    async fn receive_from(
        &self,
        lane: Lane,
        max: usize,
        visibility: i32,
        out: &mut Vec<Received>,
        lease: Duration,
    ) -> Result<(), QueueError> {
        // FIFO: one message per call, so no call returns a job behind its group's head (whose receive count
        // would then grow with every retry of the head).
        let per_call = if lane == Lane::Fifo { 1 } else { RECEIVE_BATCH };
        let mut calls = max.div_ceil(per_call);
        while out.len() < max && calls > 0 {
            calls -= 1;
            let want = per_call.min(max - out.len());
            let messages = self.receive_raw(self.url(lane), want, visibility).await?;
            if messages.is_empty() {
                break;
            }
            for record in messages {
                if let Accepted::Job(received) = self.accept(record, lease).await? {
                    out.push(*received);
                }
            }
        }
        Ok(())
    }

    async fn receive_raw(
        &self,
        url: &str,
        max: usize,
        visibility: i32,
    ) -> Result<Vec<SqsRecord>, QueueError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max.clamp(1, RECEIVE_BATCH)).unwrap_or(1))
            .visibility_timeout(visibility)
            .wait_time_seconds(0)
            .message_system_attribute_names(Attr::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(sdk("ReceiveMessage"))?;
        let name = queue_name(url).to_owned();
        Ok(output
            .messages()
            .iter()
            .map(|m| {
                let attribute = |a: Attr| m.attributes().and_then(|attrs| attrs.get(&a)).map(String::as_str);
                let custom = |name: &str| {
                    m.message_attributes()
                        .and_then(|attrs| attrs.get(name))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                SqsRecord {
                    queue_name: name.clone(),
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: attribute(Attr::ApproximateReceiveCount)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                    first_receive_ms: attribute(Attr::ApproximateFirstReceiveTimestamp)
                        .and_then(|t| t.parse().ok()),
                    group: attribute(Attr::MessageGroupId).map(str::to_owned),
                    not_before_ms: custom(NOT_BEFORE_ATTRIBUTE).and_then(|t| t.parse().ok()),
                }
            })
            .collect())
    }

    /// Sends the job to its lane's dead-letter queue with `reason`, then deletes it from the queue.
    async fn bury(
        &self,
        message_id: &str,
        handle: &str,
        inflight: &Inflight,
        reason: &str,
    ) -> Result<(), QueueError> {
        let mut send = self
            .sqs
            .send_message()
            .queue_url(self.dlq(inflight.lane))
            .message_body(&inflight.body)
            .message_attributes(REASON, string_attribute(reason, "String")?)
            .message_attributes(
                ATTEMPTS,
                string_attribute(inflight.attempt.to_string(), "Number")?,
            );
        if inflight.lane == Lane::Fifo {
            send = send
                .message_group_id(inflight.group.clone().unwrap_or_else(|| "dead".into()))
                .message_deduplication_id(hex_digest(&format!("dead {message_id}")));
        }
        send.send().await.map_err(sdk("SendMessage"))?;
        self.sqs
            .delete_message()
            .queue_url(self.url(inflight.lane))
            .receipt_handle(handle)
            .send()
            .await
            .map_err(sdk("DeleteMessage"))?;
        Ok(())
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue_in(
        &self,
        dedup_key: &str,
        job: &Job,
        not_before: SystemTime,
        group: Option<&str>,
    ) -> Result<bool, QueueError> {
        let lane = match (group, &self.spec.fifo) {
            (None, _) => Lane::Standard,
            (Some(_), Some(_)) => Lane::Fifo,
            (Some(_), None) => {
                return Err(QueueError::Backend(
                    "ordered delivery needs a FIFO queue: add fifo=<url>&fifo_dlq=<url> to the queue spec"
                        .into(),
                ));
            }
        };
        let body = serde_json::to_string(job).map_err(|e| QueueError::Corrupt(e.to_string()))?;
        let now = SystemTime::now();
        let wait = not_before.duration_since(now).unwrap_or_default();
        if !self.claim(dedup_key, millis(not_before.max(now))).await? {
            return Ok(false);
        }
        let mut send = self
            .sqs
            .send_message()
            .queue_url(self.url(lane))
            .message_body(body);
        // FIFO queues take no per-message delay; a job due later than SQS can delay it carries its due time.
        let native = match lane {
            Lane::Standard => wait.min(MAX_DELAY),
            Lane::Fifo => Duration::ZERO,
        };
        if lane == Lane::Standard && !native.is_zero() {
            send = send.delay_seconds(seconds_up(native));
        }
        if wait > native {
            send = send.message_attributes(
                NOT_BEFORE_ATTRIBUTE,
                string_attribute(millis(not_before).to_string(), "Number")?,
            );
        }
        if let (Lane::Fifo, Some(group)) = (lane, group) {
            send = send
                .message_group_id(group)
                .message_deduplication_id(hex_digest(dedup_key));
        }
        if let Err(error) = send.send().await {
            self.release(dedup_key).await;
            return Err(sdk("SendMessage")(error));
        }
        Ok(true)
    }

    async fn receive(&self, max: usize, lease: Duration) -> Result<Vec<Received>, QueueError> {
        let max = max.min(super::MAX_RECEIVE);
        let visibility = seconds_up(lease.min(MAX_RETRY_DELAY));
        let mut out = Vec::new();
        if self.spec.fifo.is_some() {
            self.receive_from(Lane::Fifo, max.min(RECEIVE_BATCH), visibility, &mut out, lease)
                .await?;
        }
        self.receive_from(Lane::Standard, max, visibility, &mut out, lease)
            .await?;
        Ok(out)
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        let inflight = self.take_lease(receipt)?;
        self.sqs
            .delete_message()
            .queue_url(self.url(inflight.lane))
            .receipt_handle(&receipt.lease)
            .send()
            .await
            .map_err(sdk("DeleteMessage"))?;
        Ok(())
    }

    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        let inflight = self.take_lease(receipt)?;
        self.sqs
            .change_message_visibility()
            .queue_url(self.url(inflight.lane))
            .receipt_handle(&receipt.lease)
            .visibility_timeout(seconds_up(delay.min(MAX_RETRY_DELAY)))
            .send()
            .await
            .map_err(sdk("ChangeMessageVisibility"))?;
        Ok(())
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<(), QueueError> {
        let inflight = self.take_lease(receipt)?;
        let id = receipt
            .message_id
            .split_once(':')
            .map_or(&*receipt.message_id, |(_, id)| id);
        self.bury(id, &receipt.lease, &inflight, reason).await
    }

    async fn dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        let mut found = Vec::new();
        self.dead_in(Lane::Standard, limit, &mut found).await?;
        if self.spec.fifo_dlq.is_some() {
            self.dead_in(Lane::Fifo, limit, &mut found).await?;
        }
        found.sort_by_key(|(sent, _)| *sent);
        Ok(found.into_iter().take(limit).map(|(_, dead)| dead).collect())
    }

    async fn remove_dead(&self, handle: &str) -> Result<(), QueueError> {
        self.delete_dead(handle).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn queue_names_come_from_urls_and_arns() {
        assert_eq!(
            super::queue_name("https://sqs.eu-west-1.amazonaws.com/1/q.fifo"),
            "q.fifo"
        );
        assert_eq!(super::queue_name("arn:aws:sqs:eu-west-1:1:q.fifo"), "q.fifo");
    }
}
