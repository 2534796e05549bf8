//! Gateway checks that are decided before Odoo is called: routes, lookup, credentials, verbs, bodies, permissions.

use super::*;
use crate::config::{ModelAccess, NewWebhook, OdooConnection, Permissions, WebhookConfig};
use crate::execution_log::{LogQuery, MemoryExecutionLog, Outcome};
use crate::secret::PlainSecret;
use crate::store::MemoryConfigStore;
use serde_json::Value;

/// An Odoo URL nothing listens on: any test that reached Odoo would fail with 502.
const NO_ODOO: &str = "http://127.0.0.1:9";

async fn gateway() -> (Gateway, WebhookConfig, PlainSecret, Arc<MemoryExecutionLog>) {
    let store = Arc::new(MemoryConfigStore::new());
    let log = Arc::new(MemoryExecutionLog::new());
    let new = NewWebhook {
        name: "unit".into(),
        odoo: OdooConnection {
            url: NO_ODOO.into(),
            db: "db".into(),
            login: "admin".into(),
            api_key: "k".into(),
        },
        models: ModelAccess::Only(["res.partner".parse().unwrap()].into()),
        permissions: Permissions::default(),
    };
    let (config, secret) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
    store.create(&config).await.unwrap();
    (
        Gateway::new(
            store,
            log.clone(),
            Arc::new(crate::idempotency::MemoryIdempotencyStore::new()),
            GatewaySettings::default(),
        ),
        config,
        secret,
        log,
    )
}

async fn call(gw: &Gateway, method: &str, path: &str, secret: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(secret) = secret {
        request = request.header("authorization", format!("Bearer {secret}"));
    }
    let response = gw
        .handle(request.body(Bytes::from(body.to_owned())).unwrap())
        .await;
    (
        response.status().as_u16(),
        serde_json::from_slice(response.body()).unwrap(),
    )
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let (gw, ..) = gateway().await;
    assert_eq!(
        call(&gw, "GET", "/healthz", None, "").await,
        (200, json!({"ok": true}))
    );
    assert_eq!(
        call(&gw, "GET", "/nope", None, "").await,
        (404, json!({"ok": false, "error": "not_found"}))
    );
}

#[tokio::test]
async fn checks_run_in_the_original_order_without_odoo() {
    let (gw, config, secret, log) = gateway().await;
    let path = format!("/bitconn/webhook/{}", config.id);
    let s = Some(secret.expose());
    assert_eq!(
        call(
            &gw,
            "POST",
            "/bitconn/webhook/00000000-0000-4000-8000-000000000000",
            s,
            "{}"
        )
        .await
        .0,
        404
    );
    assert_eq!(call(&gw, "GET", &path, None, "").await.0, 401);
    assert_eq!(call(&gw, "GET", &path, s, "").await.0, 405);
    assert_eq!(call(&gw, "POST", &path, s, "").await.1["error"], "invalid_json");
    assert_eq!(
        call(&gw, "POST", &path, s, "{}").await.1["reason"],
        "missing_model"
    );
    assert_eq!(
        call(
            &gw,
            "POST",
            &path,
            s,
            r#"{"model": "res.partner", "method": "nope"}"#
        )
        .await
        .1["error"],
        "invalid_method"
    );
    assert_eq!(
        call(
            &gw,
            "POST",
            &path,
            s,
            r#"{"model": "res.partner", "method": "unlink", "ids": [1]}"#
        )
        .await
        .1["reason"],
        "unlink_not_allowed"
    );
    assert_eq!(
        call(
            &gw,
            "POST",
            &path,
            s,
            r#"{"model": "sale.order", "method": "search"}"#
        )
        .await
        .1["reason"],
        "model_not_allowed"
    );
    assert_eq!(
        call(
            &gw,
            "POST",
            &path,
            s,
            r#"{"model": "res.partner", "method": "write", "values": {}}"#
        )
        .await
        .1["reason"],
        "missing_target"
    );
    // The first check that needs Odoo: nothing listens, so 502.
    let (status, body) = call(
        &gw,
        "POST",
        &path,
        s,
        r#"{"model": "res.partner", "method": "search"}"#,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (502, Some("odoo_unreachable")));
    let schema = format!("{path}/schema?model=res.partner");
    assert_eq!(call(&gw, "POST", &schema, s, "").await.0, 405);
    assert_eq!(
        call(&gw, "GET", &format!("{path}/schema"), s, "").await.1["error"],
        "missing_param"
    );

    tokio::time::sleep(Duration::from_millis(50)).await;
    let entries = log.query(&LogQuery::default()).await.unwrap();
    assert_eq!(
        entries.len(),
        9,
        "one entry per call on the webhook route: {entries:?}"
    );
    assert!(entries.iter().all(|e| e.webhook_id == config.id));
    assert_eq!(entries.iter().filter(|e| e.outcome == Outcome::Failed).count(), 1);
}
