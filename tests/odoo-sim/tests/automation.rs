//! The automation models over JSON-RPC: `ir.model*` generated from the registry, the `base_automation` install
//! state, and the pitfalls of configuring rules and webhook actions that Odoo 18 showed over RPC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Odoo;
use odoo_sim::SimConfig;
use serde_json::{Value, json};

async fn installed() -> Odoo {
    Odoo::start_with(SimConfig {
        base_automation: true,
        ..SimConfig::default()
    })
    .await
}

async fn model_id(o: &Odoo, model: &str) -> i64 {
    let r = o
        .ok("ir.model", "search", json!([[["model", "=", model]]]), json!({}))
        .await;
    r[0].as_i64().expect("the model is listed")
}

async fn field_ids(o: &Odoo, model: &str, names: &[&str]) -> Vec<i64> {
    let r = o
        .ok(
            "ir.model.fields",
            "search_read",
            json!([[["model", "=", model], ["name", "in", names]]]),
            json!({"fields": ["name"]}),
        )
        .await;
    let mut ids: Vec<(String, i64)> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(ids.len(), names.len(), "{names:?} on {model}: {r}");
    ids.sort_by_key(|(n, _)| names.iter().position(|x| x == n));
    ids.into_iter().map(|(_, id)| id).collect()
}

async fn read_one(o: &Odoo, model: &str, id: i64, fields: &[&str]) -> Value {
    o.ok(model, "read", json!([[id], fields]), json!({})).await[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_automation_exists_only_once_installed() {
    let o = Odoo::start().await;
    let (name, message) = o.err("base.automation", "search", json!([[]]), json!({})).await;
    assert_eq!(name, "odoo.exceptions.UserError");
    assert_eq!(message, "Object base.automation doesn't exist");
    let fields = o
        .ok(
            "ir.actions.server",
            "fields_get",
            json!([]),
            json!({"attributes": ["type"]}),
        )
        .await;
    assert!(fields.get("webhook_url").is_some() && fields.get("webhook_field_ids").is_some());
    assert!(fields.get("base_automation_id").is_none(), "{fields}");
    let module = o
        .ok(
            "ir.module.module",
            "search_read",
            json!([[["name", "=", "base_automation"]]]),
            json!({"fields": ["state"]}),
        )
        .await;
    assert_eq!(module[0]["state"], "uninstalled");
    let id = module[0]["id"].as_i64().unwrap();

    // The integrator may not install modules.
    let (name, _) = o
        .call_as(
            8,
            odoo_sim::DEFAULT_INTEGRATOR_API_KEY,
            "ir.module.module",
            "button_immediate_install",
            json!([[id]]),
            json!({}),
        )
        .await["error"]["data"]["name"]
        .as_str()
        .map(|n| (n.to_owned(), ()))
        .unwrap();
    assert_eq!(name, "odoo.exceptions.AccessError");

    let r = o
        .ok(
            "ir.module.module",
            "button_immediate_install",
            json!([[id]]),
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!({"type": "ir.actions.act_url", "target": "self", "url": "/odoo"})
    );
    assert!(o.sim.sim.base_automation_installed());
    assert_eq!(
        o.ok("base.automation", "search", json!([[]]), json!({})).await,
        json!([])
    );
    let fields = o
        .ok(
            "ir.actions.server",
            "fields_get",
            json!([["base_automation_id"]]),
            json!({}),
        )
        .await;
    assert_eq!(fields["base_automation_id"]["relation"], "base.automation");
    model_id(&o, "base.automation").await;

    // Back to the start state: reset restores the uninstalled module.
    o.sim.sim.reset();
    assert!(!o.sim.sim.base_automation_installed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_lists_the_simulated_models_and_fields() {
    let o = Odoo::start().await;
    let partner = model_id(&o, "res.partner").await;
    let row = read_one(&o, "ir.model", partner, &["model", "name", "is_mail_thread"]).await;
    assert_eq!(row["name"], "Contact");
    assert_eq!(row["is_mail_thread"], true);
    let fields = field_ids(&o, "res.partner", &["name", "email", "country_id", "category_id"]).await;
    let country = read_one(
        &o,
        "ir.model.fields",
        fields[2],
        &["ttype", "relation", "model_id"],
    )
    .await;
    assert_eq!(country["ttype"], "many2one");
    assert_eq!(country["relation"], "res.country");
    assert_eq!(country["model_id"][0], partner);
    let sel = o
        .ok(
            "ir.model.fields.selection",
            "search_read",
            json!([[
                ["field_id.model", "=", "sale.order"],
                ["field_id.name", "=", "state"]
            ]]),
            json!({"fields": ["value", "name"]}),
        )
        .await;
    let values: Vec<&str> = sel
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_str().unwrap())
        .collect();
    assert!(values.contains(&"sale") && values.contains(&"draft"), "{sel}");
    let states = o
        .ok("ir.actions.server", "fields_get", json!([["state"]]), json!({}))
        .await;
    assert!(
        states["state"]["selection"]
            .as_array()
            .unwrap()
            .contains(&json!(["webhook", "Send Webhook Notification"]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_rules_compute_their_trigger_field_and_domain() {
    let o = installed().await;
    let order = model_id(&o, "sale.order").await;
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
    let rule = o
        .ok(
            "base.automation",
            "create",
            json!([{"name": "order confirmed", "model_id": order, "trigger": "on_state_set",
                    "trg_selection_field_id": sel}]),
            json!({}),
        )
        .await;
    let r = read_one(
        &o,
        "base.automation",
        rule.as_i64().unwrap(),
        &["trigger_field_ids", "filter_domain", "active", "url"],
    )
    .await;
    assert_eq!(
        r["trigger_field_ids"],
        json!(field_ids(&o, "sale.order", &["state"]).await)
    );
    assert_eq!(r["filter_domain"], "[('state', '=', 'sale')]");
    assert_eq!(r["active"], true);
    assert_eq!(r["url"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_the_trigger_recomputes_the_filter_domain() {
    let o = installed().await;
    let partner = model_id(&o, "res.partner").await;
    let watched = field_ids(&o, "res.partner", &["name", "email", "country_id", "category_id"]).await;
    let domain = "[('name', '=like', 'WHCAP%')]";
    let rule = o
        .ok(
            "base.automation",
            "create",
            json!([{"name": "on save", "model_id": partner, "trigger": "on_create_or_write",
                    "filter_domain": domain}]),
            json!({}),
        )
        .await
        .as_i64()
        .unwrap();
    assert_eq!(
        read_one(&o, "base.automation", rule, &["filter_domain"]).await["filter_domain"],
        domain
    );

    // Four watched fields: the domain is kept.
    o.ok(
        "base.automation",
        "write",
        json!([[rule], {"trigger": "on_create_or_write", "trigger_field_ids": [[6, 0, watched]]}]),
        json!({}),
    )
    .await;
    assert_eq!(
        read_one(&o, "base.automation", rule, &["filter_domain"]).await["filter_domain"],
        domain
    );

    // Emptying the watched fields without writing the trigger: `_compute_trigger` leaves it NULL.
    let (name, message) = o
        .err(
            "base.automation",
            "write",
            json!([[rule], {"trigger_field_ids": [[5]]}]),
            json!({}),
        )
        .await;
    assert_eq!(name, "odoo.exceptions.ValidationError");
    assert!(message.contains("Field: Trigger (trigger)"), "{message}");
    let mut kept: Vec<i64> = serde_json::from_value(
        read_one(&o, "base.automation", rule, &["trigger_field_ids"]).await["trigger_field_ids"].clone(),
    )
    .unwrap();
    kept.sort();
    let mut want = watched.clone();
    want.sort();
    assert_eq!(kept, want, "the failed write changed nothing");

    // With the trigger in the same call it works, and the domain silently goes.
    o.ok(
        "base.automation",
        "write",
        json!([[rule], {"trigger": "on_create_or_write", "trigger_field_ids": [[5]]}]),
        json!({}),
    )
    .await;
    let r = read_one(&o, "base.automation", rule, &["filter_domain", "trigger"]).await;
    assert_eq!(r["filter_domain"], false);
    assert_eq!(r["trigger"], "on_create_or_write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_need_a_name_and_linked_ones_get_it_recomputed() {
    let o = installed().await;
    let partner = model_id(&o, "res.partner").await;
    let (name, message) = o
        .err(
            "base.automation",
            "create",
            json!([{"name": "inline", "model_id": partner, "trigger": "on_create_or_write",
                    "action_server_ids": [[0, 0, {"state": "webhook", "model_id": partner, "webhook_url": "http://127.0.0.1:9/"}]]}]),
            json!({}),
        )
        .await;
    assert_eq!(name, "odoo.exceptions.ValidationError");
    assert!(
        message.contains("Server Actions (ir.actions.server)") && message.contains("(name)"),
        "{message}"
    );
    assert_eq!(
        o.ok("base.automation", "search", json!([[]]), json!({})).await,
        json!([])
    );

    let action = o
        .ok(
            "ir.actions.server",
            "create",
            json!([{"name": "WHCAP partner webhook", "state": "webhook", "model_id": partner,
                    "webhook_url": "http://127.0.0.1:9/a"}]),
            json!({}),
        )
        .await
        .as_i64()
        .unwrap();
    // The recording server's next id was 395; the failed inline create consumed it, as a PostgreSQL sequence does.
    assert_eq!(action, 396);
    let rule = o
        .ok(
            "base.automation",
            "create",
            json!([{"name": "r", "model_id": partner, "trigger": "on_create_or_write", "action_server_ids": [[6, 0, [action]]]}]),
            json!({}),
        )
        .await;
    let a = read_one(
        &o,
        "ir.actions.server",
        action,
        &["name", "usage", "base_automation_id"],
    )
    .await;
    assert_eq!(a["name"], "WHCAP partner webhook");
    assert_eq!(a["usage"], "ir_actions_server");
    assert_eq!(a["base_automation_id"][0], rule);
    o.ok(
        "ir.actions.server",
        "write",
        json!([[action], {"webhook_url": "http://127.0.0.1:9/b"}]),
        json!({}),
    )
    .await;
    assert_eq!(
        read_one(&o, "ir.actions.server", action, &["name"]).await["name"],
        "Send Webhook Notification"
    );

    // Deleting the rule deletes its actions (`base_automation_id` is `ondelete='cascade'`).
    o.ok("base.automation", "unlink", json!([[rule]]), json!({}))
        .await;
    let left = o
        .ok(
            "ir.actions.server",
            "search",
            json!([[["id", "=", action]]]),
            json!({}),
        )
        .await;
    assert_eq!(left, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_restricted_fields_are_refused_in_payloads() {
    let o = Odoo::start().await;
    let partner = model_id(&o, "res.partner").await;
    let signup = field_ids(&o, "res.partner", &["signup_type"]).await;
    let (name, message) = o
        .err(
            "ir.actions.server",
            "create",
            json!([{"name": "WHTYPES no fields", "state": "webhook", "model_id": partner,
                    "webhook_url": "http://127.0.0.1:9/", "webhook_field_ids": [[6, 0, signup]]}]),
            json!({}),
        )
        .await;
    assert_eq!(name, "odoo.exceptions.ValidationError");
    assert!(
        message.ends_with("\n WHTYPES no fields: Signup Token Type"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_payload_reads_the_first_record() {
    let o = Odoo::start().await;
    let capture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/golden/webhooks/11-webhook_sample_payload-readbacks.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let partner = model_id(&o, "res.partner").await;
    let fields = field_ids(&o, "res.partner", &["name", "email", "country_id", "category_id"]).await;
    let action = o
        .ok(
            "ir.actions.server",
            "create",
            json!([{"name": "WHCAP partner webhook", "state": "webhook", "model_id": partner,
                    "webhook_url": "http://127.0.0.1:9/", "webhook_field_ids": [[6, 0, fields]]}]),
            json!({}),
        )
        .await;
    let r = read_one(
        &o,
        "ir.actions.server",
        action.as_i64().unwrap(),
        &["webhook_sample_payload"],
    )
    .await;
    assert_eq!(r["webhook_sample_payload"], capture["partner_action_before_link"]);
}
