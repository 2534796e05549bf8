//! Helpers of the native webhook conformance tests: the captures, their comparison with what the simulator sent,
//! and automation rules set up over RPC.

use odoo_sim::SimConfig;

use super::Odoo;
use super::receiver::{Captured, Mode, Receiver};
use serde_json::{Value, json};

/// The captures' receiver port, replaced by ours in `Host`.
pub const CAPTURE_HOST: &str = "127.0.0.1:42679";
pub const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

pub fn capture(name: &str) -> Value {
    let path = format!("{}/golden/webhooks/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Datetimes become `<dt>` or `<dt.us>` (with microseconds): their values differ, their shape must not.
pub fn shape_datetimes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let digits = |from: usize, pattern: &str| {
        b.len() >= from + pattern.len()
            && pattern
                .bytes()
                .zip(&b[from..])
                .all(|(p, c)| if p == b'9' { c.is_ascii_digit() } else { p == *c })
    };
    while i < b.len() {
        if digits(i, "9999-99-99 99:99:99.999999") {
            out.push_str("<dt.us>");
            i += 26;
        } else if digits(i, "9999-99-99 99:99:99") {
            out.push_str("<dt>");
            i += 19;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Checks one received request against a capture's: request line, header names, order and values, body.
pub fn assert_conforms(got: &Captured, rx: &Receiver, expected: &Value, substitutions: &[(&str, String)]) {
    let req = &expected["request"];
    assert_eq!(got.request_line, req["request_line"].as_str().unwrap());
    let want_headers: Vec<(String, String)> = req["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let (k, v) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
            let v = if k == "Host" {
                v.replace(CAPTURE_HOST, &format!("127.0.0.1:{}", rx.port))
            } else {
                v.to_owned()
            };
            (k.to_owned(), v)
        })
        .collect();
    let mut body = req["body_raw"].as_str().unwrap().to_owned();
    for (from, to) in substitutions {
        body = body.replace(from, to);
    }
    let mut want_headers = want_headers;
    if let Some(len) = want_headers.iter_mut().find(|(k, _)| k == "Content-Length") {
        len.1 = body.len().to_string();
    }
    assert_eq!(got.headers, want_headers);
    assert_eq!(shape_datetimes(&got.body), shape_datetimes(&body));
}

pub async fn model_id(o: &Odoo, model: &str) -> i64 {
    o.ok("ir.model", "search", json!([[["model", "=", model]]]), json!({}))
        .await[0]
        .as_i64()
        .unwrap()
}

pub async fn fields(o: &Odoo, model: &str, names: &[&str]) -> Vec<i64> {
    let r = o
        .ok(
            "ir.model.fields",
            "search",
            json!([[["model", "=", model], ["name", "in", names]]]),
            json!({}),
        )
        .await;
    let ids: Vec<i64> = serde_json::from_value(r).unwrap();
    assert_eq!(ids.len(), names.len());
    ids
}

pub async fn started() -> (Odoo, Receiver) {
    let o = Odoo::start_with(SimConfig {
        base_automation: true,
        ..SimConfig::default()
    })
    .await;
    (o, Receiver::start().await)
}

/// A webhook action on `model` and an automation rule running it; returns the action's id.
#[allow(clippy::too_many_arguments)]
pub async fn rule(
    o: &Odoo,
    model: &str,
    action_name: &str,
    url: &str,
    payload: &[&str],
    trigger: Value,
    watched: &[&str],
    domain: &str,
) -> i64 {
    let mid = model_id(o, model).await;
    let payload_ids = if payload.is_empty() {
        vec![]
    } else {
        fields(o, model, payload).await
    };
    let action = o
        .ok(
            "ir.actions.server",
            "create",
            json!([{"name": action_name, "state": "webhook", "model_id": mid, "webhook_url": url,
                    "webhook_field_ids": [[6, 0, payload_ids]]}]),
            json!({}),
        )
        .await
        .as_i64()
        .unwrap();
    let watched_ids = if watched.is_empty() {
        vec![]
    } else {
        fields(o, model, watched).await
    };
    let mut vals = json!({"name": format!("{action_name} rule"), "model_id": mid, "action_server_ids": [[6, 0, [action]]],
        "trigger_field_ids": [[6, 0, watched_ids]], "filter_domain": domain});
    for (k, v) in trigger.as_object().unwrap() {
        vals[k] = v.clone();
    }
    o.ok("base.automation", "create", json!([vals]), json!({})).await;
    action
}

pub const PARTNER_FIELDS: &[&str] = &["name", "email", "country_id", "category_id"];

/// The captures' partner rule: a webhook action posting `PARTNER_FIELDS` to the receiver's `/odoo/res.partner`,
/// run on create or write of those fields for records in `domain`; returns the action's id.
pub async fn partner_capture_rule(o: &Odoo, rx: &Receiver, domain: &str) -> i64 {
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        domain,
    )
    .await
}

pub fn probe(o: &Odoo, id: i64, fields: &[&str]) -> Mode {
    Mode {
        probe: Some((
            o.sim.url.clone(),
            "res.partner".into(),
            json!([["id", "=", id]]),
            json!(fields),
        )),
        ..Mode::default()
    }
}
