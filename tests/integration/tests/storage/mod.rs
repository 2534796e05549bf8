//! What the storage tests share: sample webhooks and log entries, and each adapter opened on fresh storage.
#![allow(dead_code, clippy::unwrap_used)]

pub mod moto;
pub mod sqs;

use bitconn::config::{
    FieldRule, HttpVerb, ModelAccess, NewWebhook, OdooConnection, Permissions, WebhookConfig, WebhookId,
};
use bitconn::execution_log::{
    DynamoExecutionLog, ExecutionLog, ExecutionLogEntry, MemoryExecutionLog, Outcome, SqliteExecutionLog,
};
use bitconn::seal::{LocalKey, Sealer, key_file_for};
use bitconn::store::{
    ConfigStore, DynamoConfigStore, MemoryConfigStore, SqliteConfigStore, SqliteDb, SqliteLocation,
    create_log_table, create_webhooks_table,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub use moto::{Moto, unique_table};

/// A port under test plus whatever must outlive it (a temporary directory).
pub struct Subject<T: ?Sized> {
    pub port: Arc<T>,
    pub keep: Option<tempfile::TempDir>,
}

/// A webhook using every part of the config: a rotated secret in its grace period, field rules, verbs.
pub fn webhook(name: &str) -> WebhookConfig {
    let now = OffsetDateTime::now_utc();
    let new = NewWebhook {
        name: name.into(),
        odoo: OdooConnection {
            url: "http://127.0.0.1:8069".into(),
            db: "odoo18".into(),
            login: "integrator".into(),
            api_key: "odoo-api-key".into(),
        },
        models: ModelAccess::Only(["res.partner".parse().unwrap(), "sale.order".parse().unwrap()].into()),
        permissions: Permissions {
            can_create: true,
            can_write: true,
            can_unlink: true,
        },
    };
    let (mut config, _) = WebhookConfig::create(new, now);
    config.rotate_secret(Some(Duration::hours(1)), now);
    config.field_rules.insert(
        "res.partner".parse().unwrap(),
        FieldRule {
            allow: Some(["name".into(), "email".into()].into()),
            deny: ["vat".into()].into(),
        },
    );
    config.allowed_verbs = vec![HttpVerb::Post, HttpVerb::Put];
    config
}

pub fn entry(webhook_id: WebhookId, at: OffsetDateTime, n: u32) -> ExecutionLogEntry {
    ExecutionLogEntry {
        at,
        webhook_id,
        http_verb: "POST".into(),
        method: (!n.is_multiple_of(3)).then(|| "search".into()),
        model: (!n.is_multiple_of(3)).then(|| "res.partner".into()),
        outcome: if n.is_multiple_of(2) {
            Outcome::Success
        } else {
            Outcome::OdooError
        },
        status: if n.is_multiple_of(2) { 200 } else { 400 },
        duration_ms: u64::from(n) * 7,
        odoo_calls: n % 4,
        error_code: (!n.is_multiple_of(2)).then(|| "odoo_error".into()),
        request_body: format!("{{\"method\":\"search\",\"n\":{n}}}"),
    }
}

pub async fn memory_store() -> Subject<dyn ConfigStore> {
    Subject {
        port: Arc::new(MemoryConfigStore::new()),
        keep: None,
    }
}

/// The sealer an SQLite file gets by default: the key file beside it.
pub fn key_file_sealer(database: &std::path::Path) -> Sealer {
    Sealer::with_key(Arc::new(
        LocalKey::load_or_create(&key_file_for(database)).unwrap(),
    ))
}

pub async fn sqlite_store() -> Subject<dyn ConfigStore> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let db = SqliteDb::open(&SqliteLocation::File(path.clone())).await.unwrap();
    Subject {
        port: Arc::new(SqliteConfigStore::new(db, key_file_sealer(&path))),
        keep: Some(dir),
    }
}

pub async fn dynamodb_store() -> Subject<dyn ConfigStore> {
    let sdk = Moto::shared().sdk_config().await;
    let table = unique_table("webhooks");
    create_webhooks_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    Subject {
        port: Arc::new(DynamoConfigStore::from_sdk_config(
            &sdk,
            table,
            Moto::shared().kms_sealer().await,
        )),
        keep: None,
    }
}

pub async fn memory_log(retention: Duration) -> Subject<dyn ExecutionLog> {
    Subject {
        port: Arc::new(MemoryExecutionLog::with_retention(retention)),
        keep: None,
    }
}

pub async fn sqlite_log(retention: Duration) -> Subject<dyn ExecutionLog> {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&SqliteLocation::File(dir.path().join("log.db")))
        .await
        .unwrap();
    Subject {
        port: Arc::new(SqliteExecutionLog::with_retention(db, retention)),
        keep: Some(dir),
    }
}

pub async fn dynamodb_log(retention: Duration) -> Subject<dyn ExecutionLog> {
    let sdk = Moto::shared().sdk_config().await;
    let table = unique_table("log");
    create_log_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    Subject {
        port: Arc::new(DynamoExecutionLog::from_sdk_config(&sdk, table, retention)),
        keep: None,
    }
}
