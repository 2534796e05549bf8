//! The Lambda adapter driven by committed event fixtures (HTTP API v2, function URL, REST v1) against the
//! Odoo simulator and a memory store: the same path a deployed `inbound`/`schema` function takes.
#![allow(clippy::unwrap_used)]

use bitconn::config::{ModelAccess, NewWebhook, OdooConnection, Permissions, WebhookConfig};
use bitconn::execution_log::{ExecutionLog, LogQuery, MemoryExecutionLog};
use bitconn::gateway::GatewaySettings;
use bitconn::secret::SecretHash;
use bitconn::store::{ConfigStore, MemoryConfigStore};
use bitconn_lambda::LambdaGateway;
use lambda_http::Body;
use odoo_sim::{RunningSim, SimConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// The webhook id and secret every fixture in tests/fixtures/lambda uses.
const FIXTURE_ID: &str = "6f1c2a4e-8b3d-4c5e-9a7f-0d1e2f3a4b5c";
const FIXTURE_SECRET: &str = "bcw_fixture-secret-do-not-use-outside-tests-000";

struct Setup {
    gateway: LambdaGateway,
    log: Arc<MemoryExecutionLog>,
    sim: RunningSim,
}

async fn setup() -> Setup {
    let sim = odoo_sim::start(SimConfig::default()).await.unwrap();
    let models = [
        "res.partner",
        "sale.order",
        "sale.order.line",
        "product.product",
        "res.country",
    ];
    let new = NewWebhook {
        name: "fixtures".into(),
        odoo: OdooConnection {
            url: sim.url.clone(),
            db: odoo_sim::DEFAULT_DB.into(),
            login: "admin".into(),
            api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
        },
        models: ModelAccess::Only(models.iter().map(|m| m.parse().unwrap()).collect()),
        permissions: Permissions::default(),
    };
    let (mut config, _) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
    config.id = FIXTURE_ID.parse().unwrap();
    config.secret.current = SecretHash::of(FIXTURE_SECRET);
    let store = MemoryConfigStore::new();
    store.create(&config).await.unwrap();
    let log = Arc::new(MemoryExecutionLog::new());
    let gateway = LambdaGateway::new(
        Arc::new(store),
        log.clone(),
        Arc::new(bitconn::idempotency::MemoryIdempotencyStore::new()),
        GatewaySettings::default(),
    );
    Setup { gateway, log, sim }
}

fn fixture(name: &str) -> lambda_http::Request {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/lambda")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn call(setup: &Setup, name: &str) -> (u16, Value) {
    let response = bitconn_lambda::handle(&setup.gateway, fixture(name))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{name}: {content_type}"
    );
    let body = match response.into_body() {
        Body::Text(text) => text,
        other => panic!("{name}: expected a text body, got {other:?}"),
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}")),
    )
}

#[tokio::test]
async fn http_api_v2_create_reaches_odoo() {
    let setup = setup().await;
    let (status, body) = call(&setup, "apigw-v2-create.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let id = body["id"].as_i64().unwrap();
    let creates: Vec<_> = setup
        .sim
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.model_method.as_deref() == Some("create"))
        .collect();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].model.as_deref(), Some("res.partner"));
    assert!(id > 0);
}

#[tokio::test]
async fn http_api_v2_base64_body_and_webhook_key_header() {
    let setup = setup().await;
    let (status, body) = call(&setup, "apigw-v2-search-base64.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["name"], "S00001");
    assert_eq!(body["records"][0]["partner_id.name"], "Deco Addict");
}

#[tokio::test]
async fn wrong_secret_is_401_and_odoo_is_not_called() {
    let setup = setup().await;
    let (status, body) = call(&setup, "apigw-v2-bad-secret.json").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        serde_json::json!({"ok": false, "error": "forbidden", "reason": "invalid_token"})
    );
    assert_eq!(setup.sim.sim.call_count(), 0);
}

#[tokio::test]
async fn schema_and_required_routes() {
    let setup = setup().await;
    let (status, schema) = call(&setup, "apigw-v2-schema.json").await;
    assert_eq!(status, 200, "{schema}");
    assert_eq!(schema["model"], "res.partner");
    assert_eq!(schema["fields"]["name"]["type"], "char");
    let (status, required) = call(&setup, "apigw-v2-required.json").await;
    assert_eq!(status, 200, "{required}");
    let required = required.as_array().unwrap();
    assert!(
        required
            .iter()
            .all(|r| r["field"].is_string() && r["label"].is_string()),
        "{required:?}"
    );
}

#[tokio::test]
async fn function_url_event_with_nested_spec() {
    let setup = setup().await;
    let (status, body) = call(&setup, "function-url-search.json").await;
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().unwrap();
    assert!(!records.is_empty() && records.len() <= 3, "{body}");
    for record in records {
        assert!(record["name"].is_string());
        let country = &record["country_id"];
        assert!(
            country.is_null() || country.as_object().unwrap().keys().eq(["code", "name"]),
            "{record}"
        );
    }
}

#[tokio::test]
async fn rest_api_v1_event_with_a_named_stage() {
    let setup = setup().await;
    let (status, body) = call(&setup, "apigw-rest-v1-read.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["name"], "S00001");
    assert!(
        body["records"][0]["order_line.product_id.name"].is_array(),
        "{body}"
    );
}

#[tokio::test]
async fn every_call_is_logged_without_the_secret() {
    let setup = setup().await;
    for name in [
        "apigw-v2-create.json",
        "apigw-v2-bad-secret.json",
        "apigw-rest-v1-read.json",
    ] {
        call(&setup, name).await;
    }
    // The handler waits for its entry to be written (Lambda freezes the process after the response).
    let entries = setup.log.query(&LogQuery::default()).await.unwrap();
    assert_eq!(entries.len(), 3, "{entries:#?}");
    let statuses: Vec<u16> = entries.iter().map(|e| e.status).collect();
    assert!(statuses.contains(&401) && statuses.contains(&200), "{statuses:?}");
    for entry in &entries {
        assert!(!entry.request_body.contains(FIXTURE_SECRET));
        assert_eq!(entry.webhook_id.to_string(), FIXTURE_ID);
    }
}
