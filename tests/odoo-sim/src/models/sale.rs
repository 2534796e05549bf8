//! sale.order and its lines: order numbers, defaults, line amounts, order totals, confirmation, delete rules.

use serde_json::{Map, Value, json};

use crate::db::{Record, SEQ_SALE_ORDER, today_plus};
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::orm::create::MutEnv;

/// Days a new quotation stays valid (the demo company's setting).
const QUOTATION_VALIDITY_DAYS: i64 = 30;

/// What a new order gets besides `default_get`'s values (computed before the INSERT in Odoo).
pub fn create_defaults(env: &Env<'_>) -> Record {
    json!({
        "user_id": env.uid, "team_id": 1, "currency_id": 1, "pricelist_id": false, "require_signature": true,
        "require_payment": true, "invoice_status": "no", "note": false, "client_order_ref": false,
        "validity_date": today_plus(QUOTATION_VALIDITY_DAYS), "amount_untaxed": 0.0, "amount_tax": 0.0,
        "amount_total": 0.0, "prepayment_percent": 1.0, "tag_ids": [],
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub fn before_create(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    let named = row
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != "New" && !n.is_empty());
    if !named {
        let n = m.db.next_id(SEQ_SALE_ORDER);
        row.insert("name".into(), json!(format!("S{n:05}")));
    }
    if let Some(p) = row.get("partner_id").and_then(Value::as_i64) {
        let env = m.env();
        for (f, kind) in ADDRESSES {
            if row.get(*f).is_none_or(|v| !v.is_i64()) {
                row.insert((*f).into(), json!(super::partner::address_get(&env, p, kind)));
            }
        }
    }
    Ok(())
}

/// Addresses computed from the customer (`depends=['partner_id']`, stored, writable): field and contact type.
const ADDRESSES: &[(&str, &str)] = &[
    ("partner_invoice_id", "invoice"),
    ("partner_shipping_id", "delivery"),
];

/// A new customer recomputes the addresses the same write did not set.
pub fn after_write(m: &mut MutEnv<'_>, id: i64, written: &Map<String, Value>) {
    if !written.contains_key("partner_id") {
        return;
    }
    let partner =
        m.db.row("sale.order", id)
            .and_then(|r| r.get("partner_id"))
            .and_then(Value::as_i64);
    let env = m.env();
    let values: Vec<(&str, Value)> = ADDRESSES
        .iter()
        .filter(|(f, _)| !written.contains_key(*f))
        .map(|(f, kind)| {
            let v = partner.map_or(json!(false), |p| {
                json!(super::partner::address_get(&env, p, kind))
            });
            (*f, v)
        })
        .collect();
    if let Some(row) = m.db.row_mut("sale.order", id) {
        for (f, v) in values {
            row.insert(f.into(), v);
        }
    }
}

pub fn check_insert(row: &Record) -> OdooResult<()> {
    if row.get("partner_id").is_none_or(|v| !v.is_i64()) {
        return Err(OdooError::validation(
            "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: Sales Order (sale.order)\nField: Customer (partner_id)\n",
        ));
    }
    Ok(())
}

pub fn before_create_line(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    let section = row.get("display_type").is_some_and(|v| v.is_string());
    let order_state = row
        .get("order_id")
        .and_then(Value::as_i64)
        .and_then(|o| m.db.row("sale.order", o))
        .and_then(|o| o.get("state").cloned());
    for (k, v) in [
        ("sequence", json!(10)),
        ("discount", json!(0.0)),
        ("customer_lead", json!(0.0)),
        ("qty_invoiced", json!(0.0)),
        ("qty_to_invoice", json!(0.0)),
        ("qty_delivered", json!(0.0)),
        ("price_tax", json!(0.0)),
        ("tax_id", json!([])),
        ("display_type", json!(false)),
    ] {
        row.entry(k).or_insert(v);
    }
    row.insert("state".into(), order_state.unwrap_or(json!("draft")));
    if section {
        // sale.order.line.create() zeroes the quantity of section and note lines, whatever was sent.
        row.insert("product_uom_qty".into(), json!(0.0));
        row.entry("price_unit").or_insert(json!(0.0));
        return Ok(());
    }
    row.entry("product_uom_qty").or_insert(json!(1.0));
    if let Some(pid) = row.get("product_id").and_then(Value::as_i64) {
        let env = m.env();
        if let Some(p) = env.db.row("product.product", pid) {
            let name = env.display_name("product.product", pid, p);
            let uom = p.get("uom_id").cloned().unwrap_or(json!(false));
            let price = p.get("lst_price").cloned().unwrap_or(json!(0.0));
            row.entry("name").or_insert(name);
            row.entry("product_uom").or_insert(uom);
            row.entry("price_unit").or_insert(price);
        }
    }
    row.entry("price_unit").or_insert(json!(0.0));
    Ok(())
}

fn f(r: &Record, k: &str) -> f64 {
    r.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

/// Two-decimal rounding of monetary amounts (USD).
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Recomputes a line's amounts, then its order's totals.
pub fn line_changed(m: &mut MutEnv<'_>, id: i64) {
    let Some(row) = m.db.row_mut("sale.order.line", id) else {
        return;
    };
    let subtotal =
        round2(f(row, "product_uom_qty") * f(row, "price_unit") * (1.0 - f(row, "discount") / 100.0));
    let tax = f(row, "price_tax");
    row.insert("price_subtotal".into(), json!(subtotal));
    row.insert("price_total".into(), json!(round2(subtotal + tax)));
    let order = row.get("order_id").and_then(Value::as_i64);
    if let Some(order) = order {
        recompute_order(m, order, true);
    }
}

/// Recomputes `amount_*` of an order from its lines; tracks the change unless the order is being created.
pub fn recompute_order(m: &mut MutEnv<'_>, id: i64, track: bool) {
    let Some(lines) = m.db.table("sale.order.line") else {
        return;
    };
    let (mut untaxed, mut tax) = (0.0, 0.0);
    for r in lines
        .rows
        .values()
        .filter(|r| r.get("order_id").and_then(Value::as_i64) == Some(id))
    {
        untaxed += f(r, "price_subtotal");
        tax += f(r, "price_tax");
    }
    let Some(order) = m.db.row_mut("sale.order", id) else {
        return;
    };
    let mut changed = Map::new();
    for (k, v) in [
        ("amount_untaxed", round2(untaxed)),
        ("amount_tax", round2(tax)),
        ("amount_total", round2(untaxed + tax)),
    ] {
        let old = order.insert(k.into(), json!(v));
        if old.as_ref().and_then(Value::as_f64) != Some(v) {
            changed.insert(k.into(), old.unwrap_or(json!(0.0)));
        }
    }
    if track
        && !changed.is_empty()
        && let Some(model) = m.model("sale.order")
    {
        super::mail::track(m, model, id, &changed);
    }
}

pub fn before_unlink(m: &mut MutEnv<'_>, ids: &[i64]) -> OdooResult<()> {
    for id in ids {
        let state =
            m.db.row("sale.order", *id)
                .and_then(|r| r.get("state"))
                .and_then(Value::as_str)
                .unwrap_or("draft");
        if !matches!(state, "draft" | "cancel") {
            return Err(OdooError::user(
                "You can not delete a sent quotation or a confirmed sales order. You must first cancel it.",
            ));
        }
    }
    Ok(())
}

pub fn action_confirm(m: &mut MutEnv<'_>, ids: &[i64]) -> OdooResult<()> {
    let Some(model) = m.model("sale.order") else {
        return Ok(());
    };
    for &id in ids {
        let now = m.now.clone();
        let mut vals = Map::new();
        vals.insert("state".into(), json!("sale"));
        vals.insert("date_order".into(), json!(now));
        // `action_confirm` writes these values: the automation rules see a write.
        let pending = crate::automation::before_write(m, model, &[id], &vals)?;
        let (uid, precise) = (m.uid, m.now_precise.clone());
        let Some(row) = m.db.row_mut("sale.order", id) else {
            continue;
        };
        let old_state = row
            .insert("state".into(), json!("sale"))
            .unwrap_or(json!("draft"));
        row.insert("date_order".into(), json!(now));
        row.insert("write_date".into(), json!(now));
        row.insert("write_uid".into(), json!(uid));
        row.insert(
            crate::automation::payload::precise_key("write_date"),
            json!(precise),
        );
        let partner = row.get("partner_id").and_then(Value::as_i64);
        let lines: Vec<i64> =
            m.db.table("sale.order.line")
                .map(|t| {
                    t.rows
                        .iter()
                        .filter(|(_, r)| r.get("order_id").and_then(Value::as_i64) == Some(id))
                        .map(|(k, _)| *k)
                        .collect()
                })
                .unwrap_or_default();
        for l in lines {
            if let Some(r) = m.db.row_mut("sale.order.line", l) {
                r.insert("state".into(), json!("sale"));
            }
        }
        if let Some(p) = partner {
            super::mail::subscribe(m, "sale.order", id, p);
        }
        let mut changed = Map::new();
        changed.insert("state".into(), old_state);
        super::mail::track(m, model, id, &changed);
        crate::automation::written(m, model, id, &vals, pending.as_ref())?;
        crate::automation::flushed(m, model, &[id], pending)?;
    }
    Ok(())
}
