//! Outbound end to end over real HTTP: the gateway's trigger route, the Odoo simulator, the dispatcher on a
//! real queue, and a receiver on port 0 that records every request and can fail on cue. Signatures are checked
//! with the reference verifier (`standardwebhooks` from PyPI), not with our own code.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use bitconn::config::{
    HttpVerb, ModelAccess, NewWebhook, OdooConnection, OutboundTarget, PayloadSpec, Permissions,
    RetrySchedule, WebhookConfig,
};
use bitconn::outbound::deliveries::{AttemptOutcome, DeliveryLog, MemoryDeliveryLog};
use bitconn::outbound::queue::{Queue, SqliteQueue};
use bitconn::secret::PlainSecret;
use bitconn::store::{ConfigStore, MemoryConfigStore, SqliteLocation};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a slow answer takes: well past the 300 ms timeout the timeout test sets.
const SLOW_ANSWER: Duration = Duration::from_secs(2);

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order (status, Retry-After); 200 once empty.
    answers: VecDeque<(u16, Option<&'static str>)>,
    got: Vec<Got>,
}

struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(answers: &[(u16, Option<&'static str>)]) -> Self {
        let script = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            got: Vec::new(),
        }));
        let shared = script.clone();
        let app =
            axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let script = shared.clone();
                async move {
                    let (status, retry_after) = {
                        let mut s = script.lock().unwrap();
                        s.got.push(Got {
                            method: method.to_string(),
                            path: uri.to_string(),
                            headers,
                            body: body.to_vec(),
                            at: Instant::now(),
                        });
                        s.answers.pop_front().unwrap_or((200, None))
                    };
                    // Status 0 stands for "answer 200, but only after the delivery timeout".
                    let status = if status == 0 {
                        tokio::time::sleep(SLOW_ANSWER).await;
                        200
                    } else {
                        status
                    };
                    let mut response =
                        (StatusCode::from_u16(status).unwrap(), "{\"received\":true}").into_response();
                    // Every answer closes its connection, so each attempt resolves (and is checked) afresh.
                    response
                        .headers_mut()
                        .insert("connection", "close".parse().unwrap());
                    if let Some(wait) = retry_after {
                        response
                            .headers_mut()
                            .insert("retry-after", wait.parse().unwrap());
                    }
                    response
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, script, task }
    }

    fn got(&self) -> Vec<Got> {
        self.script.lock().unwrap().got.clone()
    }

    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            let got = self.got();
            if got.len() >= n {
                return got;
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

impl Setup {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    async fn start_with(deliverer: Option<bitconn::outbound::deliver::Deliverer>) -> Self {
        let sim = odoo_sim::start(odoo_sim::SimConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryConfigStore::new());
        let queue = Arc::new(
            SqliteQueue::open(&SqliteLocation::File(dir.path().join("outbound.db")))
                .await
                .unwrap(),
        );
        let deliveries = Arc::new(MemoryDeliveryLog::new());
        let (url, _gateway, tasks) = common::native::serve_and_dispatch_with(
            store.clone(),
            queue.clone(),
            deliveries.clone(),
            Duration::from_millis(10),
            deliverer,
        )
        .await;
        Self {
            sim,
            url,
            store,
            queue,
            deliveries,
            http: bitconn::odoo::tls::http_client_builder().build().unwrap(),
            tasks,
            _dir: dir,
        }
    }

    /// A webhook as the sim's admin on every model, with `target` as its outbound side.
    async fn hook(&self, target: OutboundTarget) -> (WebhookConfig, PlainSecret) {
        let new = NewWebhook {
            name: "outbound".into(),
            odoo: OdooConnection {
                url: self.sim.url.clone(),
                db: odoo_sim::DEFAULT_DB.into(),
                login: "admin".into(),
                api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
            },
            models: ModelAccess::All,
            permissions: Permissions::default(),
        };
        let (mut config, secret) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
        config.outbound = Some(target);
        self.store.create(&config).await.unwrap();
        (config, secret)
    }

    async fn post(&self, path: &str, secret: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(secret)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn create_partner(&self, secret: &PlainSecret, id: &WebhookConfig, name: &str) -> i64 {
        let (status, body) = self
            .post(
                &format!("/bitconn/webhook/{}", id.id),
                secret.expose(),
                json!({"model": "res.partner", "method": "create", "values": {"name": name}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_i64().unwrap()
    }

    async fn trigger(&self, hook: &(WebhookConfig, PlainSecret), body: Value) -> (u16, Value) {
        self.post(&format!("/bitconn/outbound/{}", hook.0.id), hook.1.expose(), body)
            .await
    }

    async fn outcomes(&self, n: usize) -> Vec<AttemptOutcome> {
        for _ in 0..300 {
            let mut all = self.deliveries.list(None, 100).await.unwrap();
            if all.len() >= n {
                all.reverse();
                return all.into_iter().map(|a| a.outcome).collect();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} attempts logged");
    }
}

/// The receiver at `url`, allow-listed past the SSRF guard (it listens on loopback), retrying at once.
fn target(url: String) -> OutboundTarget {
    let mut target = OutboundTarget::new(url);
    target.allow_cidrs = vec!["127.0.0.0/8".into()];
    target.retry = RetrySchedule(vec![0, 0, 0]);
    target
}

fn reference_verify(secret: &str, got: &Got) -> String {
    common::native::reference_verify_parts(secret, &got.headers, &got.body)
}

fn header(got: &Got, name: &str) -> String {
    got.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn records_are_delivered_signed_with_custom_headers_and_missing_ids_dropped() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[]).await;
    let mut t = target(format!("{}/hooks/partners", receiver.url));
    t.payload = PayloadSpec::Fields {
        fields: vec![json!("name"), json!("create_date")],
    };
    t.headers.insert("X-Token".into(), "abc".into());
    let secret = t.rotate_signing_secret(None, time::OffsetDateTime::now_utc());
    let hook = setup.hook(t).await;
    let a = setup.create_partner(&hook.1, &hook.0, "Deco Addict").await;
    let b = setup.create_partner(&hook.1, &hook.0, "Ready Mat").await;

    let (status, answer) = setup
        .trigger(
            &hook,
            json!({"model": "res.partner", "ids": [b, 999_999, a], "event": "partner.changed"}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["ok"], true);
    let event_id = answer["event_id"].as_str().unwrap().to_owned();

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let request = &got[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hooks/partners")
    );
    assert_eq!(header(request, "webhook-id"), event_id);
    assert_eq!(header(request, "x-token"), "abc");
    assert_eq!(header(request, "content-type"), "application/json");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["model"], "res.partner");
    assert_eq!(body["count"], 2, "the missing id is dropped: {body}");
    assert_eq!(body["event"], "partner.changed");
    let names: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ready Mat", "Deco Addict"], "in the order asked");
    assert!(
        body["records"][0]["create_date"].is_string(),
        "dates are strings: {body}"
    );
    assert_eq!(reference_verify(&secret.expose(), request), "verified");
    let mut tampered = request.clone();
    tampered.body.push(b' ');
    assert!(reference_verify(&secret.expose(), &tampered).starts_with("refused"));
    assert_eq!(setup.outcomes(1).await, [AttemptOutcome::Delivered]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.got().len(), 1, "acknowledged: never sent again");
}

#[tokio::test]
async fn failures_are_retried_with_the_same_webhook_id_until_a_2xx() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[(500, None), (302, None)]).await;
    let hook = setup.hook(target(format!("{}/r", receiver.url))).await;
    let (status, answer) = setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    let ids: Vec<String> = got.iter().map(|g| header(g, "webhook-id")).collect();
    assert!(
        ids.iter().all(|i| i == answer["event_id"].as_str().unwrap()),
        "{ids:?}"
    );
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body, json!({"model": "res.partner", "count": 1, "ids": [3]}));
    assert_eq!(
        setup.outcomes(3).await,
        [
            AttemptOutcome::Retrying,
            AttemptOutcome::Retrying,
            AttemptOutcome::Delivered
        ],
        "a redirect is a failure, not followed"
    );
}

#[tokio::test]
async fn the_last_failed_attempt_dead_letters_the_job() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[(500, None); 4]).await;
    let hook = setup.hook(target(format!("{}/r", receiver.url))).await;
    setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    receiver.wait_for(4, Duration::from_secs(10)).await;
    let outcomes = setup.outcomes(4).await;
    assert_eq!(outcomes.last(), Some(&AttemptOutcome::Dead));
    for _ in 0..100 {
        if !setup.queue.dead(10).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dead = setup.queue.dead(10).await.unwrap();
    assert_eq!((dead.len(), dead[0].attempts), (1, 4));
    assert_eq!(dead[0].reason, "HTTP 500 on the last attempt");
}

#[tokio::test]
async fn retry_after_is_honoured_on_503() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[(503, Some("1"))]).await;
    let hook = setup.hook(target(format!("{}/r", receiver.url))).await;
    setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, though the schedule says 0 s"
    );
}

#[tokio::test]
async fn gone_switches_the_target_off() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[(410, None)]).await;
    let hook = setup.hook(target(format!("{}/r", receiver.url))).await;
    setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!(setup.outcomes(1).await, [AttemptOutcome::Disabled]);
    let stored = setup.store.get(&hook.0.id).await.unwrap().unwrap();
    let stored_target = stored.outbound.unwrap();
    assert!(!stored_target.enabled);
    assert!(stored_target.disabled_reason.unwrap().contains("410"));
    let (status, body) = setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("outbound_disabled"))
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn loopback_is_refused_before_connecting_unless_allow_listed() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[]).await;
    let port = receiver.url.rsplit(':').next().unwrap().to_owned();
    for url in [receiver.url.clone(), format!("http://localhost:{port}")] {
        let mut t = target(format!("{url}/r"));
        t.allow_cidrs.clear();
        let hook = setup.hook(t).await;
        let (status, _) = setup
            .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
            .await;
        assert_eq!(status, 202);
    }
    assert_eq!(
        setup.outcomes(2).await,
        [AttemptOutcome::Dead, AttemptOutcome::Dead]
    );
    let attempts = setup.deliveries.list(None, 10).await.unwrap();
    for attempt in &attempts {
        let error = attempt.error.clone().unwrap();
        assert!(error.contains("SSRF") && error.contains("loopback"), "{error}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.got().is_empty(), "no connection was made");
}

#[tokio::test]
async fn get_and_delete_send_no_body_and_url_placeholders_send_one_delivery_per_record() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[]).await;
    let mut t = target(format!("{}/p/{{{{ name }}}}?id=${{id}}", receiver.url));
    t.verb = HttpVerb::Get;
    let get_hook = setup.hook(t).await;
    let a = setup.create_partner(&get_hook.1, &get_hook.0, "a/b c&d").await;
    let b = setup.create_partner(&get_hook.1, &get_hook.0, "Zoé").await;
    let (status, answer) = setup
        .trigger(&get_hook, json!({"model": "res.partner", "ids": [a, b]}))
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let mut paths: Vec<String> = got.iter().map(|g| g.path.clone()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [format!("/p/Zo%C3%A9?id={b}"), format!("/p/a%2Fb%20c%26d?id={a}")]
    );
    assert!(got.iter().all(|g| g.method == "GET" && g.body.is_empty()));
    let event = answer["event_id"].as_str().unwrap();
    let mut ids: Vec<String> = got.iter().map(|g| header(g, "webhook-id")).collect();
    ids.sort();
    let mut expected = vec![format!("{event}_{a}"), format!("{event}_{b}")];
    expected.sort();
    assert_eq!(ids, expected, "each per-record delivery has its own stable id");

    let mut t = target(format!("{}/gone/{{{{id}}}}", receiver.url));
    t.verb = HttpVerb::Delete;
    let delete_hook = setup.hook(t).await;
    setup
        .trigger(&delete_hook, json!({"model": "res.partner", "ids": [a]}))
        .await;
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        (got[2].method.as_str(), got[2].path.clone()),
        ("DELETE", format!("/gone/{a}"))
    );
    assert!(got[2].body.is_empty());
}

#[tokio::test]
async fn trigger_calls_are_checked_before_anything_is_queued() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[]).await;
    let hook = setup.hook(target(format!("{}/r", receiver.url))).await;
    let path = format!("/bitconn/outbound/{}", hook.0.id);
    let (status, body) = setup
        .post(&path, "bcw_wrong", json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("forbidden")));
    let (status, body) = setup.trigger(&hook, json!({"model": "res.partner"})).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("missing_ids")));
    let (status, body) = setup
        .post("/bitconn/outbound/not-a-uuid", hook.1.expose(), json!({}))
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("conf_not_found")));

    let mut only = target(format!("{}/r", receiver.url));
    only.enabled = true;
    let restricted = {
        let (mut config, secret) = setup.hook(only).await;
        config.models = ModelAccess::Only(["sale.order".parse().unwrap()].into());
        let stored = setup.store.update(&config).await.unwrap();
        (stored, secret)
    };
    let (status, body) = setup
        .trigger(&restricted, json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("model_not_allowed"))
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.got().is_empty());
}

/// Figures, not a pass/fail check: trigger latency under concurrent callers and end-to-end deliveries per second
/// (trigger → read from the sim → signed delivery). `cargo test -p integration-tests --test outbound_delivery
/// -- --ignored --nocapture outbound_figures` (add `--release` for meaningful numbers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn outbound_figures() {
    const EVENTS: usize = 1000;
    const CALLERS: usize = 100;
    let setup = Arc::new(Setup::start().await);
    let receiver = Receiver::start(&[]).await;
    let mut t = target(format!("{}/r", receiver.url));
    t.payload = PayloadSpec::Fields {
        fields: vec![json!("name")],
    };
    t.rotate_signing_secret(None, time::OffsetDateTime::now_utc());
    let hook = Arc::new(setup.hook(t).await);
    let started = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(EVENTS)));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (setup, hook, latencies) = (setup.clone(), hook.clone(), latencies.clone());
            tokio::spawn(async move {
                for _ in 0..EVENTS / CALLERS {
                    let at = Instant::now();
                    let (status, _) = setup
                        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
                        .await;
                    assert_eq!(status, 202);
                    latencies.lock().unwrap().push(at.elapsed());
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let triggered = started.elapsed();
    receiver.wait_for(EVENTS, Duration::from_secs(300)).await;
    let delivered = started.elapsed();
    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    println!(
        "{EVENTS} events, {CALLERS} callers: trigger p50 {:?} p99 {:?}; all triggered in {triggered:?}; \
         all delivered in {delivered:?} ({:.0} events/s end to end)",
        l[l.len() / 2],
        l[l.len() * 99 / 100],
        EVENTS as f64 / delivered.as_secs_f64()
    );
}

#[tokio::test]
async fn during_a_rotation_both_secrets_verify_and_templates_and_spec_bodies_are_filled() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[]).await;
    let now = time::OffsetDateTime::now_utc();
    let mut t = target(format!("{}/r", receiver.url));
    let old = t.rotate_signing_secret(None, now);
    let new = t.rotate_signing_secret(Some(time::Duration::hours(1)), now);
    t.payload = PayloadSpec::Template {
        template: json!({"kind": "batch", "records": [{"ref": "P-{{ id }}", "who": "{{ name }}", "id": "${id}"}]}),
    };
    let hook = setup.hook(t).await;
    let a = setup.create_partner(&hook.1, &hook.0, "Azure Interior").await;
    setup
        .trigger(
            &hook,
            json!({"model": "res.partner", "ids": [a], "extra": {"tenant": 7}}),
        )
        .await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(header(&got[0], "webhook-signature").split(' ').count(), 2);
    assert_eq!(reference_verify(&new.expose(), &got[0]), "verified");
    assert_eq!(reference_verify(&old.expose(), &got[0]), "verified");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        body,
        json!({"kind": "batch", "records": [{"ref": format!("P-{a}"), "who": "Azure Interior", "id": a}],
               "count": 1, "model": "res.partner", "tenant": 7})
    );

    let mut t = target(format!("{}/body", receiver.url));
    t.payload = PayloadSpec::Body {
        body: json!({"fields": ["name"], "event": "partner.synced", "first": "Hello {{ name }}"}),
    };
    let body_hook = setup.hook(t).await;
    setup
        .trigger(&body_hook, json!({"model": "res.partner", "ids": [a]}))
        .await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(
        body,
        json!({"event": "partner.synced", "first": "Hello Azure Interior", "model": "res.partner", "count": 1,
               "records": [{"name": "Azure Interior"}]})
    );
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retried() {
    let setup = Setup::start().await;
    let receiver = Receiver::start(&[(0, None)]).await;
    let mut t = target(format!("{}/slow", receiver.url));
    t.timeout_ms = 300;
    let hook = setup.hook(t).await;
    setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!(
        setup.outcomes(2).await,
        [AttemptOutcome::Retrying, AttemptOutcome::Delivered]
    );
    let attempts = setup.deliveries.list(None, 10).await.unwrap();
    let first = attempts.last().unwrap();
    assert!(first.error.as_deref().unwrap().contains("timed out"), "{first:?}");
    assert!(first.duration_ms < 1500, "{first:?}");
}

/// Answers from a list, one per resolution: loopback first, then a private address (a rebinding name).
struct Rebinding(Mutex<Vec<std::net::IpAddr>>);

impl reqwest::dns::Resolve for Rebinding {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let mut answers = self.0.lock().unwrap();
        let ip = if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0]
        };
        Box::pin(async move {
            Ok(Box::new(std::iter::once(std::net::SocketAddr::new(ip, 0))) as reqwest::dns::Addrs)
        })
    }
}

#[tokio::test]
async fn every_attempt_resolves_again_so_a_rebinding_name_is_refused_before_connecting() {
    let answers = vec!["127.0.0.1".parse().unwrap(), "10.0.0.1".parse().unwrap()];
    let deliverer =
        bitconn::outbound::deliver::Deliverer::with_resolver(Arc::new(Rebinding(Mutex::new(answers))));
    let setup = Setup::start_with(Some(deliverer)).await;
    let receiver = Receiver::start(&[(500, None)]).await;
    let port = receiver.url.rsplit(':').next().unwrap().to_owned();
    let hook = setup.hook(target(format!("http://rebind.test:{port}/r"))).await;
    setup
        .trigger(&hook, json!({"model": "res.partner", "ids": [3]}))
        .await;
    assert_eq!(
        setup.outcomes(2).await,
        [AttemptOutcome::Retrying, AttemptOutcome::Dead]
    );
    let attempts = setup.deliveries.list(None, 10).await.unwrap();
    let error = attempts[0].error.clone().unwrap();
    assert!(error.contains("10.0.0.1") && error.contains("private"), "{error}");
    assert_eq!(
        receiver.got().len(),
        1,
        "only the loopback answer was connected to"
    );
}
