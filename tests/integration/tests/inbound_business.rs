//! `upsert`, `call` and relations given by name, external id or domain: every success path and every refusal,
//! over HTTP against the simulator; nothing refused changes Odoo.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::{Callable, FieldRule, ModelAccess, ModelName, Permissions};
use common::{Harness, Hook};
use serde_json::{Value, json};

fn models(names: &[&str]) -> ModelAccess {
    ModelAccess::Only(names.iter().map(|n| n.parse::<ModelName>().unwrap()).collect())
}

fn callable(entries: &[&str]) -> std::collections::BTreeSet<Callable> {
    entries.iter().map(|e| e.parse().unwrap()).collect()
}

fn sorted(ids: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = serde_json::from_value(ids.clone()).unwrap();
    ids.sort();
    ids
}

fn refusal(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["reason"].as_str().unwrap_or_default())
}

async fn read(h: &Harness, hook: &Hook, model: &str, ids: &[i64], fields: Value) -> Vec<Value> {
    let (status, body) = h
        .post(
            hook,
            json!({"model": model, "method": "read", "ids": ids, "fields": fields}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["records"].as_array().unwrap().clone()
}

async fn count(h: &Harness, hook: &Hook, model: &str, domain: Value) -> u64 {
    let (status, body) = h
        .post(
            hook,
            json!({"model": model, "method": "search", "domain": domain, "limit": 500}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["count"].as_u64().unwrap()
}

async fn upsert(h: &Harness, hook: &Hook, values: Value) -> (u16, Value) {
    h.post(
        hook,
        json!({"model": "res.partner", "method": "upsert", "match": ["email"], "values": values}),
    )
    .await
}

#[tokio::test]
async fn upsert_creates_then_updates_by_match_fields() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let (status, first) = upsert(&h, &all, json!({"email": "new@example.com", "name": "New"})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["created"], true);
    let id = first["id"].as_i64().unwrap();
    let (status, second) = upsert(&h, &all, json!({"email": "new@example.com", "name": "Renamed"})).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second, json!({"ok": true, "id": id, "created": false}));
    assert_eq!(
        read(&h, &all, "res.partner", &[id], json!(["name"])).await[0]["name"],
        "Renamed"
    );
    let (status, batch) = upsert(
        &h,
        &all,
        json!([{"email": "new@example.com", "phone": "+32 1"}, {"email": "other@example.com", "name": "Other"}]),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["results"][0], json!({"id": id, "created": false}));
    assert_eq!(batch["results"][1]["created"], true);
    assert_eq!(
        count(
            &h,
            &all,
            "res.partner",
            json!([["email", "in", ["new@example.com", "other@example.com"]]])
        )
        .await,
        2
    );
}

#[tokio::test]
async fn upsert_refuses_ambiguity_and_bad_matches_without_changing_odoo() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let (status, created) = h
        .post(
            &all,
            json!({"model": "res.partner", "method": "create", "values": [
                {"name": "Twin A", "email": "twin@example.com"}, {"name": "Twin B", "email": "twin@example.com"}]}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let twins = created["ids"].clone();
    let answer = upsert(
        &h,
        &all,
        json!({"email": "twin@example.com", "name": "Overwritten"}),
    )
    .await;
    assert_eq!(answer.0, 409, "{}", answer.1);
    assert_eq!(answer.1["error"], "ambiguous_match");
    let mut listed: Vec<i64> = serde_json::from_value(answer.1["ids"].clone()).unwrap();
    listed.sort();
    assert_eq!(json!(listed), twins);
    // A conflict in item 1 of a batch leaves item 0 uncreated too.
    let answer = upsert(
        &h,
        &all,
        json!([{"email": "fresh@example.com", "name": "Fresh"}, {"email": "twin@example.com"}]),
    )
    .await;
    assert_eq!(
        (answer.0, answer.1["item"].as_u64()),
        (409, Some(1)),
        "{}",
        answer.1
    );
    assert_eq!(
        count(
            &h,
            &all,
            "res.partner",
            json!([["email", "=", "fresh@example.com"]])
        )
        .await,
        0
    );
    assert_eq!(
        count(&h, &all, "res.partner", json!([["name", "=", "Overwritten"]])).await,
        0
    );
    for (values, reason) in [
        (json!({"name": "No email"}), "missing_match_value"),
        (json!({"name": "Empty", "email": ""}), "invalid_match_value"),
        (json!({"name": "False", "email": false}), "invalid_match_value"),
        (
            json!([{"email": "dup@example.com", "name": "A"}, {"email": "dup@example.com", "name": "B"}]),
            "duplicate_match",
        ),
    ] {
        let answer = upsert(&h, &all, values.clone()).await;
        assert_eq!(refusal(&answer), (400, reason), "{values}: {}", answer.1);
    }
    let answer = h
        .post(
            &all,
            json!({"model": "res.partner", "method": "upsert", "values": {"name": "x"}}),
        )
        .await;
    assert_eq!(refusal(&answer), (400, "missing_match"), "{}", answer.1);
    let answer = h
        .post(
            &all,
            json!({"model": "res.partner", "method": "upsert", "match": ["email"], "values": {"email": "a@b"}, "ids": [1]}),
        )
        .await;
    assert_eq!(refusal(&answer), (400, "unused_key"), "{}", answer.1);
    assert_eq!(
        count(
            &h,
            &all,
            "res.partner",
            json!([["email", "=", "dup@example.com"]])
        )
        .await,
        0
    );
}

#[tokio::test]
async fn upsert_obeys_permissions_models_rules_and_the_cap() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let with = |p: Permissions| move |c: &mut bitconn::config::WebhookConfig| c.permissions = p;
    let no_create = h
        .hook(with(Permissions {
            can_create: false,
            can_write: true,
            can_unlink: false,
        }))
        .await;
    let no_write = h
        .hook(with(Permissions {
            can_create: true,
            can_write: false,
            can_unlink: false,
        }))
        .await;
    let body = json!({"email": "perm@example.com", "name": "Perm"});
    assert_eq!(
        refusal(&upsert(&h, &no_create, body.clone()).await),
        (403, "create_not_allowed")
    );
    assert_eq!(
        refusal(&upsert(&h, &no_write, body.clone()).await),
        (403, "write_not_allowed")
    );
    let reader = h
        .hook(|c| {
            c.models = models(&["sale.order"]);
            c.read_models = ["res.partner".parse().unwrap()].into();
        })
        .await;
    assert_eq!(
        refusal(&upsert(&h, &reader, body.clone()).await),
        (403, "model_not_allowed")
    );
    let hidden = h
        .hook(|c| {
            c.field_rules.insert(
                "res.partner".parse().unwrap(),
                FieldRule {
                    allow: None,
                    deny: ["email".into()].into(),
                },
            );
        })
        .await;
    assert_eq!(
        refusal(&upsert(&h, &hidden, body.clone()).await),
        (403, "field_not_allowed")
    );
    let capped = h.hook(|c| c.limits.max_records_per_change = 2).await;
    let three = json!([{"email": "c1@x.com", "name": "1"}, {"email": "c2@x.com", "name": "2"}, {"email": "c3@x.com", "name": "3"}]);
    let answer = upsert(&h, &capped, three).await;
    assert_eq!(
        (answer.0, answer.1["error"].as_str()),
        (400, Some("too_many_records")),
        "{}",
        answer.1
    );
    let answer = upsert(
        &h,
        &capped,
        json!({"email": "c4@x.com", "name": "4", "child_ids": [[0, 0, {"name": "a"}], [0, 0, {"name": "b"}]]}),
    )
    .await;
    assert_eq!(answer.1["error"], "too_many_records", "{}", answer.1);
    assert_eq!(
        count(
            &h,
            &all,
            "res.partner",
            json!([["email", "in", ["perm@example.com", "c1@x.com", "c4@x.com"]]])
        )
        .await,
        0
    );
}

#[tokio::test]
async fn upsert_by_external_id() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let by_xmlid = |xmlid: &str, model: &str, values: Value| json!({"model": model, "method": "upsert", "match": {"xmlid": xmlid}, "values": values});
    let (status, be) = h
        .post(
            &all,
            by_xmlid("base.be", "res.country", json!({"phone_code": 32})),
        )
        .await;
    assert_eq!((status, be["created"].as_bool()), (200, Some(false)), "{be}");
    let belgium = read(
        &h,
        &all,
        "res.country",
        &[be["id"].as_i64().unwrap()],
        json!(["code"]),
    )
    .await;
    assert_eq!(belgium[0]["code"], "BE");
    let (status, created) = h
        .post(
            &all,
            by_xmlid(
                "__import__.crm_partner_7",
                "res.partner",
                json!({"name": "Imported"}),
            ),
        )
        .await;
    assert_eq!(
        (status, created["created"].as_bool()),
        (200, Some(true)),
        "{created}"
    );
    let (status, again) = h
        .post(
            &all,
            by_xmlid(
                "__import__.crm_partner_7",
                "res.partner",
                json!({"name": "Imported again"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["id"].clone(), again["created"].clone()),
        (created["id"].clone(), json!(false))
    );
    let answer = h
        .post(&all, by_xmlid("base.be", "res.partner", json!({"name": "x"})))
        .await;
    assert_eq!(refusal(&answer), (400, "xmlid_other_model"), "{}", answer.1);
    let integrator = h.hook(|c| c.odoo = h.odoo("integrator")).await;
    let answer = h
        .post(
            &integrator,
            by_xmlid("__import__.other", "res.partner", json!({"name": "Nobody"})),
        )
        .await;
    assert_eq!(refusal(&answer), (403, "xmlid_not_allowed"), "{}", answer.1);
    assert_eq!(
        count(&h, &all, "res.partner", json!([["name", "=", "Nobody"]])).await,
        0
    );
}

async fn call(
    h: &Harness,
    hook: &Hook,
    model: &str,
    ids: Value,
    function: &str,
    kwargs: Value,
) -> (u16, Value) {
    h.post(
        hook,
        json!({"model": model, "method": "call", "ids": ids, "function": function, "kwargs": kwargs}),
    )
    .await
}

#[tokio::test]
async fn call_runs_allow_listed_business_methods() {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| {
            c.callable = callable(&[
                "sale.order:action_confirm",
                "account.move:action_post",
                "res.partner:action_archive",
                "*:message_post",
            ])
        })
        .await;
    let (status, body) = call(&h, &hook, "sale.order", json!([1]), "action_confirm", json!({})).await;
    assert_eq!(
        (status, body.clone()),
        (200, json!({"ok": true, "result": true})),
        "{body}"
    );
    assert_eq!(
        read(&h, &hook, "sale.order", &[1], json!(["state"])).await[0]["state"],
        "sale"
    );
    let (status, body) = call(&h, &hook, "res.partner", json!([12]), "action_archive", json!({})).await;
    assert_eq!(
        (status, body.clone()),
        (200, json!({"ok": true, "result": null})),
        "{body}"
    );
    let (status, body) = call(&h, &hook, "account.move", json!([6]), "action_post", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        read(&h, &hook, "account.move", &[6], json!(["state"])).await[0]["state"],
        "posted"
    );
    let (status, body) = call(
        &h,
        &hook,
        "sale.order",
        json!([2, 3]),
        "message_post",
        json!({"body": "Shipped <today>", "message_type": "comment"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let messages: Vec<i64> = serde_json::from_value(body["result"].clone()).unwrap();
    assert_eq!(messages.len(), 2);
    let posted = read(
        &h,
        &hook,
        "mail.message",
        &messages,
        json!(["body", "res_id", "message_type"]),
    )
    .await;
    assert_eq!(posted[0]["body"], "<p>Shipped &lt;today&gt;</p>");
    assert_eq!(
        (posted[0]["res_id"].clone(), posted[1]["res_id"].clone()),
        (json!(2), json!(3))
    );
    let (status, one) = call(
        &h,
        &hook,
        "sale.order",
        json!(4),
        "message_post",
        json!({"body": "One"}),
    )
    .await;
    assert!(status == 200 && one["result"].is_i64(), "{one}");
    // Odoo's own faults come back as today.
    let (status, body) = call(
        &h,
        &hook,
        "sale.order",
        json!([999_999]),
        "action_confirm",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("odoo_error")),
        "{body}"
    );
}

#[tokio::test]
async fn call_refuses_what_is_not_listed_private_orm_and_over_the_cap() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let hook = h
        .hook(|c| {
            c.callable = callable(&["sale.order:action_confirm", "*:message_post"]);
            c.limits.max_records_per_change = 2;
        })
        .await;
    for (model, function, reason) in [
        ("account.move", "action_post", "method_not_allowed"),
        ("res.partner", "action_confirm", "method_not_allowed"),
        ("sale.order", "_action_confirm", "method_not_callable"),
        ("sale.order", "write", "method_not_callable"),
        ("sale.order", "unlink", "method_not_callable"),
        ("sale.order", "sudo", "method_not_callable"),
        ("sale.order", "search_read", "method_not_callable"),
        ("sale.order", "copy", "method_not_callable"),
    ] {
        let answer = call(&h, &hook, model, json!([1]), function, json!({})).await;
        assert_eq!(
            refusal(&answer),
            (403, reason),
            "{model}.{function}: {}",
            answer.1
        );
    }
    // An entry naming an ORM method (stored before it was refused, say) never lets it run.
    let stale = h
        .hook(|c| {
            c.callable = serde_json::from_value(json!(["*:write", "sale.order:_action_confirm"])).unwrap()
        })
        .await;
    for function in ["write", "_action_confirm"] {
        let answer = call(&h, &stale, "sale.order", json!([1]), function, json!({})).await;
        assert_eq!(
            refusal(&answer),
            (403, "method_not_callable"),
            "{function}: {}",
            answer.1
        );
    }
    let answer = call(
        &h,
        &hook,
        "sale.order",
        json!([1, 2, 3]),
        "action_confirm",
        json!({}),
    )
    .await;
    assert_eq!(answer.1["error"], "too_many_records", "{}", answer.1);
    let answer = call(
        &h,
        &hook,
        "sale.order",
        json!([1]),
        "action_confirm",
        json!({"context": {"active_model": "res.users"}}),
    )
    .await;
    assert_eq!(refusal(&answer), (400, "invalid_kwargs"), "{}", answer.1);
    let answer = h
        .post(
            &hook,
            json!({"model": "sale.order", "method": "call", "function": "action_confirm"}),
        )
        .await;
    assert_eq!(refusal(&answer), (400, "missing_ids"), "{}", answer.1);
    for kwargs in [
        json!({}),
        json!({"body": "x", "message_type": "user_notification"}),
        json!({"body": "x", "author_id": 3}),
        json!({"body": "x", "partner_ids": ["a"]}),
    ] {
        let answer = call(
            &h,
            &hook,
            "sale.order",
            json!([1]),
            "message_post",
            kwargs.clone(),
        )
        .await;
        assert_eq!(
            refusal(&answer),
            (400, "invalid_kwargs"),
            "{kwargs}: {}",
            answer.1
        );
    }
    let no_partners = h
        .hook(|c| {
            c.callable = callable(&["*:message_post"]);
            c.models = models(&["sale.order"]);
        })
        .await;
    let answer = call(
        &h,
        &no_partners,
        "sale.order",
        json!([1]),
        "message_post",
        json!({"body": "x", "partner_ids": [3]}),
    )
    .await;
    assert_eq!(refusal(&answer), (403, "model_not_allowed"), "{}", answer.1);
    let read_only = h
        .hook(|c| {
            c.callable = callable(&["sale.order:action_confirm"]);
            c.models = models(&["res.partner"]);
            c.read_models = ["sale.order".parse().unwrap()].into();
        })
        .await;
    let answer = call(
        &h,
        &read_only,
        "sale.order",
        json!([1]),
        "action_confirm",
        json!({}),
    )
    .await;
    assert_eq!(refusal(&answer), (403, "model_not_allowed"), "{}", answer.1);
    let no_write = h
        .hook(|c| {
            c.callable = callable(&["sale.order:action_confirm"]);
            c.permissions.can_write = false;
        })
        .await;
    let answer = call(
        &h,
        &no_write,
        "sale.order",
        json!([1]),
        "action_confirm",
        json!({}),
    )
    .await;
    assert_eq!(refusal(&answer), (403, "write_not_allowed"), "{}", answer.1);
    assert_eq!(
        read(&h, &all, "sale.order", &[1], json!(["state"])).await[0]["state"],
        "draft"
    );
}

#[tokio::test]
async fn relations_by_name_external_id_and_domain() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let (status, body) = h
        .post(
            &all,
            json!({"model": "res.partner", "method": "create", "values": {
                "name": "Referenced",
                "parent_id": {"name": "Deco Addict"},
                "country_id": {"xmlid": "base.be"},
                "state_id": false,
                "category_id": {"set": [{"name": "Vendor"}, 2]}
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().unwrap();
    let record = &read(
        &h,
        &all,
        "res.partner",
        &[id],
        json!(["parent_id", "country_id", "category_id"]),
    )
    .await[0];
    assert_eq!(record["parent_id"][0], 10, "{record}");
    assert_eq!(record["country_id"][1], "Belgium", "{record}");
    assert_eq!(sorted(&record["category_id"]), [1, 2], "{record}");
    let (status, body) = h
        .post(
            &all,
            json!({"model": "res.partner", "method": "write", "ids": [id], "values": {
                "country_id": {"domain": [["code", "=", "FR"]]},
                "category_id": {"add": [{"name": "Services"}], "remove": [1]}
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let record = &read(
        &h,
        &all,
        "res.partner",
        &[id],
        json!(["country_id", "category_id"]),
    )
    .await[0];
    assert_eq!(record["country_id"][1], "France", "{record}");
    assert_eq!(sorted(&record["category_id"]), [2, 5], "{record}");
    // References inside relation commands, resolved on the comodel.
    let (status, body) = h
        .post(
            &all,
            json!({"model": "sale.order", "method": "create", "values": {
                "partner_id": {"name": "Deco Addict"},
                "order_line": [[0, 0, {"product_id": {"name": "[FURN_7777] Office Chair"}, "product_uom_qty": 2}]]
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let order = body["id"].as_i64().unwrap();
    let lines = read(&h, &all, "sale.order", &[order], json!(["order_line"])).await[0]["order_line"].clone();
    let line = &read(
        &h,
        &all,
        "sale.order.line",
        &[lines[0].as_i64().unwrap()],
        json!(["product_id"]),
    )
    .await[0];
    assert_eq!(line["product_id"][0], 5, "{line}");
    // An upsert's match may be a relation given by reference.
    let (status, body) = h
        .post(
            &all,
            json!({"model": "res.partner", "method": "upsert", "match": ["name", "parent_id"],
                   "values": {"name": "Referenced", "parent_id": {"name": "Deco Addict"}, "phone": "+32 2"}}),
        )
        .await;
    assert_eq!(
        (status, body["id"].as_i64(), body["created"].as_bool()),
        (200, Some(id), Some(false)),
        "{body}"
    );
}

#[tokio::test]
async fn references_must_match_exactly_one_readable_record() {
    let h = Harness::start().await;
    let all = h.hook(|_| {}).await;
    let create = |values: Value| json!({"model": "res.partner", "method": "create", "values": values});
    let (status, _) = h
        .post(&all, json!({"model": "res.partner", "method": "create", "values": [{"name": "Twin"}, {"name": "Twin"}]}))
        .await;
    assert_eq!(status, 200);
    let answer = h
        .post(&all, create(json!({"name": "x", "parent_id": {"name": "Twin"}})))
        .await;
    assert_eq!(refusal(&answer), (400, "ambiguous_reference"), "{}", answer.1);
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .starts_with("2 res.partner records"),
        "{}",
        answer.1
    );
    let answer = h
        .post(
            &all,
            create(json!({"name": "x", "parent_id": {"name": "Nobody at all"}})),
        )
        .await;
    assert_eq!(refusal(&answer), (400, "unknown_reference"), "{}", answer.1);
    let answer = h
        .post(
            &all,
            create(json!({"name": "x", "country_id": {"xmlid": "base.main_company"}})),
        )
        .await;
    assert_eq!(refusal(&answer), (400, "unknown_reference"), "{}", answer.1);
    let answer = h
        .post(
            &all,
            create(json!({"name": "x", "country_id": {"domain": [["code", "like", "B"]]}})),
        )
        .await;
    assert_eq!(refusal(&answer), (400, "ambiguous_reference"), "{}", answer.1);
    assert!(
        answer.1["message"].as_str().unwrap().starts_with("more than 10"),
        "{}",
        answer.1
    );
    for bad in [
        json!({"name": "x", "country_id": {"name": "Belgium", "xmlid": "base.be"}}),
        json!({"name": "x", "country_id": {"code": "BE"}}),
        json!({"name": "x", "category_id": {"set": [1], "add": [2]}}),
        json!({"name": "x", "category_id": {"replace": [1]}}),
        json!({"name": "x", "category_id": {"add": [-1]}}),
    ] {
        let answer = h.post(&all, create(bad.clone())).await;
        assert_eq!(
            refusal(&answer),
            (400, "invalid_reference"),
            "{bad}: {}",
            answer.1
        );
    }
    let answer = h
        .post(
            &all,
            create(json!({"name": "x", "country_id": {"domain": [["nope", "=", 1]]}})),
        )
        .await;
    assert_eq!(answer.0, 400, "{}", answer.1);
    let partners_only = h.hook(|c| c.models = models(&["res.partner"])).await;
    let answer = h
        .post(
            &partners_only,
            create(json!({"name": "x", "country_id": {"name": "Belgium"}})),
        )
        .await;
    assert_eq!(refusal(&answer), (403, "model_not_allowed"), "{}", answer.1);
    let hidden_names = h
        .hook(|c| {
            c.field_rules.insert(
                "res.country".parse().unwrap(),
                FieldRule {
                    allow: None,
                    deny: ["name".into()].into(),
                },
            );
        })
        .await;
    let answer = h
        .post(
            &hidden_names,
            create(json!({"name": "x", "country_id": {"name": "Belgium"}})),
        )
        .await;
    assert_eq!(refusal(&answer), (403, "field_not_allowed"), "{}", answer.1);
    let answer = h
        .post(
            &hidden_names,
            create(json!({"name": "x", "country_id": {"domain": [["name", "=", "Belgium"]]}})),
        )
        .await;
    assert_eq!(refusal(&answer), (403, "field_not_allowed"), "{}", answer.1);
    // Translated commands are checked like raw ones: removing from a one2many deletes, which needs unlink.
    let no_unlink = h.hook(|c| c.permissions.can_unlink = false).await;
    let answer = h
        .post(
            &no_unlink,
            json!({"model": "res.partner", "method": "write", "ids": [10], "values": {"child_ids": {"remove": [{"name": "Deco Addict, Addison Olson"}]}}}),
        )
        .await;
    assert_eq!(refusal(&answer), (403, "unlink_not_allowed"), "{}", answer.1);
    let answer = h
        .post(&all, json!({"model": "res.partner", "method": "write", "ids": [10], "values": {"child_ids": {"set": [1]}}}))
        .await;
    assert_eq!(refusal(&answer), (400, "invalid_command"), "{}", answer.1);
    let many: Vec<Value> = (0..=100).map(|i| json!({"name": format!("n{i}")})).collect();
    let answer = h
        .post(&all, create(json!({"name": "x", "category_id": {"set": many}})))
        .await;
    assert_eq!(refusal(&answer), (400, "too_many_references"), "{}", answer.1);
    assert_eq!(
        count(&h, &all, "res.partner", json!([["name", "=", "x"]])).await,
        0
    );
}
