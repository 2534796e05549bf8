//! Each inbound method's success path against the Odoo simulator, and Odoo faults as typed JSON errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::Harness;
use serde_json::{Value, json};

#[tokio::test]
async fn create_write_read_unlink_round_trip() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "create", "values": {"name": "Round Trip", "email": "rt@example.com"}})).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body, json!({"ok": true, "id": id}));

    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "create", "values": [{"name": "Batch A"}, {"name": "Batch B"}]})).await;
    assert_eq!(status, 200, "{body}");
    let batch: Vec<i64> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(batch.len(), 2);
    assert!(batch[0] > id && batch[1] > batch[0]);

    // `comment` is an html field: Odoo sanitises plain text into a paragraph.
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "write", "ids": [id], "values": {"comment": "written"}}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"ok": true, "ids": [id]})));
    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "write", "domain": [["name", "like", "Batch "]], "values": {"function": "Tester"}})).await;
    assert_eq!(status, 200, "{body}");
    let mut written: Vec<i64> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    written.sort_unstable();
    assert_eq!(written, batch);

    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "read", "ids": [batch[1], id, batch[0]], "fields": ["name", "comment", "function"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"ok": true, "records": [
        {"name": "Batch B", "comment": false, "function": "Tester"},
        {"name": "Round Trip", "comment": "<p>written</p>", "function": false},
        {"name": "Batch A", "comment": false, "function": "Tester"}]})
    );

    let (status, body) = h.post(&hook, json!({"model": "res.partner", "method": "unlink", "ids": batch, "domain": [["function", "=", "Tester"]]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"].as_array().unwrap().len(), 2);
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "read", "ids": batch}),
        )
        .await;
    assert_eq!((status, body), (404, json!({"ok": false, "error": "not_found"})));
}

#[tokio::test]
async fn search_pages_with_next_offset_until_the_last_page() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let all = h
        .post(
            &hook,
            json!({"model": "sale.order", "method": "search", "order": "id", "limit": 1000}),
        )
        .await
        .1;
    let all: Vec<Value> = all["ids"].as_array().unwrap().clone();
    assert_eq!(all.len(), 20, "the demo data has 20 orders");
    let mut seen = Vec::new();
    let mut offset = Value::from(0);
    let mut pages = 0;
    while !offset.is_null() {
        let (status, body) = h.post(&hook, json!({"model": "sale.order", "method": "search", "order": "id", "limit": 7, "offset": offset})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["count"].as_u64().unwrap() as usize,
            body["ids"].as_array().unwrap().len()
        );
        seen.extend(body["ids"].as_array().unwrap().iter().cloned());
        offset = body["next_offset"].clone();
        pages += 1;
    }
    assert_eq!((pages, seen), (3, all));
    let (_, body) = h
        .post(
            &hook,
            json!({"model": "sale.order", "method": "search", "order": "id", "limit": 10, "offset": 10}),
        )
        .await;
    assert_eq!(
        body["next_offset"],
        Value::Null,
        "a page ending exactly at the last record is the last page"
    );
    let (_, body) = h.post(&hook, json!({"model": "sale.order", "method": "search", "limit": 2, "order": "id desc", "domain": [["state", "=", "draft"]]})).await;
    assert_eq!(
        body,
        json!({"ok": true, "count": 2, "ids": [5, 3], "next_offset": 2})
    );
}

#[tokio::test]
async fn search_defaults_to_odoos_page_size_and_caps_the_limit() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.limits.max_search_limit = 50).await;
    let (status, body) = h
        .post(&hook, json!({"model": "res.country", "method": "search"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["count"].as_u64(), body["next_offset"].as_u64()),
        (Some(80), Some(80))
    );
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.country", "method": "search", "limit": 51}),
        )
        .await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("limit_too_large")));
}

#[tokio::test]
async fn the_largest_limit_an_operator_allows_is_served_whole() {
    let h = Harness::start().await;
    let hook = h.hook(|c| c.limits.max_search_limit = u32::MAX).await;
    let all = json!({"model": "res.country", "method": "search", "limit": u32::MAX});
    let (status, body) = h.post(&hook, all).await;
    assert_eq!((status, body["next_offset"].is_null()), (200, true), "{body}");
    let page = json!({"model": "res.country", "method": "search", "limit": 2});
    assert_eq!(h.post(&hook, page).await.1["count"], 2);
    assert!(body["count"].as_u64().unwrap() > 2);
}

#[tokio::test]
async fn odoo_faults_become_typed_json_errors() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "create", "values": {"email": "nameless@example.com"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        (body["error"].as_str(), body["kind"].as_str()),
        (Some("odoo_error"), Some("ValidationError"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Contacts require a name"),
        "{body}"
    );
    assert!(!body.to_string().contains("Traceback"));

    let (status, body) = h
        .post(
            &hook,
            json!({"model": "sale.order", "method": "unlink", "ids": [4]}),
        )
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (400, Some("UserError")),
        "{body}"
    );

    let (status, body) = h
        .post(&hook, json!({"model": "no.such.model", "method": "search"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str(), body["kind"].as_str()),
        (400, Some("odoo_error"), Some("UserError")),
        "{body}"
    );

    let integrator = h.hook(|c| c.odoo = h.odoo("integrator")).await;
    let (status, body) = h
        .post(
            &integrator,
            json!({"model": "sale.order", "method": "read", "ids": [16], "fields": ["name"]}),
        )
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (403, Some("AccessError")),
        "{body}"
    );
    let (status, body) = h
        .post(
            &integrator,
            json!({"model": "res.partner", "method": "unlink", "ids": [10]}),
        )
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (403, Some("AccessError")),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_value_fields_are_refused_before_odoo_sees_the_write() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "method": "create", "values": {"name": "X", "no_such_field": 1}}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (400, Some("invalid_field"), Some("no_such_field"))
    );
    assert!(!h.calls().iter().any(|(_, m)| m == "create"), "{:?}", h.calls());
}
