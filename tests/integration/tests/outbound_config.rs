//! Outbound targets at rest: header values and signing secrets never appear in the SQLite file, read back
//! exactly, and a webhook stored before outbound existed still reads.
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::{OutboundTarget, PayloadSpec};
use bitconn::seal::{LocalKey, Sealer};
use bitconn::store::{ConfigStore, SqliteConfigStore, SqliteDb, SqliteLocation};
use serde_json::json;
use std::sync::Arc;
use storage::webhook;

const HEADER_VALUE: &str = "Bearer receiver-token-9d8c7b6a-must-stay-sealed";

#[tokio::test]
async fn headers_and_signing_secrets_are_sealed_in_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let db = SqliteDb::open(&SqliteLocation::File(path.clone())).await.unwrap();
    let store = SqliteConfigStore::new(db, Sealer::with_key(Arc::new(LocalKey::ephemeral())));
    let mut config = webhook("outbound");
    let mut target = OutboundTarget::new("https://hooks.example.com/{{ id }}".into());
    target.headers.insert("Authorization".into(), HEADER_VALUE.into());
    target.payload = PayloadSpec::Fields {
        fields: vec![json!("name")],
    };
    let secret = target.rotate_signing_secret(None, time::OffsetDateTime::now_utc());
    let previous =
        target.rotate_signing_secret(Some(time::Duration::hours(1)), time::OffsetDateTime::now_utc());
    config.outbound = Some(target);
    store.create(&config).await.unwrap();

    let raw: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT config FROM webhooks WHERE id = ?1",
            [config.id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    for secret_text in [HEADER_VALUE.to_owned(), secret.expose(), previous.expose()] {
        assert!(!raw.contains(&secret_text[6..]), "stored in clear: {raw}");
    }
    assert!(raw.contains("hooks.example.com"), "the URL is not a credential");
    assert_eq!(store.get(&config.id).await.unwrap().unwrap(), config);
}

#[test]
fn a_config_stored_before_outbound_existed_reads_without_a_target() {
    let mut stored = serde_json::to_value(webhook("old")).unwrap();
    stored.as_object_mut().unwrap().remove("outbound");
    let config: bitconn::config::WebhookConfig = serde_json::from_value(stored).unwrap();
    assert!(config.outbound.is_none());
}
