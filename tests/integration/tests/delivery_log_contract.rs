//! The `DeliveryLog` contract, run against every adapter (memory, SQLite, DynamoDB on moto): attempts read back
//! whole per event, events listed newest first with the webhook / status / since filters and a limit, nothing
//! past the retention; plus the DynamoDB table's creation (TTL, index) and a missing table's error.
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::WebhookId;
use bitconn::outbound::deliveries::{
    Attempt, AttemptOutcome, BY_WEBHOOK_INDEX, DeliveryLog, DeliveryQuery, DynamoDeliveryLog,
    MemoryDeliveryLog, SqliteDeliveryLog, StatusFilter, create_deliveries_table,
};
use bitconn::store::SqliteLocation;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use storage::{Moto, Subject, unique_table};
use time::{Duration, OffsetDateTime};

/// Retention of the logs under test: attempts older than an hour must never be returned.
const RETENTION: Duration = Duration::hours(1);

fn attempt(event: &str, webhook: WebhookId, n: u32, minutes_ago: i64, outcome: AttemptOutcome) -> Attempt {
    Attempt {
        event_id: event.to_owned(),
        webhook_id: webhook,
        attempt: n,
        at: OffsetDateTime::now_utc() - Duration::minutes(minutes_ago),
        url: format!("https://hooks.example.com/{event}"),
        outcome,
        status: (outcome != AttemptOutcome::Skipped).then_some(if outcome == AttemptOutcome::Delivered {
            200
        } else {
            503
        }),
        duration_ms: u64::from(n) * 11,
        error: (outcome != AttemptOutcome::Delivered).then(|| format!("attempt {n} failed")),
        response: Some(format!("{{\"n\":{n}}}")),
        test: false,
        payload: Some(format!("{{\"model\":\"sale.order\",\"attempt\":{n}}}")),
        request_headers: BTreeMap::from([
            ("authorization".to_owned(), "[redacted]".to_owned()),
            ("webhook-id".to_owned(), event.to_owned()),
            ("webhook-signature".to_owned(), "v1,[redacted]".to_owned()),
        ]),
        job: Some(
            json!({"type": "deliver", "event_id": event, "webhook_id": webhook.to_string(),
                         "model": "sale.order", "ids": [n]}),
        ),
    }
}

fn ids(events: &[bitconn::outbound::deliveries::EventSummary]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

async fn attempts_of_an_event_read_back_whole_and_in_order(log: &dyn DeliveryLog) {
    let webhook = WebhookId::generate();
    let event = format!("evt_{}", WebhookId::generate());
    let attempts = vec![
        attempt(&event, webhook, 1, 30, AttemptOutcome::Retrying),
        attempt(&event, webhook, 2, 20, AttemptOutcome::Retrying),
        attempt(&event, webhook, 3, 10, AttemptOutcome::Delivered),
    ];
    for a in &attempts {
        log.record(a.clone()).await.unwrap();
    }
    let mut test = attempt("evt_other", webhook, 1, 5, AttemptOutcome::Failed);
    test.test = true;
    test.job = None;
    test.status = None;
    test.payload = None;
    log.record(test.clone()).await.unwrap();
    let read = log.event(&event).await.unwrap();
    assert_eq!(read, attempts);
    assert_eq!(log.event("evt_other").await.unwrap(), [test]);
    assert!(log.event("evt_absent").await.unwrap().is_empty());
}

async fn events_summarise_their_latest_attempt(log: &dyn DeliveryLog) {
    let webhook = WebhookId::generate();
    log.record(attempt("evt_s1", webhook, 1, 40, AttemptOutcome::Retrying))
        .await
        .unwrap();
    log.record(attempt("evt_s1", webhook, 2, 30, AttemptOutcome::Dead))
        .await
        .unwrap();
    let query = DeliveryQuery {
        webhook: Some(webhook),
        ..DeliveryQuery::default()
    };
    let events = log.events(&query).await.unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(
        (
            event.event_id.as_str(),
            event.webhook_id,
            event.status,
            event.attempts
        ),
        ("evt_s1", webhook, AttemptOutcome::Dead, 2)
    );
    assert_eq!(event.last_status, Some(503));
    assert_eq!(event.last_error.as_deref(), Some("attempt 2 failed"));
    assert!(event.first_at < event.last_at);
    assert_eq!((OffsetDateTime::now_utc() - event.first_at).whole_minutes(), 40);
    assert!(!event.test);
}

/// Attempts recorded out of order (a retry that finished after a newer attempt was logged, a duplicate that
/// failed after the delivery): the summary keeps the newest status and never downgrades a delivery, every
/// attempt is counted, and the first time is the oldest attempt's.
async fn an_attempt_recorded_late_never_brings_back_an_older_status(log: &dyn DeliveryLog) {
    let webhook = WebhookId::generate();
    let event = format!("evt_late_{}", WebhookId::generate());
    let summary = || async {
        let query = DeliveryQuery {
            webhook: Some(webhook),
            ..DeliveryQuery::default()
        };
        let events = log.events(&query).await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        events[0].clone()
    };
    log.record(attempt(&event, webhook, 2, 20, AttemptOutcome::Dead))
        .await
        .unwrap();
    log.record(attempt(&event, webhook, 1, 30, AttemptOutcome::Retrying))
        .await
        .unwrap();
    let late = summary().await;
    assert_eq!((late.status, late.attempts), (AttemptOutcome::Dead, 2));
    assert_eq!(late.last_error.as_deref(), Some("attempt 2 failed"));
    assert_eq!((OffsetDateTime::now_utc() - late.last_at).whole_minutes(), 20);
    assert_eq!((OffsetDateTime::now_utc() - late.first_at).whole_minutes(), 30);
    let dead = DeliveryQuery {
        webhook: Some(webhook),
        status: Some(StatusFilter::Is(AttemptOutcome::Dead)),
        ..DeliveryQuery::default()
    };
    assert_eq!(ids(&log.events(&dead).await.unwrap()), [event.as_str()]);

    // Replayed and delivered; then a duplicate of an earlier job fails after it, and one more is logged late.
    log.record(attempt(&event, webhook, 1, 10, AttemptOutcome::Delivered))
        .await
        .unwrap();
    log.record(attempt(&event, webhook, 3, 5, AttemptOutcome::Retrying))
        .await
        .unwrap();
    log.record(attempt(&event, webhook, 4, 40, AttemptOutcome::Dead))
        .await
        .unwrap();
    let delivered = summary().await;
    assert_eq!(
        (delivered.status, delivered.attempts, delivered.last_status),
        (AttemptOutcome::Delivered, 5, Some(200))
    );
    assert_eq!(delivered.last_error, None);
    assert_eq!(
        (OffsetDateTime::now_utc() - delivered.last_at).whole_minutes(),
        10
    );
    assert_eq!(
        (OffsetDateTime::now_utc() - delivered.first_at).whole_minutes(),
        40
    );
    assert!(log.events(&dead).await.unwrap().is_empty());
    assert_eq!(log.event(&event).await.unwrap().len(), 5);
}

async fn listings_filter_by_webhook_status_since_and_limit(log: &dyn DeliveryLog) {
    let (a, b) = (WebhookId::generate(), WebhookId::generate());
    let tag = WebhookId::generate().to_string();
    let e = |name: &str| format!("{name}_{tag}");
    log.record(attempt(&e("a1"), a, 1, 50, AttemptOutcome::Delivered))
        .await
        .unwrap();
    log.record(attempt(&e("a2"), a, 1, 40, AttemptOutcome::Retrying))
        .await
        .unwrap();
    log.record(attempt(&e("a3"), a, 1, 30, AttemptOutcome::Dead))
        .await
        .unwrap();
    log.record(attempt(&e("a4"), a, 1, 20, AttemptOutcome::Skipped))
        .await
        .unwrap();
    let mut test = attempt(&e("a5"), a, 1, 10, AttemptOutcome::Delivered);
    test.test = true;
    log.record(test).await.unwrap();
    log.record(attempt(&e("b1"), b, 1, 15, AttemptOutcome::Dead))
        .await
        .unwrap();
    // a2 retried and delivered later: its latest attempt decides.
    log.record(attempt(&e("a2"), a, 2, 5, AttemptOutcome::Delivered))
        .await
        .unwrap();

    let of = |status: Option<&str>| DeliveryQuery {
        webhook: Some(a),
        status: status.map(|s| s.parse::<StatusFilter>().unwrap()),
        ..DeliveryQuery::default()
    };
    let names = |list: &[&str]| list.iter().map(|n| e(n)).collect::<Vec<_>>();
    assert_eq!(
        ids(&log.events(&of(None)).await.unwrap()),
        names(&["a2", "a5", "a4", "a3", "a1"])
    );
    assert_eq!(
        ids(&log.events(&of(Some("delivered"))).await.unwrap()),
        names(&["a2", "a5", "a1"])
    );
    assert_eq!(
        ids(&log.events(&of(Some("failed"))).await.unwrap()),
        names(&["a3"])
    );
    assert_eq!(ids(&log.events(&of(Some("dead"))).await.unwrap()), names(&["a3"]));
    assert_eq!(
        ids(&log.events(&of(Some("skipped"))).await.unwrap()),
        names(&["a4"])
    );
    assert_eq!(ids(&log.events(&of(Some("test"))).await.unwrap()), names(&["a5"]));
    assert!(log.events(&of(Some("retrying"))).await.unwrap().is_empty());

    let since = DeliveryQuery {
        since: Some(OffsetDateTime::now_utc() - Duration::minutes(25)),
        ..of(None)
    };
    assert_eq!(
        ids(&log.events(&since).await.unwrap()),
        names(&["a2", "a5", "a4"])
    );
    let limited = DeliveryQuery { limit: 2, ..of(None) };
    assert_eq!(ids(&log.events(&limited).await.unwrap()), names(&["a2", "a5"]));

    // Across webhooks, newest first, the other webhook's dead event included.
    let everyone = DeliveryQuery {
        status: Some(StatusFilter::Is(AttemptOutcome::Dead)),
        ..DeliveryQuery::default()
    };
    let dead: Vec<String> = ids(&log.events(&everyone).await.unwrap())
        .into_iter()
        .filter(|id| id.ends_with(&tag))
        .map(str::to_owned)
        .collect();
    assert_eq!(dead, names(&["b1", "a3"]));
}

async fn nothing_past_the_retention_is_returned(log: &dyn DeliveryLog) {
    let webhook = WebhookId::generate();
    log.record(attempt("evt_old", webhook, 1, 90, AttemptOutcome::Dead))
        .await
        .unwrap();
    log.record(attempt("evt_new", webhook, 1, 1, AttemptOutcome::Delivered))
        .await
        .unwrap();
    let query = DeliveryQuery {
        webhook: Some(webhook),
        since: Some(OffsetDateTime::now_utc() - Duration::days(3)),
        ..DeliveryQuery::default()
    };
    assert_eq!(ids(&log.events(&query).await.unwrap()), ["evt_new"]);
    assert!(log.event("evt_old").await.unwrap().is_empty());
    let attempts = log.list(Some(webhook), 10).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].event_id, "evt_new");
}

macro_rules! contract {
    ($($adapter:ident => $open:expr),* $(,)?) => {
        $(mod $adapter {
            use super::*;
            contract!(@properties $open;
                attempts_of_an_event_read_back_whole_and_in_order,
                events_summarise_their_latest_attempt,
                an_attempt_recorded_late_never_brings_back_an_older_status,
                listings_filter_by_webhook_status_since_and_limit,
                nothing_past_the_retention_is_returned);
        })*
    };
    (@properties $open:expr; $($property:ident),*) => {
        $(#[tokio::test]
        async fn $property() {
            let subject: Subject<dyn DeliveryLog> = $open.await;
            super::$property(subject.port.as_ref()).await;
        })*
    };
}

async fn memory() -> Subject<dyn DeliveryLog> {
    Subject {
        port: Arc::new(MemoryDeliveryLog::with_retention(RETENTION)),
        keep: None,
    }
}

async fn sqlite() -> Subject<dyn DeliveryLog> {
    let dir = tempfile::tempdir().unwrap();
    let location = SqliteLocation::File(dir.path().join("outbound.db"));
    Subject {
        port: Arc::new(SqliteDeliveryLog::open(&location, RETENTION).await.unwrap()),
        keep: Some(dir),
    }
}

async fn dynamodb() -> Subject<dyn DeliveryLog> {
    let sdk = Moto::shared().sdk_config().await;
    let table = unique_table("deliveries");
    create_deliveries_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    Subject {
        port: Arc::new(DynamoDeliveryLog::from_sdk_config(&sdk, table, RETENTION)),
        keep: None,
    }
}

contract! {
    memory => memory(),
    sqlite => sqlite(),
    dynamodb => dynamodb(),
}

#[tokio::test]
async fn dynamodb_table_has_ttl_and_its_index_and_a_missing_table_is_reported() {
    let sdk = Moto::shared().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique_table("deliveries-ttl");
    create_deliveries_table(&client, &table).await.unwrap();
    create_deliveries_table(&client, &table)
        .await
        .expect("creating it again succeeds");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description().unwrap().attribute_name(),
        Some("expires_at")
    );
    let described = client.describe_table().table_name(&table).send().await.unwrap();
    let indexes = described.table().unwrap().global_secondary_indexes();
    assert_eq!(indexes.len(), 1);
    assert_eq!(indexes[0].index_name(), Some(BY_WEBHOOK_INDEX));

    // Items carry their expiry: the attempt's time plus the retention.
    let log = DynamoDeliveryLog::from_sdk_config(&sdk, &table, RETENTION);
    let recorded = attempt("evt_ttl", WebhookId::generate(), 1, 0, AttemptOutcome::Delivered);
    log.record(recorded.clone()).await.unwrap();
    let items = client
        .query()
        .table_name(&table)
        .key_condition_expression("event_id = :id")
        .expression_attribute_values(
            ":id",
            aws_sdk_dynamodb::types::AttributeValue::S("evt_ttl".into()),
        )
        .send()
        .await
        .unwrap();
    let expected = (recorded.at + RETENTION).unix_timestamp().to_string();
    assert_eq!(items.items().len(), 2, "one attempt and the event's summary");
    for item in items.items() {
        assert_eq!(item["expires_at"].as_n().unwrap(), &expected);
    }

    let absent = DynamoDeliveryLog::from_sdk_config(&sdk, unique_table("deliveries-absent"), RETENTION);
    let error = absent.record(recorded).await.unwrap_err().to_string();
    assert!(error.contains("bitconn store init"), "{error}");
}

#[tokio::test]
async fn an_sqlite_log_from_before_the_payload_columns_is_upgraded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, webhook_id TEXT NOT NULL,
             attempt INTEGER NOT NULL, at_ns INTEGER NOT NULL, url TEXT NOT NULL, outcome TEXT NOT NULL,
             status INTEGER, duration_ms INTEGER NOT NULL, error TEXT, response TEXT) STRICT;",
        )
        .unwrap();
    let webhook = WebhookId::generate();
    let now_ns = OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    connection
        .execute(
            "INSERT INTO deliveries (event_id, webhook_id, attempt, at_ns, url, outcome, status, duration_ms)
             VALUES ('evt_before', ?1, 1, ?2, 'https://hooks.example.com/', 'delivered', 200, 9)",
            rusqlite::params![webhook.to_string(), now_ns],
        )
        .unwrap();
    drop(connection);
    let log = SqliteDeliveryLog::open(&SqliteLocation::File(path), RETENTION)
        .await
        .unwrap();
    let before = log.event("evt_before").await.unwrap();
    assert_eq!(before.len(), 1);
    assert!(before[0].payload.is_none() && !before[0].test && before[0].request_headers.is_empty());
    log.record(attempt("evt_after", webhook, 1, 0, AttemptOutcome::Delivered))
        .await
        .unwrap();
    assert_eq!(log.event("evt_after").await.unwrap().len(), 1);
}
