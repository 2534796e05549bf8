//! The `ConfigStore` contract, run against every adapter: memory, SQLite, DynamoDB (moto) and the cache wrapper.
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::WebhookId;
use bitconn::store::{
    CachedConfigStore, ConfigStore, DynamoConfigStore, SqliteConfigStore, SqliteDb, SqliteLocation,
    StoreError,
};
use std::sync::Arc;
use storage::{Moto, Subject, key_file_sealer, unique_table, webhook};

async fn created_webhooks_read_back_exactly(store: &dyn ConfigStore) {
    let config = webhook("round-trip");
    store.create(&config).await.unwrap();
    let stored = store.get(&config.id).await.unwrap().unwrap();
    assert_eq!(stored, config);
    assert!(
        stored.secret.previous.is_some(),
        "the rotation grace survives storage"
    );
    assert!(store.get(&WebhookId::generate()).await.unwrap().is_none());
}

async fn the_demo_mark_is_stored(store: &dyn ConfigStore) {
    let mut config = webhook("demo");
    config.demo = true;
    store.create(&config).await.unwrap();
    assert!(store.get(&config.id).await.unwrap().unwrap().demo);
    let plain = webhook("not demo");
    store.create(&plain).await.unwrap();
    assert!(!store.get(&plain.id).await.unwrap().unwrap().demo);
}

async fn creating_an_existing_id_is_refused_and_keeps_the_original(store: &dyn ConfigStore) {
    let config = webhook("first");
    store.create(&config).await.unwrap();
    let mut impostor = webhook("second");
    impostor.id = config.id;
    match store.create(&impostor).await {
        Err(StoreError::AlreadyExists(id)) => assert_eq!(id, config.id),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.get(&config.id).await.unwrap().unwrap().name, "first");
}

async fn updates_bump_the_version_and_stale_ones_conflict(store: &dyn ConfigStore) {
    let config = webhook("versioned");
    store.create(&config).await.unwrap();
    let mut changed = store.get(&config.id).await.unwrap().unwrap();
    changed.enabled = false;
    let stored = store.update(&changed).await.unwrap();
    assert_eq!(stored.version, config.version + 1);
    assert!(!stored.enabled);
    assert!(stored.updated_at >= config.updated_at);
    assert_eq!(store.get(&config.id).await.unwrap().unwrap(), stored);

    let mut stale = config.clone();
    stale.name = "lost update".into();
    match store.update(&stale).await {
        Err(StoreError::Conflict { id, expected }) => assert_eq!((id, expected), (config.id, config.version)),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(&config.id).await.unwrap().unwrap(),
        stored,
        "a refused update changes nothing"
    );
    let again = store.update(&stored).await.unwrap();
    assert_eq!(again.version, config.version + 2);
}

async fn only_one_of_two_concurrent_updates_wins(store: &dyn ConfigStore) {
    let config = webhook("raced");
    store.create(&config).await.unwrap();
    let (mut a, mut b) = (config.clone(), config.clone());
    a.name = "a".into();
    b.name = "b".into();
    let (ra, rb) = tokio::join!(store.update(&a), store.update(&b));
    let winners = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{ra:?} / {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(matches!(loser, Err(StoreError::Conflict { .. })), "{loser:?}");
    assert_eq!(
        store.get(&config.id).await.unwrap().unwrap().version,
        config.version + 1
    );
}

async fn unknown_webhooks_cannot_be_updated_or_deleted(store: &dyn ConfigStore) {
    let config = webhook("ghost");
    match store.update(&config).await {
        Err(StoreError::NotFound(id)) => assert_eq!(id, config.id),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!store.delete(&config.id).await.unwrap());
    assert!(
        store.get(&config.id).await.unwrap().is_none(),
        "a failed update creates nothing"
    );
}

async fn delete_removes_only_its_webhook(store: &dyn ConfigStore) {
    let (gone, kept) = (webhook("gone"), webhook("kept"));
    store.create(&gone).await.unwrap();
    store.create(&kept).await.unwrap();
    assert!(store.delete(&gone.id).await.unwrap());
    assert!(store.get(&gone.id).await.unwrap().is_none());
    assert!(
        !store.delete(&gone.id).await.unwrap(),
        "deleting twice reports nothing deleted"
    );
    assert!(store.get(&kept.id).await.unwrap().is_some());
    match store.update(&gone).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound after delete, got {other:?}"),
    }
    store.create(&gone).await.unwrap();
}

async fn list_returns_every_webhook_in_id_order(store: &dyn ConfigStore) {
    assert!(store.list().await.unwrap().is_empty());
    let mut created: Vec<_> = (0..12).map(|n| webhook(&format!("w{n}"))).collect();
    for config in &created {
        store.create(config).await.unwrap();
    }
    created.sort_by_key(|c| c.id);
    assert_eq!(store.list().await.unwrap(), created);
}

macro_rules! contract {
    ($($adapter:ident => $open:expr),* $(,)?) => {
        $(mod $adapter {
            use super::*;
            contract!(@properties $open;
                created_webhooks_read_back_exactly,
                the_demo_mark_is_stored,
                creating_an_existing_id_is_refused_and_keeps_the_original,
                updates_bump_the_version_and_stale_ones_conflict,
                only_one_of_two_concurrent_updates_wins,
                unknown_webhooks_cannot_be_updated_or_deleted,
                delete_removes_only_its_webhook,
                list_returns_every_webhook_in_id_order);
        })*
    };
    (@properties $open:expr; $($property:ident),*) => {
        $(#[tokio::test]
        async fn $property() {
            let subject: Subject<dyn ConfigStore> = $open.await;
            super::$property(subject.port.as_ref()).await;
        })*
    };
}

async fn cached_memory() -> Subject<dyn ConfigStore> {
    let inner = storage::memory_store().await.port;
    Subject {
        port: Arc::new(CachedConfigStore::new(inner, std::time::Duration::from_secs(5))),
        keep: None,
    }
}

contract! {
    memory => storage::memory_store(),
    sqlite => storage::sqlite_store(),
    dynamodb => storage::dynamodb_store(),
    cached => cached_memory(),
}

/// Every operation on a missing table says which table and how to create it.
async fn assert_every_operation_reports_missing(store: &dyn ConfigStore, table: &str) {
    let config = webhook("nowhere");
    let results = [
        ("create", store.create(&config).await.map(|_| ())),
        ("get", store.get(&config.id).await.map(|_| ())),
        ("list", store.list().await.map(|_| ())),
        ("update", store.update(&config).await.map(|_| ())),
        ("delete", store.delete(&config.id).await.map(|_| ())),
    ];
    for (operation, result) in results {
        match result {
            Err(error @ StoreError::Missing(_)) => {
                let message = error.to_string();
                assert!(
                    message.contains(table) && message.contains("bitconn store init"),
                    "{operation}: {message}"
                );
            }
            other => panic!("{operation}: expected Missing, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn dynamodb_missing_table_is_reported_clearly() {
    let sdk = Moto::shared().sdk_config().await;
    let table = unique_table("absent");
    let store = DynamoConfigStore::from_sdk_config(&sdk, &table, Moto::shared().kms_sealer().await);
    assert_every_operation_reports_missing(&store, &table).await;
}

#[tokio::test]
async fn sqlite_missing_table_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.db");
    let db = SqliteDb::open(&SqliteLocation::File(path.clone())).await.unwrap();
    let store = SqliteConfigStore::new(db, key_file_sealer(&path));
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE webhooks")
        .unwrap();
    assert_every_operation_reports_missing(&store, "table webhooks").await;
}

#[tokio::test]
async fn sqlite_webhooks_survive_reopening_and_are_shared_between_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let location = SqliteLocation::File(path.clone());
    let first = SqliteConfigStore::new(SqliteDb::open(&location).await.unwrap(), key_file_sealer(&path));
    let second = SqliteConfigStore::new(SqliteDb::open(&location).await.unwrap(), key_file_sealer(&path));
    let config = webhook("two processes");
    first.create(&config).await.unwrap();
    let stored = second.get(&config.id).await.unwrap().unwrap();
    let updated = second.update(&stored).await.unwrap();
    assert!(matches!(
        first.update(&stored).await,
        Err(StoreError::Conflict { .. })
    ));
    drop((first, second));
    let reopened = SqliteConfigStore::new(SqliteDb::open(&location).await.unwrap(), key_file_sealer(&path));
    assert_eq!(reopened.get(&config.id).await.unwrap().unwrap(), updated);
}
