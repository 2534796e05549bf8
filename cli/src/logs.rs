//! `bitconn logs`: execution log entries, optionally followed as they arrive.

use bitconn::execution_log::{ExecutionLogEntry, LogQuery};
use clap::Args;
use std::time::Duration;
use time::OffsetDateTime;

use crate::printable::printable;
use crate::units::{format_time, parse_since};
use crate::webhook_common::parse_id;
use crate::{Global, stores};

/// How often `--follow` asks the store for new entries.
const FOLLOW_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Entries shown without `--since` (the last hour's).
const DEFAULT_SINCE: &str = "1h";

#[derive(Args)]
pub struct LogsArgs {
    /// Only this webhook's entries.
    #[arg(long)]
    webhook: Option<String>,
    /// Entries newer than this: a duration (`1h`, `15m`) or an RFC 3339 time.
    #[arg(long, default_value = DEFAULT_SINCE)]
    since: String,
    /// Most entries printed at once.
    #[arg(long)]
    limit: Option<usize>,
    /// Keep printing new entries until interrupted.
    #[arg(long, short)]
    follow: bool,
}

pub async fn run(global: &Global, args: LogsArgs) -> anyhow::Result<()> {
    let webhook_id = args.webhook.as_deref().map(parse_id).transpose()?;
    let since = parse_since(&args.since, OffsetDateTime::now_utc()).map_err(anyhow::Error::msg)?;
    let log = stores::open(global).await?.log;
    let mut query = LogQuery {
        webhook_id,
        since: Some(since),
        limit: args.limit,
    };
    let mut seen_at_cursor: Vec<ExecutionLogEntry> = Vec::new();
    let mut printed_any = false;
    loop {
        let entries = log.query(&query).await?;
        for entry in entries {
            if seen_at_cursor.contains(&entry) {
                continue;
            }
            print_entry(global, &entry)?;
            printed_any = true;
            if Some(entry.at) != query.since {
                query.since = Some(entry.at);
                seen_at_cursor.clear();
            }
            seen_at_cursor.push(entry);
        }
        if !args.follow {
            if !printed_any && !global.json {
                eprintln!("no execution log entries since {}", format_time(since));
            }
            return Ok(());
        }
        query.limit = None;
        tokio::select! {
            () = tokio::time::sleep(FOLLOW_POLL_INTERVAL) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// JSON output is exact (serde escapes control characters); text output shows what a caller sent through
/// `printable`, so a request cannot move the cursor, retitle the terminal or reorder the line.
fn print_entry(global: &Global, entry: &ExecutionLogEntry) -> anyhow::Result<()> {
    if global.json {
        println!("{}", serde_json::to_string(entry)?);
        return Ok(());
    }
    let error = entry
        .error_code
        .as_deref()
        .map(|e| format!(" {}", printable(e)))
        .unwrap_or_default();
    println!(
        "{}  {}  {} {} {}  {} {}{}  {} ms  {} odoo call(s)",
        format_time(entry.at),
        entry.webhook_id,
        printable(&entry.http_verb),
        printable(entry.method.as_deref().unwrap_or("-")),
        printable(entry.model.as_deref().unwrap_or("-")),
        entry.status,
        entry.outcome.as_str(),
        error,
        entry.duration_ms,
        entry.odoo_calls
    );
    Ok(())
}
