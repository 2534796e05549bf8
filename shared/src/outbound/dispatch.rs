//! The dispatcher: leases jobs from the queue, reads their records as the webhook's Odoo user (one call for the
//! jobs of a batch with the same webhook, model and spec), builds and signs each payload, delivers it and
//! records the attempt. A job is acknowledged only after a 2xx (or when there is nothing left to send), so a
//! dispatcher killed at any point leaves it to be delivered again.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::batch::{self, ReadFailure};
use super::deliver::{Answer, Deliverer, Outgoing};
use super::deliveries::{Attempt, AttemptOutcome, DeliveryLog};
use super::native::{self, Settle};
use super::payload::{self, Extras};
use super::queue::{Job, Queue, Received};
use super::template;
use crate::config::{HttpVerb, ModelName, OutboundTarget, WebhookConfig, WebhookId};
use crate::gateway::Gateway;
use crate::store::{ConfigStore, StoreError};

/// Jobs leased per poll.
pub const DEFAULT_BATCH: usize = 32;
/// A lease outlasts the longest delivery (timeout at most 2 min) plus reading the records.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);
/// Batches leased and processed at once by `run`: while one waits for Odoo or its receivers, another is read.
pub const BATCHES_IN_FLIGHT: usize = 2;
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

/// A leased job whose webhook and target are known, waiting for its records.
struct Ready {
    config: Arc<WebhookConfig>,
    model: ModelName,
    target: OutboundTarget,
    /// The field spec to read, and its JSON text (jobs with the same one are read together).
    spec: Vec<Value>,
    spec_key: String,
    draft: Draft,
}

/// What one attempt is recorded with, before its outcome is known.
struct Draft {
    event_id: String,
    webhook: WebhookId,
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
        self.process_batch(batch).await;
        Ok(count)
    }

    /// Processes leased jobs concurrently and settles each. Each webhook is read from the store once, and the
    /// records of jobs for the same webhook, model and field spec are read from Odoo in one call (`batch`).
    async fn process_batch(&self, batch: Vec<Received>) -> Vec<(String, bool)> {
        let (natives, batch): (Vec<Received>, Vec<Received>) =
            batch.into_iter().partition(|r| matches!(r.job, Job::Native(_)));
        let natives = natives.into_iter().map(|received| async move {
            let id = received.receipt.message_id.clone();
            let step = match &received.job {
                Job::Native(event) => self.native_stage().settle(&received, event).await.into(),
                Job::Deliver { .. } => Step::Dead("not a native event".into()),
            };
            (id, self.settle(received, step).await)
        });
        let natives = futures_util::future::join_all(natives);
        let count = batch.len();
        let configs = &self.configs(&batch).await;
        let prepared = futures_util::future::join_all(batch.into_iter().map(|received| async move {
            let step = self.prepare(&received, configs).await;
            (received, step)
        }))
        .await;
        let mut ready = Vec::with_capacity(count);
        let mut settled = Vec::new();
        for (received, step) in prepared {
            match step {
                Ok(job) => ready.push((received, job)),
                Err(step) => settled.push(async move {
                    let id = received.receipt.message_id.clone();
                    (id, self.settle(received, step).await)
                }),
            }
        }
        let keys = ready.iter().map(|(received, job)| {
            let ids = delivery(&received.job).map_or(0, |(_, ids)| ids.len());
            ((job.config.id, job.model.clone(), job.spec_key.clone()), ids)
        });
        let groups = batch::groups(keys.collect::<Vec<_>>(), batch::MAX_IDS_PER_READ);
        let mut slots: Vec<Option<(Received, Ready)>> = ready.into_iter().map(Some).collect();
        let groups: Vec<Vec<(Received, Ready)>> = groups
            .into_iter()
            .map(|group| group.into_iter().filter_map(|i| slots[i].take()).collect())
            .collect();
        let (natives, settled, delivered) = futures_util::future::join3(
            natives,
            futures_util::future::join_all(settled),
            futures_util::future::join_all(groups.into_iter().map(|group| self.read_and_deliver(group))),
        )
        .await;
        natives
            .into_iter()
            .chain(settled)
            .chain(delivered.into_iter().flatten())
            .collect()
    }

    /// Polls until `shutdown` resolves; the batches in progress are finished first. `BATCHES_IN_FLIGHT` loops
    /// lease and process batches side by side, so one batch's reads and deliveries overlap the next one's.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let stopping = AtomicBool::new(false);
        let stop = tokio::sync::Notify::new();
        let signal = async {
            shutdown.await;
            stopping.store(true, Ordering::Relaxed);
            stop.notify_waiters();
        };
        let loops = (0..BATCHES_IN_FLIGHT).map(|_| self.poll(&stopping, &stop));
        futures_util::future::join(signal, futures_util::future::join_all(loops)).await;
    }

    async fn poll(&self, stopping: &AtomicBool, stop: &tokio::sync::Notify) {
        while !stopping.load(Ordering::Relaxed) {
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
                    _ = stop.notified() => {}
                    _ = tokio::time::sleep(self.settings.idle_poll) => {}
                }
            }
        }
    }

    /// The webhooks of `batch`, each read once (`None`: deleted; `Err`: the store was unavailable).
    async fn configs(
        &self,
        batch: &[Received],
    ) -> HashMap<WebhookId, Result<Option<Arc<WebhookConfig>>, ()>> {
        let mut ids: Vec<WebhookId> = batch
            .iter()
            .filter_map(|r| match &r.job {
                Job::Deliver { webhook_id, .. } => Some(*webhook_id),
                Job::Native(_) => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let read = futures_util::future::join_all(ids.iter().map(|id| self.store.get(id))).await;
        ids.into_iter()
            .zip(read)
            .map(|(id, result)| {
                let result = result.map(|c| c.map(Arc::new)).map_err(|error| {
                    tracing::warn!(%error, "cannot read a webhook for an outbound job");
                });
                (id, result)
            })
            .collect()
    }

    /// Processes jobs leased by someone else (the Lambda SQS event source) and settles each through the queue;
    /// returns, in order, whether each one left the queue (acknowledged, or dead-lettered).
    pub async fn process_received(&self, batch: Vec<Received>) -> Vec<bool> {
        let order: Vec<String> = batch.iter().map(|r| r.receipt.message_id.clone()).collect();
        let done: HashMap<String, bool> = self.process_batch(batch).await.into_iter().collect();
        order
            .iter()
            .map(|id| done.get(id).copied().unwrap_or(false))
            .collect()
    }

    /// Settles one job; `true` when it left the queue.
    async fn settle(&self, received: Received, step: Step) -> bool {
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

    /// Everything before the records are read: the webhook and its target, fan-out of a per-record URL, the
    /// field spec to read. `Err` is the job's end when it goes no further.
    async fn prepare(
        &self,
        received: &Received,
        configs: &HashMap<WebhookId, Result<Option<Arc<WebhookConfig>>, ()>>,
    ) -> Result<Ready, Step> {
        let Job::Deliver {
            model,
            event_id,
            webhook_id,
            ids,
            ..
        } = &received.job
        else {
            return Err(Step::Dead("not a delivery job".into()));
        };
        let mut draft = Draft {
            event_id: event_id.clone(),
            webhook: *webhook_id,
            attempt: received.attempt,
            url: String::new(),
            payload: None,
            job: super::deliveries::logged_job(&received.job),
        };
        let config = match configs.get(webhook_id) {
            Some(Ok(Some(config))) => config.clone(),
            Some(Ok(None)) => return Err(self.skip(draft, "the webhook no longer exists").await),
            Some(Err(())) | None => return Err(Step::Retry(STORE_RETRY)),
        };
        let Some(target) = config.outbound.clone().filter(|t| t.enabled && config.enabled) else {
            return Err(self.skip(draft, "the outbound target is off").await);
        };
        draft.url = target.url.clone();
        if template::has_placeholders(&target.url) && ids.len() > 1 {
            return Err(self.fan_out(&received.job).await);
        }
        let spec = match payload::read_spec(&target.payload, &target.url) {
            Ok(spec) => spec,
            Err(reason) => return Err(self.fail_now(draft, format!("payload spec: {reason}")).await),
        };
        Ok(Ready {
            model: model.clone(),
            spec_key: Value::Array(spec.clone()).to_string(),
            spec,
            config,
            target,
            draft,
        })
    }

    /// Reads the records of a group of jobs (one Odoo call where it can) and delivers each job.
    async fn read_and_deliver(&self, group: Vec<(Received, Ready)>) -> Vec<(String, bool)> {
        let Some((_, job)) = group.first() else {
            return Vec::new();
        };
        let model = &job.model;
        let ids: Vec<&[i64]> = group
            .iter()
            .map(|(received, _)| delivery(&received.job).map_or(&[][..], |(_, ids)| ids))
            .collect();
        let records = batch::read(&self.gateway, &job.config, model, &job.spec, &ids).await;
        futures_util::future::join_all(group.into_iter().zip(records).map(
            |((received, job), records)| async {
                let step = self.deliver(&received, job, records).await;
                let id = received.receipt.message_id.clone();
                (id, self.settle(received, step).await)
            },
        ))
        .await
    }

    /// Builds, signs and sends one job's payload from its records.
    async fn deliver(
        &self,
        received: &Received,
        job: Ready,
        records: Result<Vec<Value>, ReadFailure>,
    ) -> Step {
        let Job::Deliver {
            event_id,
            model,
            event,
            extra,
            ..
        } = &received.job
        else {
            return Step::Dead("not a delivery job".into());
        };
        let Ready {
            config,
            target,
            mut draft,
            ..
        } = job;
        let records = match records {
            Ok(records) => records,
            Err(failure) if failure.rejected => return self.fail_now(draft, failure.message).await,
            Err(failure) => {
                let answer = Answer {
                    error: Some(failure.message),
                    ..Answer::default()
                };
                return self.after_failure(draft, &target, answer).await;
            }
        };
        if records.is_empty() && event.as_deref() != Some(native::UNLINK_EVENT) {
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
        let Job::Deliver { event_id, ids, .. } = job else {
            return Step::Ack;
        };
        for id in ids {
            let mut child = job.clone();
            let Job::Deliver {
                event_id: child_id,
                ids: child_ids,
                ..
            } = &mut child
            else {
                return Step::Ack;
            };
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

impl Dispatcher {
    fn native_stage(&self) -> native::Stage<'_> {
        native::Stage {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            log: self.log.as_ref(),
            gateway: &self.gateway,
        }
    }
}

impl From<Settle> for Step {
    fn from(settle: Settle) -> Self {
        match settle {
            Settle::Ack => Self::Ack,
            Settle::Retry(wait) => Self::Retry(wait),
            Settle::Dead(reason) => Self::Dead(reason),
        }
    }
}

/// The model and ids of a delivery job (native hints take the other path and have none).
fn delivery(job: &Job) -> Option<(&ModelName, &[i64])> {
    match job {
        Job::Deliver { model, ids, .. } => Some((model, ids.as_slice())),
        Job::Native(_) => None,
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
