//! Every body in docs/examples/ runs against the Odoo simulator and gives the documented result.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::ModelAccess;
use common::{Harness, example};
use serde_json::{Value, json};

#[tokio::test]
async fn create_write_unlink_examples_work_in_sequence() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, created) = h.post(&hook, example("create.json")).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, body) = h.post(&hook, example("write.json")).await;
    assert_eq!((status, body), (200, json!({"ok": true, "ids": [id]})));
    let (_, body) = h.post(&hook, json!({"model": "res.partner", "method": "read", "ids": [id], "fields": ["name", "comment", "mobile"]})).await;
    assert_eq!(
        body["records"][0],
        json!({"name": "Webhook Partner (updated)", "comment": "<p>Updated through Bitconn Webhook</p>", "mobile": "+5511999999999"})
    );
    let (status, body) = h.post(&hook, example("unlink.json")).await;
    assert_eq!((status, body), (200, json!({"ok": true, "ids": [id]})));
    assert_eq!(h.post(&hook, example("unlink.json")).await.0, 404);
}

#[tokio::test]
async fn search_and_read_examples() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, body) = h.post(&hook, example("search.json")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"ok": true, "count": 1, "records": [{"id": 1, "name": "S00001", "partner_id.name": "Deco Addict"}], "next_offset": null})
        )
    );
    let (status, body) = h.post(&hook, example("read.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["records"][0],
        json!({"id": 1, "name": "S00001", "partner_id.name": "Deco Addict",
        "order_line.product_id.name": ["Acoustic Bloc Screens", "Office Lamp", "Office Chair"]})
    );
}

#[tokio::test]
async fn nested_search_examples() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    for (file, with_country) in [
        ("search_advanced.json", false),
        ("search_advanced_with_country.json", true),
    ] {
        let (status, body) = h.post(&hook, example(file)).await;
        assert_eq!(status, 200, "{file}: {body}");
        assert_eq!(
            (body["count"].as_u64(), body["next_offset"].as_u64()),
            (Some(3), Some(3)),
            "{file}"
        );
        for record in body["records"].as_array().unwrap() {
            let partner = record["partner_id"].as_object().unwrap();
            let keys: Vec<&str> = partner.keys().map(String::as_str).collect();
            let expected: &[&str] = if with_country {
                &["id", "name", "email", "country_id"]
            } else {
                &["id", "name", "email"]
            };
            assert_eq!(keys, expected, "{file}");
            if with_country {
                assert_eq!(partner["country_id"]["code"], "US", "{file}: {record}");
            }
            let lines = record["order_line"].as_array().unwrap();
            assert!(!lines.is_empty());
            for line in lines {
                let product = line["product_id"].as_object().unwrap();
                assert!(
                    product["id"].is_i64()
                        && product["name"].is_string()
                        && product.contains_key("default_code"),
                    "{file}: {line}"
                );
                assert_eq!(
                    line["product_id"].get("list_price").is_some(),
                    with_country,
                    "{file}: {line}"
                );
            }
        }
    }
}

#[tokio::test]
async fn default_payload_example() {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| c.models = ModelAccess::Only(["res.partner".parse().unwrap()].into()))
        .await;
    let (status, body) = h.post(&hook, example("default_payload.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["payload"]["model"], "res.partner");
    assert!(body["payload"]["values"].is_object());
    assert!(!body.to_string().contains(hook.secret.expose()));
    assert_ne!(body["headers_example"], Value::Null);
}

#[tokio::test]
async fn upsert_and_call_examples() {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| {
            c.callable = ["sale.order:action_confirm", "*:message_post"]
                .iter()
                .map(|e| e.parse().unwrap())
                .collect()
        })
        .await;
    let (status, first) = h.post(&hook, example("upsert.json")).await;
    assert_eq!((status, first["created"].clone()), (200, json!(true)), "{first}");
    let (status, again) = h.post(&hook, example("upsert.json")).await;
    assert_eq!(
        (status, again["created"].clone(), again["id"].clone()),
        (200, json!(false), first["id"].clone())
    );
    let (_, body) = h
        .post(&hook, json!({"model": "res.partner", "method": "read", "ids": [first["id"]], "fields": ["country_id", "parent_id", "category_id"]}))
        .await;
    assert_eq!(
        body["records"][0],
        json!({"country_id": [20, "Belgium"], "parent_id": [10, "Deco Addict"], "category_id": [1]})
    );
    let (status, body) = h.post(&hook, example("call_action_confirm.json")).await;
    assert_eq!((status, body), (200, json!({"ok": true, "result": true})));
    let (status, body) = h.post(&hook, example("call_message_post.json")).await;
    assert!(status == 200 && body["result"].is_i64(), "{body}");
}
