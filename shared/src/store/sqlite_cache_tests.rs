//! The decoded configs are never served after a change, whichever connection made it.

use crate::config::WebhookConfig;
use crate::config::tests::new_webhook;
use crate::store::{ConfigStore, SqliteLocation, StoreSpec, open_stores};
use std::sync::Arc;

fn webhook(name: &str) -> WebhookConfig {
    let new = crate::config::NewWebhook {
        name: name.into(),
        ..new_webhook()
    };
    WebhookConfig::create(new, time::OffsetDateTime::now_utc()).0
}

/// Two handles on one file, as `bitconn serve` and a `bitconn webhook …` command in another process have.
async fn two_handles() -> (tempfile::TempDir, Arc<dyn ConfigStore>, Arc<dyn ConfigStore>) {
    let dir = tempfile::tempdir().unwrap();
    let spec = StoreSpec::Sqlite(SqliteLocation::File(dir.path().join("bitconn.db")));
    let first = open_stores(&spec).await.unwrap().config;
    let second = open_stores(&spec).await.unwrap().config;
    (dir, first, second)
}

#[tokio::test]
async fn a_change_through_another_connection_is_seen_by_the_next_lookup() {
    let (_dir, serving, admin) = two_handles().await;
    let config = webhook("before");
    admin.create(&config).await.unwrap();
    // Read twice, so the second lookup is answered from the decoded configs.
    for _ in 0..2 {
        assert_eq!(serving.get(&config.id).await.unwrap().unwrap().name, "before");
    }

    let mut renamed = config.clone();
    renamed.name = "after".into();
    let renamed = admin.update(&renamed).await.unwrap();
    assert_eq!(serving.get(&config.id).await.unwrap().unwrap().name, "after");
    assert_eq!(
        serving.get(&config.id).await.unwrap().unwrap().version,
        renamed.version
    );

    assert!(admin.delete(&config.id).await.unwrap());
    assert!(serving.get(&config.id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_webhook_created_elsewhere_after_a_miss_is_found() {
    let (_dir, serving, admin) = two_handles().await;
    let config = webhook("late");
    assert!(serving.get(&config.id).await.unwrap().is_none());
    admin.create(&config).await.unwrap();
    assert_eq!(serving.get(&config.id).await.unwrap().unwrap().name, "late");
}

#[tokio::test]
async fn a_change_through_the_same_connection_is_seen_by_the_next_lookup() {
    let spec = StoreSpec::Sqlite(SqliteLocation::InMemory);
    let store = open_stores(&spec).await.unwrap().config;
    let config = webhook("before");
    store.create(&config).await.unwrap();
    assert_eq!(store.get(&config.id).await.unwrap().unwrap().name, "before");
    let mut disabled = store.get(&config.id).await.unwrap().unwrap();
    disabled.enabled = false;
    store.update(&disabled).await.unwrap();
    assert!(!store.get(&config.id).await.unwrap().unwrap().enabled);
    assert!(store.delete(&config.id).await.unwrap());
    assert!(store.get(&config.id).await.unwrap().is_none());
}
