//! Credentials at rest: the raw SQLite file and the raw DynamoDB item never hold the Odoo API key, reading
//! gives it back, clear values of older stores still read and are sealed on the next write, and the files
//! are private (0600).
#![allow(clippy::unwrap_used)]

mod storage;

use aws_sdk_dynamodb::types::AttributeValue;
use bitconn::config::WebhookConfig;
use bitconn::seal::{LocalKey, Sealer, key_file_for};
use bitconn::store::{
    ConfigStore, DynamoConfigStore, SqliteConfigStore, SqliteDb, SqliteLocation, StoreError,
    create_webhooks_table,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use storage::{Moto, key_file_sealer, unique_table, webhook};

const API_KEY: &str = "odoo-api-key-6f1c2a4e8b3d4c5e-must-stay-sealed";

fn with_key(name: &str) -> WebhookConfig {
    let mut config = webhook(name);
    config.odoo.api_key = API_KEY.into();
    config
}

/// Every byte SQLite keeps for `database`: the file and its write-ahead log.
fn raw_bytes(database: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(database).unwrap();
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn stored_json(database: &Path, config: &WebhookConfig) -> String {
    rusqlite::Connection::open(database)
        .unwrap()
        .query_row(
            "SELECT config FROM webhooks WHERE id = ?1",
            [config.id.to_string()],
            |r| r.get(0),
        )
        .unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn sqlite(path: &Path) -> SqliteConfigStore {
    SqliteConfigStore::new(
        SqliteDb::open(&SqliteLocation::File(path.to_owned()))
            .await
            .unwrap(),
        key_file_sealer(path),
    )
}

#[tokio::test]
async fn the_sqlite_file_holds_no_api_key_and_reading_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bitconn.db");
    let store = sqlite(&path).await;
    let config = with_key("sealed");
    store.create(&config).await.unwrap();
    let mut rotated = store.get(&config.id).await.unwrap().unwrap();
    rotated.name = "updated".into();
    store.update(&rotated).await.unwrap();

    let raw = raw_bytes(&path);
    assert!(contains(&raw, "aes-256-gcm/v1"), "the row is there, sealed");
    assert!(
        !contains(&raw, API_KEY),
        "the API key is in the SQLite file in clear"
    );
    assert_eq!(
        store.get(&config.id).await.unwrap().unwrap().odoo.api_key,
        API_KEY
    );
    assert_eq!(store.list().await.unwrap()[0].odoo.api_key, API_KEY);
    drop(store);
    assert_eq!(
        sqlite(&path)
            .await
            .get(&config.id)
            .await
            .unwrap()
            .unwrap()
            .odoo
            .api_key,
        API_KEY,
        "after reopening"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_and_its_key_file_are_private_and_an_open_store_is_made_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bitconn.db");
    let spec = format!("sqlite:{}", path.display()).parse().unwrap();
    let stores = bitconn::store::open_stores(&spec).await.unwrap();
    stores.config.create(&with_key("modes")).await.unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    for file in [path.clone(), key_file_for(&path), PathBuf::from(wal)] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(stores);

    let old = dir.path().join("old.db");
    rusqlite::Connection::open(&old)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqliteDb::open(&SqliteLocation::File(old.clone())).await.unwrap();
    assert_eq!(
        mode(&old),
        0o600,
        "an existing world-readable store is made private"
    );
}

#[tokio::test]
async fn clear_values_of_an_older_sqlite_store_still_read_and_are_sealed_on_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let store = sqlite(&path).await;
    let config = with_key("written before sealing");
    // The row as an older version wrote it: the API key in clear, and no `demo` member.
    let mut document = serde_json::to_value(&config).unwrap();
    document.as_object_mut().unwrap().remove("demo");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO webhooks (id, version, updated_at, config) VALUES (?1, 1, '2025-01-01T00:00:00Z', ?2)",
            [config.id.to_string(), document.to_string()],
        )
        .unwrap();

    let read = store.get(&config.id).await.unwrap().unwrap();
    assert_eq!(read.odoo.api_key, API_KEY);
    assert!(
        !read.demo,
        "records from before the demo mark are not demo webhooks"
    );
    assert!(
        stored_json(&path, &config).contains(API_KEY),
        "reading changes nothing"
    );
    store.update(&read).await.unwrap();
    let stored = stored_json(&path, &config);
    assert!(
        !stored.contains(API_KEY) && stored.contains("aes-256-gcm/v1"),
        "{stored}"
    );
    assert_eq!(
        store.get(&config.id).await.unwrap().unwrap().odoo.api_key,
        API_KEY
    );
}

#[tokio::test]
async fn a_value_sealed_with_another_key_or_moved_to_another_webhook_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = sqlite(&path).await;
    let config = with_key("first");
    store.create(&config).await.unwrap();

    let db = SqliteDb::open(&SqliteLocation::File(path.clone())).await.unwrap();
    let other_key = SqliteConfigStore::new(db, Sealer::with_key(Arc::new(LocalKey::ephemeral())));
    let error = other_key.get(&config.id).await.unwrap_err();
    assert!(matches!(error, StoreError::Seal(_)), "{error:?}");
    assert!(error.to_string().contains("sealed with local:"), "{error}");

    // Copy the sealed row to another id: it must not open as that webhook's key.
    let thief = webhook("thief");
    let stolen = stored_json(&path, &config).replace(&config.id.to_string(), &thief.id.to_string());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO webhooks (id, version, updated_at, config) VALUES (?1, 1, 'x', ?2)",
            [thief.id.to_string(), stolen],
        )
        .unwrap();
    let error = store.get(&thief.id).await.unwrap_err().to_string();
    assert!(error.contains("did not open"), "{error}");
}

async fn raw_item(sdk: &aws_config::SdkConfig, table: &str, config: &WebhookConfig) -> String {
    let item = aws_sdk_dynamodb::Client::new(sdk)
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::S(config.id.to_string()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    format!("{item:?}")
}

#[tokio::test]
async fn the_dynamodb_item_holds_no_api_key_and_kms_opens_it() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let table = unique_table("sealed");
    create_webhooks_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    let store = DynamoConfigStore::from_sdk_config(&sdk, &table, moto.kms_sealer().await);
    let config = with_key("kms");
    store.create(&config).await.unwrap();

    let item = raw_item(&sdk, &table, &config).await;
    assert!(item.contains("aes-256-gcm/v1") && item.contains("kms:"), "{item}");
    assert!(
        !item.contains(API_KEY),
        "the API key is in the DynamoDB item in clear: {item}"
    );
    assert_eq!(
        store.get(&config.id).await.unwrap().unwrap().odoo.api_key,
        API_KEY
    );

    // Another KMS key cannot open it (KMS refuses the data key).
    let other = DynamoConfigStore::from_sdk_config(&sdk, &table, moto.kms_sealer().await);
    let error = other.get(&config.id).await.unwrap_err();
    assert!(matches!(error, StoreError::Seal(_)), "{error:?}");
}

#[tokio::test]
async fn clear_items_of_an_older_dynamodb_table_still_read_and_are_sealed_on_the_next_write() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let table = unique_table("old-items");
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    create_webhooks_table(&client, &table).await.unwrap();
    let config = with_key("format 1");
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::S(config.id.to_string()))
        .item("version", AttributeValue::N(config.version.to_string()))
        .item("format", AttributeValue::N("1".into()))
        .item(
            "config",
            AttributeValue::S(serde_json::to_string(&config).unwrap()),
        )
        .send()
        .await
        .unwrap();
    let store = DynamoConfigStore::from_sdk_config(&sdk, &table, moto.kms_sealer().await);
    let read = store.get(&config.id).await.unwrap().unwrap();
    assert_eq!(read, config);
    store.update(&read).await.unwrap();
    let item = raw_item(&sdk, &table, &config).await;
    assert!(
        !item.contains(API_KEY) && item.contains("aes-256-gcm/v1"),
        "{item}"
    );
    assert_eq!(
        store.get(&config.id).await.unwrap().unwrap().odoo.api_key,
        API_KEY
    );
}
