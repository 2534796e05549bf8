//! Odoo's native webhook posts over real HTTP: the gateway's trigger route, the Odoo simulator as the source
//! of truth, the dispatcher on an SQLite queue, and a receiver on port 0. The posts are the bodies captured
//! from a real Odoo 18 (`tests/fixtures/odoo18-native-webhooks/`), with Odoo's own headers and no credential
//! but the key in the path. Signatures are checked with the reference verifier (`standardwebhooks`).
#![allow(clippy::unwrap_used)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bitconn::config::{
    ModelAccess, NativeTrigger, NewWebhook, OdooConnection, OutboundTarget, PayloadSpec, Permissions,
    PollCursor, PollSettings, RetrySchedule, TriggerOn, WebhookConfig,
};
use bitconn::execution_log::MemoryExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::outbound::deliveries::{Attempt, AttemptOutcome, DeliveryLog, MemoryDeliveryLog};
use bitconn::outbound::poll::Poller;
use bitconn::outbound::queue::SqliteQueue;
use bitconn::outbound::{DispatchSettings, Dispatcher};
use bitconn::store::{ConfigStore, MemoryConfigStore, SqliteLocation};
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Odoo waits at most 1 s for the answer; the route must answer far inside that, even on a loaded test machine
/// (the figures test measures it: milliseconds).
const FAST: Duration = Duration::from_millis(500);
/// What the median answer of a burst must stay under.
const FAST_MEDIAN: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
struct Got {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let shared = got.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let got = shared.clone();
            async move {
                got.lock().unwrap().push(Got {
                    headers,
                    body: body.to_vec(),
                });
                (StatusCode::OK, "ok").into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, got, task }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self.got().len() >= n {
                return self.got();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver got {} requests, not {n}", self.got().len());
    }
}

struct Setup {
    sim: odoo_sim::RunningSim,
    url: String,
    store: Arc<MemoryConfigStore>,
    queue: Arc<SqliteQueue>,
    gateway: Arc<Gateway>,
    deliveries: Arc<MemoryDeliveryLog>,
    http: reqwest::Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// A webhook with an outbound target and one native trigger, and the trigger's key.
struct Hook {
    config: WebhookConfig,
    key: String,
    signing: String,
}

impl Setup {
    async fn start() -> Self {
        Self::start_with(odoo_sim::SimConfig::default()).await
    }

    async fn start_with(sim: odoo_sim::SimConfig) -> Self {
        let sim = odoo_sim::start(sim).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryConfigStore::new());
        let queue = Arc::new(
            SqliteQueue::open(&SqliteLocation::File(dir.path().join("outbound.db")))
                .await
                .unwrap(),
        );
        let deliveries = Arc::new(MemoryDeliveryLog::new());
        let gateway = Arc::new(
            Gateway::new(
                store.clone(),
                Arc::new(MemoryExecutionLog::new()),
                Arc::new(bitconn::idempotency::MemoryIdempotencyStore::new()),
                GatewaySettings::default(),
            )
            .with_queue(queue.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = bitconn::gateway::router(gateway.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let dispatcher = Dispatcher::new(
            store.clone(),
            queue.clone(),
            deliveries.clone(),
            gateway.clone(),
            DispatchSettings {
                idle_poll: Duration::from_millis(10),
                ..DispatchSettings::default()
            },
        );
        let dispatch = tokio::spawn(async move { dispatcher.run(std::future::pending()).await });
        Self {
            sim,
            url,
            store,
            queue,
            gateway,
            deliveries,
            http: reqwest::Client::new(),
            tasks: vec![server, dispatch],
            _dir: dir,
        }
    }

    async fn hook(&self, receiver: &Receiver, on: TriggerOn, delay_ms: u64) -> Hook {
        self.hook_with(receiver, on, delay_ms, |_| {}).await
    }

    async fn hook_with(
        &self,
        receiver: &Receiver,
        on: TriggerOn,
        delay_ms: u64,
        edit: impl FnOnce(&mut NativeTrigger),
    ) -> Hook {
        let new = NewWebhook {
            name: "native".into(),
            odoo: OdooConnection {
                url: self.sim.url.clone(),
                db: odoo_sim::DEFAULT_DB.into(),
                login: "admin".into(),
                api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
            },
            models: ModelAccess::All,
            permissions: Permissions::default(),
        };
        let now = time::OffsetDateTime::now_utc();
        let (mut config, _) = WebhookConfig::create(new, now);
        let mut target = OutboundTarget::new(receiver.url.clone());
        target.allow_cidrs = vec!["127.0.0.0/8".into()];
        target.retry = RetrySchedule(vec![0, 0]);
        target.payload = PayloadSpec::Fields {
            fields: vec![json!("id"), json!("name"), json!("email")],
        };
        let signing = target.rotate_signing_secret(None, now).expose();
        config.outbound = Some(target);
        let (mut trigger, key) = NativeTrigger::create("res.partner".parse().unwrap(), on, now);
        trigger.reread_delay_ms = delay_ms;
        edit(&mut trigger);
        config.triggers.push(trigger);
        self.store.create(&config).await.unwrap();
        Hook {
            config,
            key: key.expose().to_owned(),
            signing,
        }
    }

    /// A post as Odoo's `requests` sends it: its headers, no credential but the path.
    async fn native(&self, hook: &Hook, key: &str, body: &[u8]) -> (u16, Value, Duration) {
        let started = Instant::now();
        let response = self
            .http
            .post(format!(
                "{}/bitconn/outbound/{}/{key}?src=odoo-native",
                self.url, hook.config.id
            ))
            .header("User-Agent", "python-requests/2.31.0")
            .header("Accept", "*/*")
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, started.elapsed())
    }

    async fn rpc(&self, model: &str, method: &str, args: Value) -> Value {
        let answer = self.rpc_answer(model, method, args).await;
        assert!(answer.get("error").is_none(), "{answer}");
        answer["result"].clone()
    }

    async fn rpc_answer(&self, model: &str, method: &str, args: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [odoo_sim::DEFAULT_DB, 2, odoo_sim::DEFAULT_ADMIN_API_KEY, model, method, args, {}]}});
        let answer: Value = self
            .http
            .post(format!("{}/jsonrpc", self.sim.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer
    }

    async fn attempts(&self, n: usize, within: Duration) -> Vec<Attempt> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            let mut all = self.deliveries.list(None, 100).await.unwrap();
            if all.len() >= n {
                all.reverse();
                return all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} attempts logged");
    }
}

/// A captured body with its record id replaced by `id`.
fn captured(name: &str, id: i64) -> Vec<u8> {
    let path = format!(
        "{}/../fixtures/odoo18-native-webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut body = file["request"]["body_json"].clone();
    body["_id"] = json!(id);
    if body.get("id").is_some() {
        body["id"] = json!(id);
    }
    body.to_string().into_bytes()
}

const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
case = json.load(sys.stdin)
try:
    Webhook(case["secret"]).verify(bytes(case["body"]), case["headers"])
    print("verified")
except Exception as e:
    print("refused: %s" % e)
"#;

fn reference_verify(secret: &str, got: &Got) -> String {
    let headers: serde_json::Map<String, Value> = got
        .headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("webhook-"))
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let case = json!({"secret": secret, "body": got.body, "headers": headers});
    let mut child = Command::new("python3")
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(case.to_string().as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned()
}

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

#[tokio::test]
async fn with_polling_every_change_made_while_no_post_arrived_is_delivered_and_none_without() {
    let setup = Setup::start().await;
    let polled = Receiver::start().await;
    let unpolled = Receiver::start().await;
    let hook = setup
        .hook_with(&polled, TriggerOn::CreateOrWrite, 1000, |t| {
            t.poll = Some(PollSettings {
                every_seconds: 60,
                cursor: PollCursor::default(),
            });
        })
        .await;
    setup.hook(&unpolled, TriggerOn::CreateOrWrite, 1000).await;
    let poller = Poller::new(setup.store.clone(), setup.queue.clone(), setup.gateway.clone());
    // The first poll only sets the cursor: records from before the rule are not sent.
    let first = poller.tick().await.unwrap();
    assert_eq!((first.len(), first[0].queued), (1, 0), "{first:?}");

    // No post reaches the gateway (it was down, or Odoo gave up): 100 records created, half changed again.
    let mut ids = Vec::new();
    for n in 0..100 {
        let id = setup
            .rpc(
                "res.partner",
                "create",
                json!([{"name": format!("WHPOLL {n}"), "email": format!("p{n}@example.com")}]),
            )
            .await
            .as_i64()
            .unwrap();
        ids.push(id);
    }
    for id in ids.iter().step_by(2) {
        setup
            .rpc(
                "res.partner",
                "write",
                json!([[id], {"email": format!("changed{id}@example.com")}]),
            )
            .await;
    }
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let report = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!(report.queued, 100, "{report:?}");
    assert!(report.calls <= 4, "{} Odoo calls for one poll", report.calls);
    let got = polled.wait_for(100, Duration::from_secs(30)).await;
    let mut delivered = std::collections::BTreeMap::new();
    for g in &got {
        let record = g.json()["records"][0].clone();
        delivered.insert(
            record["id"].as_i64().unwrap(),
            record["email"].as_str().unwrap().to_owned(),
        );
    }
    for (n, id) in ids.iter().enumerate() {
        let expected = if n % 2 == 0 {
            format!("changed{id}@example.com")
        } else {
            format!("p{n}@example.com")
        };
        assert_eq!(delivered.get(id), Some(&expected), "record {id}");
    }
    // Polled again over the same changes (the overlap): every version was delivered, nothing is queued.
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let again = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!(again.queued, 0, "{again:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let duplicates = polled.got().len() - 100;
    println!(
        "poll: {} deliveries for 100 changed records ({duplicates} duplicates), {} Odoo calls for that poll, \
         {} for the next one over the same records",
        polled.got().len(),
        report.calls,
        again.calls
    );
    assert_eq!(duplicates, 0);
    assert!(
        unpolled.got().is_empty(),
        "a webhook without polling invents nothing"
    );
    // A poll that is not yet due is not run again.
    assert!(poller.tick().await.unwrap().is_empty());
}

/// p50 and p99 of `samples`.
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
    let http = reqwest::Client::new();
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

#[tokio::test]
async fn a_poll_with_nothing_changed_costs_one_odoo_call() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let hook = setup
        .hook_with(&receiver, TriggerOn::Write, 1000, |t| {
            t.poll = Some(PollSettings {
                every_seconds: 60,
                cursor: PollCursor::default(),
            });
        })
        .await;
    let poller = Poller::new(setup.store.clone(), setup.queue.clone(), setup.gateway.clone());
    poller.tick().await.unwrap();
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let quiet = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!((quiet.seen, quiet.queued, quiet.calls), (0, 0, 1), "{quiet:?}");
}
