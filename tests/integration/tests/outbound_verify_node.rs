//! Deliveries over real HTTP verified by the npm reference Standard Webhooks library (`standardwebhooks`,
//! installed by scripts/ensure-tools.sh into tests/verify-node): a plain signature, both signatures of a
//! rotation, and a tampered body that it must reject.
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::HeaderMap;
use bitconn::config::HttpVerb;
use bitconn::outbound::deliver::{Deliverer, Outgoing};
use bitconn::outbound::{AllowList, SigningSecret};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

type Captured = (BTreeMap<String, String>, String);

/// A receiver on a free loopback port answering 200; every request's headers and body go on the channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Captured>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route(
            "/in",
            axum::routing::post(
                |State(tx): State<mpsc::UnboundedSender<Captured>>, headers: HeaderMap, body: String| async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    let _ = tx.send((headers, body));
                    "ok"
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

fn verifier_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../verify-node")
}

/// Runs the npm library's `Webhook.verify`; `Ok` when it accepts.
fn node_verify(secret: &str, headers: &BTreeMap<String, String>, body: &str) -> Result<(), String> {
    let dir = verifier_dir();
    assert!(
        dir.join("node_modules/standardwebhooks").is_dir(),
        "the npm verifier is not installed: run scripts/ensure-tools.sh"
    );
    let mut child = Command::new("node")
        .arg("verify.js")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for the npm verifier");
    let input = json!({"secret": secret, "headers": headers, "body": body}).to_string();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.trim() == "verified" {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

async fn deliver(url: &str, secrets: &[SigningSecret], body: &[u8], event: &str) {
    let allow = AllowList::parse(["127.0.0.0/8"]).unwrap();
    let headers = BTreeMap::from([("X-Tenant".to_owned(), "acme".to_owned())]);
    let answer = Deliverer::new()
        .send(&Outgoing {
            url,
            verb: HttpVerb::Post,
            headers: &headers,
            body: Some(body),
            event_id: event,
            secrets,
            timeout: Duration::from_secs(10),
            allow: &allow,
        })
        .await;
    assert_eq!(answer.status, Some(200), "{answer:?}");
}

#[tokio::test]
async fn the_npm_reference_library_verifies_real_deliveries() {
    let (url, mut got) = receiver().await;
    let secret = SigningSecret::generate();
    let body = br#"{"model":"res.partner","count":1,"records":[{"id":3,"name":"Gemini Furniture \u00e9"}]}"#;
    deliver(&url, std::slice::from_ref(&secret), body, "evt_node_1").await;
    let (headers, received) = got.recv().await.unwrap();
    assert_eq!(received.as_bytes(), body, "the bytes signed are the bytes sent");
    assert_eq!(headers["webhook-id"], "evt_node_1");
    node_verify(&secret.expose(), &headers, &received).unwrap();

    // Another secret, or a body changed on the way, is rejected.
    let other = SigningSecret::generate();
    assert!(node_verify(&other.expose(), &headers, &received).is_err());
    let tampered = received.replace("Gemini", "Gemin1");
    let error = node_verify(&secret.expose(), &headers, &tampered).unwrap_err();
    assert!(!error.is_empty());
}

#[tokio::test]
async fn during_a_rotation_receivers_holding_either_secret_verify() {
    let (url, mut got) = receiver().await;
    let (new, old) = (SigningSecret::generate(), SigningSecret::generate());
    deliver(
        &url,
        &[new.clone(), old.clone()],
        b"{\"event\":\"rotation\"}",
        "evt_node_2",
    )
    .await;
    let (headers, received) = got.recv().await.unwrap();
    assert_eq!(headers["webhook-signature"].split(' ').count(), 2);
    node_verify(&new.expose(), &headers, &received).unwrap();
    node_verify(&old.expose(), &headers, &received).unwrap();
}
