//! The SQLite store while another process holds the database's write lock: webhook lookups do not wait behind
//! the execution log, calls are answered at once, and every entry is written once the lock is released.
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::{ModelAccess, NewWebhook, OdooConnection, Permissions, WebhookConfig};
use bitconn::execution_log::{ExecutionLog, LogQuery, SqliteExecutionLog};
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::store::{ConfigStore, SqliteConfigStore, SqliteDb, SqliteLocation, StoreSpec, open_stores};
use std::path::Path;
use std::time::{Duration, Instant};
use storage::{entry, key_file_sealer, webhook};
use time::OffsetDateTime;

/// Longer than the log writer's busy wait, so the first write of the held-up batch fails and is retried.
const LOCK_HELD: Duration = Duration::from_millis(2500);
/// A lookup that does not wait for the lock answers well within this.
const QUICK: Duration = Duration::from_millis(500);

/// Another process (here: another connection) holding the write lock, as the CLI does while it writes.
fn hold_write_lock(path: &Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.execute_batch("BEGIN IMMEDIATE").unwrap();
    connection
}

#[tokio::test]
async fn a_webhook_lookup_does_not_wait_behind_a_log_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let db = SqliteDb::open(&SqliteLocation::File(path.clone())).await.unwrap();
    let store = SqliteConfigStore::new(db.clone(), key_file_sealer(&path));
    let log = SqliteExecutionLog::new(db);
    let config = webhook("looked up");
    store.create(&config).await.unwrap();

    let lock = hold_write_lock(&path);
    let write = tokio::spawn(async move { log.record(entry(config.id, OffsetDateTime::now_utc(), 1)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert!(store.get(&config.id).await.unwrap().is_some());
    let waited = started.elapsed();
    assert!(
        waited < QUICK,
        "the lookup waited {waited:?} behind the log write"
    );
    assert!(
        write.await.unwrap().is_err(),
        "the log write itself did wait for the lock"
    );
    drop(lock);
}

#[tokio::test]
async fn ten_calls_give_ten_entries_while_the_database_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let spec: StoreSpec = format!("sqlite:{}", path.display()).parse().unwrap();
    let stores = open_stores(&spec).await.unwrap();
    let sim = odoo_sim::start(odoo_sim::SimConfig::default()).await.unwrap();
    let new = NewWebhook {
        name: "busy".into(),
        odoo: OdooConnection {
            url: sim.url.clone(),
            db: odoo_sim::DEFAULT_DB.into(),
            login: "admin".into(),
            api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
        },
        models: ModelAccess::All,
        permissions: Permissions::default(),
    };
    let (config, secret) = WebhookConfig::create(new, OffsetDateTime::now_utc());
    stores.config.create(&config).await.unwrap();
    let gateway = std::sync::Arc::new(Gateway::new(
        stores.config.clone(),
        stores.log.clone(),
        stores.idempotency.clone(),
        GatewaySettings::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/bitconn/webhook/{}",
        listener.local_addr().unwrap(),
        config.id
    );
    let server = tokio::spawn(bitconn::server::serve(
        listener,
        bitconn::gateway::router(gateway),
        bitconn::server::ServerLimits::default(),
        std::future::pending(),
    ));

    let lock = hold_write_lock(&path);
    let locked_at = Instant::now();
    let http = bitconn::odoo::tls::http_client_builder().build().unwrap();
    for n in 0..10 {
        let started = Instant::now();
        let answer = http
            .post(&url)
            .bearer_auth(secret.expose())
            .body(format!(
                r#"{{"model": "res.country", "method": "search", "domain": [], "limit": {}}}"#,
                n + 1
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
        assert!(
            started.elapsed() < QUICK,
            "call {n} took {:?} with the database locked",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(LOCK_HELD.saturating_sub(locked_at.elapsed())).await;
    drop(lock);

    stores.log.flush().await.unwrap();
    let entries = stores
        .log
        .query(&LogQuery {
            webhook_id: Some(config.id),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 10, "every call has its entry");
    let stats = stores.log.delivery().unwrap();
    assert_eq!((stats.written, stats.lost()), (10, 0), "{stats:?}");
    assert!(stats.retried > 0, "the lock did hold a write up: {stats:?}");
    server.abort();
}
