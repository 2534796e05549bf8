//! In-memory `Queue`: for unit tests and throwaway local runs (jobs are lost with the process).

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::{DEDUP_WINDOW, DeadJob, Job, Queue, QueueError, Receipt, Received, duration_millis, millis};

struct Message {
    /// Enqueue order (the number in the message id).
    seq: u64,
    dedup_key: String,
    group: Option<String>,
    job: Job,
    visible_at: i64,
    attempts: u32,
    lease: Option<String>,
    /// Set when acknowledged; the entry then only remembers its dedup key until the window ends.
    done_at: Option<i64>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    messages: HashMap<String, Message>,
    dead: Vec<DeadJob>,
}

#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn leased<'a>(state: &'a mut State, receipt: &Receipt, now: i64) -> Result<&'a mut Message, QueueError> {
    state
        .messages
        .get_mut(&receipt.message_id)
        .filter(|m| m.done_at.is_none() && m.lease.as_deref() == Some(&receipt.lease) && m.visible_at > now)
        .ok_or_else(|| QueueError::LeaseLost(receipt.message_id.clone()))
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn enqueue_in(
        &self,
        dedup_key: &str,
        job: &Job,
        not_before: SystemTime,
        group: Option<&str>,
    ) -> Result<bool, QueueError> {
        let now = millis(SystemTime::now());
        let window = duration_millis(DEDUP_WINDOW);
        Ok(self.with(|state| {
            state
                .messages
                .retain(|_, m| m.done_at.is_none_or(|done| now - done < window));
            if state.messages.values().any(|m| m.dedup_key == dedup_key) {
                return false;
            }
            state.next_id += 1;
            let id = format!("m{}", state.next_id);
            state.messages.insert(
                id,
                Message {
                    seq: state.next_id,
                    dedup_key: dedup_key.to_owned(),
                    group: group.map(str::to_owned),
                    job: job.clone(),
                    visible_at: millis(not_before),
                    attempts: 0,
                    lease: None,
                    done_at: None,
                },
            );
            true
        }))
    }

    async fn receive(&self, max: usize, lease: Duration) -> Result<Vec<Received>, QueueError> {
        let now = millis(SystemTime::now());
        let until = now.saturating_add(duration_millis(lease));
        Ok(self.with(|state| {
            // The head of each ordering group: its oldest unfinished job, the only one of it that may go out.
            let mut heads: HashMap<&str, u64> = HashMap::new();
            for m in state.messages.values().filter(|m| m.done_at.is_none()) {
                if let Some(group) = &m.group {
                    let head = heads.entry(group).or_insert(m.seq);
                    *head = (*head).min(m.seq);
                }
            }
            let heads: HashMap<String, u64> = heads.into_iter().map(|(g, s)| (g.to_owned(), s)).collect();
            let mut ready: Vec<(&String, &mut Message)> = state
                .messages
                .iter_mut()
                .filter(|(_, m)| m.done_at.is_none() && m.visible_at <= now)
                .filter(|(_, m)| m.group.as_ref().is_none_or(|g| heads.get(g) == Some(&m.seq)))
                .collect();
            ready.sort_by_key(|(_, m)| (m.visible_at, m.seq));
            ready
                .into_iter()
                .take(max.min(super::MAX_RECEIVE))
                .map(|(id, m)| {
                    let token = uuid::Uuid::new_v4().simple().to_string();
                    m.lease = Some(token.clone());
                    m.visible_at = until;
                    m.attempts += 1;
                    Received {
                        receipt: Receipt {
                            message_id: id.clone(),
                            lease: token,
                        },
                        job: m.job.clone(),
                        attempt: m.attempts,
                    }
                })
                .collect()
        }))
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        let now = millis(SystemTime::now());
        self.with(|state| {
            leased(state, receipt, now)?.done_at = Some(now);
            Ok(())
        })
    }

    async fn retry_later(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        let now = millis(SystemTime::now());
        self.with(|state| {
            let message = leased(state, receipt, now)?;
            message.visible_at = now.saturating_add(duration_millis(delay));
            message.lease = None;
            Ok(())
        })
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<(), QueueError> {
        let now = millis(SystemTime::now());
        self.with(|state| {
            let message = leased(state, receipt, now)?;
            message.done_at = Some(now);
            let dead = DeadJob {
                message_id: receipt.message_id.clone(),
                handle: receipt.message_id.clone(),
                job: message.job.clone(),
                attempts: message.attempts,
                reason: reason.to_owned(),
            };
            state.dead.push(dead);
            Ok(())
        })
    }

    async fn dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        Ok(self.with(|state| state.dead.iter().take(limit).cloned().collect()))
    }

    async fn remove_dead(&self, handle: &str) -> Result<(), QueueError> {
        self.with(|state| state.dead.retain(|d| d.handle != handle));
        Ok(())
    }
}
