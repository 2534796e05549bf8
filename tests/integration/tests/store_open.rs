//! `open_stores` / `init_stores` for each `--store` kind: what `bitconn serve`, `bitconn store init` and the
//! functions get, end to end (DynamoDB on moto).
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::WebhookId;
use bitconn::execution_log::LogQuery;
use bitconn::seal::SealSpec;
use bitconn::store::{
    StoreError, StoreOptions, StoreSpec, Stores, init_stores, init_stores_with, open_stores, open_stores_with,
};
use storage::{Moto, entry, unique_table, webhook};
use time::OffsetDateTime;

/// Writes a webhook and a log entry through `stores`, and reads both back.
async fn write_and_read(stores: &Stores) -> WebhookId {
    let config = webhook("opened");
    stores.config.create(&config).await.unwrap();
    assert_eq!(stores.config.get(&config.id).await.unwrap().unwrap(), config);
    stores
        .log
        .record(entry(config.id, OffsetDateTime::now_utc(), 1))
        .await
        .unwrap();
    let query = LogQuery {
        webhook_id: Some(config.id),
        ..LogQuery::default()
    };
    assert_eq!(
        stores.log.query(&query).await.unwrap().len(),
        1,
        "queries see what was recorded"
    );
    config.id
}

#[tokio::test]
async fn memory_stores_work_and_need_no_init() {
    let spec: StoreSpec = "memory:".parse().unwrap();
    init_stores(&spec).await.unwrap();
    write_and_read(&open_stores(&spec).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_stores_persist_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let spec: StoreSpec = format!("sqlite:{}", dir.path().join("bitconn.db").display())
        .parse()
        .unwrap();
    init_stores(&spec).await.unwrap();
    init_stores(&spec).await.unwrap();
    let stores = open_stores(&spec).await.unwrap();
    let id = write_and_read(&stores).await;
    stores.log.flush().await.unwrap();
    drop(stores);

    let reopened = open_stores(&spec).await.unwrap();
    assert!(reopened.config.get(&id).await.unwrap().is_some());
    let query = LogQuery {
        webhook_id: Some(id),
        ..LogQuery::default()
    };
    assert_eq!(reopened.log.query(&query).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_in_memory_shares_one_database_between_both_ports() {
    let spec: StoreSpec = "sqlite::memory:".parse().unwrap();
    write_and_read(&open_stores(&spec).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_file_that_cannot_be_created_is_a_clear_error() {
    let spec: StoreSpec = "sqlite:/nonexistent-dir/for/sure/bitconn.db".parse().unwrap();
    let error = open_stores(&spec).await.err().unwrap();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("/nonexistent-dir/for/sure/bitconn.db") && message.contains("cannot create"),
        "{message}"
    );
}

#[tokio::test]
async fn dynamodb_stores_before_and_after_init() {
    let moto = Moto::shared();
    let options = StoreOptions {
        sdk_config: Some(moto.sdk_config().await),
        ..StoreOptions::default()
    };
    let prefix = unique_table("app");
    let spec: StoreSpec = format!("dynamodb:{prefix}-webhooks").parse().unwrap();
    let log_table = format!("{prefix}-execution-log");

    // Opening makes no call (a function's role may only read items): the missing tables show on first use.
    let stores = open_stores_with(&spec, &options).await.unwrap();
    let error = stores.config.get(&WebhookId::generate()).await.unwrap_err();
    assert!(matches!(error, StoreError::Missing(_)), "{error:?}");
    assert!(
        error.to_string().contains(&format!("{prefix}-webhooks"))
            && error.to_string().contains("bitconn store init")
    );
    let error = stores
        .log
        .query(&LogQuery::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&log_table) && error.contains("bitconn store init"),
        "{error}"
    );

    init_stores_with(&spec, &options).await.unwrap();
    init_stores_with(&spec, &options).await.unwrap();
    let error = stores
        .config
        .create(&webhook("unsealed"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("BITCONN_SEAL=kms:"),
        "DynamoDB needs a KMS key to write: {error}"
    );
    let options = StoreOptions {
        seal: Some(SealSpec::Kms(moto.kms_key().await)),
        ..options
    };
    let stores = open_stores_with(&spec, &options).await.unwrap();
    write_and_read(&stores).await;

    let client = aws_sdk_dynamodb::Client::new(options.sdk_config.as_ref().unwrap());
    let tables = client.list_tables().send().await.unwrap().table_names.unwrap();
    assert!(tables.contains(&log_table), "{tables:?}");
    assert!(
        tables.contains(&format!("{prefix}-idempotency")),
        "init creates the Idempotency-Key table: {tables:?}"
    );
    assert!(
        tables.contains(&format!("{prefix}-deliveries")),
        "init creates the outbound delivery log table: {tables:?}"
    );
}
