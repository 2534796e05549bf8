//! Load generator for `bitconn serve`: N concurrent keep-alive clients POST one body for a fixed time and
//! print requests/s and latency percentiles. Used by `scripts/bench-serve.sh`.
//!
//! `serve_load <webhook url> <secret> [concurrency] [seconds]`

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

const DEFAULT_CONCURRENCY: usize = 16;
const DEFAULT_SECONDS: u64 = 10;
/// A typical integration call: one search with a dotted path (two Odoo round trips on the simulator).
const BODY: &str = r#"{"model": "sale.order", "method": "search", "domain": [["state", "=", "sale"]], "fields": ["name", "partner_id.name"], "limit": 5}"#;
const WARMUP: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(secret)) = (args.first().cloned(), args.get(1).cloned()) else {
        anyhow::bail!("usage: serve_load <webhook url> <secret> [concurrency] [seconds]");
    };
    let concurrency: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(DEFAULT_CONCURRENCY);
    let seconds: u64 = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(DEFAULT_SECONDS);
    let client = bitconn::odoo::tls::http_client_builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;

    let check = client.post(&url).bearer_auth(&secret).body(BODY).send().await?;
    anyhow::ensure!(
        check.status().is_success(),
        "probe request failed: {}",
        check.text().await?
    );

    let run = |duration: Duration| {
        let mut tasks = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                let mut errors = 0u64;
                let end = Instant::now() + duration;
                while Instant::now() < end {
                    let started = Instant::now();
                    let ok = match client.post(&url).bearer_auth(&secret).body(BODY).send().await {
                        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    histogram.saturating_record(micros.max(1));
                    errors += u64::from(!ok);
                }
                anyhow::Ok((histogram, errors))
            }));
        }
        tasks
    };
    for task in run(WARMUP) {
        task.await??;
    }
    let started = Instant::now();
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    for task in run(Duration::from_secs(seconds)) {
        let (histogram, task_errors) = task.await??;
        total.add(histogram)?;
        errors += task_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |q: f64| total.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{} requests in {elapsed:.1} s with {concurrency} connections: {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {errors} errors",
        total.len(),
        total.len() as f64 / elapsed,
        ms(0.5),
        ms(0.99),
        total.max() as f64 / 1000.0
    );
    Ok(())
}
