//! `Idempotency-Key` over real HTTP: replays, refusals, per-webhook keys, expiry, and a create whose gateway
//! timed out while the simulator finished it.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::gateway::GatewaySettings;
use common::{Harness, Hook};
use odoo_sim::{Fault, FaultPlan, FaultTimes, SimConfig};
use serde_json::{Value, json};
use std::time::Duration;

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    raw: Vec<u8>,
    body: Value,
}

impl Answer {
    fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }

    fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}

async fn send(h: &Harness, id: &str, secret: Option<&str>, keys: &[&[u8]], body: &Value) -> Answer {
    let mut request = h
        .http
        .post(format!("{}/bitconn/webhook/{id}", h.url))
        .body(body.to_string());
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    for key in keys {
        request = request.header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(key).unwrap(),
        );
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let raw = response.bytes().await.unwrap().to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        raw,
        body,
    }
}

async fn keyed(h: &Harness, hook: &Hook, key: &str, body: &Value) -> Answer {
    send(h, &hook.id(), Some(hook.secret.expose()), &[key.as_bytes()], body).await
}

fn create(name: &str) -> Value {
    json!({"model": "res.partner", "method": "create", "values": {"name": name}})
}

/// How many partners are named `name`, asked without a key.
async fn partners_named(h: &Harness, hook: &Hook, name: &str) -> usize {
    let (status, body) = h
        .post(
            hook,
            json!({"model": "res.partner", "method": "search", "domain": [["name", "=", name]]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["ids"].as_array().unwrap().len()
}

fn creates(h: &Harness) -> usize {
    h.sim
        .sim
        .calls()
        .iter()
        .filter(|c| c.model_method.as_deref() == Some("create"))
        .count()
}

#[tokio::test]
async fn a_repeat_gets_the_first_answer_without_reaching_odoo() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let first = keyed(&h, &hook, "order-1", &create("Replayed Partner")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.replayed());
    let odoo_calls = h.sim.sim.call_count();

    let again = keyed(&h, &hook, "order-1", &create("Replayed Partner")).await;
    assert_eq!(again.status, 200);
    assert!(again.replayed(), "{:?}", again.headers);
    assert_eq!(again.raw, first.raw, "the very same body");
    assert_eq!(again.headers["content-type"], first.headers["content-type"]);
    assert_eq!(
        h.sim.sim.call_count(),
        odoo_calls,
        "the repeat never reached Odoo"
    );
    assert_eq!(partners_named(&h, &hook, "Replayed Partner").await, 1);

    let other = keyed(&h, &hook, "order-2", &create("Replayed Partner")).await;
    assert_eq!((other.status, other.replayed()), (200, false), "another key runs");
}

#[tokio::test]
async fn refusals_are_kept_and_replayed_too() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.permissions.can_unlink = false).await;
    let body = json!({"model": "res.partner", "method": "unlink", "ids": [1]});
    let first = keyed(&h, &hook, "no-unlink", &body).await;
    assert_eq!((first.status, first.replayed()), (403, false), "{}", first.body);
    let again = keyed(&h, &hook, "no-unlink", &body).await;
    assert_eq!((again.status, again.replayed()), (403, true));
    assert_eq!(again.raw, first.raw);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_409() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    assert_eq!(keyed(&h, &hook, "k", &create("First Body")).await.status, 200);
    let reused = keyed(&h, &hook, "k", &create("Second Body")).await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert_eq!(reused.error(), Some("idempotency_key_reused"));
    assert!(!reused.replayed());
    assert_eq!(partners_named(&h, &hook, "Second Body").await, 0);
}

#[tokio::test]
async fn a_repeat_while_the_first_runs_is_409_with_retry_after() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    // Warm the session and the schema cache, so the slow call below is the create itself.
    assert_eq!(h.post(&hook, create("Warm Up")).await.0, 200);
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::Slow(Duration::from_millis(1500)),
        times: FaultTimes::Next(1),
    });
    let body = create("Slow Partner");
    let first = {
        let (url, secret, body) = (
            format!("{}/bitconn/webhook/{}", h.url, hook.id()),
            hook.secret.expose().to_owned(),
            body.to_string(),
        );
        let http = h.http.clone();
        tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(secret)
                .header("idempotency-key", "slow")
                .body(body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let running = keyed(&h, &hook, "slow", &body).await;
    assert_eq!(running.status, 409, "{}", running.body);
    assert_eq!(running.error(), Some("idempotency_in_progress"));
    let retry_after: u64 = running.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(first.await.unwrap(), 200);
    let after = keyed(&h, &hook, "slow", &body).await;
    assert_eq!((after.status, after.replayed()), (200, true));
    assert_eq!(partners_named(&h, &hook, "Slow Partner").await, 1);
}

#[tokio::test]
async fn keys_belong_to_one_webhook() {
    let h = Harness::start().await;
    let (a, b) = (h.hook(|_| {}).await, h.hook(|_| {}).await);
    let body = create("Two Hooks");
    assert!(!keyed(&h, &a, "shared", &body).await.replayed());
    let on_b = keyed(&h, &b, "shared", &body).await;
    assert_eq!((on_b.status, on_b.replayed()), (200, false), "{}", on_b.body);
    assert_eq!(partners_named(&h, &a, "Two Hooks").await, 2);
    assert!(keyed(&h, &a, "shared", &body).await.replayed());
}

#[tokio::test]
async fn malformed_keys_are_400_and_unauthenticated_calls_reserve_nothing() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let body = create("Key Checks");
    let long = vec![b'k'; 256];
    let cases: [&[&[u8]]; 4] = [
        &[b"two words"],
        &[long.as_slice()],
        &["clé".as_bytes()],
        &[b"a", b"b"],
    ];
    for keys in cases {
        let answer = send(&h, &hook.id(), Some(hook.secret.expose()), keys, &body).await;
        assert_eq!(answer.status, 400, "{keys:?}: {}", answer.body);
        assert_eq!(answer.error(), Some("invalid_idempotency_key"));
        assert!(
            answer.body["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key")
        );
    }
    assert_eq!(partners_named(&h, &hook, "Key Checks").await, 0);
    let longest = vec![b'k'; 255];
    let answer = send(
        &h,
        &hook.id(),
        Some(hook.secret.expose()),
        &[longest.as_slice()],
        &body,
    )
    .await;
    assert_eq!(answer.status, 200, "255 characters are accepted");

    let stranger = send(&h, &hook.id(), Some("wrong secret"), &[b"mine"], &body).await;
    assert_eq!(stranger.status, 401);
    let owner = keyed(&h, &hook, "mine", &body).await;
    assert_eq!(
        (owner.status, owner.replayed()),
        (200, false),
        "the 401 reserved nothing"
    );
}

#[tokio::test]
async fn keys_expire() {
    let settings = GatewaySettings {
        idempotency_ttl: Duration::from_millis(700),
        ..Default::default()
    };
    let h = Harness::start_with(SimConfig::default(), settings).await;
    let hook = h.hook(|_| {}).await;
    let body = create("Expiring");
    let first = keyed(&h, &hook, "short-lived", &body).await;
    assert!(keyed(&h, &hook, "short-lived", &body).await.replayed());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let later = keyed(&h, &hook, "short-lived", &body).await;
    assert_eq!((later.status, later.replayed()), (200, false));
    assert_ne!(
        later.body["id"], first.body["id"],
        "a new record: the key was free again"
    );
}

#[tokio::test]
async fn a_create_odoo_finished_after_the_gateway_timed_out_is_not_repeated() {
    let settings = GatewaySettings {
        odoo_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let h = Harness::start_with(SimConfig::default(), settings).await;
    let hook = h.hook(|_| {}).await;
    assert_eq!(h.post(&hook, create("Warm Up")).await.0, 200);
    let before = creates(&h);
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::Slow(Duration::from_millis(800)),
        times: FaultTimes::Next(1),
    });
    let body = create("Timed Out Partner");
    let first = keyed(&h, &hook, "timeout", &body).await;
    assert_eq!(
        (first.status, first.error()),
        (504, Some("odoo_timeout")),
        "{}",
        first.body
    );
    // The simulator, like Odoo, finishes the create although nobody waits for it any more.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(partners_named(&h, &hook, "Timed Out Partner").await, 1);

    let retry = keyed(&h, &hook, "timeout", &body).await;
    assert_eq!(retry.status, 409, "{}", retry.body);
    assert_eq!(retry.error(), Some("idempotency_outcome_unknown"));
    let message = retry.body["message"].as_str().unwrap();
    assert!(
        message.contains("check in Odoo") && message.contains("504"),
        "{message}"
    );
    assert_eq!(creates(&h), before + 1, "the retry did not create again");
    assert_eq!(partners_named(&h, &hook, "Timed Out Partner").await, 1);
}

#[tokio::test]
async fn a_read_that_timed_out_runs_again() {
    let settings = GatewaySettings {
        odoo_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let h = Harness::start_with(SimConfig::default(), settings).await;
    let hook = h.hook(|_| {}).await;
    let search = json!({"model": "res.partner", "method": "search", "limit": 2});
    assert_eq!(h.post(&hook, search.clone()).await.0, 200);
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::Slow(Duration::from_millis(800)),
        times: FaultTimes::Next(1),
    });
    assert_eq!(keyed(&h, &hook, "read", &search).await.status, 504);
    let again = keyed(&h, &hook, "read", &search).await;
    assert_eq!((again.status, again.replayed()), (200, false), "{}", again.body);
}

#[tokio::test]
async fn a_call_that_never_reached_odoo_releases_its_key() {
    let h = Harness::start().await;
    // Nothing listens there: the connection is refused, so Odoo cannot have done anything.
    let hook = h.hook(|c| c.odoo.url = "http://127.0.0.1:9".into()).await;
    let body = create("Unreachable");
    let first = keyed(&h, &hook, "down", &body).await;
    assert_eq!(
        (first.status, first.error()),
        (502, Some("odoo_unreachable")),
        "{}",
        first.body
    );
    let again = keyed(&h, &hook, "down", &body).await;
    assert_eq!(
        (again.status, again.replayed()),
        (502, false),
        "ran again, not replayed nor refused"
    );
}

#[tokio::test]
async fn a_first_call_running_past_the_lease_is_reported_unknown() {
    let settings = GatewaySettings {
        idempotency_lease: Duration::from_millis(300),
        ..Default::default()
    };
    let h = Harness::start_with(SimConfig::default(), settings).await;
    let hook = h.hook(|_| {}).await;
    assert_eq!(h.post(&hook, create("Warm Up")).await.0, 200);
    h.sim.sim.inject_fault(FaultPlan {
        fault: Fault::Slow(Duration::from_millis(1200)),
        times: FaultTimes::Next(1),
    });
    let body = create("Past The Lease");
    let first = {
        let (url, secret, body) = (
            format!("{}/bitconn/webhook/{}", h.url, hook.id()),
            hook.secret.expose().to_owned(),
            body.to_string(),
        );
        let http = h.http.clone();
        tokio::spawn(async move {
            let request = http
                .post(url)
                .bearer_auth(secret)
                .header("idempotency-key", "lease");
            request.body(body).send().await.unwrap().status().as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        keyed(&h, &hook, "lease", &body).await.error(),
        Some("idempotency_in_progress")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stale = keyed(&h, &hook, "lease", &body).await;
    assert_eq!(
        (stale.status, stale.error()),
        (409, Some("idempotency_outcome_unknown")),
        "{}",
        stale.body
    );
    assert!(stale.body["message"].as_str().unwrap().contains("never finished"));
    assert_eq!(first.await.unwrap(), 200);
    assert!(
        keyed(&h, &hook, "lease", &body).await.replayed(),
        "settled after all"
    );
}

/// A gateway on `stores`, served on a free port; returns its base URL.
async fn serve(stores: bitconn::store::Stores) -> String {
    let gateway = bitconn::gateway::Gateway::new(
        stores.config,
        stores.log,
        stores.idempotency,
        GatewaySettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = bitconn::gateway::router(std::sync::Arc::new(gateway));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

#[tokio::test]
async fn two_servers_on_one_sqlite_file_share_their_keys() {
    use bitconn::config::{ModelAccess, NewWebhook, Permissions, WebhookConfig};
    use bitconn::store::{StoreOptions, StoreSpec, open_stores_with};
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec: StoreSpec = format!("sqlite://{}", dir.path().join("shared.db").display())
        .parse()
        .unwrap();
    let options = StoreOptions {
        background_log: false,
        ..StoreOptions::default()
    };
    let (a, b) = (
        open_stores_with(&spec, &options).await.unwrap(),
        open_stores_with(&spec, &options).await.unwrap(),
    );
    let new = NewWebhook {
        name: "shared file".into(),
        odoo: h.odoo("admin"),
        models: ModelAccess::All,
        permissions: Permissions {
            can_create: true,
            ..Permissions::default()
        },
    };
    let (config, secret) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
    a.config.create(&config).await.unwrap();
    let (url_a, url_b) = (serve(a).await, serve(b).await);
    let call = |base: &str| {
        h.http
            .post(format!("{base}/bitconn/webhook/{}", config.id))
            .bearer_auth(secret.expose())
            .header("idempotency-key", "across-processes")
            .body(create("Shared File Partner").to_string())
            .send()
    };
    let first = call(&url_a).await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.bytes().await.unwrap();
    let second = call(&url_b).await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(
        second.bytes().await.unwrap(),
        first,
        "the other server replays the first answer"
    );
}
