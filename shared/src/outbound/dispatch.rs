//! The dispatcher: leases jobs from the queue, reads their records as the webhook's Odoo user, builds and
//! signs the payload, delivers it and records the attempt. A job is acknowledged only after a 2xx (or when
//! there is nothing left to send), so a dispatcher killed at any point leaves it to be delivered again.

use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::deliver::{Answer, Deliverer, Outgoing};
use super::deliveries::{Attempt, AttemptOutcome, DeliveryLog};
use super::payload::{self, Extras};
use super::queue::{Job, Queue, Received};
use super::template;
use crate::config::{HttpVerb, OutboundTarget, WebhookConfig};
use crate::execution_log::Outcome;
use crate::gateway::Gateway;
use crate::store::{ConfigStore, StoreError};

/// Jobs leased per poll.
pub const DEFAULT_BATCH: usize = 32;
/// A lease outlasts the longest delivery (timeout at most 2 min) plus reading the records.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);
/// Pause between polls of an empty queue.
pub const DEFAULT_IDLE_POLL: Duration = Duration::from_millis(100);
/// Wait before retrying a job whose webhook could not be read (the store was unavailable).
const STORE_RETRY: Duration = Duration::from_secs(5);
/// Tries of the optimistic update that switches a target off after `410 Gone`.
const DISABLE_TRIES: usize = 3;

#[derive(Clone, Debug)]
pub struct DispatchSettings {
    pub batch: usize,
    pub lease: Duration,
    pub idle_poll: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            batch: DEFAULT_BATCH,
            lease: DEFAULT_LEASE,
            idle_poll: DEFAULT_IDLE_POLL,
        }
    }
}

/// What becomes of a leased job.
#[derive(Debug, PartialEq)]
enum Step {
    Ack,
    Retry(Duration),
    Dead(String),
}

pub struct Dispatcher {
    store: Arc<dyn ConfigStore>,
    queue: Arc<dyn Queue>,
    log: Arc<dyn DeliveryLog>,
    gateway: Arc<Gateway>,
    deliverer: Deliverer,
    settings: DispatchSettings,
}

/// What one attempt is recorded with, before its outcome is known.
struct Draft {
    event_id: String,
    webhook: crate::config::WebhookId,
    attempt: u32,
    url: String,
    /// The body sent, as the log keeps it, once it is built.
    payload: Option<String>,
    job: Option<Value>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn ConfigStore>,
        queue: Arc<dyn Queue>,
        log: Arc<dyn DeliveryLog>,
        gateway: Arc<Gateway>,
        settings: DispatchSettings,
    ) -> Self {
        Self {
            store,
            queue,
            log,
            gateway,
            deliverer: Deliverer::new(),
            settings,
        }
    }

    /// Uses `deliverer` (a test resolver behind the guard) instead of the system's.
    pub fn with_deliverer(mut self, deliverer: Deliverer) -> Self {
        self.deliverer = deliverer;
        self
    }

    /// Leases one batch and processes it concurrently; returns how many jobs it handled.
    pub async fn run_once(&self) -> Result<usize, super::queue::QueueError> {
        let batch = self
            .queue
            .receive(self.settings.batch, self.settings.lease)
            .await?;
        let count = batch.len();
        futures_util::future::join_all(batch.into_iter().map(|r| self.process(r))).await;
        Ok(count)
    }

    /// Polls until `shutdown` resolves; a batch in progress is finished first.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let idle = match self.run_once().await {
                Ok(0) => true,
                Ok(_) => false,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the outbound queue");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(self.settings.idle_poll) => {}
                }
            } else if futures_util::FutureExt::now_or_never(&mut shutdown).is_some() {
                return;
            }
        }
    }

    /// Processes jobs leased by someone else (the Lambda SQS event source) and settles each through the queue;
    /// returns, in order, whether each one left the queue (acknowledged, or dead-lettered).
    pub async fn process_received(&self, batch: Vec<Received>) -> Vec<bool> {
        futures_util::future::join_all(batch.into_iter().map(|r| self.process(r))).await
    }

    async fn process(&self, received: Received) -> bool {
        let step = self.handle(&received).await;
        let receipt = &received.receipt;
        let result = match &step {
            Step::Ack => self.queue.ack(receipt).await,
            Step::Retry(delay) => self.queue.retry_later(receipt, *delay).await,
            Step::Dead(reason) => self.queue.dead_letter(receipt, reason).await,
        };
        let settled = result.is_ok();
        if let Err(error) = result {
            tracing::warn!(event = received.job.event_id(), %error, ?step, "cannot settle an outbound job");
        }
        // A delivered job is done even if its delete failed (the event source deletes it too); a dead one only
        // once it is in the dead-letter queue.
        match step {
            Step::Ack => true,
            Step::Dead(_) => settled,
            Step::Retry(_) => false,
        }
    }

    async fn handle(&self, received: &Received) -> Step {
        let Job::Deliver {
            event_id,
            webhook_id,
            model,
            ids,
            event,
            extra,
        } = &received.job;
        let mut draft = Draft {
            event_id: event_id.clone(),
            webhook: *webhook_id,
            attempt: received.attempt,
            url: String::new(),
            payload: None,
            job: super::deliveries::logged_job(&received.job),
        };
        let config = match self.store.get(webhook_id).await {
            Ok(Some(config)) => config,
            Ok(None) => return self.skip(draft, "the webhook no longer exists").await,
            Err(error) => {
                tracing::warn!(%error, "cannot read a webhook for an outbound job");
                return Step::Retry(STORE_RETRY);
            }
        };
        let Some(target) = config.outbound.clone().filter(|t| t.enabled && config.enabled) else {
            return self.skip(draft, "the outbound target is off").await;
        };
        draft.url = target.url.clone();
        if template::has_placeholders(&target.url) && ids.len() > 1 {
            return self.fan_out(&received.job).await;
        }
        let spec = match payload::read_spec(&target.payload, &target.url) {
            Ok(spec) => spec,
            Err(reason) => return self.fail_now(draft, format!("payload spec: {reason}")).await,
        };
        let records = match self.gateway.outbound_records(&config, model, ids, &spec).await {
            Ok(records) => records,
            Err(error) if error.outcome() == Outcome::Rejected => {
                return self
                    .fail_now(draft, format!("reading the records: {error}"))
                    .await;
            }
            Err(error) => {
                let answer = Answer {
                    error: Some(format!("reading the records: {error}")),
                    ..Answer::default()
                };
                return self.after_failure(draft, &target, answer).await;
            }
        };
        if records.is_empty() {
            return self.skip(draft, "none of the records exists any more").await;
        }
        let first = records.first().cloned().unwrap_or(Value::Null);
        if template::has_placeholders(&target.url) {
            match template::render_url(&target.url, &first) {
                Ok(url) => draft.url = url,
                Err(e) => return self.fail_now(draft, format!("URL: {e}")).await,
            }
        }
        let extras = Extras {
            event: event.as_deref(),
            extra: extra.as_ref(),
        };
        let body = match payload::build(&target.payload, model.as_str(), &records, &extras)
            .and_then(|p| serde_json::to_vec(&p).map_err(|e| e.to_string()))
        {
            Ok(body) => body,
            Err(reason) => return self.fail_now(draft, format!("payload: {reason}")).await,
        };
        let sends_body = !matches!(target.verb, HttpVerb::Get | HttpVerb::Delete);
        draft.payload = sends_body.then(|| super::deliveries::logged_payload(&body));
        let secrets = target
            .signing
            .as_ref()
            .map(|s| s.active(time::OffsetDateTime::now_utc()))
            .unwrap_or_default();
        let allow = match target.allow_list() {
            Ok(allow) => allow,
            Err(e) => return self.fail_now(draft, e.to_string()).await,
        };
        let answer = self
            .deliverer
            .send(&Outgoing {
                url: &draft.url,
                verb: target.verb,
                headers: &target.headers,
                body: sends_body.then_some(body.as_slice()),
                event_id,
                secrets: &secrets,
                timeout: target.timeout(),
                allow: &allow,
            })
            .await;
        match answer.status {
            Some(200..=299) => {
                self.record(draft, AttemptOutcome::Delivered, &answer).await;
                Step::Ack
            }
            Some(410) => {
                self.disable(&config, &draft.url).await;
                self.record(draft, AttemptOutcome::Disabled, &answer).await;
                Step::Ack
            }
            _ if answer.refused => {
                let reason = answer.error.clone().unwrap_or_default();
                self.record(draft, AttemptOutcome::Dead, &answer).await;
                Step::Dead(reason)
            }
            _ => self.after_failure(draft, &target, answer).await,
        }
    }

    /// A failed attempt: retried after the schedule's wait (or the receiver's `Retry-After` on 429/503),
    /// dead after the last attempt.
    async fn after_failure(&self, draft: Draft, target: &OutboundTarget, answer: Answer) -> Step {
        let honours_retry_after = matches!(answer.status, Some(429 | 503));
        let wait = if draft.attempt >= target.retry.attempts() {
            None
        } else {
            match answer.retry_after.filter(|_| honours_retry_after) {
                Some(wait) => Some(wait),
                None => target.retry.wait_after(draft.attempt),
            }
        };
        match wait {
            Some(wait) => {
                self.record(draft, AttemptOutcome::Retrying, &answer).await;
                Step::Retry(wait)
            }
            None => {
                let reason = match (&answer.status, &answer.error) {
                    (Some(status), _) => format!("HTTP {status} on the last attempt"),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "failed on the last attempt".into(),
                };
                self.record(draft, AttemptOutcome::Dead, &answer).await;
                Step::Dead(reason)
            }
        }
    }

    /// A failure no retry can fix (the configuration or the webhook's rights): dead at once.
    async fn fail_now(&self, draft: Draft, reason: String) -> Step {
        let answer = Answer {
            error: Some(reason.clone()),
            ..Answer::default()
        };
        self.record(draft, AttemptOutcome::Dead, &answer).await;
        Step::Dead(reason)
    }

    async fn skip(&self, draft: Draft, why: &str) -> Step {
        let answer = Answer {
            error: Some(why.to_owned()),
            ..Answer::default()
        };
        self.record(draft, AttemptOutcome::Skipped, &answer).await;
        Step::Ack
    }

    /// A URL with placeholders is one delivery per record: one job each, with its own stable event id.
    async fn fan_out(&self, job: &Job) -> Step {
        let Job::Deliver { event_id, ids, .. } = job;
        for id in ids {
            let mut child = job.clone();
            let Job::Deliver {
                event_id: child_id,
                ids: child_ids,
                ..
            } = &mut child;
            *child_id = format!("{event_id}_{id}");
            *child_ids = vec![*id];
            if let Err(error) = self
                .queue
                .enqueue(&child_id.clone(), &child, SystemTime::now())
                .await
            {
                tracing::warn!(%error, "cannot queue a per-record delivery");
                return Step::Retry(STORE_RETRY);
            }
        }
        Step::Ack
    }

    async fn disable(&self, config: &WebhookConfig, url: &str) {
        let mut current = config.clone();
        for _ in 0..DISABLE_TRIES {
            if let Some(target) = current.outbound.as_mut() {
                target.enabled = false;
                target.disabled_reason = Some(format!(
                    "{url} answered 410 Gone at {}",
                    time::OffsetDateTime::now_utc()
                ));
            }
            match self.store.update(&current).await {
                Ok(_) => return,
                Err(StoreError::Conflict { .. }) => match self.store.get(&config.id).await {
                    Ok(Some(fresh)) => current = fresh,
                    _ => break,
                },
                Err(error) => {
                    tracing::warn!(%error, "cannot switch off an outbound target after 410 Gone");
                    return;
                }
            }
        }
    }

    async fn record(&self, draft: Draft, outcome: AttemptOutcome, answer: &Answer) {
        let attempt = Attempt {
            event_id: draft.event_id,
            webhook_id: draft.webhook,
            attempt: draft.attempt,
            at: time::OffsetDateTime::now_utc(),
            url: without_userinfo(&draft.url),
            outcome,
            status: answer.status,
            duration_ms: u64::try_from(answer.duration.as_millis()).unwrap_or(u64::MAX),
            error: answer.error.clone(),
            response: answer.response.clone(),
            test: false,
            payload: draft.payload,
            request_headers: answer.request_headers.clone(),
            job: draft.job,
        };
        if let Err(error) = self.log.record(attempt).await {
            tracing::warn!(%error, "a delivery attempt was not logged");
        }
    }
}

/// The URL as logged: a `user:password@` part is a credential and is left out.
fn without_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn logged_urls_leave_out_credentials() {
        assert_eq!(
            super::without_userinfo("https://u:p@hooks.example.com/x?a=1"),
            "https://hooks.example.com/x?a=1"
        );
        assert_eq!(
            super::without_userinfo("https://hooks.example.com/x"),
            "https://hooks.example.com/x"
        );
    }
}
