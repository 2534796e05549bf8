//! account.move: draft names, journals by type, invoice lines with a receivable line, posting, delete rules.

use serde_json::{Value, json};

use crate::db::{Record, today_plus};
use crate::error::{OdooError, OdooResult};
use crate::orm::create::{MutEnv, create_one};

/// Display types of lines listed in `invoice_line_ids`.
const INVOICE_LINE_TYPES: &[&str] = &["product", "line_section", "line_note"];
/// Income account of product lines and receivable account of the payment-term line (demo chart).
const INCOME_ACCOUNT: i64 = 27;
const RECEIVABLE_ACCOUNT: i64 = 7;
/// Days of the "30 Days" payment term.
const PAYMENT_TERM_DAYS: i64 = 30;

pub fn display_name(rec: &Record) -> Value {
    let name = rec.get("name").and_then(Value::as_str).unwrap_or("/");
    if rec.get("state").and_then(Value::as_str) == Some("draft") {
        let label = match rec.get("move_type").and_then(Value::as_str).unwrap_or("entry") {
            "out_invoice" => "Draft Invoice",
            "in_invoice" => "Draft Bill",
            "out_refund" => "Draft Credit Note",
            "in_refund" => "Draft Vendor Credit Note",
            "out_receipt" => "Draft Sales Receipt",
            "in_receipt" => "Draft Purchase Receipt",
            _ => "Draft Entry",
        };
        return json!(format!("{label} {}", if name == "/" { "" } else { name }));
    }
    json!(name)
}

fn is_invoice(t: &str) -> bool {
    t.starts_with("out_") || t.starts_with("in_")
}

pub fn before_create(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    let move_type = row
        .get("move_type")
        .and_then(Value::as_str)
        .unwrap_or("entry")
        .to_owned();
    let journal = if move_type.starts_with("out_") {
        1
    } else if move_type.starts_with("in_") {
        2
    } else {
        3
    };
    let today = m.today.clone();
    for (k, v) in [
        ("journal_id", json!(journal)),
        ("name", json!("/")),
        ("date", json!(today)),
        ("invoice_date", json!(false)),
        ("currency_id", json!(1)),
        ("company_id", json!(1)),
        ("payment_state", json!("not_paid")),
        ("amount_untaxed", json!(0.0)),
        ("amount_tax", json!(0.0)),
        ("amount_total", json!(0.0)),
        ("amount_residual", json!(0.0)),
    ] {
        row.entry(k).or_insert(v);
    }
    if is_invoice(&move_type) {
        let partner = row.get("partner_id").and_then(Value::as_i64);
        let term = partner
            .and_then(|p| m.db.row("res.partner", p))
            .and_then(|p| p.get("property_payment_term_id").cloned())
            .unwrap_or(json!(false));
        row.entry("invoice_payment_term_id").or_insert(term);
        row.entry("invoice_date_due")
            .or_insert(json!(today_plus(PAYMENT_TERM_DAYS)));
        row.entry("invoice_user_id").or_insert(json!(m.uid));
        if let Some(p) = partner {
            row.entry("commercial_partner_id").or_insert(json!(p));
        }
    }
    Ok(())
}

pub fn before_create_line(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    let mv = row
        .get("move_id")
        .and_then(Value::as_i64)
        .and_then(|id| m.db.row("account.move", id))
        .cloned();
    let date = mv
        .as_ref()
        .and_then(|r| r.get("date").cloned())
        .unwrap_or(json!(m.today));
    row.entry("display_type").or_insert(json!("product"));
    row.entry("date").or_insert(date);
    row.entry("tax_ids").or_insert(json!([]));
    row.entry("sequence").or_insert(json!(100));
    row.entry("discount").or_insert(json!(0.0));
    row.entry("quantity").or_insert(json!(1.0));
    row.entry("price_unit").or_insert(json!(0.0));
    if row.get("display_type").and_then(Value::as_str) == Some("product") {
        row.entry("account_id").or_insert(json!(INCOME_ACCOUNT));
        if let Some(pid) = row.get("product_id").and_then(Value::as_i64) {
            let env = m.env();
            if let Some(p) = env.db.row("product.product", pid) {
                let name = env.display_name("product.product", pid, p);
                row.entry("name").or_insert(name);
                row.entry("product_uom_id")
                    .or_insert(p.get("uom_id").cloned().unwrap_or(json!(false)));
            }
        }
        let q = row.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
        let pu = row.get("price_unit").and_then(Value::as_f64).unwrap_or(0.0);
        let d = row.get("discount").and_then(Value::as_f64).unwrap_or(0.0);
        let subtotal = (q * pu * (1.0 - d / 100.0) * 100.0).round() / 100.0;
        let sign = if mv
            .as_ref()
            .and_then(|r| r.get("move_type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("in_") || t == "out_refund")
        {
            -1.0
        } else {
            1.0
        };
        row.insert("price_subtotal".into(), json!(subtotal));
        row.insert("price_total".into(), json!(subtotal));
        let balance = -sign * subtotal;
        row.insert("balance".into(), json!(balance));
        row.insert("debit".into(), json!(balance.max(0.0)));
        row.insert("credit".into(), json!((-balance).max(0.0)));
    }
    Ok(())
}

/// Adds the payment-term (receivable) line and the totals of a new invoice.
pub fn after_create(m: &mut MutEnv<'_>, id: i64) {
    let Some(mv) = m.db.row("account.move", id) else {
        return;
    };
    let move_type = mv
        .get("move_type")
        .and_then(Value::as_str)
        .unwrap_or("entry")
        .to_owned();
    if !is_invoice(&move_type) {
        return;
    }
    let Some(lines) = m.db.table("account.move.line") else {
        return;
    };
    let total: f64 = lines
        .rows
        .values()
        .filter(|r| {
            r.get("move_id").and_then(Value::as_i64) == Some(id)
                && r.get("display_type").and_then(Value::as_str) == Some("product")
        })
        .map(|r| r.get("price_subtotal").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();
    let total = (total * 100.0).round() / 100.0;
    if let Some(aml) = m.model("account.move.line") {
        let sign = if move_type.starts_with("in_") || move_type == "out_refund" {
            -1.0
        } else {
            1.0
        };
        let vals = json!({"move_id": id, "display_type": "payment_term", "name": "", "account_id": RECEIVABLE_ACCOUNT,
            "quantity": 0.0, "price_unit": 0.0, "sequence": 12000, "balance": sign * total,
            "debit": (sign * total).max(0.0), "credit": (-sign * total).max(0.0), "price_subtotal": 0.0, "price_total": 0.0});
        if let Some(vals) = vals.as_object() {
            let _ = create_one(m, aml, vals);
        }
    }
    if let Some(row) = m.db.row_mut("account.move", id) {
        for k in ["amount_untaxed", "amount_total", "amount_residual"] {
            row.insert(k.into(), json!(total));
        }
        row.insert("amount_tax".into(), json!(0.0));
    }
}

pub fn o2m_accepts(m: &MutEnv<'_>, parent: &str, field: &str, child: &str, child_id: i64) -> bool {
    if parent != "account.move" || field != "invoice_line_ids" || child != "account.move.line" {
        return true;
    }
    m.db.row(child, child_id)
        .and_then(|r| r.get("display_type"))
        .and_then(Value::as_str)
        .is_some_and(|t| INVOICE_LINE_TYPES.contains(&t))
}

pub fn before_unlink(m: &mut MutEnv<'_>, ids: &[i64]) -> OdooResult<()> {
    for id in ids {
        if m.db
            .row("account.move", *id)
            .and_then(|r| r.get("state"))
            .and_then(Value::as_str)
            == Some("posted")
        {
            return Err(OdooError::user(
                "You can't delete a posted journal item. Don\u{2019}t play games with your accounting records; reset the journal entry to draft before deleting it.",
            ));
        }
    }
    Ok(())
}

pub fn action_post(m: &mut MutEnv<'_>, ids: &[i64]) -> OdooResult<()> {
    for &id in ids {
        let Some(mv) = m.db.row("account.move", id) else {
            continue;
        };
        let move_type = mv
            .get("move_type")
            .and_then(Value::as_str)
            .unwrap_or("entry")
            .to_owned();
        let date = mv
            .get("invoice_date")
            .and_then(Value::as_str)
            .map_or_else(|| m.today.clone(), str::to_owned);
        let prefix = match move_type.as_str() {
            "out_invoice" => "INV",
            "out_refund" => "RINV",
            "in_invoice" => "BILL",
            "in_refund" => "RBILL",
            _ => "MISC",
        };
        let head = format!("{prefix}/{}/", &date[..4.min(date.len())]);
        let count = m.db.table("account.move").map_or(0, |t| {
            t.rows
                .values()
                .filter(|r| {
                    r.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.starts_with(&head))
                })
                .count()
        });
        let name = format!("{head}{:05}", count + 1);
        if let Some(row) = m.db.row_mut("account.move", id) {
            row.insert("state".into(), json!("posted"));
            row.insert("name".into(), json!(name));
            if is_invoice(&move_type) {
                row.insert("invoice_date".into(), json!(date));
            }
        }
    }
    Ok(())
}
