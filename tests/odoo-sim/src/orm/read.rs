//! `read`: field checks, id order kept, missing ids dropped (unless only `id` is read), many2one pairs, x2many
//! lists, the id-0 phantom.

use serde_json::{Map, Value};

use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::registry::{Field, Kind, Model};

/// The field names `read` returns when none are asked for.
pub fn all_fields(model: &Model) -> Vec<String> {
    model
        .fields
        .iter()
        .filter(|f| f.kind != Kind::Binary && f.name != "id")
        .map(|f| f.name.clone())
        .collect()
}

/// Resolves requested field names, failing like Odoo on an unknown one.
pub fn check_fields<'m>(model: &'m Model, names: &[String]) -> OdooResult<Vec<&'m Field>> {
    names
        .iter()
        .filter(|n| n.as_str() != "id")
        .map(|n| {
            model
                .field(n)
                .ok_or_else(|| OdooError::invalid_field(&model.name, n))
        })
        .collect()
}

/// `read(ids, fields, load)`; `classic` gives many2one as `[id, name]`.
pub fn read(
    env: &Env<'_>,
    model: &Model,
    ids: &[i64],
    names: &[String],
    classic: bool,
) -> OdooResult<Vec<Value>> {
    let fields = check_fields(model, names)?;
    if fields.is_empty() && !names.is_empty() {
        // Only `id` asked for: Odoo answers from the ids themselves, without reading (or checking) the rows.
        return Ok(ids_only(ids));
    }
    let mut out = Vec::with_capacity(ids.len());
    let phantom = ids.contains(&0).then(|| crate::models::phantom(env, model));
    for &id in ids {
        let rec = match (env.db.row(&model.name, id), &phantom) {
            (Some(r), _) => r,
            (None, Some(p)) if id == 0 => p,
            _ => continue,
        };
        let mut obj = Map::with_capacity(fields.len() + 1);
        obj.insert("id".into(), Value::from(id));
        for f in &fields {
            if !rec.contains_key(&f.name) && !env.knows(model, f) {
                // No value to give: left out rather than shown as an empty value Odoo would not answer.
                continue;
            }
            let v = env.value_of(model, id, rec, f);
            obj.insert(f.name.clone(), shape(env, f, v, classic));
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

/// `[{"id": id}, ...]` for every id as given, existing or not.
pub fn ids_only(ids: &[i64]) -> Vec<Value> {
    ids.iter()
        .map(|id| {
            let mut o = Map::new();
            o.insert("id".into(), Value::from(*id));
            Value::Object(o)
        })
        .collect()
}

/// Converts a stored value to its `read` form.
pub fn shape(env: &Env<'_>, f: &Field, v: Value, classic: bool) -> Value {
    match f.kind {
        Kind::Many2one => match v.as_i64() {
            Some(id) if classic => {
                let name = f
                    .relation
                    .as_deref()
                    .map_or(Value::Bool(false), |rel| env.target_name(rel, id));
                Value::Array(vec![Value::from(id), name])
            }
            Some(id) => Value::from(id),
            None if v.is_array() => v,
            None => Value::Bool(false),
        },
        Kind::Float | Kind::Monetary => match v.as_f64() {
            Some(x) => Value::from(x),
            None => Value::from(0.0),
        },
        Kind::Integer => match v {
            Value::Number(_) => v,
            _ => Value::from(0),
        },
        k if k.is_x2many() => match v {
            Value::Array(_) => v,
            _ => Value::Array(Vec::new()),
        },
        _ => match v {
            Value::Null => Value::Bool(false),
            v => v,
        },
    }
}
