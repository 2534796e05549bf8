//! Test switches over the Rust API and HTTP: call log, faults, latency, reset and the old-server version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use odoo_sim::{Fault, FaultPlan, FaultTimes, Latency, SimConfig};
use serde_json::{Value, json};

async fn call(
    client: &reqwest::Client,
    url: &str,
    model: &str,
    method: &str,
    args: Value,
    kwargs: Value,
) -> reqwest::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
        "args": [odoo_sim::DEFAULT_DB, 2, odoo_sim::DEFAULT_ADMIN_API_KEY, model, method, args, kwargs]}});
    client
        .post(format!("{url}/jsonrpc"))
        .json(&body)
        .send()
        .await?
        .json()
        .await
}

#[tokio::test]
async fn log_faults_reset_and_version() {
    let sim = odoo_sim::start(SimConfig::default()).await.unwrap();
    let client = http_client();
    let r = call(
        &client,
        &sim.url,
        "res.partner",
        "search_count",
        json!([[]]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r["result"], json!(38));
    let calls = sim.sim.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].model.as_deref(), Some("res.partner"));
    assert_eq!(calls[0].model_method.as_deref(), Some("search_count"));

    sim.sim.inject_fault(FaultPlan {
        fault: Fault::OdooError {
            name: "odoo.exceptions.UserError".into(),
            message: "boom".into(),
        },
        times: FaultTimes::Next(1),
    });
    let r = call(
        &client,
        &sim.url,
        "res.partner",
        "search_count",
        json!([[]]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r["error"]["data"]["message"], json!("boom"));
    let r = call(
        &client,
        &sim.url,
        "res.partner",
        "search_count",
        json!([[]]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r["result"], json!(38));

    sim.sim.inject_fault(FaultPlan {
        fault: Fault::DropConnection,
        times: FaultTimes::Next(1),
    });
    assert!(
        call(
            &client,
            &sim.url,
            "res.partner",
            "search_count",
            json!([[]]),
            json!({})
        )
        .await
        .is_err()
    );

    sim.sim.set_latency(Latency::Fixed(Duration::from_millis(60)));
    let t = Instant::now();
    call(
        &client,
        &sim.url,
        "res.partner",
        "search_count",
        json!([[]]),
        json!({}),
    )
    .await
    .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(60));
    sim.sim.set_latency(Latency::None);

    let created = call(
        &client,
        &sim.url,
        "res.partner",
        "create",
        json!([{"name": "Temp"}]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(created["result"], json!(44));
    let resp = client
        .post(format!("{}/__sim/reset", sim.url))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(sim.sim.call_count(), 0);
    let r = call(
        &client,
        &sim.url,
        "res.partner",
        "search_count",
        json!([[["name", "=", "Temp"]]]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r["result"], json!(0));

    let log: Value = client
        .get(format!("{}/__sim/calls", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["count"], json!(1));
    assert_eq!(log["counters"]["res.partner.search_count"], json!(1));

    client
        .post(format!("{}/__sim/version", sim.url))
        .json(&json!({"version": "16.0"}))
        .send()
        .await
        .unwrap();
    let v: Value = client
        .post(format!("{}/jsonrpc", sim.url))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "common", "method": "version", "args": []}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"]["server_version"], json!("16.0"));
    let r = call(
        &client,
        &sim.url,
        "res.partner",
        "web_read",
        json!([[15]]),
        json!({"specification": {"name": {}}}),
    )
    .await
    .unwrap();
    assert_eq!(r["error"]["data"]["name"], json!("builtins.AttributeError"));
    let r = call(
        &client,
        &sim.url,
        "res.partner",
        "read",
        json!([[15], ["name"]]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r["result"][0]["name"], json!("Azure Interior"));
}

#[tokio::test]
async fn non_json_body_is_a_plain_400() {
    let sim = odoo_sim::start(SimConfig::default()).await.unwrap();
    let resp = http_client()
        .post(format!("{}/jsonrpc", sim.url))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
}

/// A plain-HTTP client for the simulator. reqwest carries no TLS crypto provider of its own in this workspace,
/// so one is installed for the process first.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
