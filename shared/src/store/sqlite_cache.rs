//! `DecodedConfigs`: the SQLite config store's decoded webhooks, each kept for as long as the database has not
//! changed since it was read. Decoding (JSON, then opening the sealed credentials) was most of a lookup's time;
//! checking for a change is one `PRAGMA data_version` and a counter, so nothing is ever served stale.

use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::config::{WebhookConfig, WebhookId};

/// Most webhooks (known or unknown ids) remembered at once; beyond it all are forgotten.
const MAX_DECODED: usize = 1024;

/// Where the database stood when a row was read, as seen from the store's connection: SQLite's data version
/// moves when another connection (another process, or another handle of this one) commits, and the
/// connection's own change count moves with every row it inserts, updates or deletes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DbState {
    data_version: i64,
    own_changes: u64,
}

impl DbState {
    /// Reads the state; starts (and ends) a read transaction, which in WAL mode never waits for a writer.
    pub(crate) fn read(connection: &Connection) -> rusqlite::Result<Self> {
        let data_version = connection
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        Ok(Self {
            data_version,
            own_changes: connection.total_changes(),
        })
    }
}

/// Decoded configs (or "no such webhook") by id, each with the state it was read at.
#[derive(Default)]
pub(crate) struct DecodedConfigs {
    entries: Mutex<HashMap<WebhookId, (DbState, Option<WebhookConfig>)>>,
}

impl DecodedConfigs {
    /// The config read at `now`, if the database has not changed since.
    pub(crate) fn get(&self, id: &WebhookId, now: DbState) -> Option<Option<WebhookConfig>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (read_at, config) = entries.get(id)?;
        (*read_at == now).then(|| config.clone())
    }

    pub(crate) fn remember(&self, id: WebhookId, read_at: DbState, config: Option<WebhookConfig>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_DECODED {
            entries.clear();
        }
        entries.insert(id, (read_at, config));
    }
}
