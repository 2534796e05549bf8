//! Per-model behaviour (Odoo's Python overrides): defaults, display names, computed values, constraints,
//! side effects and business methods of partners, sales, invoices, leads and the mail thread.

mod account;
mod computed;
mod crm;
pub mod defaults;
mod mail;
mod partner;
mod sale;

use serde_json::{Map, Value, json};

use crate::db::Record;
use crate::error::OdooResult;
use crate::orm::Env;
use crate::orm::create::MutEnv;
use crate::registry::{Field, Model};

/// `display_name` of a row.
pub fn display_name(env: &Env<'_>, model: &str, id: i64, rec: &Record) -> Value {
    match model {
        "res.partner" => partner::display_name(env, id, rec),
        "account.move" => account::display_name(rec),
        "mail.message" => mail::display_name(rec),
        _ => {
            if let Some(v) = rec.get("display_name").filter(|v| v.is_string()) {
                return v.clone();
            }
            match rec.get("name") {
                Some(Value::String(s)) => Value::String(s.clone()),
                _ => rec.get("login").cloned().unwrap_or(Value::Bool(false)),
            }
        }
    }
}

/// Values of fields the simulator computes (see [`computes`]).
pub fn computed(env: &Env<'_>, model: &Model, id: i64, rec: &Record, field: &Field) -> Option<Value> {
    computed::value(env, model, id, rec, field)
        .or_else(|| crate::automation::computed(env, model, rec, &field.name))
}

/// Whether the simulator computes `model.field` from other values.
pub fn computes(model: &str, field: &str) -> bool {
    computed::computes(model, field) || crate::automation::computes(model, field)
}

/// Whether the simulator produces values for `field` itself (computed fields and the mail thread's lists).
pub fn knows(model: &Model, field: &str) -> bool {
    computes(&model.name, field) || mail::computes(model, field)
}

/// x2many values computed from other tables (the mail thread's messages and followers).
pub fn x2many_override(
    env: &Env<'_>,
    model: &Model,
    id: i64,
    rec: &Record,
    field: &Field,
) -> Option<Vec<i64>> {
    mail::x2many(env, model, id, rec, field)
}

/// Defaults of a new row: `default_get`'s values for the stored (or related) fields, x2many commands as id
/// lists, and, for `create`, what the model sets before the INSERT.
pub fn defaults(env: &Env<'_>, model: &Model, for_create: bool) -> Record {
    let mut d = Record::new();
    for (k, v) in defaults::values(env, model, defaults::Extra::default()) {
        let Some(f) = model.field(&k) else { continue };
        if for_create && !f.store && !f.related {
            continue;
        }
        let v = match (f.kind.is_x2many(), &v) {
            (true, Value::Array(cmds)) => json!(command_ids(cmds)),
            _ => v,
        };
        d.insert(k, v);
    }
    if for_create {
        let extra = match model.name.as_str() {
            "res.partner" => partner::create_defaults(),
            "sale.order" => sale::create_defaults(env),
            _ => Record::new(),
        };
        for (k, v) in extra {
            if !env.ctx.contains_key(&format!("default_{k}")) {
                d.insert(k, v);
            }
        }
    }
    d
}

/// The ids an x2many default's `[(6, 0, ids)]` / `(4, id)` commands leave.
fn command_ids(cmds: &[Value]) -> Vec<i64> {
    let mut ids = Vec::new();
    for cmd in cmds {
        match cmd.as_array().map(Vec::as_slice) {
            Some([code, _, list]) if code.as_i64() == Some(6) => {
                ids = list
                    .as_array()
                    .map(|l| l.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
            }
            Some([code, id, ..]) if code.as_i64() == Some(4) => ids.extend(id.as_i64()),
            _ => {}
        }
        if let Some(id) = cmd.as_i64() {
            ids.push(id);
        }
    }
    ids
}

/// `default_get(fields)`.
pub fn default_get(
    env: &Env<'_>,
    model: &Model,
    fields: &[String],
    extra: defaults::Extra,
) -> OdooResult<Map<String, Value>> {
    defaults::default_get(env, model, fields, extra)
}

/// The record `read` shows for id 0: defaults and empty values.
pub fn phantom(env: &Env<'_>, model: &Model) -> Record {
    defaults(env, model, false)
}

/// Fills values Odoo computes before the INSERT (names from sequences, related defaults).
pub fn before_create(m: &mut MutEnv<'_>, model: &Model, row: &mut Record) -> OdooResult<()> {
    match model.name.as_str() {
        "res.partner" => partner::before_create(m, row),
        "sale.order" => sale::before_create(m, row),
        "sale.order.line" => sale::before_create_line(m, row),
        "crm.lead" => crm::before_create(m, row),
        "account.move" => account::before_create(m, row),
        "account.move.line" => account::before_create_line(m, row),
        "mail.message" => mail::before_create(m, row),
        _ => crate::automation::records::before_create(m, model, row),
    }
}

/// SQL constraints checked by the INSERT itself (the id is already consumed when they fail).
pub fn check_insert(m: &mut MutEnv<'_>, model: &Model, id: i64, row: &Record) -> OdooResult<()> {
    let _ = id;
    match model.name.as_str() {
        "res.partner" => partner::check_insert(row),
        "sale.order" => sale::check_insert(row),
        _ => crate::automation::records::check_insert(m, model, row),
    }
}

/// Computations and side effects after a create.
pub fn after_create(m: &mut MutEnv<'_>, model: &Model, id: i64) -> OdooResult<()> {
    match model.name.as_str() {
        "res.partner" => partner::recompute(m, id),
        "sale.order.line" => sale::line_changed(m, id),
        "sale.order" => sale::recompute_order(m, id, false),
        "account.move" => account::after_create(m, id),
        _ => {}
    }
    mail::after_create(m, model, id);
    Ok(())
}

/// Whether a parent's one2many `field` lists a child (invoice lines exclude tax and payment-term lines).
pub fn o2m_accepts(m: &MutEnv<'_>, parent: &str, field: &str, child: &str, child_id: i64) -> bool {
    account::o2m_accepts(m, parent, field, child, child_id)
}

pub fn before_write(
    m: &mut MutEnv<'_>,
    model: &Model,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> OdooResult<()> {
    let _ = (m, model, ids, vals);
    Ok(())
}

/// Recomputations and tracking after a row's scalars were written (`changed` holds the old values of those that
/// changed).
pub fn after_write(
    m: &mut MutEnv<'_>,
    model: &Model,
    id: i64,
    written: &Map<String, Value>,
    changed: &Map<String, Value>,
) -> OdooResult<()> {
    match model.name.as_str() {
        "res.partner" => partner::after_write(m, id, changed),
        "sale.order" => sale::after_write(m, id, written),
        "sale.order.line" => sale::line_changed(m, id),
        "crm.lead" => crm::after_write(m, id, changed),
        _ => {}
    }
    mail::track(m, model, id, changed);
    Ok(())
}

pub fn after_x2many(m: &mut MutEnv<'_>, model: &Model, id: i64, field: &str) -> OdooResult<()> {
    if model.name == "sale.order" && field == "order_line" {
        sale::recompute_order(m, id, true);
    }
    Ok(())
}

/// Children deleted with their parent (`ondelete='cascade'`).
pub fn cascades(model: &str) -> &'static [(&'static str, &'static str)] {
    match model {
        "sale.order" => &[("sale.order.line", "order_id")],
        "account.move" => &[("account.move.line", "move_id")],
        "base.automation" => &[("ir.actions.server", "base_automation_id")],
        _ => &[],
    }
}

pub fn before_unlink(m: &mut MutEnv<'_>, model: &Model, ids: &[i64]) -> OdooResult<()> {
    match model.name.as_str() {
        "res.partner" => partner::before_unlink(m, ids),
        "sale.order" => sale::before_unlink(m, ids),
        "account.move" => account::before_unlink(m, ids),
        _ => Ok(()),
    }
}

pub fn after_unlink(m: &mut MutEnv<'_>, model: &Model, id: i64, row: &Record) -> OdooResult<()> {
    let _ = id;
    if model.name == "sale.order.line"
        && let Some(order) = row.get("order_id").and_then(Value::as_i64)
        && m.db.exists("sale.order", order)
    {
        sale::recompute_order(m, order, true);
    }
    Ok(())
}

/// Values of `copy()`: stored fields minus one2many lists and metadata, plus `default`.
pub fn copy_data(
    env: &Env<'_>,
    model: &Model,
    id: i64,
    default: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut vals = Map::new();
    if let Some(rec) = env.db.row(&model.name, id) {
        for f in &model.fields {
            if !f.store || f.kind == crate::registry::Kind::One2many || f.readonly || f.related {
                continue;
            }
            if let Some(v) = rec.get(&f.name) {
                vals.insert(f.name.clone(), v.clone());
            }
        }
        if model.name == "res.partner"
            && let Some(Value::String(n)) = rec.get("name")
        {
            vals.insert("name".into(), Value::String(format!("{n} (copy)")));
        }
    }
    for k in [
        "id",
        "display_name",
        "create_date",
        "write_date",
        "create_uid",
        "write_uid",
        "message_follower_ids",
        "message_partner_ids",
    ] {
        vals.remove(k);
    }
    if let Some(d) = default {
        vals.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    vals
}

/// Values `name_create(name)` creates (partners parse `Name <email>`).
pub fn name_create_vals(model: &Model, name: &str) -> Map<String, Value> {
    let mut vals = Map::new();
    if model.name == "res.partner"
        && let Some((n, rest)) = name.split_once('<')
        && let Some(email) = rest.strip_suffix('>')
    {
        vals.insert("name".into(), json!(n.trim()));
        vals.insert("email".into(), json!(email.trim()));
        return vals;
    }
    vals.insert("name".into(), json!(name));
    vals
}

/// Business methods (`action_confirm`, `action_post`, `message_post`); `None` when the model lacks it.
pub fn call_method(
    m: &mut MutEnv<'_>,
    model: &Model,
    method: &str,
    ids: &[i64],
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Option<OdooResult<Option<Value>>> {
    match (model.name.as_str(), method) {
        ("sale.order", "action_confirm") => {
            Some(sale::action_confirm(m, ids).map(|()| Some(Value::Bool(true))))
        }
        ("account.move", "action_post") => {
            Some(account::action_post(m, ids).map(|()| Some(Value::Bool(false))))
        }
        (_, "message_post") if mail::is_thread(model) => {
            Some(mail::message_post(m, model, ids, args, kwargs).map(|id| Some(Value::from(id))))
        }
        _ => crate::automation::records::call_method(m, model, method, ids),
    }
}
