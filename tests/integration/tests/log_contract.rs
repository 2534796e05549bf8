//! The `ExecutionLog` contract, run against every adapter (memory, SQLite, DynamoDB on moto, and each behind
//! `BackgroundLog`), plus the adapters' own expiry mechanics.
#![allow(clippy::unwrap_used)]

mod storage;

use bitconn::config::WebhookId;
use bitconn::execution_log::{
    BackgroundLog, DynamoExecutionLog, ExecutionLog, ExecutionLogEntry, LogError, LogQuery,
    SqliteExecutionLog,
};
use bitconn::store::{SqliteDb, SqliteLocation, create_log_table};
use std::sync::Arc;
use storage::{Moto, Subject, entry, unique_table};
use time::{Duration, OffsetDateTime};

/// Retention of the logs under test: entries older than an hour must never be returned.
const RETENTION: Duration = Duration::hours(1);

fn minutes_ago(now: OffsetDateTime, minutes: i64) -> OffsetDateTime {
    now - Duration::minutes(minutes)
}

fn by_webhook(id: WebhookId) -> LogQuery {
    LogQuery {
        webhook_id: Some(id),
        ..LogQuery::default()
    }
}

async fn recorded_entries_read_back_exactly(log: &dyn ExecutionLog) {
    let (id, now) = (WebhookId::generate(), OffsetDateTime::now_utc());
    let entries: Vec<_> = (0..4)
        .map(|n| entry(id, minutes_ago(now, 10 - i64::from(n)), n))
        .collect();
    for e in &entries {
        log.record(e.clone()).await.unwrap();
    }
    assert_eq!(log.query(&by_webhook(id)).await.unwrap(), entries);
}

async fn queries_by_webhook_see_only_that_webhook(log: &dyn ExecutionLog) {
    let (a, b, now) = (
        WebhookId::generate(),
        WebhookId::generate(),
        OffsetDateTime::now_utc(),
    );
    for n in 0..6 {
        let id = if n % 2 == 0 { a } else { b };
        log.record(entry(id, minutes_ago(now, 20 - i64::from(n)), n))
            .await
            .unwrap();
    }
    let only_a = log.query(&by_webhook(a)).await.unwrap();
    assert_eq!(only_a.len(), 3);
    assert!(only_a.iter().all(|e| e.webhook_id == a));
    assert!(
        log.query(&by_webhook(WebhookId::generate()))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn since_is_inclusive_and_limit_keeps_the_oldest(log: &dyn ExecutionLog) {
    let (id, now) = (WebhookId::generate(), OffsetDateTime::now_utc());
    // Recorded out of order: answers are still oldest first.
    for minutes in [5, 30, 15, 45, 25] {
        log.record(entry(id, minutes_ago(now, minutes), minutes as u32))
            .await
            .unwrap();
    }
    let ages = |entries: Vec<ExecutionLogEntry>| {
        entries
            .iter()
            .map(|e| (now - e.at).whole_minutes())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ages(log.query(&by_webhook(id)).await.unwrap()),
        [45, 30, 25, 15, 5]
    );
    let since = LogQuery {
        since: Some(minutes_ago(now, 25)),
        ..by_webhook(id)
    };
    assert_eq!(
        ages(log.query(&since).await.unwrap()),
        [25, 15, 5],
        "since is inclusive"
    );
    let limited = LogQuery {
        limit: Some(2),
        ..since.clone()
    };
    assert_eq!(ages(log.query(&limited).await.unwrap()), [25, 15]);
    let everything_limited = LogQuery {
        limit: Some(3),
        ..by_webhook(id)
    };
    assert_eq!(ages(log.query(&everything_limited).await.unwrap()), [45, 30, 25]);
    assert!(
        log.query(&LogQuery {
            limit: Some(0),
            ..by_webhook(id)
        })
        .await
        .unwrap()
        .is_empty()
    );
    assert!(
        log.query(&LogQuery {
            since: Some(now),
            ..by_webhook(id)
        })
        .await
        .unwrap()
        .is_empty()
    );
}

async fn entries_past_retention_are_never_returned(log: &dyn ExecutionLog) {
    let (id, now) = (WebhookId::generate(), OffsetDateTime::now_utc());
    let kept = entry(id, minutes_ago(now, 50), 1);
    for old in [61, 90, 60 * 24 * 20] {
        log.record(entry(id, minutes_ago(now, old), 2)).await.unwrap();
    }
    log.record(kept.clone()).await.unwrap();
    assert_eq!(log.query(&by_webhook(id)).await.unwrap(), vec![kept.clone()]);
    let since_long_ago = LogQuery {
        since: Some(now - Duration::days(30)),
        ..by_webhook(id)
    };
    assert_eq!(
        log.query(&since_long_ago).await.unwrap(),
        vec![kept.clone()],
        "since cannot reach past retention"
    );
    let all = log.query(&LogQuery::default()).await.unwrap();
    assert!(
        all.iter().all(|e| e.at >= now - RETENTION),
        "listing all webhooks filters too"
    );
}

async fn batches_are_stored_whole(log: &dyn ExecutionLog) {
    let (id, now) = (WebhookId::generate(), OffsetDateTime::now_utc());
    let entries: Vec<_> = (0..60)
        .map(|n| entry(id, now - Duration::seconds(600 - i64::from(n)), n))
        .collect();
    log.record_batch(entries.clone()).await.unwrap();
    assert_eq!(log.query(&by_webhook(id)).await.unwrap(), entries);
}

async fn listing_all_webhooks_is_in_time_order(log: &dyn ExecutionLog) {
    let now = OffsetDateTime::now_utc();
    let ids: Vec<_> = (0..3).map(|_| WebhookId::generate()).collect();
    let mut expected = Vec::new();
    for n in 0..9u32 {
        let e = entry(ids[n as usize % 3], minutes_ago(now, 40 - i64::from(n) * 3), n);
        expected.push(e.clone());
        log.record(e).await.unwrap();
    }
    assert_eq!(log.query(&LogQuery::default()).await.unwrap(), expected);
    let limited = LogQuery {
        limit: Some(4),
        ..LogQuery::default()
    };
    assert_eq!(log.query(&limited).await.unwrap(), expected[..4].to_vec());
    let since = LogQuery {
        since: Some(expected[6].at),
        ..LogQuery::default()
    };
    assert_eq!(log.query(&since).await.unwrap(), expected[6..].to_vec());
}

macro_rules! contract {
    ($($adapter:ident => $open:expr),* $(,)?) => {
        $(mod $adapter {
            use super::*;
            contract!(@properties $open;
                recorded_entries_read_back_exactly,
                queries_by_webhook_see_only_that_webhook,
                since_is_inclusive_and_limit_keeps_the_oldest,
                entries_past_retention_are_never_returned,
                batches_are_stored_whole,
                listing_all_webhooks_is_in_time_order);
        })*
    };
    (@properties $open:expr; $($property:ident),*) => {
        $(#[tokio::test]
        async fn $property() {
            let subject: Subject<dyn ExecutionLog> = $open.await;
            super::$property(subject.port.as_ref()).await;
        })*
    };
}

/// An adapter behind `BackgroundLog`: what the stores hand to the gateway.
async fn background(subject: Subject<dyn ExecutionLog>) -> Subject<dyn ExecutionLog> {
    Subject {
        port: Arc::new(BackgroundLog::spawn(subject.port)),
        keep: subject.keep,
    }
}

contract! {
    memory => storage::memory_log(RETENTION),
    sqlite => storage::sqlite_log(RETENTION),
    dynamodb => storage::dynamodb_log(RETENTION),
    background_memory => background(storage::memory_log(RETENTION).await),
    background_sqlite => background(storage::sqlite_log(RETENTION).await),
    background_dynamodb => background(storage::dynamodb_log(RETENTION).await),
}

#[tokio::test]
async fn sqlite_sweeps_expired_rows_on_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&SqliteLocation::File(dir.path().join("sweep.db")))
        .await
        .unwrap();
    let long = SqliteExecutionLog::with_retention(db.clone(), Duration::days(30));
    let (id, now) = (WebhookId::generate(), OffsetDateTime::now_utc());
    long.record(entry(id, now - Duration::hours(2), 1)).await.unwrap();
    long.record(entry(id, now - Duration::minutes(5), 2))
        .await
        .unwrap();
    assert_eq!(long.query(&by_webhook(id)).await.unwrap().len(), 2);
    // A log with a one-hour retention deletes older rows on its first write, whoever wrote them.
    let short = SqliteExecutionLog::with_retention(db, RETENTION);
    short.record(entry(WebhookId::generate(), now, 3)).await.unwrap();
    let left = long.query(&by_webhook(id)).await.unwrap();
    assert_eq!(left.len(), 1, "the two-hour-old row is gone from the file");
    assert_eq!(left[0].at, now - Duration::minutes(5));
}

#[tokio::test]
async fn dynamodb_items_carry_a_ttl_and_reads_skip_expired_ones() {
    let sdk = Moto::shared().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique_table("ttl");
    create_log_table(&client, &table).await.unwrap();
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));

    let (id, now) = (WebhookId::generate(), OffsetDateTime::now_utc());
    let short = DynamoExecutionLog::from_sdk_config(&sdk, &table, RETENTION);
    let at = now - Duration::minutes(90);
    short.record(entry(id, at, 1)).await.unwrap();
    let fresh = entry(id, now - Duration::minutes(1), 2);
    short.record(fresh.clone()).await.unwrap();

    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    let mut expiries: Vec<i64> = items
        .iter()
        .map(|i| i["expires_at"].as_n().unwrap().parse().unwrap())
        .collect();
    expiries.sort_unstable();
    assert_eq!(
        expiries,
        [
            (at + RETENTION).unix_timestamp(),
            (fresh.at + RETENTION).unix_timestamp()
        ]
    );

    // DynamoDB deletes expired items lazily: a reader with a longer retention must still skip them.
    let long = DynamoExecutionLog::from_sdk_config(&sdk, &table, Duration::days(30));
    assert_eq!(long.query(&by_webhook(id)).await.unwrap(), vec![fresh.clone()]);
    assert_eq!(long.query(&LogQuery::default()).await.unwrap(), vec![fresh]);
}

async fn assert_every_operation_reports_missing(log: &dyn ExecutionLog, table: &str) {
    let e = entry(WebhookId::generate(), OffsetDateTime::now_utc(), 1);
    let results = [
        ("record", log.record(e.clone()).await),
        ("record_batch", log.record_batch(vec![e.clone(), e]).await),
        (
            "query one",
            log.query(&by_webhook(WebhookId::generate())).await.map(drop),
        ),
        ("query all", log.query(&LogQuery::default()).await.map(drop)),
    ];
    for (operation, result) in results {
        match result {
            Err(error @ LogError::Missing(_)) => {
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
async fn dynamodb_missing_log_table_is_reported_clearly() {
    let sdk = Moto::shared().sdk_config().await;
    let table = unique_table("absent-log");
    assert_every_operation_reports_missing(
        &DynamoExecutionLog::from_sdk_config(&sdk, &table, RETENTION),
        &table,
    )
    .await;
}

#[tokio::test]
async fn sqlite_missing_log_table_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.db");
    let log = SqliteExecutionLog::new(SqliteDb::open(&SqliteLocation::File(path.clone())).await.unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE execution_log")
        .unwrap();
    assert_every_operation_reports_missing(&log, "table execution_log").await;
}

#[tokio::test]
async fn background_log_never_fails_the_caller_when_the_sink_is_missing() {
    let sdk = Moto::shared().sdk_config().await;
    let sink = Arc::new(DynamoExecutionLog::from_sdk_config(
        &sdk,
        unique_table("never-created"),
        RETENTION,
    ));
    let log = BackgroundLog::spawn(sink);
    for n in 0..3 {
        log.record(entry(WebhookId::generate(), OffsetDateTime::now_utc(), n))
            .await
            .unwrap();
    }
    log.flush().await.unwrap();
    let stats = log.stats();
    assert_eq!((stats.written, stats.failed, stats.dropped), (0, 3, 0));
    assert!(matches!(
        log.query(&LogQuery::default()).await,
        Err(LogError::Missing(_))
    ));
}
