//! Answers that must match real Odoo 18 over HTTP: ids read without checking, defaults, searches on computed
//! fields, fields the corpus does not record, and a sales order's addresses computed from its customer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Odoo;
use serde_json::{Value, json};

const INTEGRATOR: i64 = 8;

#[tokio::test]
async fn only_the_id_of_a_missing_record_is_read_without_checking() {
    let odoo = Odoo::start().await;
    let r = odoo
        .ok("res.partner", "read", json!([[999999], ["id"]]), json!({}))
        .await;
    assert_eq!(r, json!([{"id": 999999}]));
    let r = odoo
        .ok("res.partner", "read", json!([[15, 999999], ["id"]]), json!({}))
        .await;
    assert_eq!(r, json!([{"id": 15}, {"id": 999999}]));
    let spec = json!({"specification": {"id": {}}});
    let r = odoo.ok("res.partner", "web_read", json!([[999999]]), spec).await;
    assert_eq!(r, json!([{"id": 999999}]));
    let r = odoo
        .ok(
            "res.partner",
            "web_read",
            json!([[999999]]),
            json!({"specification": {}}),
        )
        .await;
    assert_eq!(r, json!([{"id": 999999}]));
    // Any other field: the missing record is dropped (corpus: read-missing-id, web-read-missing-id).
    let spec = json!({"specification": {"id": {}, "name": {}}});
    let r = odoo
        .ok("res.partner", "web_read", json!([[2, 999999]]), spec)
        .await;
    assert_eq!(r, json!([{"id": 2, "name": "OdooBot"}]));
    let r = odoo
        .ok("res.partner", "read", json!([[15, 999999], ["name"]]), json!({}))
        .await;
    assert_eq!(r, json!([{"id": 15, "name": "Azure Interior"}]));
}

fn is_datetime(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[tokio::test]
async fn defaults_are_odoos() {
    let odoo = Odoo::start().await;
    let fields = json!([
        "name",
        "locked",
        "date_order",
        "company_id",
        "state",
        "partner_id",
        "user_id"
    ]);
    let r = odoo
        .ok("sale.order", "default_get", json!([fields]), json!({}))
        .await;
    assert_eq!(r["name"], json!("New"));
    assert_eq!(r["locked"], json!(false));
    assert_eq!(r["company_id"], json!(1));
    assert!(is_datetime(&r["date_order"]), "{r}");
    assert_eq!(r.as_object().unwrap().len(), 5, "{r}");
    let r = odoo
        .ok(
            "account.move",
            "default_get",
            json!([["auto_post", "move_type"]]),
            json!({}),
        )
        .await;
    assert_eq!(r, json!({"auto_post": "no", "move_type": "entry"}));
    let fields = json!([
        "color",
        "expected_revenue",
        "recurring_revenue",
        "message_bounce",
        "user_id",
        "name"
    ]);
    let r = odoo
        .ok("crm.lead", "default_get", json!([fields]), json!({}))
        .await;
    assert_eq!(
        r,
        json!({"color": 0, "expected_revenue": 0.0, "recurring_revenue": 0.0, "message_bounce": 0, "user_id": 2})
    );
    let r = odoo
        .call_as(
            INTEGRATOR,
            odoo_sim::DEFAULT_INTEGRATOR_API_KEY,
            "crm.lead",
            "default_get",
            json!([["user_id"]]),
            json!({}),
        )
        .await;
    assert_eq!(r["result"], json!({"user_id": INTEGRATOR}), "{r}");
    // These two define default_get without @api.model: the only positional argument is taken for the ids.
    let (name, message) = odoo
        .err(
            "product.template",
            "default_get",
            json!([["name", "type"]]),
            json!({}),
        )
        .await;
    assert_eq!(name, "builtins.TypeError");
    assert_eq!(
        message,
        "ProductTemplate.default_get() missing 1 required positional argument: 'fields_list'"
    );
    let r = odoo
        .ok(
            "product.template",
            "default_get",
            json!([[], ["type", "sale_ok"]]),
            json!({}),
        )
        .await;
    assert_eq!(r, json!({"type": "consu", "sale_ok": true}));
    let r = odoo
        .ok(
            "product.product",
            "default_get",
            json!([["taxes_id", "uom_id"]]),
            json!({}),
        )
        .await;
    assert_eq!(r, json!({"taxes_id": [[6, 0, [1]]], "uom_id": 1}));
}

#[tokio::test]
async fn random_and_dated_defaults_have_odoos_shape() {
    let odoo = Odoo::start().await;
    let r = odoo
        .ok("crm.tag", "default_get", json!([["color", "name"]]), json!({}))
        .await;
    let color = r["color"].as_i64().unwrap();
    assert!((1..=11).contains(&color), "{r}");
    let r = odoo
        .ok("discuss.channel", "default_get", json!([["uuid"]]), json!({}))
        .await;
    let uuid = r["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 10, "{r}");
    assert!(uuid.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
    let r = odoo
        .call_as(
            INTEGRATOR,
            odoo_sim::DEFAULT_INTEGRATOR_API_KEY,
            "mail.message",
            "default_get",
            json!([["author_id", "date", "message_type"]]),
            json!({}),
        )
        .await;
    assert_eq!(r["result"]["author_id"], json!(42), "{r}");
    assert!(is_datetime(&r["result"]["date"]), "{r}");
    // Every call creates a batch payment sequence; the opening date is the first day of this year.
    let fields = json!([["batch_payment_sequence_id", "account_opening_date", "currency_id"]]);
    let first = odoo
        .ok("res.company", "default_get", fields.clone(), json!({}))
        .await;
    let second = odoo.ok("res.company", "default_get", fields, json!({})).await;
    assert_eq!(first["batch_payment_sequence_id"], json!(5), "{first}");
    assert_eq!(second["batch_payment_sequence_id"], json!(6), "{second}");
    let year = time::OffsetDateTime::now_utc().year();
    assert_eq!(first["account_opening_date"], json!(format!("{year}-01-01")));
}

#[tokio::test]
async fn created_records_get_the_defaults() {
    let odoo = Odoo::start().await;
    let id = odoo
        .ok("res.partner", "create", json!([{"name": "Defaults"}]), json!({}))
        .await;
    let r = odoo
        .ok(
            "res.partner",
            "read",
            json!([[id], ["sale_warn", "invoice_warn", "trust"]]),
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!([{"id": id, "sale_warn": "no-message", "invoice_warn": "no-message", "trust": "normal"}])
    );
    let id = odoo
        .ok(
            "uom.uom",
            "create",
            json!([{"name": "Half dozen", "category_id": 1}]),
            json!({}),
        )
        .await;
    let r = odoo
        .ok(
            "uom.uom",
            "read",
            json!([[id], ["uom_type", "rounding"]]),
            json!({}),
        )
        .await;
    assert_eq!(r, json!([{"id": id, "uom_type": "reference", "rounding": 0.01}]));
}

#[tokio::test]
async fn counters_are_computed_and_unsearchable_leaves_ignored_as_odoo_does() {
    let odoo = Odoo::start().await;
    let r = odoo
        .ok(
            "product.template",
            "read",
            json!([[9, 16, 1], ["product_variant_count"]]),
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!([{"id": 9, "product_variant_count": 5}, {"id": 16, "product_variant_count": 2},
            {"id": 1, "product_variant_count": 1}])
    );
    let r = odoo
        .ok(
            "product.product",
            "read",
            json!([[23], ["product_variant_count"]]),
            json!({}),
        )
        .await;
    assert_eq!(r, json!([{"id": 23, "product_variant_count": 2}]));
    // Not stored and not searchable: Odoo logs an error and drops the leaf, so every template matches.
    let domain = json!([[["product_variant_count", ">", 1]]]);
    let r = odoo
        .ok("product.template", "search_count", domain.clone(), json!({}))
        .await;
    assert_eq!(r, json!(36));
    let all = odoo
        .ok("product.template", "search", json!([[]]), json!({}))
        .await;
    assert_eq!(
        odoo.ok("product.template", "search", domain, json!({})).await,
        all
    );
    // A partner's order count follows new orders.
    let before = odoo
        .ok(
            "res.partner",
            "read",
            json!([[10], ["sale_order_count"]]),
            json!({}),
        )
        .await;
    assert_eq!(before[0]["sale_order_count"], json!(2));
    odoo.ok("sale.order", "create", json!([{"partner_id": 36}]), json!({}))
        .await;
    let after = odoo
        .ok(
            "res.partner",
            "read",
            json!([[10, 36], ["sale_order_count"]]),
            json!({}),
        )
        .await;
    assert_eq!(
        after,
        json!([{"id": 10, "sale_order_count": 3}, {"id": 36, "sale_order_count": 1}])
    );
}

#[tokio::test]
async fn searching_a_field_without_values_is_refused() {
    let odoo = Odoo::start().await;
    let (name, message) = odoo
        .err(
            "res.country",
            "search",
            json!([[["zip_required", "=", true]]]),
            json!({}),
        )
        .await;
    assert_eq!(name, "builtins.ValueError");
    assert!(message.contains("res.country.zip_required"), "{message}");
    // res.company's `active` is not recorded: no implicit filter on it, and no filter by it.
    let r = odoo.ok("res.company", "search", json!([[]]), json!({})).await;
    assert_eq!(r, json!([1]));
    let (name, _) = odoo
        .err(
            "res.company",
            "search",
            json!([[["active", "=", true]]]),
            json!({}),
        )
        .await;
    assert_eq!(name, "builtins.ValueError");
    // Related fields are searched through their path.
    let r = odoo
        .ok(
            "res.users",
            "search",
            json!([[["customer_rank", ">", 0]]]),
            json!({}),
        )
        .await;
    let expected = odoo
        .ok(
            "res.users",
            "search",
            json!([[["partner_id.customer_rank", ">", 0]]]),
            json!({}),
        )
        .await;
    assert_eq!(r, expected);
}

#[tokio::test]
async fn fields_the_corpus_does_not_record_are_left_out() {
    let odoo = Odoo::start().await;
    let r = odoo.ok("res.country", "read", json!([[20]]), json!({})).await;
    let belgium = r[0].as_object().unwrap();
    assert_eq!(belgium["name"], json!("Belgium"));
    assert_eq!(belgium["code"], json!("BE"));
    assert_eq!(belgium["currency_id"], json!([125, "EUR"]));
    assert_eq!(
        belgium["image_url"],
        json!("/base/static/img/country_flags/be.png")
    );
    assert_eq!(belgium["state_ids"], json!([]));
    for unknown in [
        "address_format",
        "zip_required",
        "vat_label",
        "create_date",
        "country_group_ids",
    ] {
        assert!(
            !belgium.contains_key(unknown),
            "{unknown} read as {:?}",
            belgium.get(unknown)
        );
    }
    let r = odoo
        .ok(
            "res.country",
            "read",
            json!([[20], ["name", "zip_required"]]),
            json!({}),
        )
        .await;
    assert_eq!(r, json!([{"id": 20, "name": "Belgium"}]));
    let spec = json!({"specification": {"name": {}, "vat_label": {}}});
    let r = odoo.ok("res.country", "web_read", json!([[20]]), spec).await;
    assert_eq!(r, json!([{"id": 20, "name": "Belgium"}]));
}

#[tokio::test]
async fn an_order_takes_its_addresses_from_the_customer() {
    let odoo = Odoo::start().await;
    let fields = odoo
        .ok(
            "sale.order",
            "fields_get",
            json!([["partner_invoice_id", "partner_shipping_id"]]),
            json!({}),
        )
        .await;
    for f in ["partner_invoice_id", "partner_shipping_id"] {
        assert_eq!(fields[f]["depends"], json!(["partner_id"]), "{fields}");
        assert_eq!(fields[f]["required"], json!(true));
        assert_eq!(fields[f]["readonly"], json!(false));
    }
    // Without invoice or delivery contacts, the customer itself.
    let so = odoo
        .ok("sale.order", "create", json!([{"partner_id": 10}]), json!({}))
        .await;
    let addresses = json!(["partner_invoice_id", "partner_shipping_id"]);
    let r = odoo
        .ok("sale.order", "read", json!([[so], addresses]), json!({}))
        .await;
    assert_eq!(r[0]["partner_invoice_id"][0], json!(10));
    assert_eq!(r[0]["partner_shipping_id"][0], json!(10));
    let invoice = odoo
        .ok(
            "res.partner",
            "create",
            json!([{"name": "Deco Billing", "type": "invoice", "parent_id": 10}]),
            json!({}),
        )
        .await;
    let delivery = odoo
        .ok(
            "res.partner",
            "create",
            json!([{"name": "Deco Dock", "type": "delivery", "parent_id": 10}]),
            json!({}),
        )
        .await;
    let so = odoo
        .ok("sale.order", "create", json!([{"partner_id": 10}]), json!({}))
        .await;
    let r = odoo
        .ok("sale.order", "read", json!([[so], addresses]), json!({}))
        .await;
    assert_eq!(r[0]["partner_invoice_id"][0], invoice);
    assert_eq!(r[0]["partner_shipping_id"][0], delivery);
    // A contact of the company: addresses are looked up at the company, the contact is the fallback.
    let so = odoo
        .ok("sale.order", "create", json!([{"partner_id": 36}]), json!({}))
        .await;
    let r = odoo
        .ok("sale.order", "read", json!([[so], addresses]), json!({}))
        .await;
    assert_eq!(r[0]["partner_invoice_id"][0], invoice);
    assert_eq!(r[0]["partner_shipping_id"][0], delivery);
    // Given values win; changing the customer recomputes the others.
    let vals = json!({"partner_id": 10, "partner_invoice_id": 36});
    let so = odoo.ok("sale.order", "create", json!([vals]), json!({})).await;
    let r = odoo
        .ok("sale.order", "read", json!([[so], addresses]), json!({}))
        .await;
    assert_eq!(r[0]["partner_invoice_id"][0], json!(36));
    assert_eq!(r[0]["partner_shipping_id"][0], delivery);
    odoo.ok(
        "sale.order",
        "write",
        json!([[so], {"partner_id": 12}]),
        json!({}),
    )
    .await;
    let r = odoo
        .ok("sale.order", "read", json!([[so], addresses]), json!({}))
        .await;
    assert_eq!(r[0]["partner_invoice_id"][0], json!(12));
    assert_eq!(r[0]["partner_shipping_id"][0], json!(12));
}
