//! `bitconn deliveries list|show|replay` and `bitconn outbound test` over real HTTP: `bitconn serve` (with its
//! Odoo simulator) delivers to a receiver on a free port that fails until told otherwise; the log lists and
//! shows the attempts without secrets, a replay sends the same `webhook-id` again, a test delivery is recorded.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, fails, http_post, json, ok, receiver, repo_root, serve};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const HEADER_VALUE: &str = "Bearer receiver-token-never-shown";
const WAIT: Duration = Duration::from_secs(30);

fn cli(store: &TempStore, args: &[&str]) -> std::process::Command {
    let mut cmd = bitconn(&store.spec);
    cmd.arg("--json").args(args);
    cmd
}

/// Polls `deliveries list` with `args` until `event` is listed.
fn wait_listed(store: &TempStore, args: &[&str], event: &str) -> Value {
    let until = Instant::now() + WAIT;
    loop {
        let mut all = vec!["deliveries", "list"];
        all.extend_from_slice(args);
        let listed = json(cli(store, &all));
        if let Some(found) = listed.as_array().unwrap().iter().find(|e| e["event_id"] == event) {
            return found.clone();
        }
        assert!(
            Instant::now() < until,
            "{event} never listed with {args:?}: {listed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn listed_ids(store: &TempStore, args: &[&str]) -> Vec<String> {
    let mut all = vec!["deliveries", "list"];
    all.extend_from_slice(args);
    json(cli(store, &all))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn dead_deliveries_are_listed_shown_without_secrets_and_replayed_with_the_same_id() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let url = served.printed("url:").unwrap();
    let secret = served.printed("secret:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let status = Arc::new(AtomicU16::new(500));
    let (receiver_url, got) = receiver(status.clone());
    let auth = format!("Authorization: {HEADER_VALUE}");
    let target = format!("{receiver_url}/in");
    json(cli(
        &store,
        &[
            "outbound",
            "set",
            &id,
            "--url",
            &target,
            "--allow-cidr",
            "127.0.0.0/8",
        ],
    ));
    json(cli(
        &store,
        &[
            "outbound", "set", &id, "--fields", "name", "--retry", "1s", "--header", &auth,
        ],
    ));
    let signing = json(cli(&store, &["outbound", "rotate-signing-secret", &id]));
    let signing = signing["signing_secret"].as_str().unwrap().to_owned();

    let (code, answer) = http_post(
        &format!("{}/bitconn/outbound/{id}", served.base_url),
        &secret,
        r#"{"model": "res.partner", "ids": [3]}"#,
    );
    assert_eq!(code, 202, "{answer}");
    let event = serde_json::from_str::<Value>(&answer).unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let request = got.recv_timeout(WAIT).unwrap();
        assert_eq!(request.headers["webhook-id"], event);
    }
    let dead = wait_listed(&store, &["--webhook", &id, "--status", "dead"], &event);
    assert_eq!(
        (dead["attempts"].as_u64(), dead["last_status"].as_u64()),
        (Some(2), Some(500))
    );
    assert!(listed_ids(&store, &["--status", "failed"]).contains(&event));
    assert!(!listed_ids(&store, &["--status", "delivered"]).contains(&event));
    assert!(listed_ids(&store, &["--status", "dead", "--since", "1m"]).contains(&event));
    assert!(
        fails(cli(&store, &["deliveries", "list", "--status", "lost"])).contains("not a delivery status")
    );

    let mut listing = bitconn(&store.spec);
    listing.args(["deliveries", "list", "--webhook", &id]);
    let listing = ok(listing);
    assert!(
        listing.contains(&event) && listing.contains("  dead  attempts=2  http=500"),
        "{listing}"
    );

    let shown_text = ok(cli(&store, &["deliveries", "show", &event]));
    let shown: Value = serde_json::from_str(&shown_text).unwrap();
    let attempts = shown["attempts"].as_array().unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["retrying", "dead"]);
    let headers = &attempts[0]["request_headers"];
    assert_eq!(headers["authorization"], "[redacted]");
    assert_eq!(headers["webhook-id"], event.as_str());
    assert_eq!(headers["webhook-signature"], "v1,[redacted]");
    assert!(
        headers["webhook-timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    let payload: Value = serde_json::from_str(attempts[0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["model"], "res.partner");
    assert_eq!(
        serde_json::from_str::<Value>(attempts[1]["response"].as_str().unwrap()).unwrap()["code"],
        500
    );
    for leaked in [HEADER_VALUE, &signing[6..]] {
        assert!(!shown_text.contains(leaked), "{leaked} shown");
    }
    let mut text = bitconn(&store.spec);
    text.args(["deliveries", "show", &event]);
    let text = ok(text);
    assert!(
        text.contains("attempt 2") && text.contains("header:   authorization: [redacted]"),
        "{text}"
    );

    // The receiver is fixed: a replay sends the same webhook-id, and the event becomes delivered.
    status.store(200, Ordering::SeqCst);
    let replayed = json(cli(&store, &["deliveries", "replay", &event]));
    assert_eq!(replayed["replayed"], serde_json::json!([event]));
    let again = got.recv_timeout(WAIT).unwrap();
    assert_eq!(again.headers["webhook-id"], event);
    let delivered = wait_listed(&store, &["--status", "delivered"], &event);
    assert_eq!(delivered["attempts"].as_u64(), Some(3));
    // Off the dead-letter list once queued again (and delivered since): `--dead` finds nothing.
    let none = json(cli(&store, &["deliveries", "replay", "--dead"]));
    assert_eq!(none["replayed"], serde_json::json!([]));
    // Its dead-letter copy is gone; a replay by id still works, from the job the log kept.
    let from_log = json(cli(&store, &["deliveries", "replay", &event]));
    assert_eq!(from_log["replayed"], serde_json::json!([event]));
    assert_eq!(got.recv_timeout(WAIT).unwrap().headers["webhook-id"], event);
    assert!(fails(cli(&store, &["deliveries", "replay", "evt_never"])).contains("no delivery evt_never"));
    assert!(fails(cli(&store, &["deliveries", "show", "evt_never"])).contains("no delivery evt_never"));
    drop(served);
}

#[test]
fn dead_events_replay_in_bulk() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let url = served.printed("url:").unwrap();
    let secret = served.printed("secret:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let status = Arc::new(AtomicU16::new(503));
    let (receiver_url, got) = receiver(status.clone());
    let target = format!("{receiver_url}/in");
    json(cli(
        &store,
        &[
            "outbound",
            "set",
            &id,
            "--url",
            &target,
            "--allow-cidr",
            "127.0.0.0/8",
            "--retry",
            "1s",
        ],
    ));
    let mut events = Vec::new();
    for n in 0..3 {
        let body = format!(r#"{{"model": "res.partner", "ids": [{}]}}"#, n + 1);
        let (code, answer) = http_post(
            &format!("{}/bitconn/outbound/{id}", served.base_url),
            &secret,
            &body,
        );
        assert_eq!(code, 202, "{answer}");
        events.push(
            serde_json::from_str::<Value>(&answer).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for event in &events {
        wait_listed(&store, &["--status", "dead"], event);
    }
    while got.try_recv().is_ok() {}
    status.store(200, Ordering::SeqCst);
    let replayed = json(cli(&store, &["deliveries", "replay", "--dead", "--since", "10m"]));
    let mut ids: Vec<String> = replayed["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = events.clone();
    expected.sort();
    assert_eq!(ids, expected);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(got.recv_timeout(WAIT).unwrap().headers["webhook-id"].clone());
    }
    seen.sort();
    assert_eq!(seen, expected);
    drop(served);
}

#[test]
fn an_event_waiting_for_its_next_attempt_is_not_replayed() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let url = served.printed("url:").unwrap();
    let secret = served.printed("secret:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let (receiver_url, got) = receiver(Arc::new(AtomicU16::new(500)));
    let target = format!("{receiver_url}/in");
    json(cli(
        &store,
        &[
            "outbound",
            "set",
            &id,
            "--url",
            &target,
            "--allow-cidr",
            "127.0.0.0/8",
            "--retry",
            "1h",
        ],
    ));
    let (code, answer) = http_post(
        &format!("{}/bitconn/outbound/{id}", served.base_url),
        &secret,
        r#"{"model": "res.partner", "ids": [3]}"#,
    );
    assert_eq!(code, 202, "{answer}");
    let event = serde_json::from_str::<Value>(&answer).unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    got.recv_timeout(WAIT).unwrap();
    wait_listed(&store, &["--status", "retrying"], &event);
    let error = fails(cli(&store, &["deliveries", "replay", &event]));
    assert!(error.contains("still queued"), "{error}");
    assert!(
        got.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing sent again"
    );
    drop(served);
}

#[test]
fn outbound_test_sends_now_prints_the_answer_and_is_recorded_as_a_test() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let url = served.printed("url:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let status = Arc::new(AtomicU16::new(200));
    let (receiver_url, got) = receiver(status.clone());
    let target = format!("{receiver_url}/partners/{{{{ id }}}}");
    json(cli(
        &store,
        &[
            "outbound",
            "set",
            &id,
            "--url",
            &target,
            "--allow-cidr",
            "127.0.0.0/8",
            "--fields",
            "name,email",
        ],
    ));

    // From Odoo: the records read as the webhook's user, the payload built as a delivery would be.
    let sent = json(cli(
        &store,
        &["outbound", "test", &id, "--model", "res.partner", "--ids", "3"],
    ));
    assert_eq!(sent["status"], 200);
    assert_eq!(sent["url"], format!("{receiver_url}/partners/3"));
    assert_eq!(sent["response"]["ok"], true);
    let request = got.recv_timeout(WAIT).unwrap();
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        (body["model"].as_str(), body["count"].as_u64()),
        (Some("res.partner"), Some(1))
    );
    assert!(body["records"][0]["name"].is_string(), "{body}");
    let event = sent["event_id"].as_str().unwrap();
    assert_eq!(request.headers["webhook-id"], event);
    assert!(listed_ids(&store, &["--status", "test"]).contains(&event.to_owned()));

    // A file is sent byte for byte; the text report pretty-prints the answer.
    let file = repo_root().join("docs/examples/outbound_send.json");
    let mut text = bitconn(&store.spec);
    text.args(["outbound", "test", &id, "--body", file.to_str().unwrap()]);
    let printed = ok(text);
    let request = got.recv_timeout(WAIT).unwrap();
    assert_eq!(request.body, std::fs::read(&file).unwrap());
    assert!(
        printed.contains("Status: 200") && printed.contains("Duration:"),
        "{printed}"
    );
    assert!(
        printed.contains("URL: http://127.0.0.1") && printed.contains("\n  \"ok\": true"),
        "{printed}"
    );

    // A failing receiver: the status is printed, the command fails, the log says failed.
    status.store(422, Ordering::SeqCst);
    let mut failing = bitconn(&store.spec);
    failing.args(["outbound", "test", &id]);
    assert!(fails(failing).contains("outbound test failed: HTTP 422"));
    let request = got.recv_timeout(WAIT).unwrap();
    let sample: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sample["records"][0]["name"], "Test Partner");
    let failed = listed_ids(&store, &["--status", "failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(fails(cli(&store, &["deliveries", "replay", &failed[0]])).contains("test delivery"));
    drop(served);
}
