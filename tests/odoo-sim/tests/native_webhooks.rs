//! Conformance of the simulator's native webhook POSTs with the requests a real Odoo 18 sent
//! (`golden/webhooks/`, captured as received): request line, headers in order, body bytes, how many POSTs one
//! call makes, what a reader sees meanwhile, the 1 s timeout, failures, and phantom events of rolled-back calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::native::*;
use common::receiver::Mode;
use serde_json::{Value, json};

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
    partner_capture_rule(&o, &rx, "[('name', '=like', 'WHCAP%')]").await;
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
    partner_capture_rule(&o, &rx, "").await;
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
