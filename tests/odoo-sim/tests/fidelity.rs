//! Answers that must match real Odoo 18 over HTTP.
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
