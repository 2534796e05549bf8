//! Odoo's native webhook events: the hint a trigger queues, its dedup keys, and the dispatcher stage that
//! re-reads the record once Odoo has committed (or records the event as a phantom when it never appears) and
//! queues the delivery of what is committed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

use super::deliveries::{Attempt, AttemptOutcome, DeliveryLog};
use super::payload;
use super::queue::{Job, Queue, Received};
use crate::config::{ModelName, NativeTrigger, TriggerOn, WebhookConfig, WebhookId};
use crate::execution_log::Outcome;
use crate::gateway::Gateway;
use crate::store::ConfigStore;

/// Posts for the same (trigger, model, record) within one window become one event: Odoo sent 13 identical
/// posts about 3 ms apart for one create. The window is at most this long and at most half the re-read delay,
/// so every post folded into an event arrived at least half a delay before its record is read (a change
/// commits some 15–45 ms after its post): a later change is never folded into a read that cannot see it.
/// A burst split by a window's edge still ends in one delivery, because both re-reads find the same version.
pub const BURST_WINDOW: Duration = Duration::from_secs(2);
/// Re-reads of a record not yet visible wait this many re-read delays each (1, 2, 4, … 32): with the default
/// delay of 1 s a record is a phantom when it has not appeared after 63 s.
const VISIBILITY_WAITS: [u32; 6] = [1, 2, 4, 8, 16, 32];
/// Tries of a re-read that fails (Odoo down or slow) before the event is given up as dead.
const MAX_FAILED_READS: u32 = 40;
/// Longest wait between failed re-reads.
const MAX_READ_BACKOFF: Duration = Duration::from_secs(300);
/// Wait before retrying when the store could not be read.
const STORE_RETRY: Duration = Duration::from_secs(5);
/// The event's name when the records are gone by design: the dispatcher then delivers without reading them.
pub const UNLINK_EVENT: &str = "unlink";

/// What a native trigger queues: a hint that `id` of `model` changed, not the change itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NativeEvent {
    pub event_id: String,
    pub webhook_id: WebhookId,
    /// The trigger's id (`tr_…`).
    pub trigger: String,
    pub model: ModelName,
    pub id: i64,
    /// Odoo's `_action` (`name(#id)`), for the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What Odoo sent, kept for deletions only (the record cannot be read afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Map<String, Value>>,
}

fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The burst window of a trigger whose record is read `delay` after the post.
pub fn burst_window(delay: Duration) -> Duration {
    BURST_WINDOW.min(delay / 2)
}

/// The dedup key of a post: the same (webhook, trigger, model, record) in the same `window`. At most 36 ASCII
/// characters, so it also serves as an SQS FIFO deduplication id.
pub fn burst_key(
    webhook: &WebhookId,
    trigger: &str,
    model: &ModelName,
    id: i64,
    at: SystemTime,
    window: Duration,
) -> String {
    let window = super::queue::duration_millis(window).max(1);
    let bucket = super::queue::millis(at) / window;
    let (webhook, id, bucket) = (webhook.to_string(), id.to_string(), bucket.to_string());
    format!(
        "nat_{}",
        digest(&[&webhook, trigger, model.as_str(), &id, &bucket])
    )
}

/// The event id and dedup key of one version of a record as read (its `write_date` among the values): a
/// native event and a poll that found the same version become one delivery with one `webhook-id`.
pub fn version_key(webhook: &WebhookId, model: &ModelName, record: &Value) -> String {
    let id = record.get("id").map(Value::to_string).unwrap_or_default();
    format!(
        "ver_{}",
        digest(&[&webhook.to_string(), model.as_str(), &id, &record.to_string()])
    )
}

/// The ordering group of a webhook's jobs: its id when its target is ordered, as every producer queues them
/// (the trigger route, the native route, the re-read stage and the poller), so they share one order.
pub fn ordering_group(config: &WebhookConfig) -> Option<String> {
    config
        .outbound
        .as_ref()
        .filter(|target| target.ordered)
        .map(|_| config.id.to_string())
}

/// The delivery job of one version of a record.
pub fn delivery_of(config: &WebhookConfig, trigger: &NativeTrigger, record: &Value) -> (String, Job) {
    let key = version_key(&config.id, &trigger.model, record);
    let id = record.get("id").and_then(Value::as_i64).unwrap_or_default();
    let job = Job::Deliver {
        event_id: key.clone(),
        webhook_id: config.id,
        model: trigger.model.clone(),
        ids: vec![id],
        event: Some(trigger.on.event()),
        extra: None,
    };
    (key, job)
}

/// The fields a version is read with: what the target sends, plus `write_date`.
pub fn version_spec(config: &WebhookConfig) -> Result<Vec<Value>, String> {
    let target = config
        .outbound
        .as_ref()
        .ok_or("the webhook has no outbound target")?;
    let mut spec = payload::read_spec(&target.payload, &target.url)?;
    if !spec.iter().any(|s| s.as_str() == Some("write_date")) {
        spec.push(json!("write_date"));
    }
    Ok(spec)
}

/// What becomes of a leased native event.
#[derive(Debug, PartialEq)]
pub(crate) enum Settle {
    Ack,
    Retry(Duration),
    Dead(String),
}

/// The ports the stage uses (the dispatcher's own).
pub(crate) struct Stage<'a> {
    pub store: &'a dyn ConfigStore,
    pub queue: &'a dyn Queue,
    pub log: &'a dyn DeliveryLog,
    pub gateway: &'a Gateway,
}

impl Stage<'_> {
    /// Re-reads the record of `event` and queues the delivery of its committed version.
    pub(crate) async fn settle(&self, received: &Received, event: &NativeEvent) -> Settle {
        let config = match self.store.get(&event.webhook_id).await {
            Ok(Some(config)) => config,
            Ok(None) => return self.skip(received, event, "the webhook no longer exists").await,
            Err(error) => {
                tracing::warn!(%error, "cannot read a webhook for a native event");
                return Settle::Retry(STORE_RETRY);
            }
        };
        let Some(trigger) = config.triggers.iter().find(|t| t.id == event.trigger).cloned() else {
            return self.skip(received, event, "the trigger was removed").await;
        };
        if !config.enabled || !config.outbound.as_ref().is_some_and(|t| t.enabled) {
            return self.skip(received, event, "the outbound target is off").await;
        }
        if trigger.on == TriggerOn::Unlink {
            return self.queue_deletion(&config, event).await;
        }
        let delay = Duration::from_millis(trigger.reread_delay_ms.max(1));
        let spec = match version_spec(&config) {
            Ok(spec) => spec,
            Err(reason) => {
                return self
                    .dead(received, event, format!("payload spec: {reason}"))
                    .await;
            }
        };
        let read = self
            .gateway
            .outbound_records(&config, &event.model, &[event.id], &spec)
            .await;
        let records = match read {
            Ok(records) => records,
            Err(error) if error.outcome() == Outcome::Rejected => {
                return self
                    .dead(received, event, format!("reading the record: {error}"))
                    .await;
            }
            Err(error) if received.attempt >= MAX_FAILED_READS => {
                return self
                    .dead(received, event, format!("reading the record: {error}"))
                    .await;
            }
            Err(error) => {
                tracing::info!(%error, event = event.event_id, "a native event's record could not be read yet");
                return Settle::Retry(backoff(delay, received.attempt));
            }
        };
        let Some(record) = records.first() else {
            let waited = received.attempt.saturating_sub(1) as usize;
            if let Some(factor) = VISIBILITY_WAITS.get(waited) {
                return Settle::Retry(delay.saturating_mul(*factor));
            }
            return self.phantom(received, event, delay).await;
        };
        let (key, job) = delivery_of(&config, &trigger, record);
        self.enqueue(&key, &job, &config).await
    }

    async fn queue_deletion(&self, config: &WebhookConfig, event: &NativeEvent) -> Settle {
        let mut extra = Map::new();
        extra.insert("ids".into(), json!([event.id]));
        extra.insert(
            "deleted".into(),
            json!([Value::Object(event.sent.clone().unwrap_or_default())]),
        );
        let job = Job::Deliver {
            event_id: event.event_id.clone(),
            webhook_id: config.id,
            model: event.model.clone(),
            ids: vec![event.id],
            event: Some(UNLINK_EVENT.into()),
            extra: Some(extra),
        };
        self.enqueue(&event.event_id, &job, config).await
    }

    /// Queues the delivery; of an ordered webhook, in its group, while this event still holds the group's head,
    /// so the delivery goes out before the events posted after this one (each re-read only once at the head).
    async fn enqueue(&self, key: &str, job: &Job, config: &WebhookConfig) -> Settle {
        let group = ordering_group(config);
        match self
            .queue
            .enqueue_in(key, job, SystemTime::now(), group.as_deref())
            .await
        {
            Ok(_) => Settle::Ack,
            Err(error) => {
                tracing::warn!(%error, "cannot queue the delivery of a native event");
                Settle::Retry(STORE_RETRY)
            }
        }
    }

    async fn phantom(&self, received: &Received, event: &NativeEvent, delay: Duration) -> Settle {
        let waited: u32 = VISIBILITY_WAITS.iter().sum();
        let waited = delay.saturating_mul(waited + 1);
        let why = format!(
            "{} {} never became visible ({} s after the event{}): the change was rolled back",
            event.model,
            event.id,
            waited.as_secs(),
            event
                .action
                .as_deref()
                .map(|a| format!(" of {a}"))
                .unwrap_or_default(),
        );
        self.record(received, event, AttemptOutcome::Phantom, why).await;
        Settle::Ack
    }

    async fn skip(&self, received: &Received, event: &NativeEvent, why: &str) -> Settle {
        self.record(received, event, AttemptOutcome::Skipped, why.to_owned())
            .await;
        Settle::Ack
    }

    async fn dead(&self, received: &Received, event: &NativeEvent, why: String) -> Settle {
        self.record(received, event, AttemptOutcome::Dead, why.clone())
            .await;
        Settle::Dead(why)
    }

    async fn record(&self, received: &Received, event: &NativeEvent, outcome: AttemptOutcome, why: String) {
        let attempt = Attempt {
            event_id: event.event_id.clone(),
            webhook_id: event.webhook_id,
            attempt: received.attempt,
            at: time::OffsetDateTime::now_utc(),
            url: String::new(),
            outcome,
            status: None,
            duration_ms: 0,
            error: Some(why),
            response: None,
            test: false,
            payload: None,
            request_headers: Default::default(),
            job: super::deliveries::logged_job(&received.job),
        };
        if let Err(error) = self.log.record(attempt).await {
            tracing::warn!(%error, "a native event's outcome was not logged");
        }
    }
}

/// Waits after failed reads: the re-read delay doubled per attempt, at most `MAX_READ_BACKOFF`.
fn backoff(delay: Duration, attempt: u32) -> Duration {
    delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_READ_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_keys_collapse_within_a_window_and_fit_an_sqs_deduplication_id() {
        let webhook = WebhookId::generate();
        let model: ModelName = "res.partner".parse().unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(10_000);
        let window = burst_window(Duration::from_secs(1));
        assert_eq!(window, Duration::from_millis(500));
        assert_eq!(burst_window(Duration::from_secs(60)), BURST_WINDOW);
        let key = burst_key(&webhook, "tr_1", &model, 44, at, window);
        assert!(key.len() <= 128 && key.is_ascii());
        let later = at + Duration::from_millis(400);
        assert_eq!(key, burst_key(&webhook, "tr_1", &model, 44, later, window));
        assert_ne!(key, burst_key(&webhook, "tr_1", &model, 44, at + window, window));
        assert_ne!(key, burst_key(&webhook, "tr_2", &model, 44, at, window));
        assert_ne!(key, burst_key(&webhook, "tr_1", &model, 45, at, window));
    }

    #[test]
    fn versions_differ_by_any_value_read() {
        let webhook = WebhookId::generate();
        let model: ModelName = "res.partner".parse().unwrap();
        let a = json!({"id": 44, "name": "A", "write_date": "2026-11-28 01:32:25"});
        let b = json!({"id": 44, "name": "B", "write_date": "2026-11-28 01:32:25"});
        assert_eq!(
            version_key(&webhook, &model, &a),
            version_key(&webhook, &model, &a.clone())
        );
        assert_ne!(
            version_key(&webhook, &model, &a),
            version_key(&webhook, &model, &b)
        );
    }

    #[test]
    fn failed_reads_back_off_up_to_a_ceiling() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1), Duration::from_secs(2));
        assert_eq!(backoff(second, 30), MAX_READ_BACKOFF);
    }
}
