//! Odoo's native webhook posts over real HTTP: the gateway's trigger route, the Odoo simulator as the source
//! of truth, the dispatcher on an SQLite queue, and a receiver on port 0. The posts are the bodies captured
//! from a real Odoo 18 (`tests/fixtures/odoo18-native-webhooks/`), with Odoo's own headers and no credential
//! but the key in the path. Signatures are checked with the reference verifier (`standardwebhooks`).
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::TriggerOn;
use bitconn::outbound::deliveries::{AttemptOutcome, DeliveryLog};
use bitconn::store::ConfigStore;
use common::native::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn thirteen_identical_posts_become_one_signed_delivery_of_the_committed_values() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let hook = setup.hook(&receiver, TriggerOn::CreateOrWrite, 1000).await;
    let id = setup
        .rpc(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Alice", "email": "alice@example.com"}]),
        )
        .await
        .as_i64()
        .unwrap();
    // Odoo's 13 posts for one create, each body as captured; the committed email is newer than the body's.
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../fixtures/odoo18-native-webhooks/01b-partner-create-all-13-duplicates.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let posts = file["requests"].as_array().cloned().unwrap();
    assert_eq!(posts.len(), 13, "the capture holds 13 posts");
    setup
        .rpc(
            "res.partner",
            "write",
            json!([[id], {"email": "alice.committed@example.com"}]),
        )
        .await;
    let mut accepted = 0;
    let mut times = Vec::new();
    for post in &posts {
        let mut body: Value = serde_json::from_str(post["body_raw"].as_str().unwrap()).unwrap();
        body["_id"] = json!(id);
        body["id"] = json!(id);
        let (status, answer, took) = setup.native(&hook, &hook.key, body.to_string().as_bytes()).await;
        assert_eq!(status, 202, "{answer}");
        assert!(took < FAST, "answered in {took:?}");
        times.push(took);
        accepted += usize::from(answer["duplicate"] == json!(false));
    }
    times.sort();
    assert!(times[times.len() / 2] < FAST_MEDIAN, "{times:?}");
    assert!(accepted <= 3, "{accepted} of 13 posts queued");
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.got().len(), 1, "delivered once");
    let payload = got[0].json();
    assert_eq!(payload["event"], "create_or_write");
    assert_eq!(payload["records"][0]["id"], id);
    assert_eq!(payload["records"][0]["email"], "alice.committed@example.com");
    assert_eq!(reference_verify(&hook.signing, &got[0]), "verified");

    // After the burst window an unchanged record is not sent again (same version); a change is, even when
    // its post follows the previous one closely (it is never folded into a read that cannot see it).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let body = captured("01-partner-create.json", id);
    assert_eq!(setup.native(&hook, &hook.key, &body).await.0, 202);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got().len(), 1, "the same version is delivered once");
    setup
        .rpc(
            "res.partner",
            "write",
            json!([[id], {"email": "alice.third@example.com"}]),
        )
        .await;
    let (status, answer, _) = setup.native(&hook, &hook.key, &body).await;
    assert_eq!((status, &answer["duplicate"]), (202, &json!(false)), "{answer}");
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got[1].json()["records"][0]["email"], "alice.third@example.com");
    assert_ne!(got[0].headers.get("webhook-id"), got[1].headers.get("webhook-id"));
}

#[tokio::test]
async fn a_rolled_back_record_is_recorded_as_a_phantom_and_never_delivered() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let hook = setup.hook(&receiver, TriggerOn::CreateOrWrite, 20).await;
    let body = captured("07-rollback-phantom-event.json", 987_654);
    let (status, answer, _) = setup.native(&hook, &hook.key, &body).await;
    assert_eq!(status, 202, "{answer}");
    let attempts = setup.attempts(1, Duration::from_secs(10)).await;
    assert_eq!(attempts[0].outcome, AttemptOutcome::Phantom);
    assert_eq!(attempts[0].event_id, answer["event_id"].as_str().unwrap());
    let why = attempts[0].error.clone().unwrap();
    assert!(
        why.contains("987654") && why.contains("WHROLL webhook(#399)"),
        "{why}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.got().is_empty());
    assert_eq!(setup.deliveries.list(None, 100).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_record_committed_after_the_first_read_is_delivered_once_it_appears() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let hook = setup.hook(&receiver, TriggerOn::Create, 100).await;
    let before = setup
        .rpc("res.partner", "create", json!([{"name": "WHCAP Before"}]))
        .await
        .as_i64()
        .unwrap();
    // The post arrives before the record it names exists (as Odoo posts before its commit).
    let next = before + 1;
    let (status, _, _) = setup
        .native(&hook, &hook.key, &captured("01-partner-create.json", next))
        .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(receiver.got().is_empty());
    let created = setup
        .rpc(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Late", "email": "late@example.com"}]),
        )
        .await
        .as_i64()
        .unwrap();
    assert_eq!(created, next);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["records"][0]["email"], "late@example.com");
    assert_eq!(got[0].json()["event"], "create");
}

#[tokio::test]
async fn an_unlink_event_carries_the_ids_and_what_odoo_sent() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let hook = setup.hook(&receiver, TriggerOn::Unlink, 20).await;
    let body = captured("02-partner-write.json", 4242);
    let (status, _, _) = setup.native(&hook, &hook.key, &body).await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let payload = got[0].json();
    assert_eq!(payload["event"], "unlink");
    assert_eq!(payload["ids"], json!([4242]));
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["deleted"][0], sent);
    assert_eq!(reference_verify(&hook.signing, &got[0]), "verified");
}

#[tokio::test]
async fn keys_bodies_and_verbs_are_checked_and_every_refusal_is_fast() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let mut hook = setup.hook(&receiver, TriggerOn::CreateOrWrite, 1000).await;
    let other = setup.hook(&receiver, TriggerOn::CreateOrWrite, 1000).await;
    let body = captured("01-partner-create.json", 44);

    for (key, body, status) in [
        ("bcw_wrong", body.clone(), 401),
        (other.key.as_str(), body.clone(), 401),
        (hook.key.as_str(), b"{\"_model\": \"res.partner\"".to_vec(), 400),
        (hook.key.as_str(), b"not json".to_vec(), 400),
        (hook.key.as_str(), br#"{"_model":"res.partner"}"#.to_vec(), 400),
        (
            hook.key.as_str(),
            br#"{"_model":"sale.order","_id":3}"#.to_vec(),
            400,
        ),
        (hook.key.as_str(), "[".repeat(200_000).into_bytes(), 400),
        (hook.key.as_str(), vec![b' '; 300 * 1024], 413),
    ] {
        let (got, answer, took) = setup.native(&hook, key, &body).await;
        assert_eq!(got, status, "{answer}");
        assert!(took < FAST, "{status} took {took:?}");
    }
    let (status, answer, _) = setup
        .native(
            &hook,
            &hook.key,
            br#"{"_model":"res.partner","_id":44,"surprise":{"a":[1]}}"#,
        )
        .await;
    assert_eq!(status, 202, "unknown keys are ignored: {answer}");
    let response = setup
        .http
        .get(format!(
            "{}/bitconn/outbound/{}/{}",
            setup.url, hook.config.id, hook.key
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let response = setup
        .http
        .post(format!(
            "{}/bitconn/outbound/{}/{}",
            setup.url, other.config.id, hook.key
        ))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        401,
        "a key works on its own webhook only"
    );

    // Rotation: the new key works at once, the old one stops (no grace period).
    let old = hook.key.clone();
    let mut config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let new = config.triggers[0].rotate_key(None, time::OffsetDateTime::now_utc());
    setup.store.update(&config).await.unwrap();
    hook.key = new.expose().to_owned();
    assert_eq!(setup.native(&hook, &old, &body).await.0, 401);
    assert_eq!(setup.native(&hook, &hook.key, &body).await.0, 202);
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    (at(50), at(99))
}

/// `total` posts of `body(n)` to `url`, `concurrency` at a time; each one's time to the answer.
async fn hammer(
    url: &str,
    total: usize,
    concurrency: usize,
    body: impl Fn(usize) -> Vec<u8>,
) -> Vec<Duration> {
    let http = bitconn::odoo::tls::http_client_builder().build().unwrap();
    let bodies: Vec<Vec<u8>> = (0..total).map(body).collect();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bodies = Arc::new(bodies);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, next, bodies) = (http.clone(), url.to_owned(), next.clone(), bodies.clone());
        workers.push(tokio::spawn(async move {
            let mut took = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(n) else { break };
                let started = Instant::now();
                let response = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                let _ = response.bytes().await.unwrap();
                took.push(started.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all
}

/// Figures: how long Odoo's user waits for the trigger (1,000 posts, 50 at a time) against a bare receiver
/// that answers 200 at once, and capture-to-delivery latency with the default re-read delay.
/// `cargo nextest run --workspace --test outbound_native --run-ignored only --no-capture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figures, not a check"]
async fn native_trigger_figures() {
    const POSTS: usize = 1000;
    const CONCURRENT: usize = 50;
    let setup = Setup::start().await;
    let bare = Receiver::start().await;
    // The dispatcher leaves these alone during the run: their first read is a minute away.
    let hook = setup.hook(&bare, TriggerOn::CreateOrWrite, 60_000).await;
    let body = |n: usize| captured("01-partner-create.json", 100_000 + n as i64);
    let trigger_url = format!("{}/bitconn/outbound/{}/{}", setup.url, hook.config.id, hook.key);
    // Warm both paths, then alternate runs so neither gets the quieter machine.
    hammer(&trigger_url, 100, 10, body).await;
    hammer(&bare.url, 100, 10, body).await;
    let (mut gateway, mut receiver) = (Vec::new(), Vec::new());
    for round in 0..2 {
        let offset = 10_000 * (round + 1);
        gateway.extend(hammer(&trigger_url, POSTS / 2, CONCURRENT, |n| body(n + offset)).await);
        receiver.extend(hammer(&bare.url, POSTS / 2, CONCURRENT, body).await);
    }
    let (g50, g99) = percentiles(gateway);
    let (r50, r99) = percentiles(receiver);
    println!(
        "native trigger, {POSTS} posts, {CONCURRENT} concurrent: p50 {g50:?} p99 {g99:?}; bare receiver p50 {r50:?} \
         p99 {r99:?}; ratio p50 {:.2} p99 {:.2}",
        g50.as_secs_f64() / r50.as_secs_f64(),
        g99.as_secs_f64() / r99.as_secs_f64()
    );

    // Capture to delivery with the default re-read delay: one create at a time, post to receipt.
    let receiver = Receiver::start().await;
    let hook = setup
        .hook(
            &receiver,
            TriggerOn::CreateOrWrite,
            bitconn::config::triggers::DEFAULT_REREAD_DELAY_MS,
        )
        .await;
    let mut latencies = Vec::new();
    for n in 0..10 {
        let id = setup
            .rpc("res.partner", "create", json!([{"name": format!("LAT {n}")}]))
            .await
            .as_i64()
            .unwrap();
        let started = Instant::now();
        setup
            .native(&hook, &hook.key, &captured("01-partner-create.json", id))
            .await;
        receiver.wait_for(n + 1, Duration::from_secs(20)).await;
        latencies.push(started.elapsed());
    }
    let (l50, l99) = percentiles(latencies);
    println!("capture to delivery, default delay: p50 {l50:?} max {l99:?}");
}

#[tokio::test]
async fn a_create_odoo_rolls_back_after_its_post_is_a_phantom_and_never_delivered() {
    let setup = Setup::start_with(odoo_sim::SimConfig {
        base_automation: true,
        ..odoo_sim::SimConfig::default()
    })
    .await;
    let receiver = Receiver::start().await;
    let hook = setup.hook(&receiver, TriggerOn::CreateOrWrite, 20).await;
    let model = setup
        .rpc("ir.model", "search", json!([[["model", "=", "res.partner"]]]))
        .await[0]
        .clone();
    let url = format!("{}/bitconn/outbound/{}/{}", setup.url, hook.config.id, hook.key);
    let post = setup
        .rpc(
            "ir.actions.server",
            "create",
            json!([{"name": "WHROLL webhook", "state": "webhook", "model_id": model, "sequence": 1,
                    "webhook_url": url}]),
        )
        .await;
    let fail = setup
        .rpc(
            "ir.actions.server",
            "create",
            json!([{"name": "WHROLL fail", "state": "code", "model_id": model, "sequence": 2,
                    "code": "raise UserError('simulated failure after the webhook')"}]),
        )
        .await;
    setup
        .rpc(
            "base.automation",
            "create",
            json!([{"name": "WHROLL", "model_id": model, "trigger": "on_create", "action_server_ids": [[6, 0, [post, fail]]]}]),
        )
        .await;
    let answer = setup
        .rpc_answer("res.partner", "create", json!([{"name": "WHROLL Frank"}]))
        .await;
    assert_eq!(
        answer["error"]["data"]["name"], "odoo.exceptions.UserError",
        "{answer}"
    );
    let posts = setup.sim.sim.webhook_calls();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, Some(202), "the gateway accepted Odoo's post");
    let attempts = setup.attempts(1, Duration::from_secs(10)).await;
    assert_eq!(attempts[0].outcome, AttemptOutcome::Phantom, "{attempts:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.got().is_empty(),
        "a rolled-back record is never delivered"
    );
}
