//! Gateway overhead: p50/p99 latency of a `read` through the gateway's router against the Odoo simulator with
//! 5 ms injected latency, divided by the same call made directly to the simulator; then how many TCP
//! connections the gateway opens to Odoo for a run of requests (a counting proxy sits in front of the sim).
//! Run: `cargo run --release -p integration-tests --example bench_overhead`
#![allow(clippy::unwrap_used)]

use bitconn::config::{ModelAccess, NewWebhook, OdooConnection, Permissions, WebhookConfig};
use bitconn::execution_log::MemoryExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::store::{ConfigStore, MemoryConfigStore};
use odoo_sim::{Latency, SimConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SAMPLES: usize = 300;
const WARMUP: usize = 20;
const LATENCY: Duration = Duration::from_millis(5);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn measure<F, Fut>(mut call: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARMUP {
        call().await;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        call().await;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    samples
}

/// Forwards TCP connections to `target`, counting them.
async fn counting_proxy(target: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, count)
}

async fn serve(gateway: Arc<Gateway>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, bitconn::gateway::router(gateway)).await });
    url
}

#[tokio::main]
async fn main() {
    let sim = odoo_sim::start(SimConfig {
        latency: Latency::Fixed(LATENCY),
        ..Default::default()
    })
    .await
    .unwrap();
    let sim_host = sim.url.trim_start_matches("http://").to_owned();
    let (proxy_url, connections) = counting_proxy(sim_host).await;
    let store = Arc::new(MemoryConfigStore::new());
    let gateway = Arc::new(Gateway::new(
        store.clone(),
        Arc::new(MemoryExecutionLog::new()),
        Arc::new(bitconn::idempotency::MemoryIdempotencyStore::new()),
        GatewaySettings::default(),
    ));
    let gateway_url = serve(gateway).await;
    let odoo = |url: &str| OdooConnection {
        url: url.to_owned(),
        db: odoo_sim::DEFAULT_DB.into(),
        login: "admin".into(),
        api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
    };
    let new = |url: &str| NewWebhook {
        name: "bench".into(),
        odoo: odoo(url),
        models: ModelAccess::All,
        permissions: Permissions::default(),
    };
    let (direct_hook, direct_secret) = WebhookConfig::create(new(&sim.url), time::OffsetDateTime::now_utc());
    let (proxied_hook, proxied_secret) =
        WebhookConfig::create(new(&proxy_url), time::OffsetDateTime::now_utc());
    store.create(&direct_hook).await.unwrap();
    store.create(&proxied_hook).await.unwrap();

    let client = bitconn::odoo::tls::http_client_builder().build().unwrap();
    let body = json!({"model": "sale.order", "method": "read", "ids": [1], "fields": ["name", "partner_id", "amount_total"]}).to_string();
    let through_gateway = |id: String, secret: String| {
        let (client, body) = (client.clone(), body.clone());
        let url = format!("{gateway_url}/bitconn/webhook/{id}");
        move || {
            let (client, body, url, secret) = (client.clone(), body.clone(), url.clone(), secret.clone());
            async move {
                let r = client
                    .post(url)
                    .bearer_auth(secret)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        }
    };
    let gateway_samples = measure(through_gateway(
        direct_hook.id.to_string(),
        direct_secret.expose().to_owned(),
    ))
    .await;

    let rpc = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
        "args": [odoo_sim::DEFAULT_DB, 2, odoo_sim::DEFAULT_ADMIN_API_KEY, "sale.order", "web_read", [[1]],
                 {"specification": {"name": {}, "partner_id": {"fields": {"display_name": {}}}, "amount_total": {}}}]}});
    let direct_url = format!("{}/jsonrpc", sim.url);
    let direct_samples = measure(|| {
        let (client, url, rpc) = (client.clone(), direct_url.clone(), rpc.clone());
        async move {
            let r = client.post(url).json(&rpc).send().await.unwrap();
            let answer: Value = r.json().await.unwrap();
            assert!(answer.get("result").is_some(), "{answer}");
        }
    })
    .await;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (g50, g99) = (
        percentile(&gateway_samples, 0.50),
        percentile(&gateway_samples, 0.99),
    );
    let (d50, d99) = (
        percentile(&direct_samples, 0.50),
        percentile(&direct_samples, 0.99),
    );
    println!(
        "{SAMPLES} sequential reads each, sim latency {} ms",
        LATENCY.as_millis()
    );
    println!("direct to sim : p50 {:.2} ms  p99 {:.2} ms", ms(d50), ms(d99));
    println!("via gateway   : p50 {:.2} ms  p99 {:.2} ms", ms(g50), ms(g99));
    println!(
        "ratio         : p50 {:.3}  p99 {:.3}  (target p50 ≤ 1.05)",
        ms(g50) / ms(d50),
        ms(g99) / ms(d99)
    );

    let requests = 100;
    let call = through_gateway(proxied_hook.id.to_string(), proxied_secret.expose().to_owned());
    call().await;
    let before = connections.load(Ordering::Relaxed);
    for _ in 0..requests {
        call().await;
    }
    let opened = connections.load(Ordering::Relaxed) - before;
    println!(
        "connection reuse: {requests} gateway requests ({requests} Odoo calls) opened {opened} new TCP connection(s) to the sim"
    );
}
