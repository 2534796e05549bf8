//! The SQLite database behind both SQLite ports: a private file in WAL mode, one connection per kind of work.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{SqliteLocation, StoreError};

/// How long the config store's connection waits for another writer (the log writer, or the CLI while `serve`
/// runs) before a write fails.
const STORE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The log writer gives up sooner: `BackgroundLog` retries the batch with backoff, and meanwhile the queue,
/// not a blocked thread, absorbs the entries.
const LOG_BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// Readers in WAL mode wait only while the database is being recovered or checkpointed.
const READ_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Bumped when the schema changes; stored in `PRAGMA user_version`.
const SCHEMA_VERSION: u32 = 1;
/// Both tables; `IF NOT EXISTS` makes opening an existing database a no-op.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
    id         TEXT PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    config     TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS execution_log (
    seq          INTEGER PRIMARY KEY,
    webhook_id   TEXT NOT NULL,
    at_ns        INTEGER NOT NULL,
    http_verb    TEXT NOT NULL,
    method       TEXT,
    model        TEXT,
    outcome      TEXT NOT NULL,
    status       INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    odoo_calls   INTEGER NOT NULL,
    error_code   TEXT,
    request_body TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS execution_log_by_webhook ON execution_log (webhook_id, at_ns);
CREATE INDEX IF NOT EXISTS execution_log_by_time ON execution_log (at_ns);
";

/// Why a database call failed, before it is turned into the caller's port error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("the SQLite worker stopped: {0}")]
    Worker(String),
    #[error("cannot open {name}: {reason}")]
    Open { name: String, reason: String },
}

impl DbError {
    /// A table was dropped or the file replaced after it was opened.
    pub(crate) fn is_missing_table(&self) -> bool {
        self.to_string().contains("no such table")
    }
}

/// Which connection a call runs on. Each has its own lock, so a log write waiting for the database never holds
/// up a webhook lookup, and a `bitconn logs` query never waits behind either.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Role {
    /// Webhook configurations, read and written.
    Store,
    /// Execution log inserts and the retention sweep.
    LogWrite,
    /// Execution log queries (a read-only connection).
    LogRead,
}

/// One SQLite database shared by the config store and the execution log. A file gets three connections
/// (`Role`); WAL lets the readers proceed while a writer holds the write lock. `sqlite::memory:` has a single
/// connection, since each connection to `:memory:` would be a database of its own. Calls run on tokio's
/// blocking pool, so the async runtime never waits on disk.
#[derive(Clone)]
pub struct SqliteDb {
    store: Arc<Mutex<Connection>>,
    log_writer: Arc<Mutex<Connection>>,
    log_reader: Arc<Mutex<Connection>>,
    name: Arc<str>,
    /// The runtime that opened the database runs its blocking calls, whichever runtime asks: in `bitconn serve`
    /// the delivery side runs on lower-priority threads, and a connection others wait for is never held by one.
    runtime: tokio::runtime::Handle,
}

impl Role {
    fn busy_timeout(self) -> Duration {
        match self {
            Role::Store => STORE_BUSY_TIMEOUT,
            Role::LogWrite => LOG_BUSY_TIMEOUT,
            Role::LogRead => READ_BUSY_TIMEOUT,
        }
    }
}

impl SqliteDb {
    /// Opens (creating if needed, with mode 0600) the database and its schema.
    pub async fn open(location: &SqliteLocation) -> Result<Self, StoreError> {
        let location = location.clone();
        let name: Arc<str> = match &location {
            SqliteLocation::InMemory => "SQLite database :memory:".into(),
            SqliteLocation::File(path) => format!("SQLite database {}", path.display()).into(),
        };
        let opened_name = name.to_string();
        let connections = tokio::task::spawn_blocking(move || open_connections(&location))
            .await
            .map_err(|e| StoreError::Backend(Box::new(DbError::Worker(e.to_string()))))?
            .map_err(|reason| {
                StoreError::Backend(Box::new(DbError::Open {
                    name: opened_name,
                    reason,
                }))
            })?;
        let (store, log_writer, log_reader) = connections;
        Ok(Self {
            store,
            log_writer,
            log_reader,
            name,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// What error messages call this database.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on `role`'s connection on this thread if no one holds it, else `None`: for calls that take
    /// microseconds and never wait on the disk, where a trip to the blocking pool would cost more than the call.
    /// SQLite's busy handler is off meanwhile, so a locked database fails `f` (`SQLITE_BUSY`) instead of
    /// sleeping on an async thread; the caller then takes the blocking pool.
    pub(crate) fn try_here<T>(
        &self,
        role: Role,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Option<rusqlite::Result<T>> {
        let mut connection = match self.connection(role).try_lock() {
            Ok(connection) => connection,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        let answer = connection
            .busy_timeout(Duration::ZERO)
            .and_then(|()| f(&mut connection));
        let restored = connection.busy_timeout(role.busy_timeout());
        Some(answer.and_then(|value| restored.map(|()| value)))
    }

    fn connection(&self, role: Role) -> &Arc<Mutex<Connection>> {
        match role {
            Role::Store => &self.store,
            Role::LogWrite => &self.log_writer,
            Role::LogRead => &self.log_reader,
        }
    }

    pub(crate) async fn call<T, F>(&self, role: Role, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let connection = Arc::clone(self.connection(role));
        self.runtime
            .spawn_blocking(move || {
                let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
                f(&mut connection)
            })
            .await
            .map_err(|e| DbError::Worker(e.to_string()))?
    }
}

type Connections = (
    Arc<Mutex<Connection>>,
    Arc<Mutex<Connection>>,
    Arc<Mutex<Connection>>,
);

fn open_connections(location: &SqliteLocation) -> Result<Connections, String> {
    let path = match location {
        SqliteLocation::InMemory => {
            let connection = Connection::open_in_memory().map_err(|e| e.to_string())?;
            prepare_writer(&connection, STORE_BUSY_TIMEOUT).map_err(|e| e.to_string())?;
            create_schema(&connection).map_err(|e| e.to_string())?;
            let shared = Arc::new(Mutex::new(connection));
            return Ok((shared.clone(), shared.clone(), shared));
        }
        SqliteLocation::File(path) => path,
    };
    make_private(path)?;
    let store = Connection::open(path).map_err(|e| e.to_string())?;
    prepare_writer(&store, STORE_BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    create_schema(&store).map_err(|e| e.to_string())?;
    let log_writer = Connection::open(path).map_err(|e| e.to_string())?;
    prepare_writer(&log_writer, LOG_BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let log_reader = Connection::open_with_flags(path, flags).map_err(|e| e.to_string())?;
    log_reader
        .busy_timeout(READ_BUSY_TIMEOUT)
        .map_err(|e| e.to_string())?;
    Ok((
        Arc::new(Mutex::new(store)),
        Arc::new(Mutex::new(log_writer)),
        Arc::new(Mutex::new(log_reader)),
    ))
}

/// WAL: readers never block the writer nor wait for it; NORMAL sync is durable across application crashes.
fn prepare_writer(connection: &Connection, busy: Duration) -> rusqlite::Result<()> {
    connection.busy_timeout(busy)?;
    connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
}

fn create_schema(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA)?;
    connection.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))
}

/// The database holds credentials: a new file is created readable by its owner only (SQLite gives its `-wal`
/// and `-shm` files the database file's mode), and an existing one others could read is made private.
#[cfg(unix)]
pub(crate) fn make_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    const PRIVATE_MODE: u32 = crate::seal::PRIVATE_MODE;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(path);
    match created {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
    }
    let mut names = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        names.push(name.into());
    }
    for name in names {
        let Ok(metadata) = std::fs::metadata(&name) else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&name, std::fs::Permissions::from_mode(PRIVATE_MODE)).map_err(|e| {
                format!(
                    "{} is readable by others and cannot be made private: {e}",
                    name.display()
                )
            })?;
            tracing::warn!(path = %name.display(), old_mode = format!("{mode:03o}"), "made the SQLite store private (mode 600): it holds credentials");
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn make_private(_: &Path) -> Result<(), String> {
    Ok(())
}
