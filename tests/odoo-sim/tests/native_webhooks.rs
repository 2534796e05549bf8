//! Conformance of the simulator's native webhook POSTs with the requests a real Odoo 18 sent
//! (`golden/webhooks/`, captured as received): request line, headers in order, body bytes, how many POSTs one
//! call makes, what a reader sees meanwhile, the 1 s timeout, failures, and phantom events of rolled-back calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Odoo;
use common::receiver::{Captured, Mode, Receiver};
use odoo_sim::{Fault, FaultPlan, FaultTimes, SimConfig};
use serde_json::{Value, json};

/// The captures' receiver port, replaced by ours in `Host`.
const CAPTURE_HOST: &str = "127.0.0.1:42679";
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn capture(name: &str) -> Value {
    let path = format!("{}/golden/webhooks/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Datetimes become `<dt>` or `<dt.us>` (with microseconds): their values differ, their shape must not.
fn shape_datetimes(s: &str) -> String {
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
fn assert_conforms(got: &Captured, rx: &Receiver, expected: &Value, substitutions: &[(&str, String)]) {
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

async fn model_id(o: &Odoo, model: &str) -> i64 {
    o.ok("ir.model", "search", json!([[["model", "=", model]]]), json!({}))
        .await[0]
        .as_i64()
        .unwrap()
}

async fn fields(o: &Odoo, model: &str, names: &[&str]) -> Vec<i64> {
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

async fn started() -> (Odoo, Receiver) {
    let o = Odoo::start_with(SimConfig {
        base_automation: true,
        ..SimConfig::default()
    })
    .await;
    (o, Receiver::start().await)
}

/// A webhook action on `model` and an automation rule running it; returns the action's id.
#[allow(clippy::too_many_arguments)]
async fn rule(
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

const PARTNER_FIELDS: &[&str] = &["name", "email", "country_id", "category_id"];

fn probe(o: &Odoo, id: i64, fields: &[&str]) -> Mode {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_save_rule_without_watched_fields_matches_captures_01_02_03() {
    let (o, rx) = started().await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    let action = rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        &[],
        "[('name', '=like', 'WHCAP%')]",
    )
    .await;
    assert_eq!(action, 395, "the recording server's next action id");
    rx.set_mode(probe(&o, 44, &["name", "email", "category_id", "write_date"]));

    let id = o
        .ok("res.partner", "create",
            json!([{"name": "WHCAP Alice", "email": "alice@example.com", "country_id": 75, "category_id": [[6, 0, [4, 7]]]}]),
            json!({}))
        .await;
    assert_eq!(id, 44);
    let got = rx.requests();
    let dup = capture("01b-partner-create-all-13-duplicates");
    assert_eq!(
        got.len(),
        dup["count"].as_u64().unwrap() as usize,
        "POSTs for one create"
    );
    for (g, want) in got.iter().zip(dup["requests"].as_array().unwrap()) {
        assert_conforms(g, &rx, &json!({"request": want}), &[]);
    }
    assert_conforms(&got[0], &rx, &capture("01-partner-create"), &[]);
    assert_eq!(
        got[0].probe,
        Some(json!([])),
        "the new partner is not visible while Odoo waits"
    );
    assert_eq!(
        o.ok("res.partner", "search", json!([[["id", "=", 44]]]), json!({}))
            .await,
        json!([44])
    );

    rx.clear();
    o.ok(
        "res.partner",
        "write",
        json!([[44], {"email": "alice.new@example.com", "category_id": [[4, 3]]}]),
        json!({}),
    )
    .await;
    let got = rx.requests();
    assert_eq!(
        got.len(),
        2,
        "write email: one POST, plus email_normalized's recompute"
    );
    let c = capture("02-partner-write");
    for g in &got {
        assert_conforms(g, &rx, &c, &[]);
    }
    let seen = &got[0].probe.as_ref().unwrap()[0];
    assert_eq!(
        seen["email"], "alice@example.com",
        "the old email while Odoo waits"
    );
    assert_eq!(seen["category_id"], json!([4, 7]));

    rx.clear();
    o.ok(
        "res.partner",
        "write",
        json!([[44], {"country_id": false, "email": false, "category_id": [[5]]}]),
        json!({}),
    )
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 5, "clearing 3 fields: one POST plus 4 recomputes");
    let c = capture("03-partner-write-cleared-values");
    for g in &got {
        assert_conforms(g, &rx, &c, &[]);
    }
    assert_eq!(
        got[0].probe.as_ref().unwrap()[0]["email"],
        "alice.new@example.com"
    );
    assert_eq!(o.sim.sim.webhook_calls().len(), 13 + 2 + 5);
    assert!(
        o.sim
            .sim
            .webhook_calls()
            .iter()
            .all(|c| c.status == Some(200) && c.warning.is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watched_fields_send_one_post_per_change_as_summary_30_counts() {
    let (o, rx) = started().await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        "[('name', '=like', 'WHCAP%')]",
    )
    .await;
    let summary = capture("30-failure-and-timing-summary");
    let runs = summary["duplicates_by_trigger_fields"].as_array().unwrap();
    let id = o
        .ok(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Dave", "email": "dave@example.com", "country_id": 75}]),
            json!({}),
        )
        .await
        .as_i64()
        .unwrap();
    let steps: [(Value, usize); 3] = [
        (json!({"email": "a3@example.com"}), 3),
        (json!({"phone": "+1 555 0100"}), 4),
        (json!({"email": "a3@example.com"}), 5),
    ];
    assert_eq!(
        rx.requests().len(),
        runs[2]["n_captures"].as_u64().unwrap() as usize,
        "{}",
        runs[2]["op"]
    );
    let want_body = runs[2]["bodies"][0]
        .as_str()
        .unwrap()
        .replace("\"_id\": 47", &format!("\"_id\": {id}"))
        .replace("\"id\": 47", &format!("\"id\": {id}"));
    assert_eq!(rx.requests()[0].body, want_body);
    for (vals, run) in steps {
        rx.clear();
        o.ok("res.partner", "write", json!([[id], vals]), json!({})).await;
        assert_eq!(
            rx.requests().len(),
            runs[run]["n_captures"].as_u64().unwrap() as usize,
            "{}",
            runs[run]["op"]
        );
    }
    // Another name: the rule's domain does not match, nothing is sent.
    rx.clear();
    o.ok(
        "res.partner",
        "create",
        json!([{"name": "Someone else", "email": "x@example.com"}]),
        json!({}),
    )
    .await;
    assert!(rx.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_rule_fires_on_action_confirm_only_as_capture_04() {
    let (o, rx) = started().await;
    let partner_url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &partner_url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        "[('name', '=like', 'WHCAP%')]",
    )
    .await;
    let order_fields = [
        "amount_total",
        "amount_untaxed",
        "client_order_ref",
        "create_date",
        "currency_id",
        "date_order",
        "name",
        "note",
        "order_line",
        "partner_id",
        "require_signature",
        "state",
        "tag_ids",
        "user_id",
        "validity_date",
        "write_date",
    ];
    let sel = o
        .ok(
            "ir.model.fields.selection",
            "search",
            json!([[
                ["field_id.model", "=", "sale.order"],
                ["field_id.name", "=", "state"],
                ["value", "=", "sale"]
            ]]),
            json!({}),
        )
        .await[0]
        .clone();
    let mid = model_id(&o, "sale.order").await;
    let payload = fields(&o, "sale.order", &order_fields).await;
    let action = o
        .ok("ir.actions.server", "create",
            json!([{"name": "WHCAP order webhook", "state": "webhook", "model_id": mid,
                    "webhook_url": format!("{}/odoo/sale.order", rx.url), "webhook_field_ids": [[6, 0, payload]]}]),
            json!({}))
        .await;
    assert_eq!(action, 396);
    o.ok(
        "base.automation",
        "create",
        json!([{"name": "WHCAP order confirmed", "model_id": mid, "trigger": "on_state_set",
                "trg_selection_field_id": sel, "action_server_ids": [[6, 0, [action]]]}]),
        json!({}),
    )
    .await;
    let partner = o
        .ok(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Alice", "email": "alice@example.com", "country_id": 75}]),
            json!({}),
        )
        .await;
    assert_eq!(partner, 44);
    rx.clear();
    let order = o
        .ok("sale.order", "create",
            json!([{"partner_id": 44, "client_order_ref": "WHCAP", "note": "<p>Gateway test</p>", "validity_date": "2026-12-31",
                    "tag_ids": [[6, 0, [1]]], "order_line": [[0, 0, {"product_id": 5, "product_uom_qty": 1, "price_unit": 1500.0}]]}]),
            json!({}))
        .await;
    assert_eq!(order, 23);
    assert!(rx.requests().is_empty(), "creating the draft sends nothing");
    rx.set_mode(Mode {
        probe: Some((
            o.sim.url.clone(),
            "sale.order".into(),
            json!([["id", "=", 23]]),
            json!(["name", "state", "write_date"]),
        )),
        ..Mode::default()
    });
    o.ok("sale.order", "action_confirm", json!([[23]]), json!({}))
        .await;
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    assert_conforms(&got[0], &rx, &capture("04-sale-order-confirm"), &[]);
    assert_eq!(
        got[0].probe.as_ref().unwrap()[0]["state"],
        "draft",
        "the confirmation is not visible yet"
    );
    rx.clear();
    o.ok(
        "sale.order",
        "write",
        json!([[23], {"client_order_ref": "WHCAP later"}]),
        json!({}),
    )
    .await;
    assert!(rx.requests().is_empty(), "a later write sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn field_types_encode_as_capture_05_and_no_fields_as_06() {
    let (o, rx) = started().await;
    let all = [
        "active",
        "category_id",
        "child_ids",
        "color",
        "comment",
        "company_id",
        "complete_name",
        "create_date",
        "debit_limit",
        "email_formatted",
        "image_128",
        "is_company",
        "lang",
        "name",
        "parent_id",
        "partner_latitude",
        "state_id",
        "type",
        "tz",
        "user_id",
        "write_date",
    ];
    let types = rule(
        &o,
        "res.partner",
        "WHTYPES all types",
        &format!("{}/odoo/types", rx.url),
        &all,
        json!({"trigger": "on_create"}),
        &[],
        "[('name', '=like', 'WHTYPES%')]",
    )
    .await;
    let none = rule(
        &o,
        "res.partner",
        "WHTYPES no fields",
        &format!("{}/odoo/types?variant=nofields", rx.url),
        &[],
        json!({"trigger": "on_create"}),
        &[],
        "[('name', '=like', 'WHTYPES%')]",
    )
    .await;
    // debit_limit is company-dependent: the simulator has no default for it, so the create sets it.
    let id = o
        .ok("res.partner", "create",
            json!([{"name": "WHTYPES Eve", "parent_id": 15, "comment": "<p>Hi <b>there</b> \"quoted\" &amp; \u{e9}</p>",
                    "color": 3, "image_1920": PNG_1X1, "partner_latitude": 48.8566, "user_id": 2, "lang": "en_US",
                    "debit_limit": 0.0}]),
            json!({}))
        .await
        .as_i64()
        .unwrap();
    let got = rx.requests();
    assert_eq!(got.len(), 2, "on_create rules run once, with no re-entries");
    let ids = |a: &'static str, n: i64| -> Vec<(&'static str, String)> {
        vec![
            (a, format!("(#{n})")),
            ("\"_id\": 48", format!("\"_id\": {id}")),
            ("\"id\": 48", format!("\"id\": {id}")),
        ]
    };
    let typed = got
        .iter()
        .find(|g| g.request_line.starts_with("POST /odoo/types "))
        .unwrap();
    assert_conforms(
        typed,
        &rx,
        &capture("05-partner-all-field-types"),
        &ids("(#397)", types),
    );
    let bare = got.iter().find(|g| g.request_line.contains("nofields")).unwrap();
    assert_conforms(
        bare,
        &rx,
        &capture("06-partner-no-webhook-fields"),
        &ids("(#398)", none),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_failing_after_the_webhook_leaves_a_phantom_event_as_capture_07() {
    let (o, rx) = started().await;
    let mid = model_id(&o, "res.partner").await;
    let payload = fields(&o, "res.partner", &["name", "email"]).await;
    let hook = o
        .ok("ir.actions.server", "create",
            json!([{"name": "WHROLL webhook", "state": "webhook", "model_id": mid, "sequence": 1,
                    "webhook_url": format!("{}/odoo/rollback", rx.url), "webhook_field_ids": [[6, 0, payload]]}]),
            json!({}))
        .await
        .as_i64()
        .unwrap();
    let fail = o
        .ok(
            "ir.actions.server",
            "create",
            json!([{"name": "WHROLL fail", "state": "code", "model_id": mid, "sequence": 2,
                    "code": "raise UserError('simulated failure after the webhook')"}]),
            json!({}),
        )
        .await;
    o.ok("base.automation", "create",
        json!([{"name": "WHROLL", "model_id": mid, "trigger": "on_create_or_write", "filter_domain": "[('name', '=like', 'WHROLL%')]",
                "action_server_ids": [[6, 0, [hook, fail]]]}]), json!({}))
        .await;
    rx.set_mode(probe(&o, 44, &["name"]));
    let (name, message) = o
        .err(
            "res.partner",
            "create",
            json!([{"name": "WHROLL Frank", "email": "frank@example.com"}]),
            json!({}),
        )
        .await;
    assert_eq!(
        (name.as_str(), message.as_str()),
        ("odoo.exceptions.UserError", "simulated failure after the webhook")
    );
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let subs = [
        ("(#399)", format!("(#{hook})")),
        ("\"_id\": 49", "\"_id\": 44".to_owned()),
        ("\"id\": 49", "\"id\": 44".to_owned()),
    ];
    assert_conforms(&got[0], &rx, &capture("07-rollback-phantom-event"), &subs);
    assert_eq!(got[0].probe, Some(json!([])));
    assert_eq!(
        o.ok(
            "res.partner",
            "search",
            json!([[["name", "=like", "WHROLL%"]]]),
            json!({})
        )
        .await,
        json!([])
    );

    // A constraint failing on a later record of the same create: the first record's event went out too.
    rx.clear();
    let (name, _) = o
        .err(
            "res.partner",
            "create",
            json!([[{"name": "WHROLL Gina"}, {"name": false}]]),
            json!({}),
        )
        .await;
    assert_eq!(
        name, "odoo.exceptions.UserError",
        "the first record's rule fails the call first"
    );
    assert_eq!(rx.requests().len(), 1);
    assert!(rx.requests()[0].body.contains("WHROLL Gina"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_later_constraint_failure_rolls_back_after_the_post() {
    let (o, rx) = started().await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        "",
    )
    .await;
    let (name, message) = o
        .err(
            "res.partner",
            "create",
            json!([[{"name": "WHCAP Hal"}, {"name": false}]]),
            json!({}),
        )
        .await;
    assert_eq!(name, "odoo.exceptions.ValidationError");
    assert!(message.contains("Contacts require a name"));
    let got = rx.requests();
    assert_eq!(
        got.len(),
        1,
        "the first record's POST went out before the second failed"
    );
    assert!(got[0].body.contains("\"_id\": 44") && got[0].body.contains("WHCAP Hal"));
    assert_eq!(
        o.ok(
            "res.partner",
            "search",
            json!([[["name", "=", "WHCAP Hal"]]]),
            json!({})
        )
        .await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_receiver_costs_the_user_one_second_as_capture_08() {
    let (o, rx) = started().await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        "[('name', '=like', 'WHCAP%')]",
    )
    .await;
    o.ok(
        "res.partner",
        "create",
        json!([{"name": "WHCAP Alice", "email": "alice@example.com"}]),
        json!({}),
    )
    .await;
    rx.clear();
    rx.set_mode(Mode {
        delay: Duration::from_secs(3),
        ..Mode::default()
    });
    let started = Instant::now();
    o.ok(
        "res.partner",
        "write",
        json!([[44], {"email": "slow@example.com"}]),
        json!({}),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(990) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    assert_conforms(&rx.requests()[0], &rx, &capture("08-slow-receiver-3s"), &[]);
    let last = o.sim.sim.webhook_calls().pop().unwrap();
    assert_eq!(last.status, None);
    assert!(
        last.warning
            .unwrap()
            .starts_with("Webhook call timed out after 1s - it may or may not have failed.")
    );
    let r = o
        .ok("res.partner", "read", json!([[44], ["email"]]), json!({}))
        .await;
    assert_eq!(r[0]["email"], "slow@example.com", "the write committed anyway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linked_action_is_renamed_and_batch_writes_post_per_record_as_capture_09() {
    let (o, rx) = started().await;
    let action = rule(
        &o,
        "res.partner",
        "WHUI first name",
        "http://127.0.0.1:9/",
        &["name", "email"],
        json!({"trigger": "on_create_or_write"}),
        &["name"],
        "[('name', '=like', 'WHUI%')]",
    )
    .await;
    o.ok(
        "ir.actions.server",
        "write",
        json!([[action], {"webhook_url": format!("{}/odoo/ui", rx.url)}]),
        json!({}),
    )
    .await;
    let a = o
        .ok(
            "res.partner",
            "create",
            json!([[{"name": "WHUI one"}, {"name": "WHUI two"}]]),
            json!({}),
        )
        .await;
    let ids: Vec<i64> = serde_json::from_value(a).unwrap();
    rx.clear();
    o.ok(
        "res.partner",
        "write",
        json!([ids, {"name": "WHUI renamed"}]),
        json!({}),
    )
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 2, "one POST per record");
    let subs = |id: i64| {
        [
            ("(#403)", format!("(#{action})")),
            ("\"_id\": 52", format!("\"_id\": {id}")),
            ("\"id\": 52", format!("\"id\": {id}")),
        ]
    };
    for (g, id) in got.iter().zip(&ids) {
        assert_conforms(g, &rx, &capture("09-ui-style-action-name"), &subs(*id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receiver_errors_are_only_warnings_as_capture_10() {
    let (o, rx) = started().await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        "[('name', '=like', 'WHCAP%')]",
    )
    .await;
    o.ok(
        "res.partner",
        "create",
        json!([{"name": "WHCAP Alice", "email": "alice@example.com"}]),
        json!({}),
    )
    .await;
    rx.clear();
    rx.set_mode(Mode {
        status: 500,
        ..Mode::default()
    });
    o.ok(
        "res.partner",
        "write",
        json!([[44], {"email": "e500@example.com"}]),
        json!({}),
    )
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 1, "no retry");
    assert_conforms(&got[0], &rx, &capture("10-receiver-answers-500"), &[]);
    let last = o.sim.sim.webhook_calls().pop().unwrap();
    assert_eq!(last.status, Some(500));
    assert_eq!(
        last.warning.unwrap(),
        format!("Webhook call failed: 500 Server Error: Internal Server Error for url: {url}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_or_foreign_targets_never_fail_the_call() {
    let (o, _rx) = started().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (url, warning) in [
        (format!("http://127.0.0.1:{closed}/down"), "Connection refused".to_owned()),
        ("not a url".to_owned(), "Webhook call failed: Invalid URL 'not a url': No scheme supplied. Perhaps you meant https://not a url?".to_owned()),
        ("http://10.255.255.1:81/blackhole".to_owned(), "is not a loopback address".to_owned()),
    ] {
        let o2 = &o;
        let action = rule(o2, "res.partner", "WHDOWN", &url, &["name"], json!({"trigger": "on_create"}), &[], "").await;
        let id = o.ok("res.partner", "create", json!([{"name": "WHDOWN x"}]), json!({})).await;
        assert!(id.is_i64(), "the user's create succeeds");
        let last = o.sim.sim.webhook_calls().pop().unwrap();
        assert_eq!(last.url, url);
        assert_eq!(last.status, None);
        // Failing fast: nothing waited for the 1 s timeout.
        assert!(last.elapsed_ms < 900, "{url}: {last:?}");
        assert!(last.warning.as_deref().unwrap_or_default().contains(&warning), "{url}: {last:?}");
        o.ok("ir.actions.server", "write", json!([[action], {"webhook_url": false}]), json!({})).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_action_run_over_rpc_posts_for_the_active_records() {
    let (o, rx) = started().await;
    let mid = model_id(&o, "res.partner").await;
    let payload = fields(&o, "res.partner", &["name"]).await;
    let action = o
        .ok(
            "ir.actions.server",
            "create",
            json!([{"name": "WHRUN", "state": "webhook", "model_id": mid,
                    "webhook_url": format!("{}/odoo/run", rx.url), "webhook_field_ids": [[6, 0, payload]]}]),
            json!({}),
        )
        .await;
    let r = o
        .ok(
            "ir.actions.server",
            "run",
            json!([[action]]),
            json!({"context": {"active_model": "res.partner", "active_ids": [15, 3]}}),
        )
        .await;
    assert_eq!(r, json!(false));
    let bodies: Vec<String> = rx.requests().into_iter().map(|c| c.body).collect();
    assert_eq!(
        bodies,
        [
            "{\"_action\": \"WHRUN(#395)\", \"_id\": 15, \"_model\": \"res.partner\", \"id\": 15, \"name\": \"Azure Interior\"}",
            "{\"_action\": \"WHRUN(#395)\", \"_id\": 3, \"_model\": \"res.partner\", \"id\": 3, \"name\": \"Mitchell Admin\"}",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_retries_rerun_the_call_and_resend_its_webhooks() {
    let (o, rx) = started().await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    rule(
        &o,
        "res.partner",
        "WHCAP partner webhook",
        &url,
        PARTNER_FIELDS,
        json!({"trigger": "on_create_or_write"}),
        PARTNER_FIELDS,
        "[('name', '=like', 'WHCAP%')]",
    )
    .await;
    let retries = |n| FaultPlan {
        fault: Fault::ConcurrencyRetries(n),
        times: FaultTimes::Next(1),
    };
    o.sim.sim.inject_fault(retries(2));
    let id = o
        .ok(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Retry"}]),
            json!({}),
        )
        .await;
    assert_eq!(id, 46, "each try consumed an id");
    let ids: Vec<String> = rx
        .requests()
        .iter()
        .map(|c| c.body[c.body.find("\"_id\"").unwrap()..][..10].to_owned())
        .collect();
    assert_eq!(
        ids,
        ["\"_id\": 44,", "\"_id\": 45,", "\"_id\": 46,"],
        "two phantom events, then the real one"
    );
    assert_eq!(
        o.ok(
            "res.partner",
            "search",
            json!([[["name", "=", "WHCAP Retry"]]]),
            json!({})
        )
        .await,
        json!([46])
    );

    rx.clear();
    o.sim.sim.inject_fault(retries(9));
    let (name, _) = o
        .err(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Never"}]),
            json!({}),
        )
        .await;
    assert_eq!(name, "psycopg2.errors.SerializationFailure");
    assert_eq!(rx.requests().len(), 5, "Odoo gives up after 5 tries");
    assert_eq!(
        o.ok(
            "res.partner",
            "search",
            json!([[["name", "=", "WHCAP Never"]]]),
            json!({})
        )
        .await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletion_rules_post_before_the_record_goes() {
    let (o, rx) = started().await;
    rule(
        &o,
        "res.partner",
        "WHDEL",
        &format!("{}/odoo/unlink", rx.url),
        &["name"],
        json!({"trigger": "on_unlink"}),
        &[],
        "[('name', '=like', 'WHDEL%')]",
    )
    .await;
    let id = o
        .ok("res.partner", "create", json!([{"name": "WHDEL Ivy"}]), json!({}))
        .await
        .as_i64()
        .unwrap();
    assert!(rx.requests().is_empty());
    o.ok("res.partner", "unlink", json!([[id]]), json!({})).await;
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body,
        format!(
            "{{\"_action\": \"WHDEL(#395)\", \"_id\": {id}, \"_model\": \"res.partner\", \"id\": {id}, \"name\": \"WHDEL Ivy\"}}"
        )
    );
    assert_eq!(
        o.ok("res.partner", "search", json!([[["id", "=", id]]]), json!({}))
            .await,
        json!([])
    );
}
