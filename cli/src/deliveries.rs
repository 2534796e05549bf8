//! `bitconn deliveries list|show|replay`: the outbound delivery log, one line per event, every attempt of one
//! event (request headers without secrets, the payload without credentials, the answer), and replays.

use anyhow::bail;
use bitconn::outbound::deliveries::{
    Attempt, DEFAULT_LIST_LIMIT, DeliveryQuery, EventSummary, MAX_LIST_LIMIT, StatusFilter,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::output::print_json;
use crate::printable::printable;
use crate::units::{format_time, parse_since};
use crate::webhook_common::parse_id;
use crate::{Global, outbound_stores};

#[derive(Subcommand)]
pub enum DeliveriesCommand {
    /// Events, newest first: their latest status, attempts and answer.
    List(ListArgs),
    /// Every attempt of one event: request headers (no secrets), payload (no credentials), answer.
    Show(ShowArgs),
    /// Queue events again with the same event id (`webhook-id`), so receivers can deduplicate.
    Replay(crate::deliveries_replay::ReplayArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only this webhook's deliveries.
    #[arg(long)]
    webhook: Option<String>,
    /// delivered, failed (not delivered yet or dead), retrying, dead, skipped, disabled or test.
    #[arg(long, value_parser = clap::value_parser!(StatusFilter))]
    status: Option<StatusFilter>,
    /// Events whose latest attempt is newer than this: a duration (`1h`) or an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Most events listed.
    #[arg(long, default_value_t = DEFAULT_LIST_LIMIT as u64, value_parser = clap::value_parser!(u64).range(1..=MAX_LIST_LIMIT as u64))]
    limit: u64,
}

#[derive(Args)]
pub struct ShowArgs {
    event_id: String,
}

pub async fn run(global: &Global, command: DeliveriesCommand) -> anyhow::Result<()> {
    match command {
        DeliveriesCommand::List(args) => list(global, args).await,
        DeliveriesCommand::Show(args) => show(global, args).await,
        DeliveriesCommand::Replay(args) => crate::deliveries_replay::run(global, args).await,
    }
}

pub fn since(text: Option<&str>) -> anyhow::Result<Option<OffsetDateTime>> {
    text.map(|t| parse_since(t, OffsetDateTime::now_utc()).map_err(anyhow::Error::msg))
        .transpose()
}

async fn list(global: &Global, args: ListArgs) -> anyhow::Result<()> {
    let query = DeliveryQuery {
        webhook: args.webhook.as_deref().map(parse_id).transpose()?,
        status: args.status,
        since: since(args.since.as_deref())?,
        limit: usize::try_from(args.limit).unwrap_or(MAX_LIST_LIMIT),
    };
    let events = outbound_stores::open(global).await?.log.events(&query).await?;
    if global.json {
        return print_json(&events);
    }
    if events.is_empty() {
        println!("no deliveries");
    }
    for event in &events {
        print_event(event);
    }
    Ok(())
}

fn print_event(e: &EventSummary) {
    let status = e.last_status.map_or("-".to_owned(), |s| s.to_string());
    let error = e
        .last_error
        .as_deref()
        .map(|err| format!("  {}", printable(err)))
        .unwrap_or_default();
    println!(
        "{}  {}  {}{}  attempts={}  http={}  {}  {}{}",
        format_time(e.last_at),
        e.event_id,
        e.status.as_str(),
        if e.test { " (test)" } else { "" },
        e.attempts,
        status,
        e.webhook_id,
        printable(&e.url),
        error
    );
}

async fn show(global: &Global, args: ShowArgs) -> anyhow::Result<()> {
    let attempts = outbound_stores::open(global)
        .await?
        .log
        .event(&args.event_id)
        .await?;
    if attempts.is_empty() {
        bail!(
            "no delivery {} in the log (older ones are gone after the retention period)",
            args.event_id
        );
    }
    if global.json {
        let summary = EventSummary::of(&attempts);
        return print_json(&json!({"event": summary, "attempts": attempts}));
    }
    for attempt in &attempts {
        print_attempt(attempt);
    }
    Ok(())
}

/// A stored text as shown: JSON pretty-printed, anything else as printable text.
pub fn pretty(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() || value.is_array() => {
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.to_owned())
        }
        _ => printable(text).into_owned(),
    }
}

fn print_attempt(a: &Attempt) {
    println!(
        "attempt {} at {}: {}{}",
        a.attempt,
        format_time(a.at),
        a.outcome.as_str(),
        if a.test { " (test)" } else { "" }
    );
    println!("  event:    {}  webhook {}", a.event_id, a.webhook_id);
    println!("  url:      {}", printable(&a.url));
    let status = a.status.map_or("no answer".to_owned(), |s| s.to_string());
    println!("  status:   {status} in {} ms", a.duration_ms);
    if let Some(error) = &a.error {
        println!("  error:    {}", printable(error));
    }
    for (name, value) in &a.request_headers {
        println!("  header:   {}: {}", printable(name), printable(value));
    }
    if let Some(payload) = &a.payload {
        println!("  payload:\n{}", indent(&pretty(payload)));
    }
    if let Some(response) = a.response.as_deref().filter(|r| !r.is_empty()) {
        println!("  response:\n{}", indent(&pretty(response)));
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
