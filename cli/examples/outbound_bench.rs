//! Outbound figures of `bitconn serve` against its bundled Odoo simulator, each beside its goal: (a) delivery
//! throughput from a pre-filled SQLite queue, (b) end to end (trigger → read from the simulator → signed
//! delivery) and (c) trigger answer latency under concurrent callers, both calling as fast as they can (the
//! run of (b)) and paced at a combined rate. Used by `scripts/bench-outbound.sh`.
//!
//! `outbound_bench <bitconn binary> [queued jobs] [events] [callers] [paced rate/s]`

use anyhow::{Context as _, bail, ensure};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bitconn::outbound::queue::{Job, Queue as _, SqliteQueue};
use bitconn::store::SqliteLocation;
use hdrhistogram::Histogram;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const DEFAULT_QUEUED: usize = 20_000;
const DEFAULT_EVENTS: usize = 10_000;
const DEFAULT_CALLERS: usize = 100;
/// Combined trigger rate of the paced run: twice the end-to-end goal.
const DEFAULT_PACED_RATE: usize = 2_000;
/// How long the paced run lasts.
const PACED_RUN: Duration = Duration::from_secs(5);
/// Goals: deliveries/s from the queue, events/s end to end, trigger p99.
const GOAL_THROUGHPUT: f64 = 2_000.0;
const GOAL_END_TO_END: f64 = 1_000.0;
const GOAL_P99: Duration = Duration::from_millis(10);
/// Longest any phase may take before the run is declared stuck.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);
/// Jobs queued at once while pre-filling.
const FILL_CONCURRENCY: usize = 64;
const TRIGGER: &str = r#"{"model": "res.partner", "ids": [3], "event": "partner.changed"}"#;

/// What the receiver got: deliveries per `webhook-id`, unsigned ones, first and last arrival.
#[derive(Default)]
struct Got {
    by_id: HashMap<String, u32>,
    total: u64,
    unsigned: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

type Shared = Arc<Mutex<Got>>;

async fn receive(State(got): State<Shared>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let signed = headers.contains_key("webhook-signature");
    let now = Instant::now();
    let mut got = got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *got.by_id.entry(id).or_default() += 1;
    got.total += 1;
    got.unsigned += u64::from(!signed);
    got.first.get_or_insert(now);
    got.last = Some(now);
    StatusCode::OK
}

impl Got {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Waits until every id of `ids` has been delivered; returns when the last one arrived.
async fn delivered(got: &Shared, ids: &[String]) -> anyhow::Result<Instant> {
    let until = Instant::now() + PHASE_TIMEOUT;
    loop {
        {
            let got = got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if ids.iter().all(|id| got.by_id.contains_key(id)) {
                return got.last.context("nothing delivered");
            }
            ensure!(
                Instant::now() < until,
                "{} of {} delivered after {PHASE_TIMEOUT:?}",
                ids.iter().filter(|id| got.by_id.contains_key(*id)).count(),
                ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A running `bitconn serve` in demo mode; killed on drop.
struct Serve {
    child: Child,
    base_url: String,
    webhook: String,
    secret: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(bin: &Path, store: &str, log: &Path) -> anyhow::Result<Serve> {
    let mut child = Command::new(bin)
        .args(["--json", "--store", store, "serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("cannot start bitconn serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut webhook, mut secret) = (None, None);
    let base_url = loop {
        let line = lines.next().context("serve exited before listening")??;
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(url) = value["listening"].as_str() {
            break url.to_owned();
        }
        if value["demo"] == true {
            webhook = value["id"].as_str().map(str::to_owned);
            secret = value["secret"].as_str().map(str::to_owned);
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let (Some(webhook), Some(secret)) = (webhook, secret) else {
        bail!("serve did not start in demo mode");
    };
    Ok(Serve {
        child,
        base_url,
        webhook,
        secret,
    })
}

fn cli(bin: &Path, store: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(bin)
        .args(["--json", "--store", store])
        .args(args)
        .output()?;
    ensure!(
        out.status.success(),
        "bitconn {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(bin) = args.first().map(PathBuf::from) else {
        bail!("usage: outbound_bench <bitconn binary> [queued jobs] [events] [callers] [paced rate/s]");
    };
    let number = |i: usize, default: usize| -> anyhow::Result<usize> {
        Ok(args.get(i).map(|s| s.parse()).transpose()?.unwrap_or(default))
    };
    let (queued, events, callers, paced_rate) = (
        number(1, DEFAULT_QUEUED)?,
        number(2, DEFAULT_EVENTS)?,
        number(3, DEFAULT_CALLERS)?,
        number(4, DEFAULT_PACED_RATE)?,
    );
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let store = format!("sqlite:{}", db.display());
    let log = dir.path().join("serve.log");

    let got: Shared = Arc::default();
    let app = axum::Router::new()
        .fallback(axum::routing::any(receive))
        .with_state(got.clone());
    // The receiver stands for the systems deliveries go to: it answers on a thread of its own, so the callers'
    // latencies are not spent waiting behind it in this process's runtime.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let receiver = format!("http://{}/in", listener.local_addr()?);
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("receiver".into())
        .spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                axum::serve(tokio::net::TcpListener::from_std(listener)?, app).await?;
                anyhow::Ok(())
            })
        })?;

    let first = serve(&bin, &store, &log)?;
    let webhook = first.webhook.clone();
    let set = ["webhook", "outbound", "set", &webhook, "--url", &receiver];
    cli(
        &bin,
        &store,
        &[&set[..], &["--allow-cidr", "127.0.0.0/8", "--fields", "name"]].concat(),
    )?;
    cli(&bin, &store, &["webhook", "outbound", "rotate-secret", &webhook])?;
    drop(first);

    // (a) A queue already holding `queued` jobs, drained by a fresh serve.
    let queue = SqliteQueue::open(&SqliteLocation::File(db.with_extension("outbound.db"))).await?;
    let webhook_id = webhook.parse().map_err(|_| anyhow::anyhow!("bad webhook id"))?;
    let model: bitconn::config::ModelName = "res.partner".parse()?;
    let ids: Vec<String> = (0..queued).map(|i| format!("evt_bench_{i}")).collect();
    for chunk in ids.chunks(FILL_CONCURRENCY) {
        let jobs: Vec<_> = chunk
            .iter()
            .map(|event_id| {
                let job = Job::Deliver {
                    event_id: event_id.clone(),
                    webhook_id,
                    model: model.clone(),
                    ids: vec![3],
                    event: Some("partner.changed".into()),
                    extra: None,
                };
                let queue = queue.clone();
                tokio::spawn(async move { queue.enqueue(job.event_id(), &job, SystemTime::now()).await })
            })
            .collect();
        for job in jobs {
            ensure!(job.await??, "a bench job was deduplicated");
        }
    }
    drop(queue);
    let started = Instant::now();
    let second = serve(&bin, &store, &log)?;
    let last = delivered(&got, &ids).await?;
    let (first_at, total, unsigned) = {
        let g = got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (g.first.unwrap_or(started), g.total, g.unsigned)
    };
    let drain = last.duration_since(first_at);
    let rate = queued as f64 / drain.as_secs_f64();
    println!(
        "(a) delivery throughput: {queued} queued jobs delivered in {:.2} s ({:.2} s after start): {rate:.0} deliveries/s \
         (goal {GOAL_THROUGHPUT:.0}/s: {:.2}x); {} duplicates, {unsigned} unsigned",
        drain.as_secs_f64(),
        last.duration_since(started).as_secs_f64(),
        rate / GOAL_THROUGHPUT,
        total - queued as u64
    );
    got.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .reset();

    // (b) and (c): `callers` concurrent keep-alive callers trigger `events` events; every event is delivered.
    let client = bitconn::odoo::tls::http_client_builder()
        .pool_max_idle_per_host(callers)
        .build()?;
    let url = format!("{}/bitconn/outbound/{}", second.base_url, second.webhook);
    let secret = second.secret.clone();
    let per_caller = events.div_ceil(callers);
    let started = Instant::now();
    let (latency, ids) = trigger_all(&client, &url, &secret, callers, per_caller, None).await?;
    let triggered = started.elapsed();
    let last = delivered(&got, &ids).await?;
    let end_to_end = last.duration_since(started);
    let (total, unsigned) = {
        let g = got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (g.total, g.unsigned)
    };
    let rate = ids.len() as f64 / end_to_end.as_secs_f64();
    println!(
        "(b) end to end: {} events from {callers} callers delivered in {:.2} s: {rate:.0} events/s \
         (goal {GOAL_END_TO_END:.0}/s: {:.2}x); {} duplicates, {unsigned} unsigned",
        ids.len(),
        end_to_end.as_secs_f64(),
        rate / GOAL_END_TO_END,
        total - ids.len() as u64
    );
    let report = |latency: &Histogram<u64>| {
        let at = |q: f64| ms(Duration::from_micros(latency.value_at_quantile(q)));
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 <= {:.0} ms: {:.2}x)",
            at(0.5),
            at(0.99),
            ms(Duration::from_micros(latency.max())),
            ms(GOAL_P99),
            ms(GOAL_P99) / at(0.99)
        )
    };
    println!(
        "(c) trigger answers, {callers} callers as fast as they can (the run of (b)): {}; {:.0} triggers/s",
        report(&latency),
        ids.len() as f64 / triggered.as_secs_f64()
    );

    let interval = Duration::from_secs_f64(callers as f64 / paced_rate.max(1) as f64);
    let per_caller = (PACED_RUN.as_secs_f64() / interval.as_secs_f64()).ceil() as usize;
    let (latency, ids) = trigger_all(&client, &url, &secret, callers, per_caller, Some(interval)).await?;
    delivered(&got, &ids).await?;
    println!(
        "(c) trigger answers, {callers} callers at {paced_rate} triggers/s together: {}",
        report(&latency)
    );
    drop(second);
    Ok(())
}

/// `callers` keep-alive callers each trigger `per_caller` events, back to back or one per `pace`; returns the
/// answer latencies and the event ids.
async fn trigger_all(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    callers: usize,
    per_caller: usize,
    pace: Option<Duration>,
) -> anyhow::Result<(Histogram<u64>, Vec<String>)> {
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let (client, url, secret) = (client.clone(), url.to_owned(), secret.to_owned());
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                let mut ids = Vec::with_capacity(per_caller);
                let mut ticks = pace.map(|pace| {
                    let offset = pace.mul_f64(caller as f64 / callers as f64);
                    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, pace);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    ticks
                });
                for _ in 0..per_caller {
                    if let Some(ticks) = ticks.as_mut() {
                        ticks.tick().await;
                    }
                    let at = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(&secret)
                        .body(TRIGGER)
                        .send()
                        .await?;
                    let status = response.status();
                    let body: Value = response.json().await?;
                    let micros = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
                    histogram.saturating_record(micros.max(1));
                    ensure!(
                        status == StatusCode::ACCEPTED,
                        "trigger answered {status}: {body}"
                    );
                    ids.push(body["event_id"].as_str().context("no event_id")?.to_owned());
                }
                anyhow::Ok((histogram, ids))
            })
        })
        .collect();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut ids = Vec::with_capacity(per_caller * callers);
    for task in tasks {
        let (histogram, task_ids) = task.await??;
        latency.add(histogram)?;
        ids.extend(task_ids);
    }
    Ok((latency, ids))
}
