//! The `IdempotencyStore` contract, run against every adapter: memory, SQLite and DynamoDB (moto).
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::WebhookId;
use bitconn::idempotency::{
    DynamoIdempotencyStore, IdempotencyKey, IdempotencyStore, MemoryIdempotencyStore, Record,
    SqliteIdempotencyStore, State, StoredResponse, create_idempotency_table,
};
use bitconn::store::{SqliteDb, SqliteLocation, StoreError};
use std::sync::Arc;
use storage::{Moto, Subject, unique_table};
use time::{Duration, OffsetDateTime};

fn claim(webhook_id: WebhookId, key: &str, lifetime: Duration) -> Record {
    let now = OffsetDateTime::now_utc();
    Record {
        webhook_id,
        key: IdempotencyKey::parse(key.as_bytes()).unwrap(),
        token: uuid_like(),
        fingerprint: bitconn::idempotency::fingerprint(key.as_bytes()),
        state: State::InProgress,
        created_at: now,
        expires_at: now + lifetime,
    }
}

fn uuid_like() -> String {
    WebhookId::generate().to_string()
}

/// Stored times are kept to the millisecond.
fn same(a: &Record, b: &Record) {
    assert_eq!(
        (&a.webhook_id, &a.key, &a.token, &a.fingerprint, &a.state),
        (&b.webhook_id, &b.key, &b.token, &b.fingerprint, &b.state)
    );
    for (x, y) in [(a.created_at, b.created_at), (a.expires_at, b.expires_at)] {
        assert!((x - y).abs() < Duration::milliseconds(2), "{x} vs {y}");
    }
}

fn done(body: &[u8]) -> State {
    State::Done(StoredResponse {
        status: 201,
        content_type: "application/json; charset=utf-8".into(),
        body: body.to_vec().into(),
    })
}

async fn the_first_reservation_wins_and_is_returned_to_repeats(store: &dyn IdempotencyStore) {
    let first = claim(WebhookId::generate(), "k-1", Duration::hours(24));
    assert!(store.reserve(&first).await.unwrap().is_none());
    let mut second = first.clone();
    second.token = uuid_like();
    second.fingerprint = "other".into();
    same(&store.reserve(&second).await.unwrap().unwrap(), &first);
}

async fn settled_answers_read_back_exactly(store: &dyn IdempotencyStore) {
    let mut record = claim(WebhookId::generate(), "k/2:bytes", Duration::hours(24));
    store.reserve(&record).await.unwrap();
    // Not UTF-8: the body is kept as bytes.
    record.state = done(&[0, 159, 146, 150, b'{', b'}']);
    store.settle(&record).await.unwrap();
    let mut repeat = record.clone();
    repeat.token = uuid_like();
    same(&store.reserve(&repeat).await.unwrap().unwrap(), &record);

    let mut blocked = claim(record.webhook_id, "k-3", Duration::hours(24));
    store.reserve(&blocked).await.unwrap();
    blocked.state = State::Blocked {
        code: "idempotency_outcome_unknown".into(),
        message: "check in Odoo".into(),
    };
    store.settle(&blocked).await.unwrap();
    same(&store.reserve(&blocked).await.unwrap().unwrap(), &blocked);
}

async fn keys_are_per_webhook(store: &dyn IdempotencyStore) {
    let a = claim(WebhookId::generate(), "shared", Duration::hours(24));
    let b = claim(WebhookId::generate(), "shared", Duration::hours(24));
    assert!(store.reserve(&a).await.unwrap().is_none());
    assert!(store.reserve(&b).await.unwrap().is_none());
}

async fn only_one_of_concurrent_reservations_wins(store: &dyn IdempotencyStore) {
    let webhook = WebhookId::generate();
    let claims: Vec<Record> = (0..8)
        .map(|_| claim(webhook, "raced", Duration::hours(24)))
        .collect();
    let results = futures_util::future::join_all(claims.iter().map(|c| store.reserve(c))).await;
    let winners: Vec<&Record> = claims
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.as_ref().unwrap().is_none())
        .map(|(c, _)| c)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Ok(Some(found)) = result {
            assert_eq!(found.token, winners[0].token);
        }
    }
}

async fn release_frees_the_key_only_for_its_reservation(store: &dyn IdempotencyStore) {
    let record = claim(WebhookId::generate(), "released", Duration::hours(24));
    store.reserve(&record).await.unwrap();
    let mut impostor = record.clone();
    impostor.token = uuid_like();
    store.release(&impostor).await.unwrap();
    impostor.state = done(b"{}");
    store.settle(&impostor).await.unwrap();
    same(&store.reserve(&impostor).await.unwrap().unwrap(), &record);

    store.release(&record).await.unwrap();
    let next = claim(record.webhook_id, "released", Duration::hours(24));
    assert!(store.reserve(&next).await.unwrap().is_none());
    store.release(&record).await.unwrap();
    assert!(
        store.reserve(&next).await.unwrap().is_some(),
        "a stale release leaves the new reservation"
    );
}

async fn an_expired_record_counts_as_absent(store: &dyn IdempotencyStore) {
    let old = claim(WebhookId::generate(), "expiring", Duration::milliseconds(100));
    store.reserve(&old).await.unwrap();
    let fresh = claim(old.webhook_id, "expiring", Duration::hours(24));
    assert!(store.reserve(&fresh).await.unwrap().is_some(), "still held");
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(
        store.reserve(&fresh).await.unwrap().is_none(),
        "taken over once expired"
    );
    let mut late = old.clone();
    late.state = done(b"late");
    store.settle(&late).await.unwrap();
    same(&store.reserve(&old).await.unwrap().unwrap(), &fresh);
}

macro_rules! contract {
    ($($adapter:ident => $open:expr),* $(,)?) => {
        $(mod $adapter {
            use super::*;
            contract!(@properties $open;
                the_first_reservation_wins_and_is_returned_to_repeats,
                settled_answers_read_back_exactly,
                keys_are_per_webhook,
                only_one_of_concurrent_reservations_wins,
                release_frees_the_key_only_for_its_reservation,
                an_expired_record_counts_as_absent);
        })*
    };
    (@properties $open:expr; $($property:ident),*) => {
        $(#[tokio::test]
        async fn $property() {
            let subject: Subject<dyn IdempotencyStore> = $open.await;
            super::$property(subject.port.as_ref()).await;
        })*
    };
}

async fn memory() -> Subject<dyn IdempotencyStore> {
    Subject {
        port: Arc::new(MemoryIdempotencyStore::new()),
        keep: None,
    }
}

async fn sqlite() -> Subject<dyn IdempotencyStore> {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&SqliteLocation::File(dir.path().join("keys.db")))
        .await
        .unwrap();
    Subject {
        port: Arc::new(SqliteIdempotencyStore::open(db).await.unwrap()),
        keep: Some(dir),
    }
}

async fn dynamodb() -> Subject<dyn IdempotencyStore> {
    let sdk = Moto::shared().sdk_config().await;
    let table = unique_table("idempotency");
    create_idempotency_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    Subject {
        port: Arc::new(DynamoIdempotencyStore::from_sdk_config(&sdk, table)),
        keep: None,
    }
}

contract! {
    memory => memory(),
    sqlite => sqlite(),
    dynamodb => dynamodb(),
}

#[tokio::test]
async fn sqlite_sweeps_expired_rows_and_shares_keys_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let location = SqliteLocation::File(dir.path().join("swept.db"));
    let first = SqliteIdempotencyStore::open(SqliteDb::open(&location).await.unwrap())
        .await
        .unwrap();
    let webhook = WebhookId::generate();
    for n in 0..5 {
        let record = claim(webhook, &format!("old-{n}"), Duration::milliseconds(50));
        first.reserve(&record).await.unwrap();
    }
    let kept = claim(webhook, "kept", Duration::hours(24));
    first.reserve(&kept).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // Another process on the same file sees the reservation, and its first reservation sweeps.
    let second = SqliteIdempotencyStore::open(SqliteDb::open(&location).await.unwrap())
        .await
        .unwrap();
    same(&second.reserve(&kept).await.unwrap().unwrap(), &kept);
    let rows: i64 = rusqlite::Connection::open(dir.path().join("swept.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "only the unexpired key is left");
}

#[tokio::test]
async fn dynamodb_table_has_ttl_and_a_missing_table_is_reported() {
    let sdk = Moto::shared().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique_table("idempotency-ttl");
    create_idempotency_table(&client, &table).await.unwrap();
    create_idempotency_table(&client, &table)
        .await
        .expect("creating it again succeeds");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description().unwrap();
    assert_eq!(description.attribute_name(), Some("expires_at"));

    let absent = unique_table("idempotency-absent");
    let store = DynamoIdempotencyStore::from_sdk_config(&sdk, &absent);
    match store
        .reserve(&claim(WebhookId::generate(), "k", Duration::hours(1)))
        .await
    {
        Err(error @ StoreError::Missing(_)) => {
            let message = error.to_string();
            assert!(
                message.contains(&absent) && message.contains("bitconn store init"),
                "{message}"
            );
        }
        other => panic!("expected Missing, got {other:?}"),
    }
}
