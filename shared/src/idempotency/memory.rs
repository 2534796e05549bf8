//! In-memory `IdempotencyStore`, for tests and throwaway local runs: keys live as long as the process.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use time::OffsetDateTime;

use super::{IdempotencyKey, IdempotencyStore, Record};
use crate::config::WebhookId;
use crate::store::StoreError;

/// Above this many records a reservation first drops the expired ones, so memory stays bounded by the keys
/// used within one expiry period.
const SWEEP_ABOVE: usize = 1024;

#[derive(Default)]
pub struct MemoryIdempotencyStore {
    records: Mutex<HashMap<(WebhookId, IdempotencyKey), Record>>,
}

impl MemoryIdempotencyStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<(WebhookId, IdempotencyKey), Record>) -> T) -> T {
        let mut guard = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn reserve(&self, claim: &Record) -> Result<Option<Record>, StoreError> {
        let now = OffsetDateTime::now_utc();
        Ok(self.with(|records| {
            if records.len() > SWEEP_ABOVE {
                records.retain(|_, record| !record.is_expired(now));
            }
            let slot = (claim.webhook_id, claim.key.clone());
            match records.get(&slot) {
                Some(existing) if !existing.is_expired(now) => Some(existing.clone()),
                _ => {
                    records.insert(slot, claim.clone());
                    None
                }
            }
        }))
    }

    async fn settle(&self, record: &Record) -> Result<(), StoreError> {
        self.with(|records| {
            if let Some(stored) = records.get_mut(&(record.webhook_id, record.key.clone()))
                && stored.token == record.token
            {
                stored.state = record.state.clone();
            }
        });
        Ok(())
    }

    async fn release(&self, record: &Record) -> Result<(), StoreError> {
        self.with(|records| {
            let slot = (record.webhook_id, record.key.clone());
            if records.get(&slot).is_some_and(|r| r.token == record.token) {
                records.remove(&slot);
            }
        });
        Ok(())
    }
}
