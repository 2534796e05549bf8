//! Field-spec output rules case by case (identical on Odoo 18 and 16), and the Odoo round trips they cost.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::gateway::GatewaySettings;
use common::{Harness, Hook};
use odoo_sim::SimConfig;
use serde_json::{Value, json};

async fn harness(version: &str) -> (Harness, Hook) {
    let h = Harness::start_with(
        SimConfig {
            server_version: version.into(),
            ..Default::default()
        },
        GatewaySettings::default(),
    )
    .await;
    let hook = h.hook(|_| {}).await;
    (h, hook)
}

async fn read_order_1(h: &Harness, hook: &Hook, fields: Value) -> Value {
    let (status, body) = h
        .post(
            hook,
            json!({"model": "sale.order", "method": "read", "ids": [1], "fields": fields}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["records"][0].clone()
}

/// (spec, expected record for sale order S00001 of the demo data).
fn cases() -> Vec<(Value, Value)> {
    vec![
        // Plain names: as Odoo's read gives them (many2one pair, x2many ids, selection key, dates, monetary, empty).
        (
            json!([
                "id",
                "name",
                "state",
                "date_order",
                "validity_date",
                "amount_total",
                "partner_id",
                "order_line",
                "tag_ids",
                "client_order_ref"
            ]),
            json!({"id": 1, "name": "S00001", "state": "draft", "date_order": "2026-10-28 00:46:00", "validity_date": "2026-12-28",
                "amount_total": 1740.0, "partner_id": [10, "Deco Addict"], "order_line": [1, 2, 3], "tag_ids": [], "client_order_ref": false}),
        ),
        // many2one with an empty sub-spec, and with a sub-spec (exactly the listed keys, id only when listed).
        (json!([{"partner_id": []}]), json!({"partner_id": {"id": 10}})),
        (
            json!([{"partner_id": ["name", "email", {"country_id": ["code", "name"]}, {"parent_id": ["name"]}]}]),
            json!({"partner_id": {"name": "Deco Addict", "email": "info@agrolait.com", "country_id": {"code": "US", "name": "United States"}, "parent_id": false}}),
        ),
        // x2many without and with a sub-spec, in Odoo's order for the relation.
        (
            json!([{"order_line": []}, {"tag_ids": []}]),
            json!({"order_line": [{"id": 1}, {"id": 2}, {"id": 3}], "tag_ids": []}),
        ),
        (
            json!([{"order_line": ["id", "price_unit", "product_uom_qty", {"product_id": ["default_code"]}]}]),
            json!({"order_line": [
            {"id": 1, "price_unit": 295.0, "product_uom_qty": 3.0, "product_id": {"default_code": "FURN_6667"}},
            {"id": 2, "price_unit": 145.0, "product_uom_qty": 5.0, "product_id": {"default_code": "FURN_8888"}},
            {"id": 3, "price_unit": 65.0, "product_uom_qty": 2.0, "product_id": {"default_code": "FURN_7777"}}]}),
        ),
        // Dotted paths: to-one → scalar (or false), through an x2many → a list, ending on a relation → ids.
        (
            json!([
                "partner_id.name",
                "partner_id.country_id.code",
                "partner_id.parent_id.name",
                "partner_id.country_id"
            ]),
            json!({"partner_id.name": "Deco Addict", "partner_id.country_id.code": "US", "partner_id.parent_id.name": false, "partner_id.country_id": 233}),
        ),
        (
            json!([
                "order_line.product_id.default_code",
                "order_line.price_unit",
                "tag_ids.name",
                "order_line.product_id"
            ]),
            json!({"order_line.product_id.default_code": ["FURN_6667", "FURN_8888", "FURN_7777"], "order_line.price_unit": [295.0, 145.0, 65.0],
                "tag_ids.name": [], "order_line.product_id": [32, 6, 5]}),
        ),
        // A non-relational field wrapped in an object gives its plain value; keys keep spec order.
        (
            json!(["name", {"state": []}, "id"]),
            json!({"name": "S00001", "state": "draft", "id": 1}),
        ),
    ]
}

async fn output_rules(version: &str) {
    let (h, hook) = harness(version).await;
    for (spec, expected) in cases() {
        let got = read_order_1(&h, &hook, spec.clone()).await;
        assert_eq!(got, expected, "Odoo {version}, spec {spec}");
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        let expected_keys: Vec<&String> = expected.as_object().unwrap().keys().collect();
        assert_eq!(keys, expected_keys, "key order, Odoo {version}, spec {spec}");
    }
}

#[tokio::test]
async fn output_rules_on_odoo_18() {
    output_rules("18.0").await;
}

#[tokio::test]
async fn output_rules_on_odoo_16() {
    output_rules("16.0").await;
}

#[tokio::test]
async fn search_with_fields_returns_records_in_odoo_order() {
    for version in ["18.0", "16.0"] {
        let (h, hook) = harness(version).await;
        let (status, body) = h
            .post(
                &hook,
                json!({"model": "sale.order", "method": "search", "domain": [["id", "in", [1, 2, 3]]],
            "order": "id", "fields": ["name", "tag_ids.name", {"tag_ids": ["name"]}]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["count"], 3);
        assert_eq!(body["next_offset"], Value::Null);
        let names: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["S00001", "S00002", "S00003"], "Odoo {version}");
        assert_eq!(body["records"][0]["tag_ids"], json!([]));
        assert_eq!(
            body["records"][2]["tag_ids.name"].as_array().unwrap().len(),
            2,
            "Odoo {version}: {body}"
        );
    }
}

fn nested_search() -> Value {
    json!({"model": "sale.order", "method": "search", "domain": [["state", "=", "sale"]], "limit": 10, "fields": [
        "id", "name", {"partner_id": ["id", "name", {"country_id": ["id", "code", "name"]}]},
        {"order_line": ["id", "name", "price_unit", {"product_id": ["id", "default_code", "name"]}]}]})
}

#[tokio::test]
async fn nested_search_costs_one_call_on_odoo_18() {
    let (h, hook) = harness("18.0").await;
    let (status, warm) = h.post(&hook, nested_search()).await;
    assert_eq!(status, 200, "{warm}");
    assert_eq!(warm["count"], 10);
    h.sim.sim.clear_calls();
    let (status, body) = h.post(&hook, nested_search()).await;
    assert_eq!(status, 200);
    assert_eq!(body, warm);
    assert_eq!(
        h.calls(),
        [("sale.order".to_owned(), "web_search_read".to_owned())]
    );
    let entries = h.log_entries(&hook, 2).await;
    assert_eq!(entries[1].odoo_calls, 1);
    assert!(
        entries[0].odoo_calls > 1,
        "the cold call resolves the uid, version and fields"
    );
}

#[tokio::test]
async fn nested_search_costs_one_read_per_model_and_level_on_odoo_16() {
    let (h, hook) = harness("16.0").await;
    let (status, warm) = h.post(&hook, nested_search()).await;
    assert_eq!(status, 200, "{warm}");
    for record in warm["records"].as_array().unwrap() {
        assert!(record["partner_id"]["country_id"]["code"].is_string(), "{record}");
        assert!(
            record["order_line"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["product_id"]["name"].is_string()),
            "{record}"
        );
    }
    for limit in [10, 1] {
        h.sim.sim.clear_calls();
        let mut request = nested_search();
        request["limit"] = json!(limit);
        assert_eq!(h.post(&hook, request).await.0, 200);
        let calls = h.calls();
        assert_eq!(
            calls[0],
            ("sale.order".to_owned(), "search_read".to_owned()),
            "{calls:?}"
        );
        let mut level1: Vec<&str> = calls[1..3].iter().map(|(m, _)| m.as_str()).collect();
        let mut level2: Vec<&str> = calls[3..].iter().map(|(m, _)| m.as_str()).collect();
        level1.sort_unstable();
        level2.sort_unstable();
        assert_eq!(level1, ["res.partner", "sale.order.line"], "{calls:?}");
        assert_eq!(level2, ["product.product", "res.country"], "{calls:?}");
        assert!(calls[1..].iter().all(|(_, method)| method == "read"), "{calls:?}");
    }
}

#[tokio::test]
async fn both_strategies_give_the_same_nested_search() {
    let (h18, hook18) = harness("18.0").await;
    let (h16, hook16) = harness("16.0").await;
    let (_, a) = h18.post(&hook18, nested_search()).await;
    let (_, b) = h16.post(&hook16, nested_search()).await;
    assert_eq!(a, b);
}
