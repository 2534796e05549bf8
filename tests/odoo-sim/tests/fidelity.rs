//! Answers that must match real Odoo 18 over HTTP: ids read without checking, searches on computed fields,
//! fields the corpus does not record, and a sales order's addresses computed from its customer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Odoo;
use serde_json::json;

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
