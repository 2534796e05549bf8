//! The one thread that owns an outbound database's connection: the queue's and the delivery log's calls are sent
//! to it and run in arrival order, and writes that arrive together share one transaction and one commit.

use rusqlite::{Connection, Transaction};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::store::SqliteLocation;

/// Most calls taken from the channel at once; the writes among them share a commit.
const MAX_GROUP: usize = 512;
/// How often the checkpoint thread copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// What a grouped write answers once its transaction committed (or did not).
pub(crate) type Finish = Box<dyn FnOnce(Result<(), &str>) + Send>;
/// A grouped write: runs in the group's transaction (or learns why there is none), then waits for its commit.
pub(crate) type Write = Box<dyn for<'t, 'c> FnOnce(Result<&'t Transaction<'c>, &'t str>) -> Finish + Send>;
/// A call with the connection to itself (reads, and transactions of their own).
type Alone = Box<dyn FnOnce(&mut Connection) + Send>;

enum Call {
    Alone(Alone),
    Grouped(Write),
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    #[error("the outbound database thread has stopped")]
    Stopped,
    #[error("a call to the outbound database panicked")]
    Panicked,
    #[error("{0}")]
    Commit(String),
}

/// A handle on the thread; clones share it, and the thread ends with the last one. Every call is answered
/// through a oneshot channel, so async callers never block a runtime thread on the database.
#[derive(Clone)]
pub(crate) struct SqliteWorker {
    calls: Arc<Sender<Call>>,
}

impl SqliteWorker {
    /// Starts the thread owning `connection`. It runs at the priority of the thread that starts it.
    pub(crate) fn start(connection: Connection, name: &str) -> Result<Self, String> {
        let (calls, received) = channel();
        std::thread::Builder::new()
            .name(format!("bitconn-sqlite {name}"))
            .spawn(move || serve(connection, &received))
            .map_err(|e| format!("cannot start the database thread: {e}"))?;
        Ok(Self {
            calls: Arc::new(calls),
        })
    }

    fn send(&self, call: Call) -> Result<(), WorkerError> {
        self.calls.send(call).map_err(|_| WorkerError::Stopped)
    }

    /// Runs `f` with the connection to itself.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> Result<T, WorkerError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(Call::Alone(Box::new(move |c| {
            let _ = done.send(catch_unwind(AssertUnwindSafe(|| f(c))));
        })))?;
        answer
            .await
            .map_err(|_| WorkerError::Stopped)?
            .map_err(|_| WorkerError::Panicked)
    }

    /// Runs `f` in the transaction it shares with the writes sent beside it; answers once that one committed
    /// (`f`'s value), or with why it did not.
    pub(crate) async fn grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> T + Send + 'static,
    ) -> Result<T, WorkerError> {
        let (done, answer) = tokio::sync::oneshot::channel::<Result<T, WorkerError>>();
        let write: Write = Box::new(move |tx| match tx {
            Err(reason) => {
                let _ = done.send(Err(WorkerError::Commit(reason.to_owned())));
                Box::new(|_| {})
            }
            Ok(tx) => match catch_unwind(AssertUnwindSafe(|| f(tx))) {
                Err(_) => {
                    let _ = done.send(Err(WorkerError::Panicked));
                    Box::new(|_| {})
                }
                Ok(value) => Box::new(move |committed| {
                    let _ = done.send(
                        committed
                            .map(|()| value)
                            .map_err(|reason| WorkerError::Commit(reason.to_owned())),
                    );
                }),
            },
        });
        self.send(Call::Grouped(write))?;
        answer.await.map_err(|_| WorkerError::Stopped)?
    }
}

/// The thread's loop: waits for a call, takes whatever else is waiting, and runs them in order, each run of
/// consecutive writes in one transaction.
fn serve(mut connection: Connection, calls: &Receiver<Call>) {
    while let Ok(first) = calls.recv() {
        let mut writes = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(call) = next {
            taken += 1;
            match call {
                Call::Grouped(write) => writes.push(write),
                Call::Alone(alone) => {
                    commit(&mut connection, std::mem::take(&mut writes));
                    alone(&mut connection);
                }
            }
            next = if taken < MAX_GROUP {
                calls.try_recv().ok()
            } else {
                None
            };
        }
        commit(&mut connection, writes);
    }
}

/// Runs `writes` in one transaction, then answers each with the commit's outcome.
fn commit(connection: &mut Connection, writes: Vec<Write>) {
    if writes.is_empty() {
        return;
    }
    let tx = connection.transaction().map_err(|e| e.to_string());
    let finishes: Vec<Finish> = writes
        .into_iter()
        .map(|write| write(tx.as_ref().map_err(String::as_str)))
        .collect();
    let committed = tx.and_then(|tx| tx.commit().map_err(|e| e.to_string()));
    for finish in finishes {
        finish(committed.as_ref().copied().map_err(String::as_str));
    }
}

/// The process's one worker for an outbound database file, shared by the queue and the delivery log: their
/// writes take turns on one thread (and share commits) instead of on SQLite's file lock, whose busy handler
/// sleeps (1 ms, 2 ms, … up to 100 ms a try) and under load let one connection starve the other for seconds.
/// In memory, a new database.
pub(crate) fn shared_worker(
    location: &SqliteLocation,
    open: impl FnOnce() -> Result<Connection, String>,
) -> Result<SqliteWorker, String> {
    type Open = Vec<(PathBuf, Weak<Sender<Call>>)>;
    static OPEN: Mutex<Open> = Mutex::new(Vec::new());
    let SqliteLocation::File(path) = location else {
        return SqliteWorker::start(open()?, ":memory:");
    };
    let mut registry = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    registry.retain(|(_, calls)| calls.strong_count() > 0);
    if let Some(calls) = registry
        .iter()
        .filter(|(p, _)| p == path)
        .find_map(|(_, c)| c.upgrade())
    {
        return Ok(SqliteWorker { calls });
    }
    let connection = open()?;
    // Checkpoints would otherwise run in whichever commit crosses the log's size, with a sync of the file:
    // several milliseconds every queue call behind it would wait. Another thread runs them instead.
    connection
        .pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(|e| e.to_string())?;
    let worker = SqliteWorker::start(connection, &file_name(path))?;
    start_checkpoints(path.clone(), Arc::downgrade(&worker.calls))?;
    registry.push((path.clone(), Arc::downgrade(&worker.calls)));
    Ok(worker)
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A thread with a connection of its own that checkpoints the database every `CHECKPOINT_EVERY` (passive: it
/// never waits for the writer, nor makes it wait), until the worker has ended.
fn start_checkpoints(path: PathBuf, worker: Weak<Sender<Call>>) -> Result<(), String> {
    let connection = Connection::open(&path).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name(format!("bitconn-checkpoint {}", file_name(&path)))
        .spawn(move || {
            while worker.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                let checkpointed = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(error) = checkpointed {
                    tracing::debug!(%error, "checkpoint of the outbound database skipped");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the checkpoint thread: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> SqliteWorker {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        SqliteWorker::start(connection, "test").unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_each_commit_once_and_reads_see_them_in_order() {
        let worker = worker();
        let writes: Vec<_> = (0..200)
            .map(|v| {
                let worker = worker.clone();
                tokio::spawn(async move {
                    worker
                        .grouped(move |tx| tx.execute("INSERT INTO t (v) VALUES (?1)", [v]).unwrap())
                        .await
                })
            })
            .collect();
        for write in writes {
            assert_eq!(write.await.unwrap().unwrap(), 1);
        }
        let count: i64 = worker
            .call(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap())
            .await
            .unwrap();
        assert_eq!(count, 200);
    }

    #[tokio::test]
    async fn a_failed_commit_answers_every_write_of_its_group_with_the_reason() {
        let worker = worker();
        // A deferred foreign-key violation fails at commit, after each write ran.
        worker
            .call(|c| {
                c.execute_batch(
                    "PRAGMA foreign_keys = ON; CREATE TABLE p (id INTEGER PRIMARY KEY);
                     CREATE TABLE k (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);",
                )
                .unwrap()
            })
            .await
            .unwrap();
        let failing = worker.grouped(|tx| tx.execute("INSERT INTO k (p) VALUES (7)", []).unwrap());
        let error = failing.await.unwrap_err();
        assert!(
            matches!(error, WorkerError::Commit(ref m) if m.contains("FOREIGN KEY")),
            "{error}"
        );
        let count: i64 = worker
            .call(|c| c.query_row("SELECT COUNT(*) FROM k", [], |r| r.get(0)).unwrap())
            .await
            .unwrap();
        assert_eq!(count, 0, "nothing of the failed group was kept");
    }

    #[tokio::test]
    async fn a_panicking_call_is_answered_and_the_thread_goes_on() {
        let worker = worker();
        let error = worker.call(|_| -> i64 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(error, WorkerError::Panicked));
        let error = worker.grouped(|_| -> i64 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(error, WorkerError::Panicked));
        let one: i64 = worker
            .call(|c| c.query_row("SELECT 1", [], |r| r.get(0)).unwrap())
            .await
            .unwrap();
        assert_eq!(one, 1);
    }

    #[test]
    fn the_queue_and_the_log_of_one_file_share_a_worker() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| SqliteLocation::File(dir.path().join(name));
        let open = |location: &SqliteLocation| {
            let SqliteLocation::File(path) = location else {
                unreachable!()
            };
            Connection::open(path).map_err(|e| e.to_string())
        };
        let location = at("outbound.db");
        let first = shared_worker(&location, || open(&location)).unwrap();
        let again = shared_worker(&location, || panic!("opened twice")).unwrap();
        assert!(Arc::ptr_eq(&first.calls, &again.calls));
        let other = at("other.db");
        assert!(!Arc::ptr_eq(
            &first.calls,
            &shared_worker(&other, || open(&other)).unwrap().calls
        ));
        let memory = || Connection::open_in_memory().map_err(|e| e.to_string());
        assert!(!Arc::ptr_eq(
            &shared_worker(&SqliteLocation::InMemory, memory).unwrap().calls,
            &shared_worker(&SqliteLocation::InMemory, memory).unwrap().calls
        ));
    }
}
