//! Measures simple `read` calls per second over HTTP: `cargo run --release -p odoo-sim --example bench_read`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

/// Concurrent client tasks and measuring window.
const CLIENTS: usize = 16;
const WINDOW: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sim = odoo_sim::start(odoo_sim::SimConfig::default()).await?;
    let url = format!("{}/jsonrpc", sim.url);
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
        "args": [odoo_sim::DEFAULT_DB, 2, odoo_sim::DEFAULT_ADMIN_API_KEY, "res.partner", "read", [[15, 10], ["name", "email", "country_id"]]]}});
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, body, done, errors) = (url.clone(), body.clone(), done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            while started.elapsed() < WINDOW {
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "read calls: {n} in {secs:.2}s with {CLIENTS} clients = {:.0} calls/s ({} errors; sim logged {} calls)",
        n as f64 / secs,
        errors.load(Ordering::Relaxed),
        sim.sim.call_count()
    );
    Ok(())
}

/// A plain-HTTP client for the simulator. reqwest carries no TLS crypto provider of its own in this workspace,
/// so one is installed for the process first.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
