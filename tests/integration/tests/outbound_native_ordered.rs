//! Native events of an ordered webhook over real HTTP: Odoo's posts to the gateway's native route (and the
//! poller's finds), the re-read in the Odoo simulator, the dispatcher on an SQLite queue or on SQS (moto, the
//! FIFO queue), and a receiver that fails its first answers.
#![allow(clippy::unwrap_used)]

mod common;
mod storage;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use bitconn::config::{PollCursor, PollSettings, RetrySchedule, TriggerOn};
use bitconn::outbound::deliveries::MemoryDeliveryLog;
use bitconn::outbound::poll::Poller;
use bitconn::store::ConfigStore;
use common::native::{Hook, Receiver, Setup, captured, serve_and_dispatch};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage::sqs::sqs_queue;

/// Every request a receiver got: the partner's name, and whether it was answered 2xx.
type Log = Arc<Mutex<Vec<(String, bool)>>>;

/// A receiver that answers 500 to its first `failures` requests, then 200.
async fn failing_receiver(failures: usize) -> (Receiver, Log) {
    let log: Log = Arc::default();
    let left = Arc::new(AtomicUsize::new(failures));
    let shared = log.clone();
    let app = axum::Router::new().fallback(move |_: HeaderMap, body: Bytes| {
        let (log, left) = (shared.clone(), left.clone());
        async move {
            let payload: Value = serde_json::from_slice(&body).unwrap();
            let name = payload["records"][0]["name"].as_str().unwrap_or("?").to_owned();
            let fail = left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            log.lock().unwrap().push((name, !fail));
            if fail {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let receiver = Receiver {
        url,
        got: Arc::default(),
        task,
    };
    (receiver, log)
}

/// Makes the hook's target ordered, retrying after 1 s twice.
async fn ordered(setup: &Setup, hook: &Hook) {
    let mut config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let target = config.outbound.as_mut().unwrap();
    target.ordered = true;
    target.retry = RetrySchedule(vec![1, 1]);
    setup.store.update(&config).await.unwrap();
}

async fn partner(setup: &Setup, name: &str) -> i64 {
    setup
        .rpc("res.partner", "create", json!([{"name": name}]))
        .await
        .as_i64()
        .unwrap()
}

fn delivered(log: &Log) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(name, _)| name.clone())
        .collect()
}

#[tokio::test]
async fn native_events_of_an_ordered_webhook_arrive_in_order_behind_a_failing_head() {
    let setup = Setup::start().await;
    let (receiver, log) = failing_receiver(2).await;
    let hook = setup.hook(&receiver, TriggerOn::CreateOrWrite, 300).await;
    ordered(&setup, &hook).await;
    let names = ["WHORD first", "WHORD second", "WHORD third"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(partner(&setup, name).await);
    }
    // The first record changes again right after its post: that change is read with the first event (or
    // found again as the same version), never delivered out of its place.
    let first = captured("01-partner-create.json", ids[0]);
    assert_eq!(setup.native(&hook, &hook.key, &first).await.0, 202);
    setup
        .rpc(
            "res.partner",
            "write",
            json!([[ids[0]], {"name": "WHORD first, renamed"}]),
        )
        .await;
    assert_eq!(setup.native(&hook, &hook.key, &first).await.0, 202);
    for id in &ids[1..] {
        let body = captured("01-partner-create.json", *id);
        let (status, answer, _) = setup.native(&hook, &hook.key, &body).await;
        assert_eq!(status, 202, "{answer}");
    }
    let until = Instant::now() + Duration::from_secs(30);
    while delivered(&log).len() < names.len() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = log.lock().unwrap().clone();
    let expected = ["WHORD first, renamed", "WHORD second", "WHORD third"];
    assert_eq!(delivered(&log), expected, "{requests:?}");
    let sent: Vec<&str> = requests.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        sent,
        [expected[0], expected[0], expected[0], expected[1], expected[2]],
        "nothing went out while the head waited for its retries"
    );
}

#[tokio::test]
async fn changes_the_poller_finds_for_an_ordered_webhook_arrive_in_order_behind_a_failing_head() {
    let setup = Setup::start().await;
    let (receiver, log) = failing_receiver(2).await;
    let hook = setup
        .hook_with(&receiver, TriggerOn::CreateOrWrite, 1000, |t| {
            t.poll = Some(PollSettings {
                every_seconds: 60,
                cursor: PollCursor::default(),
            });
        })
        .await;
    ordered(&setup, &hook).await;
    let poller = Poller::new(setup.store.clone(), setup.queue.clone(), setup.gateway.clone());
    poller.tick().await.unwrap();
    let names = ["WHORDPOLL first", "WHORDPOLL second", "WHORDPOLL third"];
    for name in names {
        partner(&setup, name).await;
    }
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let report = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!(report.queued, 3, "{report:?}");
    let until = Instant::now() + Duration::from_secs(30);
    while delivered(&log).len() < names.len() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = log.lock().unwrap().clone();
    assert_eq!(delivered(&log), names, "{requests:?}");
    let sent: Vec<&str> = requests.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(sent, [names[0], names[0], names[0], names[1], names[2]]);
}

#[tokio::test]
async fn on_sqs_native_events_of_an_ordered_webhook_go_through_the_fifo_queue_in_order() {
    // The simulator, the store and the webhook come from the native harness; the gateway and dispatcher here
    // queue on SQS instead of its SQLite file.
    let setup = Setup::start().await;
    let (receiver, log) = failing_receiver(1).await;
    let hook = setup.hook(&receiver, TriggerOn::CreateOrWrite, 300).await;
    ordered(&setup, &hook).await;

    let queue = Arc::new(sqs_queue().await);
    let (url, _gateway, tasks) = serve_and_dispatch(
        setup.store.clone(),
        queue,
        Arc::new(MemoryDeliveryLog::new()),
        Duration::from_millis(100),
    )
    .await;

    let names = ["WHSQS first", "WHSQS second", "WHSQS third"];
    for name in names {
        let id = setup
            .rpc("res.partner", "create", json!([{"name": name}]))
            .await
            .as_i64()
            .unwrap();
        let answer = setup
            .http
            .post(format!("{url}/bitconn/outbound/{}/{}", hook.config.id, hook.key))
            .header("Content-Type", "application/json")
            .body(captured("01-partner-create.json", id))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202);
    }
    let until = Instant::now() + Duration::from_secs(60);
    while delivered(&log).len() < names.len() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tasks.iter().for_each(|t| t.abort());
    let requests = log.lock().unwrap().clone();
    assert_eq!(delivered(&log), names, "{requests:?}");
    let sent: Vec<&str> = requests.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(sent, [names[0], names[0], names[1], names[2]]);
}
