//! The body of a "Send Webhook Notification" action (`_run_action_webhook`): `_action`, `_id`, `_model`, and the
//! chosen fields as `read(load=None)` gives them, serialised by `json.dumps(sort_keys=True, default=str)`.

use serde_json::{Map, Value, json};

use super::meta;
use super::pyjson;
use crate::db::Record;
use crate::orm::Env;
use crate::registry::{Field, Kind, Model};

/// Row key of a datetime's value with microseconds (what Odoo's cache holds after a create or write in the
/// same transaction; `read` over RPC gives whole seconds). Field names cannot contain a dot.
pub fn precise_key(field: &str) -> String {
    format!("{field}.precise")
}

/// The names of `ir.model.fields` ids, in the action's order.
pub fn field_names(env: &Env<'_>, field_ids: &[i64]) -> Vec<String> {
    field_ids
        .iter()
        .filter_map(|id| meta::field_of(env.db, *id).map(|(_, n)| n))
        .collect()
}

/// The JSON text POSTed for row `id` of `model` by action `action` (row of ir.actions.server).
pub fn body(env: &Env<'_>, model: &Model, id: i64, action_id: i64, action: &Record) -> String {
    let name = action.get("name").and_then(Value::as_str).unwrap_or_default();
    let mut vals = Map::new();
    vals.insert("_model".into(), json!(model.name));
    vals.insert("_id".into(), json!(id));
    vals.insert("_action".into(), json!(format!("{name}(#{action_id})")));
    let field_ids: Vec<i64> = action
        .get("webhook_field_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if !field_ids.is_empty()
        && let Some(rec) = env.db.row(&model.name, id)
    {
        vals.insert("id".into(), json!(id));
        for fname in field_names(env, &field_ids) {
            let Some(f) = model.field(&fname) else { continue };
            if let Some(v) = value(env, model, id, rec, f) {
                vals.insert(fname, v);
            }
        }
    }
    pyjson::dumps(&Value::Object(vals), None)
}

/// `webhook_sample_payload`: the same fields read from the model's first record, `json.dumps(indent=4)`.
pub fn sample(env: &Env<'_>, model: &Model, action: &Record) -> Value {
    let name = action.get("name").and_then(Value::as_str).unwrap_or_default();
    let mut vals = Map::new();
    vals.insert("_model".into(), json!(model.name));
    vals.insert("_name".into(), json!(name));
    let field_ids: Vec<i64> = action
        .get("webhook_field_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    // `search([], limit=1)`: the first record in the model's order.
    let first = crate::orm::search::search(env, model, &json!([]), &json!(0), &json!(1), &Value::Null)
        .ok()
        .and_then(|ids| ids.first().copied())
        .and_then(|id| env.db.row(&model.name, id).map(|rec| (id, rec)));
    match first {
        Some((id, rec)) => {
            vals.insert("id".into(), json!(id));
            for fname in field_names(env, &field_ids) {
                if let Some(f) = model.field(&fname)
                    && let Some(v) = value(env, model, id, rec, f)
                {
                    vals.insert(fname, v);
                }
            }
        }
        None => {
            vals.insert("id".into(), json!(1));
        }
    }
    json!(pyjson::dumps(&Value::Object(vals), Some(4)))
}

/// A field's value as `read(load=None)` returns it, after `default=str` (None when the simulator has none).
fn value(env: &Env<'_>, model: &Model, id: i64, rec: &Record, f: &Field) -> Option<Value> {
    let v = env.value_of(model, id, rec, f);
    // A value the simulator does not have is left out rather than sent as a made-up empty value (related fields
    // whose source the call wrote, such as `image_128`, have one).
    if !rec.contains_key(&f.name) && !env.knows(model, f) && v.is_null() {
        return None;
    }
    let falsy = matches!(v, Value::Null | Value::Bool(false));
    Some(match f.kind {
        Kind::Many2one => v.as_i64().map_or(json!(false), Value::from),
        k if k.is_x2many() => match v {
            Value::Array(_) => v,
            _ => json!([]),
        },
        Kind::Float | Kind::Monetary => json!(v.as_f64().unwrap_or(0.0)),
        Kind::Integer => match v {
            Value::Number(_) => v,
            _ => json!(0),
        },
        Kind::Boolean => json!(crate::orm::convert::truthy(&v)),
        Kind::Datetime if !falsy => rec.get(&precise_key(&f.name)).cloned().unwrap_or(v),
        // `default=str` on the base64 bytes `read` returns.
        Kind::Binary => match v.as_str() {
            Some(b64) if !b64.is_empty() => json!(format!("b'{b64}'")),
            _ => json!(false),
        },
        _ if falsy => json!(false),
        _ => v,
    })
}
