//! Extraction shaping speed: 10,000 fetched sale orders through a depth-3 spec, shaped straight into the
//! response's JSON bytes (what the gateway does). Prints µs per record.
//! Run: `cargo bench -p bitconn --bench shaping`

use bitconn::config::{FieldRule, ModelName};
use bitconn::extract::{self, spec};
use bitconn::odoo::{Catalog, ModelFields};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const RECORDS: usize = 10_000;
const ROUNDS: usize = 5;

fn model(name: &str, fields: Value) -> Arc<ModelFields> {
    Arc::new(ModelFields::from_fields_get(
        name.parse().unwrap_or_else(|_| panic!("model {name}")),
        &fields,
    ))
}

fn catalog(rules: &BTreeMap<ModelName, FieldRule>) -> Catalog<'_> {
    let mut c = Catalog::new(rules, bitconn::odoo::ModelRights::everything());
    let scalar = |t: &str| json!({"type": t, "string": "x"});
    let rel = |t: &str, r: &str| json!({"type": t, "string": "x", "relation": r});
    c.insert(model("sale.order", json!({"id": scalar("integer"), "name": scalar("char"), "state": scalar("selection"),
        "date_order": scalar("datetime"), "amount_total": scalar("monetary"), "partner_id": rel("many2one", "res.partner"),
        "order_line": rel("one2many", "sale.order.line")})));
    c.insert(model(
        "res.partner",
        json!({"id": scalar("integer"), "name": scalar("char"), "email": scalar("char"),
        "display_name": scalar("char"), "country_id": rel("many2one", "res.country")}),
    ));
    c.insert(model(
        "res.country",
        json!({"id": scalar("integer"), "code": scalar("char"), "name": scalar("char")}),
    ));
    c.insert(model(
        "sale.order.line",
        json!({"id": scalar("integer"), "name": scalar("text"), "product_uom_qty": scalar("float"),
        "price_unit": scalar("float"), "product_id": rel("many2one", "product.product")}),
    ));
    c.insert(model(
        "product.product",
        json!({"id": scalar("integer"), "name": scalar("char"), "default_code": scalar("char"),
        "list_price": scalar("float")}),
    ));
    c
}

fn record(i: usize) -> Map<String, Value> {
    let line = |n: usize| {
        json!({"id": i * 10 + n, "name": format!("[FURN_{n}] Chair"), "product_uom_qty": 2.0, "price_unit": 70.5,
        "product_id": {"id": 5 + n, "default_code": format!("FURN_{n}"), "name": "Office Chair", "list_price": 70.0}})
    };
    let value = json!({"id": i, "name": format!("S{i:05}"), "state": "sale", "date_order": "2026-10-28 00:46:00",
        "amount_total": 1740.0,
        "partner_id": {"id": 10, "display_name": "Deco Addict", "name": "Deco Addict", "email": "deco@example.com",
                       "country_id": {"id": 233, "code": "US", "name": "United States"}},
        "order_line": [line(1), line(2), line(3)]});
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn main() {
    let rules = BTreeMap::new();
    let catalog = catalog(&rules);
    let spec = spec::parse(&json!(["id", "name", "state", "date_order", "amount_total", "partner_id", "partner_id.country_id.code",
        "order_line.name", {"partner_id": ["id", "name", "email", {"country_id": ["id", "code", "name"]}]},
        {"order_line": ["id", "name", "product_uom_qty", "price_unit", {"product_id": ["id", "default_code", "name", "list_price"]}]}]))
    .unwrap_or_else(|e| panic!("spec: {e}"));
    let order: ModelName = "sale.order".parse().unwrap_or_else(|_| panic!("model"));
    let plan = extract::plan(&spec, &order, &catalog).unwrap_or_else(|e| panic!("plan: {e}"));
    let records: Vec<Map<String, Value>> = (0..RECORDS).map(record).collect();
    let mut out = Vec::with_capacity(RECORDS * 1024);
    for r in &records[..1000] {
        serde_json::to_writer(
            &mut out,
            &extract::Shaped {
                record: r,
                outputs: &plan.outputs,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut best = f64::MAX;
    let mut shaped_bytes = 0;
    for round in 1..=ROUNDS {
        let started = Instant::now();
        out.clear();
        let shaped: Vec<extract::Shaped<'_>> = records
            .iter()
            .map(|r| extract::Shaped {
                record: r,
                outputs: &plan.outputs,
            })
            .collect();
        serde_json::to_writer(&mut out, &shaped).unwrap_or_else(|e| panic!("{e}"));
        black_box(&out);
        shaped_bytes = out.len();
        let per_record = started.elapsed().as_secs_f64() * 1e6 / RECORDS as f64;
        best = best.min(per_record);
        println!(
            "round {round}: {RECORDS} records (depth-3 spec, 3 lines each) in {:.1} ms = {per_record:.2} µs/record",
            per_record * RECORDS as f64 / 1000.0
        );
    }
    let started = Instant::now();
    out.clear();
    serde_json::to_writer(&mut out, &records).unwrap_or_else(|e| panic!("{e}"));
    let baseline = started.elapsed().as_secs_f64() * 1e6 / RECORDS as f64;
    println!(
        "baseline: serialising the fetched records unshaped: {baseline:.2} µs/record ({} bytes each)",
        out.len() / RECORDS
    );
    println!(
        "shaping: best {best:.2} µs/record (target ≤ 5 µs); {} bytes of JSON per record",
        shaped_bytes / RECORDS
    );
}
