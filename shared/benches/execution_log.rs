//! Cost of recording an execution-log entry on the request path, and what a real SQLite sink sustains.
//! Run: `cargo bench -p bitconn --features sqlite --bench execution_log`

use bitconn::config::WebhookId;
use bitconn::execution_log::{
    BackgroundLog, ExecutionLog, ExecutionLogEntry, LogQuery, MemoryExecutionLog, Outcome,
    SqliteExecutionLog, redact_and_truncate,
};
use bitconn::store::{SqliteDb, SqliteLocation};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Entries recorded per measurement.
const CALLS: usize = 20_000;
/// Pause between calls in the paced runs: a busy gateway (2,000 requests/s), not a tight loop.
const PACE: Duration = Duration::from_micros(500);
const PACED_CALLS: usize = 4_000;

const BODY: &str = r#"{"method":"search","model":"sale.order","secret":"bcw_abc","domain":[["state","=","sale"]],
    "fields":["id","name","partner_id.name",{"order_line":["name","price_unit"]}],"limit":80}"#;

fn entry(webhook_id: WebhookId, n: usize) -> ExecutionLogEntry {
    ExecutionLogEntry {
        at: OffsetDateTime::now_utc(),
        webhook_id,
        http_verb: "POST".into(),
        method: Some("search".into()),
        model: Some("sale.order".into()),
        outcome: Outcome::Success,
        status: 200,
        duration_ms: (n % 50) as u64,
        odoo_calls: 2,
        error_code: None,
        request_body: BODY.into(),
    }
}

/// Per-call latencies of `record` in nanoseconds, sorted.
async fn measure(log: &dyn ExecutionLog, calls: usize, pace: Option<Duration>) -> Vec<u64> {
    let id = WebhookId::generate();
    let entries: Vec<_> = (0..calls).map(|n| entry(id, n)).collect();
    let mut samples = Vec::with_capacity(calls);
    for entry in entries {
        let start = Instant::now();
        let _ = log.record(entry).await;
        samples.push(start.elapsed().as_nanos() as u64);
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
    }
    samples.sort_unstable();
    samples
}

fn report(name: &str, samples: &[u64]) {
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let mean = samples.iter().sum::<u64>() / samples.len() as u64;
    println!(
        "{name:<58} n={:<6} mean {:>7} ns  p50 {:>7} ns  p99 {:>8} ns  max {:>9} ns",
        samples.len(),
        mean,
        at(0.5),
        at(0.99),
        samples[samples.len() - 1]
    );
}

async fn sqlite_log(dir: &tempfile::TempDir, name: &str) -> Arc<SqliteExecutionLog> {
    let db = SqliteDb::open(&SqliteLocation::File(dir.path().join(name)))
        .await
        .expect("open SQLite");
    Arc::new(SqliteExecutionLog::new(db))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");

    let start = Instant::now();
    for _ in 0..CALLS {
        std::hint::black_box(redact_and_truncate(BODY));
    }
    println!(
        "{:<58} {:>7} ns per body",
        "redact_and_truncate (250-byte body)",
        start.elapsed().as_nanos() / CALLS as u128
    );

    let memory = BackgroundLog::spawn(Arc::new(MemoryExecutionLog::new()));
    report(
        "record: BackgroundLog over memory (tight loop)",
        &measure(&memory, CALLS, None).await,
    );
    report(
        "record: BackgroundLog over memory (2,000/s)",
        &measure(&memory, PACED_CALLS, Some(PACE)).await,
    );

    let sink = sqlite_log(&dir, "background.db").await;
    let background = BackgroundLog::spawn(sink.clone());
    report(
        "record: BackgroundLog over SQLite file (tight loop)",
        &measure(&background, CALLS, None).await,
    );
    let flush = Instant::now();
    background.flush().await.expect("flush");
    println!(
        "{:<58} {:?} (stats {:?})",
        "  then flush; stats (queue 4,096)",
        flush.elapsed(),
        background.stats()
    );
    report(
        "record: BackgroundLog over SQLite file (2,000/s)",
        &measure(&background, PACED_CALLS, Some(PACE)).await,
    );
    background.flush().await.expect("flush");
    println!("{:<58} {:?}", "  stats after paced run", background.stats());

    let direct = sqlite_log(&dir, "direct.db").await;
    report(
        "record: SqliteExecutionLog directly (one transaction each)",
        &measure(direct.as_ref(), CALLS / 4, None).await,
    );

    let sink_only = sqlite_log(&dir, "throughput.db").await;
    let id = WebhookId::generate();
    let start = Instant::now();
    for chunk in (0..CALLS).collect::<Vec<_>>().chunks(100) {
        sink_only
            .record_batch(chunk.iter().map(|n| entry(id, *n)).collect())
            .await
            .expect("batch");
    }
    let elapsed = start.elapsed();
    println!(
        "{:<58} {:.0} entries/s ({:?} for {CALLS})",
        "SQLite sink throughput, batches of 100",
        CALLS as f64 / elapsed.as_secs_f64(),
        elapsed
    );
    let start = Instant::now();
    let found = sink_only
        .query(&LogQuery {
            webhook_id: Some(id),
            since: None,
            limit: Some(100),
        })
        .await
        .expect("query");
    println!(
        "{:<58} {:?} ({} rows)",
        "query: one webhook, first 100 of 20,000",
        start.elapsed(),
        found.len()
    );
}
