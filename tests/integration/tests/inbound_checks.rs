//! The inbound check order, credentials, verbs, body errors, permission flags, model and field rules, caps.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::{FieldRule, HttpVerb, ModelAccess};
use bitconn::execution_log::Outcome;
use bitconn::store::ConfigStore;
use common::{Harness, read};
use serde_json::json;

#[tokio::test]
async fn unknown_disabled_and_malformed_webhooks_are_404() {
    let h = Harness::start().await;
    let disabled = h.hook(|c| c.enabled = false).await;
    let (status, body) = h
        .post_raw(
            &bitconn::config::WebhookId::generate().to_string(),
            Some("x"),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(
        (status, body),
        (404, json!({"ok": false, "error": "conf_not_found"}))
    );
    assert_eq!(h.post(&disabled, json!({"model": "res.partner"})).await.0, 404);
    assert_eq!(
        h.post_raw("not-a-uuid", None, b"{}".to_vec()).await.1["error"],
        "conf_not_found"
    );
    let (status, body) = h.get(&disabled, "schema?model=res.partner").await;
    assert_eq!(
        (status, body),
        (404, json!({"ok": false, "error": "invalid_webhook"}))
    );
}

#[tokio::test]
async fn credentials_are_checked_after_the_lookup_and_in_the_original_order() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let url = format!("{}/bitconn/webhook/{}", h.url, hook.id());
    let body = json!({"model": "res.partner", "method": "search", "limit": 1}).to_string();
    let unauthorised = json!({"ok": false, "error": "forbidden", "reason": "invalid_token"});
    assert_eq!(
        h.post_raw(&hook.id(), None, body.clone().into_bytes()).await,
        (401, unauthorised.clone())
    );
    assert_eq!(
        h.post_raw(&hook.id(), Some("bcw_wrong"), body.clone().into_bytes())
            .await,
        (401, unauthorised.clone())
    );
    let secret = hook.secret.expose();
    for header in ["Webhook-Key", "X-Webhook-Key"] {
        let r = h
            .http
            .post(&url)
            .header(header, secret)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(read(r).await.0, 200, "{header}");
    }
    // A wrong Bearer token is final, as in the original: the right Webhook-Key does not rescue it.
    let r = h
        .http
        .post(&url)
        .bearer_auth("wrong")
        .header("Webhook-Key", secret)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 401);
    // A wrong credential is refused before a bad verb or body is looked at.
    let r = h.http.get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(read(r).await.0, 401);
}

#[tokio::test]
async fn verbs_other_than_the_allowed_ones_are_405() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let url = format!("{}/bitconn/webhook/{}", h.url, hook.id());
    let r = h
        .http
        .get(&url)
        .bearer_auth(hook.secret.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    let (status, body) = read(r).await;
    assert_eq!(status, 405);
    assert_eq!(
        body,
        json!({"ok": false, "error": "method_not_allowed", "message": "Method GET not allowed for this webhook", "allowed_methods": ["POST"]})
    );
    let open = h
        .hook(|c| c.allowed_verbs = vec![HttpVerb::Post, HttpVerb::Put])
        .await;
    let r = h
        .http
        .put(format!("{}/bitconn/webhook/{}", h.url, open.id()))
        .bearer_auth(open.secret.expose())
        .body(json!({"model": "res.partner", "method": "search", "limit": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 200);
}

#[tokio::test]
async fn bad_bodies_are_400_with_the_original_codes() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let id = hook.id();
    let post = |body: &'static [u8]| h.post_raw(&id, Some(hook.secret.expose()), body.to_vec());
    let (status, body) = post(b"").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_json")));
    assert!(body["detail"].as_str().unwrap().starts_with("invalid_json: "));
    assert_eq!(post(b"{\"model\": ").await.1["error"], "invalid_json");
    assert_eq!(post(b"[1, 2]").await.1["reason"], "not_an_object");
    assert_eq!(
        post(b"{\"model\": \"res.partner\", \"method\": \"search\", \"limt\": 5}")
            .await
            .1["reason"],
        "unknown_key"
    );
    assert_eq!(
        post(b"{}").await,
        (
            400,
            json!({"ok": false, "error": "invalid_payload", "reason": "missing_model", "message": "model is required, e.g. \"res.partner\""})
        )
    );
    let (status, body) = post(b"{\"model\": \"res.partner\", \"method\": \"search_advanced\"}").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_method")));
    // JSON5 (comments, single quotes, trailing commas) is accepted, as the original's lenient parser does.
    let (status, body) =
        post(b"{\n  // find one contact\n  'model': 'res.partner', 'method': 'search', 'limit': 1,\n}").await;
    assert_eq!((status, body["count"].as_u64()), (200, Some(1)));
    let (status, body) =
        post(b"{\"model\": \"res.partner\", \"method\": \"search\", \"domain\": [[\"name\", \"~\", \"x\"]]}")
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_domain")));
    let (status, body) =
        post(b"{\"model\": \"res.partner\", \"method\": \"search\", \"domain\": [[\"nope\", \"=\", 1]]}")
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_domain")));
    assert!(body["message"].as_str().unwrap().contains("nope"));
    let (status, body) = post(b"{\"model\": \"res.partner\", \"method\": \"search\", \"fields\": [\"name\", {\"country_id\": [\"nope\"]}]}").await;
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (400, Some("invalid_field"), Some("nope"))
    );
    let (status, body) =
        post(b"{\"model\": \"res.partner\", \"method\": \"search\", \"order\": \"nope desc\"}").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("nope")));
}

#[tokio::test]
async fn deeply_nested_bodies_are_400_and_the_server_keeps_serving() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let deep = "[".repeat(50_000).into_bytes();
    let unknown = bitconn::config::WebhookId::generate().to_string();
    assert_eq!(h.post_raw(&unknown, None, deep.clone()).await.0, 404);
    let (status, body) = h.post_raw(&hook.id(), Some(hook.secret.expose()), deep).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_json")));
    let fields = format!(
        "{{\"model\": \"res.partner\", \"method\": \"search\", \"fields\": \"{}\"}}",
        "[".repeat(50_000)
    );
    let (status, body) = h
        .post_raw(&hook.id(), Some(hook.secret.expose()), fields.into_bytes())
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_field")));
    let search = json!({"model": "res.partner", "method": "search", "limit": 1});
    assert_eq!(h.post(&hook, search).await.0, 200);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let settings = bitconn::gateway::GatewaySettings {
        max_body_bytes: 64,
        ..Default::default()
    };
    let h = Harness::start_with(odoo_sim::SimConfig::default(), settings).await;
    let hook = h.hook(|_| {}).await;
    let big = json!({"model": "res.partner", "values": {"name": "x".repeat(100)}});
    let (status, body) = h.post(&hook, big).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("payload_too_large")));
}

#[tokio::test]
async fn permission_flags_and_the_model_allow_list_are_403_before_odoo() {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| {
            c.permissions.can_create = false;
            c.permissions.can_write = false;
            c.permissions.can_unlink = false;
            c.models = ModelAccess::Only(["res.partner".parse().unwrap()].into());
        })
        .await;
    for (method, reason) in [
        ("create", "create_not_allowed"),
        ("write", "write_not_allowed"),
        ("unlink", "unlink_not_allowed"),
    ] {
        let (status, body) = h
            .post(
                &hook,
                json!({"model": "res.partner", "method": method, "ids": [1], "values": {"name": "x"}}),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                403,
                json!({"ok": false, "error": "permission_denied", "reason": reason})
            )
        );
    }
    let (status, body) = h
        .post(&hook, json!({"model": "sale.order", "method": "search"}))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("model_not_allowed"))
    );
    assert!(h.calls().is_empty(), "nothing reached Odoo: {:?}", h.calls());
    assert_eq!(
        h.post(
            &hook,
            json!({"model": "res.partner", "method": "search", "limit": 2})
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn field_rules_apply_to_specs_values_domains_and_plain_reads() {
    let h = Harness::start().await;
    let deny_email = FieldRule {
        allow: None,
        deny: ["email".into()].into(),
    };
    let hook = h
        .hook(|c| {
            c.field_rules.insert("res.partner".parse().unwrap(), deny_email);
        })
        .await;
    let denied = |field: &str| json!({"ok": false, "error": "permission_denied", "reason": "field_not_allowed", "field": field});
    let cases = [
        json!({"model": "res.partner", "method": "search", "fields": ["name", "email"]}),
        json!({"model": "sale.order", "method": "search", "fields": [{"partner_id": ["email"]}]}),
        json!({"model": "sale.order", "method": "search", "fields": ["partner_id.email"]}),
        json!({"model": "res.partner", "method": "search", "domain": [["email", "ilike", "example"]]}),
        json!({"model": "sale.order", "method": "search", "domain": [["partner_id.email", "ilike", "example"]]}),
        json!({"model": "res.partner", "method": "create", "values": {"name": "A", "email": "a@example.com"}}),
        json!({"model": "res.partner", "method": "write", "ids": [10], "values": {"email": "a@example.com"}}),
        json!({"model": "res.partner", "method": "create", "values": {"name": "A", "child_ids": [[0, 0, {"name": "B", "email": "b@example.com"}]]}}),
    ];
    for case in cases {
        let (status, mut body) = h.post(&hook, case.clone()).await;
        let message = body.as_object_mut().unwrap().remove("message");
        assert_eq!((status, body), (403, denied("email")), "{case}");
        assert!(
            message
                .unwrap()
                .as_str()
                .unwrap()
                .contains("'email' of model 'res.partner'"),
            "{case}"
        );
    }
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "read", "ids": [10]}),
        )
        .await;
    assert_eq!(status, 200);
    let record = body["records"][0].as_object().unwrap();
    assert_eq!(record["name"], "Deco Addict");
    assert!(!record.contains_key("email"), "denied field returned: {record:?}");
}

#[tokio::test]
async fn writes_and_unlinks_need_a_target_and_respect_the_cap_before_changing_anything() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.limits.max_records_per_change = 3).await;
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "write", "values": {"comment": "all"}}),
        )
        .await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("missing_target")));
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "unlink", "domain": []}),
        )
        .await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("missing_target")));
    h.sim.sim.clear_calls();
    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "write", "domain": [["is_company", "=", true]], "values": {"comment": "capped"}})).await;
    assert_eq!(
        (status, body["error"].as_str(), body["max"].as_u64()),
        (400, Some("too_many_records"), Some(3))
    );
    assert!(body["matched"].as_u64().unwrap() > 3);
    assert!(
        !h.calls().iter().any(|(_, m)| m == "write"),
        "a write reached Odoo: {:?}",
        h.calls()
    );
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "unlink", "domain": [["is_company", "=", true]]}),
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("too_many_records")));
    assert!(!h.calls().iter().any(|(_, m)| m == "unlink"));
    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "write", "domain": [["name", "=", "No Such Contact"]], "values": {"comment": "x"}})).await;
    assert_eq!((status, body), (404, json!({"ok": false, "error": "not_found"})));
}

#[tokio::test]
async fn rotated_secrets_keep_working_during_the_grace_period_only() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let search = json!({"model": "res.partner", "method": "search", "limit": 1})
        .to_string()
        .into_bytes();
    let old = hook.secret.expose().to_owned();
    let mut config = h.store.get(&hook.config.id).await.unwrap().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let graced = config.rotate_secret(Some(time::Duration::minutes(5)), now);
    let config = h.store.update(&config).await.unwrap();
    assert_eq!(h.post_raw(&hook.id(), Some(&old), search.clone()).await.0, 200);
    assert_eq!(
        h.post_raw(&hook.id(), Some(graced.expose()), search.clone())
            .await
            .0,
        200
    );
    let mut config = config;
    let fresh = config.rotate_secret(None, now);
    h.store.update(&config).await.unwrap();
    assert_eq!(h.post_raw(&hook.id(), Some(&old), search.clone()).await.0, 401);
    assert_eq!(
        h.post_raw(&hook.id(), Some(graced.expose()), search.clone())
            .await
            .0,
        401
    );
    assert_eq!(h.post_raw(&hook.id(), Some(fresh.expose()), search).await.0, 200);
}

#[tokio::test]
async fn every_webhook_call_is_logged_without_credentials() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    h.post(
        &hook,
        json!({"model": "res.partner", "method": "search", "limit": 2}),
    )
    .await;
    h.post(&hook, json!({"model": "res.partner", "method": "create", "values": {"name": "Logged", "password": "hunter2"}})).await;
    h.post_raw(&hook.id(), Some("wrong"), b"{}".to_vec()).await;
    let entries = h.log_entries(&hook, 3).await;
    assert_eq!(entries.len(), 3);
    assert_eq!(
        (
            entries[0].outcome,
            entries[0].status,
            entries[0].method.as_deref()
        ),
        (Outcome::Success, 200, Some("search"))
    );
    assert!(entries[0].odoo_calls >= 1);
    assert!(!entries[1].request_body.contains("hunter2"));
    assert_eq!((entries[2].outcome, entries[2].status), (Outcome::Rejected, 401));
    assert_eq!(entries[2].odoo_calls, 0);
}
