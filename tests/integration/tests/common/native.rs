//! The harness of the native trigger tests: a receiver on port 0, the gateway with its dispatcher on an SQLite
//! queue over the Odoo simulator, webhooks with one native trigger, Odoo's captured posts, and the reference
//! signature verifier.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bitconn::config::{
    ModelAccess, NativeTrigger, NewWebhook, OdooConnection, OutboundTarget, PayloadSpec, Permissions,
    RetrySchedule, TriggerOn, WebhookConfig,
};
use bitconn::execution_log::MemoryExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::outbound::deliveries::{Attempt, DeliveryLog, MemoryDeliveryLog};
use bitconn::outbound::queue::{Queue, SqliteQueue};
use bitconn::outbound::{DispatchSettings, Dispatcher};
use bitconn::store::{ConfigStore, MemoryConfigStore, SqliteLocation};
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Odoo waits at most 1 s for the answer; the route must answer far inside that, even on a loaded test machine
/// (the figures test measures it: milliseconds).
pub const FAST: Duration = Duration::from_millis(500);
/// What the median answer of a burst must stay under.
pub const FAST_MEDIAN: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
pub struct Got {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Got>>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start() -> Self {
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

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
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

pub struct Setup {
    pub sim: odoo_sim::RunningSim,
    pub url: String,
    pub store: Arc<MemoryConfigStore>,
    pub queue: Arc<SqliteQueue>,
    pub gateway: Arc<Gateway>,
    pub deliveries: Arc<MemoryDeliveryLog>,
    pub http: reqwest::Client,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    pub _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// A webhook with an outbound target and one native trigger, and the trigger's key.
pub struct Hook {
    pub config: WebhookConfig,
    pub key: String,
    pub signing: String,
}

/// A gateway on a free port queueing on `queue`, and a dispatcher draining it: the base URL, the gateway, and the
/// two tasks (aborted by their owner).
pub async fn serve_and_dispatch(
    store: Arc<MemoryConfigStore>,
    queue: Arc<dyn Queue>,
    deliveries: Arc<MemoryDeliveryLog>,
    idle_poll: Duration,
) -> (String, Arc<Gateway>, Vec<tokio::task::JoinHandle<()>>) {
    serve_and_dispatch_with(store, queue, deliveries, idle_poll, None).await
}

/// `serve_and_dispatch`, the dispatcher delivering through `deliverer` when one is given.
pub async fn serve_and_dispatch_with(
    store: Arc<MemoryConfigStore>,
    queue: Arc<dyn Queue>,
    deliveries: Arc<MemoryDeliveryLog>,
    idle_poll: Duration,
    deliverer: Option<bitconn::outbound::deliver::Deliverer>,
) -> (String, Arc<Gateway>, Vec<tokio::task::JoinHandle<()>>) {
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
        store,
        queue,
        deliveries,
        gateway.clone(),
        DispatchSettings {
            idle_poll,
            ..DispatchSettings::default()
        },
    );
    let dispatcher = match deliverer {
        Some(deliverer) => dispatcher.with_deliverer(deliverer),
        None => dispatcher,
    };
    let dispatch = tokio::spawn(async move { dispatcher.run(std::future::pending()).await });
    (url, gateway, vec![server, dispatch])
}

impl Setup {
    pub async fn start() -> Self {
        Self::start_with(odoo_sim::SimConfig::default()).await
    }

    pub async fn start_with(sim: odoo_sim::SimConfig) -> Self {
        let sim = odoo_sim::start(sim).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryConfigStore::new());
        let queue = Arc::new(
            SqliteQueue::open(&SqliteLocation::File(dir.path().join("outbound.db")))
                .await
                .unwrap(),
        );
        let deliveries = Arc::new(MemoryDeliveryLog::new());
        let (url, gateway, tasks) = serve_and_dispatch(
            store.clone(),
            queue.clone(),
            deliveries.clone(),
            Duration::from_millis(10),
        )
        .await;
        Self {
            sim,
            url,
            store,
            queue,
            gateway,
            deliveries,
            http: bitconn::odoo::tls::http_client_builder().build().unwrap(),
            tasks,
            _dir: dir,
        }
    }

    pub async fn hook(&self, receiver: &Receiver, on: TriggerOn, delay_ms: u64) -> Hook {
        self.hook_with(receiver, on, delay_ms, |_| {}).await
    }

    pub async fn hook_with(
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
    pub async fn native(&self, hook: &Hook, key: &str, body: &[u8]) -> (u16, Value, Duration) {
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

    pub async fn rpc(&self, model: &str, method: &str, args: Value) -> Value {
        let answer = self.rpc_answer(model, method, args).await;
        assert!(answer.get("error").is_none(), "{answer}");
        answer["result"].clone()
    }

    pub async fn rpc_answer(&self, model: &str, method: &str, args: Value) -> Value {
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

    pub async fn attempts(&self, n: usize, within: Duration) -> Vec<Attempt> {
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
pub fn captured(name: &str, id: i64) -> Vec<u8> {
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

pub fn reference_verify(secret: &str, got: &Got) -> String {
    reference_verify_parts(secret, &got.headers, &got.body)
}

/// What PyPI's `standardwebhooks` says of a delivery's `webhook-*` headers and body: `verified` or `refused: …`.
pub fn reference_verify_parts(secret: &str, headers: &HeaderMap, body: &[u8]) -> String {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("webhook-"))
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let case = json!({"secret": secret, "body": body, "headers": headers});
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
