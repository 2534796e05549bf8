//! Hostile bodies over real HTTP: nothing a caller sends crashes or stalls the gateway (or the simulator it
//! talks to in the same process), caps are named in a 400, and a rejected call changes and stores nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::Harness;
use serde_json::{Value, json};

async fn healthy(h: &Harness) {
    let answer = h.http.get(format!("{}/healthz", h.url)).send().await.unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn an_unauthenticated_json5_bomb_is_401_and_neither_parsed_nor_logged() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    for open in ["[//\r", "[// \u{2028}", "[// \u{2029}", "{a:[/**/", "["] {
        let body = open.repeat(20_000 / open.len());
        let (status, _) = h
            .post_raw(&hook.id(), Some("bcw_wrong"), body.clone().into_bytes())
            .await;
        assert_eq!(status, 401, "{open:?}");
        let (status, answer) = h
            .post_raw(&hook.id(), Some(hook.secret.expose()), body.into_bytes())
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_json")),
            "{open:?}"
        );
        healthy(&h).await;
    }
    let entries = h.log_entries(&hook, 10).await;
    let rejected: Vec<_> = entries.iter().filter(|e| e.status == 401).collect();
    assert_eq!(rejected.len(), 5);
    assert!(rejected.iter().all(|e| e.request_body.is_empty()), "{rejected:?}");
}

#[tokio::test]
async fn long_and_deep_domains_are_answered_or_refused_by_name() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let term = json!(["id", "!=", 0]);
    let search =
        |domain: Value| json!({"model": "res.partner", "method": "search", "domain": domain, "limit": 1});

    let flat = Value::Array(vec![term.clone(); 1000]);
    let (status, body) = h.post(&hook, search(flat)).await;
    assert_eq!(status, 200, "{body}");
    let mut ored = vec![json!("|"); 999];
    ored.extend(std::iter::repeat_n(term.clone(), 1000));
    let (status, body) = h.post(&hook, search(Value::Array(ored))).await;
    assert_eq!(status, 200, "{body}");

    let too_long = Value::Array(vec![term.clone(); 20_000]);
    let (status, body) = h.post(&hook, search(too_long)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_domain")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("at most"), "{body}");

    let mut any = json!([term.clone()]);
    for _ in 0..50 {
        any = json!([["child_ids", "any", any]]);
    }
    let (status, body) = h.post(&hook, search(any)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("'any'"), "{body}");

    let mut alternating: Vec<Value> = (0..500)
        .map(|i| json!(if i % 2 == 0 { "&" } else { "|" }))
        .collect();
    alternating.extend(std::iter::repeat_n(term, 501));
    let (status, body) = h.post(&hook, search(Value::Array(alternating))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nest"), "{body}");
    healthy(&h).await;
}

async fn nameless(h: &Harness, hook: &common::Hook) -> u64 {
    let search = json!({"model": "res.partner", "method": "search", "domain": [["name", "=", "Nameless"]]});
    h.post(hook, search).await.1["count"].as_u64().unwrap()
}

#[tokio::test]
async fn requests_mean_what_they_say() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    let (status, body) = h
        .post(
            &hook,
            json!({"model": "res.partner", "values": {"name": "Nameless"}}),
        )
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("missing_method")),
        "{body}"
    );
    assert_eq!(
        nameless(&h, &hook).await,
        0,
        "a body without method created a record"
    );
    for (body, key) in [
        (
            json!({"model": "res.partner", "method": "read", "ids": [10], "domain": [["id", "=", 11]]}),
            "domain",
        ),
        (
            json!({"model": "res.partner", "method": "create", "ids": [10], "values": {"name": "Nameless"}}),
            "ids",
        ),
        (
            json!({"model": "res.partner", "method": "default_payload", "values": {}}),
            "values",
        ),
    ] {
        let (status, answer) = h.post(&hook, body.clone()).await;
        assert_eq!(
            (status, answer["reason"].as_str()),
            (400, Some("unused_key")),
            "{body}: {answer}"
        );
        assert!(answer["message"].as_str().unwrap().contains(key), "{answer}");
    }
    assert_eq!(nameless(&h, &hook).await, 0);

    let (status, body) = h.get(&hook, "required?model=sale.order&values=not-json").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("invalid_values")),
        "{body}"
    );
    let (status, body) = h.get(&hook, "schema?model=res.partner&method=anything").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("invalid_method")),
        "{body}"
    );
    let (status, _) = h.get(&hook, "schema?model=res.partner&method=write").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn records_that_do_not_exist_are_never_reported() {
    let h = Harness::start().await;
    let hook = h.hook(|_| {}).await;
    for fields in [json!(["id"]), json!([{"id": []}]), json!(["id", "name"])] {
        let read = |ids: Value| json!({"model": "res.partner", "method": "read", "ids": ids, "fields": fields.clone()});
        let (status, body) = h.post(&hook, read(json!([999_999]))).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{fields}: {body}"
        );
        let (status, body) = h.post(&hook, read(json!([10, 999_999]))).await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<i64> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [10], "{fields}: {body}");
    }
}
