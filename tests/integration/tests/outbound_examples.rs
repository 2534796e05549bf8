//! Every outbound example in docs/examples/ (the original module's manual payloads and `outbound_send.json`)
//! builds the documented payload from the Odoo simulator's records, read as the webhook's user.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::{ModelName, OutboundTarget, PayloadSpec};
use bitconn::outbound::payload::{self, Extras};
use common::{Harness, Hook, example};
use serde_json::{Value, json};

/// The payload `spec` gives for sale order 1 (S00001, Deco Addict, three lines).
async fn payload_of(h: &Harness, hook: &Hook, spec: PayloadSpec) -> Value {
    let url = "https://hooks.example.com/in";
    let fields = payload::read_spec(&spec, url).unwrap();
    let model: ModelName = "sale.order".parse().unwrap();
    let records = h
        .gateway
        .outbound_records(&hook.config, &model, &[1], &fields)
        .await
        .unwrap();
    payload::build(
        &spec,
        model.as_str(),
        &records,
        &Extras {
            event: None,
            extra: None,
        },
    )
    .unwrap()
}

async fn setup() -> (Harness, Hook) {
    let h = Harness::start().await;
    let hook = h
        .hook(|c| c.outbound = Some(OutboundTarget::new("https://hooks.example.com/in".into())))
        .await;
    (h, hook)
}

const PRODUCTS: [&str; 3] = ["Acoustic Bloc Screens", "Office Lamp", "Office Chair"];

#[tokio::test]
async fn spec_bodies_keep_static_keys_and_read_dotted_and_nested_fields() {
    let (h, hook) = setup().await;
    let fields = payload_of(
        &h,
        &hook,
        PayloadSpec::Body {
            body: example("manual_payload_fields.json"),
        },
    )
    .await;
    assert_eq!(fields["ok"], true, "static keys are kept: {fields}");
    assert_eq!(
        (fields["model"].as_str(), fields["count"].as_u64()),
        (Some("sale.order"), Some(1))
    );
    assert!(fields.get("fields").is_none(), "{fields}");
    let record = &fields["records"][0];
    assert_eq!(record["name"], "S00001");
    assert_eq!(record["partner_id.name"], "Deco Addict");
    assert_eq!(
        record["order_line.name"],
        json!([
            "[FURN_6667] Acoustic Bloc Screens (Wood)",
            "[FURN_8888] Office Lamp",
            "[FURN_7777] Office Chair"
        ])
    );
    assert_eq!(record["order_line.price_unit"], json!([295.0, 145.0, 65.0]));

    let nested = payload_of(
        &h,
        &hook,
        PayloadSpec::Body {
            body: example("manual_payload_nested.json"),
        },
    )
    .await;
    let record = &nested["records"][0];
    assert_eq!(record["partner_id"]["name"], "Deco Addict");
    assert!(record["partner_id"].get("email").is_some(), "{record}");
    let lines = record["order_line"].as_array().unwrap();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["product_id"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, PRODUCTS);
    assert!(
        lines
            .iter()
            .all(|l| l["product_uom_qty"].is_number() && l["product_id"]["id"].is_number())
    );

    // `outbound_send.json` as a spec body: `extra` is a static nested object, kept as it is.
    let send = payload_of(
        &h,
        &hook,
        PayloadSpec::Body {
            body: example("outbound_send.json"),
        },
    )
    .await;
    assert_eq!(send["extra"], json!({"source": "odoo", "event": "order_export"}));
    assert_eq!(send["records"][0]["order_line.product_id.name"], json!(PRODUCTS));
    assert_eq!(send["records"][0]["partner_id.name"], "Deco Addict");
}

#[tokio::test]
async fn templates_fill_each_record_and_keep_json_types() {
    let (h, hook) = setup().await;
    let template = payload_of(
        &h,
        &hook,
        PayloadSpec::Template {
            template: example("manual_payload_template.json"),
        },
    )
    .await;
    assert_eq!(
        (template["model"].as_str(), template["count"].as_u64()),
        (Some("sale.order"), Some(1))
    );
    let record = &template["records"][0];
    assert_eq!(
        record["id"], 1,
        "a whole-string placeholder keeps the number: {record}"
    );
    assert_eq!(record["name"], "S00001");
    assert_eq!(record["customer"], "Deco Addict");
    assert_eq!(record["line_names"].as_array().unwrap().len(), 3);
    assert_eq!(record["line_prices"], json!([295.0, 145.0, 65.0]));

    let placeholders = payload_of(
        &h,
        &hook,
        PayloadSpec::Template {
            template: example("manual_payload_nested_with_placeholders.json"),
        },
    )
    .await;
    let record = &placeholders["records"][0];
    assert_eq!(
        (record["order_id"].as_i64(), record["customer"].as_str()),
        (Some(1), Some("Deco Addict"))
    );
    // Despite their names, the `first_line_*` keys hold every line's value, as in the original.
    assert_eq!(record["first_line_product_name"], json!(PRODUCTS));
    assert_eq!(record["first_line_product_code"].as_array().unwrap().len(), 3);
}
