//! The backstop poller: for triggers with `poll`, finds records whose `write_date` (or `create_date` for
//! create rules) moved past a stored cursor, and queues the delivery of each version not yet delivered. Odoo
//! drops a native post for good when the gateway is down; this finds the change anyway.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;
use time::macros::format_description;

use super::native::{delivery_of, ordering_group, version_spec};
use super::pydomain;
use super::queue::Queue;
use crate::config::{NativeTrigger, PollCursor, TriggerOn, WebhookConfig, WebhookId};
use crate::gateway::Gateway;
use crate::store::{ConfigStore, StoreError};

/// How far behind the cursor each poll looks again: a transaction commits after the `write_date` it stamps,
/// and RPC reads give whole seconds, so records can appear behind a cursor that already passed their second.
pub const POLL_OVERLAP: Duration = Duration::from_secs(10);
/// Records asked for per search, and searches per poll of one trigger (the rest waits for the next poll).
pub const POLL_PAGE: usize = 200;
pub const MAX_PAGES: usize = 10;
/// How often `bitconn serve` looks for a due poll.
pub const POLL_TICK: Duration = Duration::from_secs(1);
/// Tries of an optimistic update of a trigger's poll state.
const UPDATE_TRIES: usize = 5;

/// What one poll of one trigger did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    pub webhook: Option<WebhookId>,
    pub trigger: String,
    /// Records found changed (the overlap included).
    pub seen: usize,
    /// Deliveries queued (versions not queued before).
    pub queued: usize,
    /// Odoo calls made.
    pub calls: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("reading Odoo: {0}")]
    Odoo(String),
    #[error("queue: {0}")]
    Queue(String),
    #[error("{0}")]
    Config(String),
}

const ODOO_FORMAT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// `at` as Odoo writes datetimes (UTC, whole seconds).
pub fn odoo_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(ODOO_FORMAT)
        .unwrap_or_default()
}

fn parse_odoo_time(text: &str) -> Option<OffsetDateTime> {
    let seconds = text.get(..19)?;
    time::PrimitiveDateTime::parse(seconds, ODOO_FORMAT)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The date field a trigger's changes show in.
fn date_field(trigger: &NativeTrigger) -> &'static str {
    if trigger.on == TriggerOn::Create {
        "create_date"
    } else {
        "write_date"
    }
}

/// The records the rule itself would consider: its filter, and for a state rule the state it fires on.
fn base_domain(trigger: &NativeTrigger) -> Result<Vec<Value>, PollError> {
    let mut domain = match &trigger.filter {
        Some(filter) => pydomain::to_json(filter).map_err(|e| PollError::Config(format!("--filter: {e}")))?,
        None => Vec::new(),
    };
    if let TriggerOn::State(value) = &trigger.on {
        domain.push(json!(["state", "=", value]));
    }
    Ok(domain)
}

pub struct Poller {
    store: Arc<dyn ConfigStore>,
    queue: Arc<dyn Queue>,
    gateway: Arc<Gateway>,
}

impl Poller {
    pub fn new(store: Arc<dyn ConfigStore>, queue: Arc<dyn Queue>, gateway: Arc<Gateway>) -> Self {
        Self {
            store,
            queue,
            gateway,
        }
    }

    /// Polls every due trigger once every `POLL_TICK` until `shutdown` resolves.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "the outbound poller could not run");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(POLL_TICK) => {}
            }
        }
    }

    /// One round: every trigger whose poll is due and which this process claims first (by storing a newer
    /// `polled_at` under the store's version check) is polled. Also what a scheduled function runs.
    pub async fn tick(&self) -> Result<Vec<PollReport>, PollError> {
        let now = OffsetDateTime::now_utc();
        let mut reports = Vec::new();
        for config in self.store.list().await? {
            if !config.enabled || !config.outbound.as_ref().is_some_and(|t| t.enabled) {
                continue;
            }
            for trigger in &config.triggers {
                let Some(poll) = &trigger.poll else { continue };
                let every = time::Duration::seconds(i64::try_from(poll.every_seconds).unwrap_or(i64::MAX));
                if poll.cursor.polled_at.is_some_and(|at| now - at < every) {
                    continue;
                }
                let Some(claimed) = self.claim(&config, &trigger.id, now).await? else {
                    continue;
                };
                match self.poll(&claimed, &trigger.id).await {
                    Ok(report) => reports.push(report),
                    Err(error) => {
                        tracing::warn!(%error, webhook = %config.id, trigger = trigger.id, "a poll failed")
                    }
                }
            }
        }
        Ok(reports)
    }

    /// Stores `polled_at = now` if nobody changed the webhook since it was read; `None` when another poller
    /// (or an operator) got there first.
    async fn claim(
        &self,
        config: &WebhookConfig,
        trigger: &str,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookConfig>, PollError> {
        let mut claimed = config.clone();
        let Some(poll) = claimed
            .triggers
            .iter_mut()
            .find(|t| t.id == trigger)
            .and_then(|t| t.poll.as_mut())
        else {
            return Ok(None);
        };
        poll.cursor.polled_at = Some(now);
        match self.store.update(&claimed).await {
            Ok(stored) => Ok(Some(stored)),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Polls one trigger now and moves its cursor; the poll's cost is in the report.
    pub async fn poll(&self, config: &WebhookConfig, trigger_id: &str) -> Result<PollReport, PollError> {
        let trigger = config
            .triggers
            .iter()
            .find(|t| t.id == trigger_id)
            .ok_or_else(|| PollError::Config(format!("no trigger {trigger_id}")))?;
        let cursor = trigger
            .poll
            .as_ref()
            .map(|p| p.cursor.clone())
            .unwrap_or_default();
        let field = date_field(trigger);
        let base = base_domain(trigger)?;
        let spec = version_spec(config).map_err(PollError::Config)?;
        let group = ordering_group(config);
        let overlap = time::Duration::try_from(POLL_OVERLAP).unwrap_or(time::Duration::ZERO);
        let start = cursor
            .write_date
            .as_deref()
            .and_then(parse_odoo_time)
            .unwrap_or_else(OffsetDateTime::now_utc)
            - overlap;
        let mut report = PollReport {
            webhook: Some(config.id),
            trigger: trigger.id.clone(),
            ..PollReport::default()
        };
        let mut last: Option<(String, i64)> = None;
        for _ in 0..MAX_PAGES {
            let mut domain = base.clone();
            match &last {
                None => domain.push(json!([field, ">=", odoo_time(start)])),
                Some((at, id)) => domain.extend([
                    json!("|"),
                    json!([field, ">", at]),
                    json!("&"),
                    json!([field, "=", at]),
                    json!(["id", ">", id]),
                ]),
            }
            let (page, calls) = self
                .gateway
                .outbound_changed(config, &trigger.model, domain, field, POLL_PAGE)
                .await
                .map_err(|e| PollError::Odoo(e.to_string()))?;
            report.calls += calls;
            let Some(end) = page.last().cloned() else { break };
            let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
            let (records, calls) = self
                .gateway
                .outbound_records_counted(config, &trigger.model, &ids, &spec)
                .await
                .map_err(|e| PollError::Odoo(e.to_string()))?;
            report.calls += calls;
            report.seen += records.len();
            for record in &records {
                let (key, job) = delivery_of(config, trigger, record);
                let queued = self
                    .queue
                    .enqueue_in(&key, &job, SystemTime::now(), group.as_deref())
                    .await
                    .map_err(|e| PollError::Queue(e.to_string()))?;
                report.queued += usize::from(queued);
            }
            last = Some((end.1, end.0));
            if page.len() < POLL_PAGE {
                break;
            }
        }
        let next = match last {
            Some((at, id)) => PollCursor {
                write_date: Some(at),
                id,
                polled_at: None,
            },
            None => PollCursor {
                write_date: Some(
                    cursor
                        .write_date
                        .clone()
                        .unwrap_or_else(|| odoo_time(start + overlap)),
                ),
                id: cursor.id,
                polled_at: None,
            },
        };
        self.store_cursor(config, trigger_id, next).await?;
        Ok(report)
    }

    /// Moves the cursor forward (never back: a slower concurrent poll may have gone further), retrying on
    /// conflicts with the freshest copy.
    async fn store_cursor(
        &self,
        config: &WebhookConfig,
        trigger: &str,
        next: PollCursor,
    ) -> Result<(), PollError> {
        let mut current = config.clone();
        for _ in 0..UPDATE_TRIES {
            let Some(poll) = current
                .triggers
                .iter_mut()
                .find(|t| t.id == trigger)
                .and_then(|t| t.poll.as_mut())
            else {
                return Ok(());
            };
            let ahead = (poll.cursor.write_date.clone(), poll.cursor.id)
                >= (next.write_date.clone(), next.id)
                && poll.cursor.write_date.is_some();
            if ahead {
                return Ok(());
            }
            poll.cursor.write_date = next.write_date.clone();
            poll.cursor.id = next.id;
            match self.store.update(&current).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => match self.store.get(&config.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                },
                Err(error) => return Err(error.into()),
            }
        }
        Err(PollError::Config(
            "the webhook kept changing; the cursor was not moved".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odoo_times_read_with_or_without_microseconds() {
        let at = parse_odoo_time("2026-11-28 01:33:37.086931").unwrap();
        assert_eq!(odoo_time(at), "2026-11-28 01:33:37");
        assert_eq!(parse_odoo_time("2026-11-28 01:33:37"), Some(at));
        assert!(parse_odoo_time("yesterday").is_none());
    }
}
