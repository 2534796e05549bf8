//! `GET …/schema`, `GET …/required` and `default_payload`, with the original's response shapes.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::{FieldRule, ModelAccess};
use common::Harness;
use serde_json::{Value, json};

#[tokio::test]
async fn schema_describes_fields_required_defaults_and_access() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.permissions.can_unlink = false).await;
    let (status, body) = h.get(&hook, "schema?model=sale.order").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["ok"].as_bool(),
            body["model"].as_str(),
            body["method"].as_str()
        ),
        (Some(true), Some("sale.order"), Some("create"))
    );
    let partner = &body["fields"]["partner_id"];
    assert_eq!(
        partner,
        &json!({"string": "Customer", "type": "many2one", "required": true, "readonly": false, "selection": null, "relation": "res.partner"})
    );
    assert_eq!(
        body["fields"]["state"]["selection"][0],
        json!(["draft", "Quotation"])
    );
    assert_eq!(body["fields"]["name"]["relation"], Value::Null);
    let required: Vec<&str> = body["required_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        required.contains(&"partner_id") && !required.contains(&"state"),
        "{required:?}"
    );
    assert_eq!(body["defaults"]["company_id"], 1);
    assert_eq!(
        body["access"],
        json!({"can_create": true, "can_write": true, "can_unlink": false, "can_read": true})
    );

    let (_, body) = h.get(&hook, "schema?model=sale.order&method=write").await;
    assert_eq!(
        (body["method"].as_str(), &body["required_fields"]),
        (Some("write"), &json!([]))
    );
}

#[tokio::test]
async fn schema_access_reflects_the_odoo_users_rights() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.odoo = h.odoo("integrator")).await;
    let (status, body) = h.get(&hook, "schema?model=account.move").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["access"],
        json!({"can_create": false, "can_write": false, "can_unlink": false, "can_read": true})
    );
}

#[tokio::test]
async fn schema_errors() {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| c.models = ModelAccess::Only(["res.partner".parse().unwrap()].into()))
        .await;
    assert_eq!(
        h.get(&hook, "schema").await,
        (
            400,
            json!({"ok": false, "error": "missing_param", "param": "model"})
        )
    );
    assert_eq!(h.get(&hook, "required?model=").await.1["param"], "model");
    let (status, body) = h.get(&hook, "schema?model=sale.order").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("model_not_allowed"))
    );
    let r = h
        .http
        .get(format!(
            "{}/bitconn/webhook/{}/schema?model=res.partner",
            h.url,
            hook.id()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(r).await.0, 401);
}

#[tokio::test]
async fn required_answers_a_bare_array_of_what_is_missing() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, body) = h.get(&hook, "required?model=sale.order").await;
    assert_eq!(status, 200, "{body}");
    let missing: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(missing.contains(&"partner_id"), "{missing:?}");
    assert!(
        !missing.contains(&"company_id"),
        "company_id has a default: {missing:?}"
    );
    let (_, body) = h
        .get(
            &hook,
            "required?model=sale.order&values=%7B%22partner_id%22%3A%2010%7D",
        )
        .await;
    assert!(!body.as_array().unwrap().contains(&json!("partner_id")), "{body}");
    let (_, body) = h.get(&hook, "required?model=sale.order&details=1").await;
    assert!(
        body.as_array()
            .unwrap()
            .contains(&json!({"field": "partner_id", "label": "Customer"})),
        "{body}"
    );
    let (status, body) = h.get(&hook, "required?model=sale.order&values=%5B1%5D").await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("invalid_values")));
}

/// An empty `values=` (a form that sends every field) means no values, as an empty `model=` means no model.
#[tokio::test]
async fn required_reads_an_empty_values_parameter_as_none() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    for query in ["values=", "values=%20%20"] {
        let (status, body) = h.get(&hook, &format!("required?model=sale.order&{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert!(
            body.as_array().unwrap().contains(&json!("partner_id")),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn field_rules_hide_fields_from_schema_and_required() {
    let h = Harness::start().await;
    let rule = FieldRule {
        allow: None,
        deny: ["email".into(), "partner_id".into()].into(),
    };
    let hook = h
        .hook(|c| {
            c.field_rules.insert("res.partner".parse().unwrap(), rule.clone());
            c.field_rules.insert("sale.order".parse().unwrap(), rule);
        })
        .await;
    let (_, body) = h.get(&hook, "schema?model=res.partner").await;
    assert!(body["fields"].get("email").is_none() && body["fields"].get("name").is_some());
    let (_, body) = h.get(&hook, "required?model=sale.order").await;
    assert!(!body.as_array().unwrap().contains(&json!("partner_id")), "{body}");
}

#[tokio::test]
async fn default_payload_is_a_template_without_the_secret() {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| c.models = ModelAccess::Only(["sale.order".parse().unwrap()].into()))
        .await;
    let (status, body) = h.post(&hook, json!({"method": "default_payload"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(hook.secret.expose()));
    assert_eq!(body["payload"]["model"], "sale.order");
    assert_eq!(body["payload"]["method"], "create");
    assert!(
        body["required_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("partner_id"))
    );
    assert_eq!(
        body["payload"]["values"]["company_id"], 1,
        "defaults pre-fill the template: {body}"
    );
    assert_eq!(body["payload"]["values"]["partner_id"], Value::Null);
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/bitconn/webhook/{}", hook.id()))
    );
    let (status, body) = h
        .post(
            &hook,
            json!({"method": "default_payload", "model": "res.partner"}),
        )
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("model_not_allowed"))
    );
}

#[tokio::test]
async fn required_leaves_out_what_odoo_computes_from_the_given_values() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let values = "%7B%22partner_id%22%3A%2010%7D";
    let (status, body) = h
        .get(&hook, &format!("required?model=sale.order&values={values}"))
        .await;
    assert_eq!(status, 200, "{body}");
    for computed in ["partner_invoice_id", "partner_shipping_id"] {
        assert!(
            !body.as_array().unwrap().contains(&json!(computed)),
            "{computed} in {body}"
        );
    }
    let (_, body) = h
        .get(
            &hook,
            &format!("required?model=sale.order&details=1&values={values}"),
        )
        .await;
    assert!(
        body.as_array().unwrap().contains(
            &json!({"field": "partner_invoice_id", "label": "Invoice Address", "filled_by_odoo": {"from": ["partner_id"]}})
        ),
        "{body}"
    );
    let (_, body) = h.get(&hook, "required?model=sale.order").await;
    assert!(
        body.as_array().unwrap().contains(&json!("partner_invoice_id")),
        "{body}"
    );
    // Odoo accepts exactly that: a sale order with only its customer.
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "sale.order", "method": "create", "values": {"partner_id": 10}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_expired_schema_is_fetched_once_however_many_requests_wait() {
    let settings = bitconn::gateway::GatewaySettings {
        schema_cache_ttl: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let sim = odoo_sim::SimConfig {
        latency: odoo_sim::Latency::Fixed(std::time::Duration::from_millis(20)),
        ..Default::default()
    };
    let h = Harness::start_with(sim, settings).await;
    let hook = h.hook(|_| {}).await;
    let search =
        json!({"model": "res.partner", "method": "search", "domain": [["name", "ilike", "a"]], "limit": 1});
    for round in 0..2 {
        let before = h.calls().iter().filter(|(_, m)| m == "fields_get").count();
        let answers = futures_util::future::join_all((0..50).map(|_| h.post(&hook, search.clone()))).await;
        assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
        let fetched = h.calls().iter().filter(|(_, m)| m == "fields_get").count() - before;
        assert_eq!(fetched, 1, "round {round}: {fetched} fields_get for one model");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
