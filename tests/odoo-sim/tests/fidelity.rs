//! Answers that must match real Odoo 18 over HTTP: ids read without checking and a sales order's addresses
//! computed from its customer.
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
