//! `bitconn deliveries replay`: queue an event again with the same event id (receivers deduplicate on
//! `webhook-id`) under a fresh dedup key. The job comes from the dead-letter list when it is there (whole, and
//! removed from it once queued again), else from the delivery log (credential-like keys of `extra` redacted).

use anyhow::{Context as _, bail};
use bitconn::outbound::deliveries::{
    AttemptOutcome, DeliveryLog, DeliveryQuery, MAX_LIST_LIMIT, StatusFilter, summary_attempt,
};
use bitconn::outbound::queue::{Job, Queue};
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::output::print_json;
use crate::{Global, outbound_stores};

/// Most dead events one `replay --dead` queues again.
const MAX_REPLAY: usize = MAX_LIST_LIMIT;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["event_id", "dead"]))]
pub struct ReplayArgs {
    /// The event to queue again.
    event_id: Option<String>,
    /// Every event whose latest attempt is dead (the dead-letter list and the log).
    #[arg(long)]
    dead: bool,
    /// With `--dead`: only events that died after this (a duration such as `1h`, or an RFC 3339 time).
    #[arg(long, requires = "dead")]
    since: Option<String>,
}

pub async fn run(global: &Global, args: ReplayArgs) -> anyhow::Result<()> {
    let outbound = outbound_stores::open(global).await?;
    let Some(queue) = outbound.queue else {
        bail!(
            "this store's queue is not reachable from here: set {} to the deployment's queues \
             (sqs:<queue url>?dlq=<url>&dedup_table=<table>, as the functions have it)",
            outbound_stores::QUEUE_VARIABLE
        );
    };
    let mut dead: BTreeMap<String, Job> = BTreeMap::new();
    let mut handles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for job in queue
        .dead(MAX_REPLAY)
        .await
        .context("cannot read the dead-letter list")?
    {
        let event = job.job.event_id().to_owned();
        handles.entry(event.clone()).or_default().push(job.handle);
        dead.insert(event, job.job);
    }
    let chosen = match &args.event_id {
        Some(event) => vec![(event.clone(), find(event, &dead, outbound.log.as_ref()).await?)],
        None => dead_events(&args, dead, outbound.log.as_ref()).await?,
    };
    let mut replayed = Vec::new();
    for (event, job) in chosen {
        enqueue(queue.as_ref(), &event, &job).await?;
        // Only now that the job is queued again: a crash before this line leaves a duplicate, not a loss.
        for handle in handles.get(&event).into_iter().flatten() {
            if let Err(error) = queue.remove_dead(handle).await {
                eprintln!("queued {event} again, but its dead-letter copy stays: {error}");
            }
        }
        replayed.push(event);
    }
    if global.json {
        return print_json(&json!({"replayed": replayed}));
    }
    if replayed.is_empty() {
        println!("nothing to replay");
    }
    for event in &replayed {
        println!("queued {event} again");
    }
    Ok(())
}

async fn enqueue(queue: &dyn Queue, event: &str, job: &Job) -> anyhow::Result<()> {
    let key = format!("replay_{event}_{}", fresh_suffix());
    queue
        .enqueue(&key, job, SystemTime::now())
        .await
        .with_context(|| format!("cannot queue {event} again"))?;
    Ok(())
}

/// A fresh dedup key suffix: the time in nanoseconds and the process id (unique per replay).
fn fresh_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}{:x}", std::process::id())
}

/// The job of one event: the dead-letter list's, else the latest one the log kept.
async fn find(event: &str, dead: &BTreeMap<String, Job>, log: &dyn DeliveryLog) -> anyhow::Result<Job> {
    let attempts = log.event(event).await?;
    if summary_attempt(&attempts).is_some_and(|a| a.outcome == AttemptOutcome::Retrying) {
        bail!("{event} is still queued for its next attempt; replaying it now would deliver it twice");
    }
    if let Some(job) = dead.get(event) {
        return Ok(job.clone());
    }
    if attempts.is_empty() {
        bail!("no delivery {event} in the log or the dead-letter list");
    }
    if attempts.iter().all(|a| a.test) {
        bail!("{event} is a test delivery: send it again with `bitconn outbound test`");
    }
    let kept = attempts.iter().rev().find_map(|a| a.job.clone());
    let Some(job) = kept else {
        bail!("the log kept no job for {event} (it was too large); it cannot be replayed from the log");
    };
    serde_json::from_value(job).with_context(|| format!("the job kept for {event} cannot be read"))
}

/// Events whose latest logged attempt is dead (after `--since`), plus, without `--since`, dead-letter jobs
/// the log has no later outcome for.
async fn dead_events(
    args: &ReplayArgs,
    mut dead: BTreeMap<String, Job>,
    log: &dyn DeliveryLog,
) -> anyhow::Result<Vec<(String, Job)>> {
    let query = DeliveryQuery {
        status: Some(StatusFilter::Is(AttemptOutcome::Dead)),
        since: crate::deliveries::since(args.since.as_deref())?,
        limit: MAX_REPLAY,
        ..DeliveryQuery::default()
    };
    let mut chosen = Vec::new();
    for event in log.events(&query).await? {
        let job = match dead.remove(&event.event_id) {
            Some(job) => job,
            None => match find(&event.event_id, &BTreeMap::new(), log).await {
                Ok(job) => job,
                Err(error) => {
                    eprintln!("skipped {}: {error:#}", event.event_id);
                    continue;
                }
            },
        };
        chosen.push((event.event_id, job));
    }
    if args.since.is_none() {
        for (event, job) in dead {
            let latest = summary_attempt(&log.event(&event).await?).map(|a| a.outcome);
            if latest.is_none_or(|o| o == AttemptOutcome::Dead) {
                chosen.push((event, job));
            }
        }
    }
    chosen.truncate(MAX_REPLAY);
    Ok(chosen)
}
