//! The Odoo client through the gateway: uid and version cached, bad keys, unreachable and slow Odoo.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::gateway::GatewaySettings;
use common::Harness;
use odoo_sim::{Fault, FaultPlan, FaultTimes, SimConfig};
use serde_json::json;
use std::time::Duration;

fn search() -> serde_json::Value {
    json!({"model": "res.partner", "method": "search", "limit": 3})
}

#[tokio::test]
async fn uid_and_version_are_resolved_once_per_login() {
    let h = Harness::start().await;
    let a = h.hook(|_| {}).await;
    let b = h.hook(|_| {}).await;
    for hook in [&a, &b, &a] {
        assert_eq!(h.post(hook, search()).await.0, 200);
    }
    let calls = h.sim.sim.calls();
    let count = |method: &str| {
        calls
            .iter()
            .filter(|c| c.service == "common" && c.method == method)
            .count()
    };
    assert_eq!(
        (count("authenticate"), count("version")),
        (1, 1),
        "{:?}",
        h.calls()
    );
    let integrator = h.hook(|c| c.odoo = h.odoo("integrator")).await;
    assert_eq!(h.post(&integrator, search()).await.0, 200);
    let calls = h.sim.sim.calls();
    assert_eq!(
        calls.iter().filter(|c| c.method == "authenticate").count(),
        2,
        "one more login, same server version"
    );
    assert_eq!(calls.iter().filter(|c| c.method == "version").count(), 1);
}

#[tokio::test]
async fn concurrent_first_requests_share_one_authentication() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let requests = (0..8).map(|_| h.post(&hook, search()));
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let calls = h.sim.sim.calls();
    assert_eq!(calls.iter().filter(|c| c.method == "authenticate").count(), 1);
    assert_eq!(calls.iter().filter(|c| c.method == "version").count(), 1);
}

#[tokio::test]
async fn a_wrong_odoo_api_key_is_an_access_denied_odoo_error() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.odoo.api_key = "not-the-key".into()).await;
    let (status, body) = h.post(&hook, search()).await;
    assert_eq!(
        (status, body["error"].as_str(), body["kind"].as_str()),
        (403, Some("odoo_error"), Some("AccessDenied")),
        "{body}"
    );
}

#[tokio::test]
async fn unreachable_odoo_is_502() {
    let h = Harness::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let hook = h.hook(|c| c.odoo.url = format!("http://{closed}")).await;
    let (status, body) = h.post(&hook, search()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("odoo_unreachable")),
        "{body}"
    );
}

#[tokio::test]
async fn dropped_connections_are_502_and_faults_are_typed() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    assert_eq!(h.post(&hook, search()).await.0, 200);
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::DropConnection,
        times: FaultTimes::Next(1),
    });
    let (status, body) = h.post(&hook, search()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("odoo_unreachable")),
        "{body}"
    );
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::OdooError {
            name: "odoo.exceptions.MissingError".into(),
            message: "Record does not exist or has been deleted.".into(),
        },
        times: FaultTimes::Next(1),
    });
    let (status, body) = h.post(&hook, search()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body,
        json!({"ok": false, "error": "odoo_error", "kind": "MissingError", "message": "Record does not exist or has been deleted."})
    );
    assert_eq!(h.post(&hook, search()).await.0, 200);
}

#[tokio::test]
async fn slow_odoo_is_504_after_the_configured_timeout() {
    let settings = GatewaySettings {
        odoo_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let h = Harness::start_with(SimConfig::default(), settings).await;
    let hook = h.hook(|_| {}).await;
    assert_eq!(h.post(&hook, search()).await.0, 200);
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::Slow(Duration::from_secs(3)),
        times: FaultTimes::Next(1),
    });
    let started = std::time::Instant::now();
    let (status, body) = h.post(&hook, search()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (504, Some("odoo_timeout")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
