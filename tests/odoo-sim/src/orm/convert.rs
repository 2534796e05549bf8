//! Conversion of values sent to `create`/`write` (Odoo's `convert_to_cache` checks and their errors).

use serde_json::{Map, Value};

use crate::db::Db;
use crate::error::{OdooError, OdooResult};
use crate::pyrepr;
use crate::registry::{Field, Kind, Model};

/// Fields a client may send but the ORM silently ignores (magic columns).
const MAGIC: &[&str] = &[
    "id",
    "create_uid",
    "create_date",
    "write_uid",
    "write_date",
    "__last_update",
    "display_name",
];

/// Scalar values to store and x2many commands to run afterwards.
#[derive(Debug, Default)]
pub struct Converted {
    pub scalars: Map<String, Value>,
    pub x2many: Vec<(String, Value)>,
}

/// Checks and converts `vals` for `model`; `uid` names the user in `MissingError`s.
pub fn convert(db: &Db, model: &Model, vals: &Map<String, Value>, uid: i64) -> OdooResult<Converted> {
    let mut out = Converted::default();
    for (name, v) in vals {
        let Some(field) = model
            .field(name)
            .filter(|_| crate::automation::field_available(db, &model.name, name))
        else {
            return Err(OdooError::invalid_field(&model.name, name));
        };
        if MAGIC.contains(&name.as_str()) || (!field.store && field.readonly && !field.related) {
            continue;
        }
        if field.kind.is_x2many() {
            out.x2many.push((name.clone(), v.clone()));
            continue;
        }
        out.scalars
            .insert(name.clone(), scalar(db, model, field, v, uid)?);
    }
    Ok(out)
}

fn scalar(db: &Db, model: &Model, f: &Field, v: &Value, uid: i64) -> OdooResult<Value> {
    let falsy = matches!(v, Value::Null | Value::Bool(false));
    Ok(match f.kind {
        Kind::Selection => {
            if falsy {
                return Ok(Value::Bool(false));
            }
            let ok = match (&f.selection, v.as_str()) {
                (Some(opts), Some(s)) => opts.iter().any(|o| o == s),
                (None, _) => true,
                _ => false,
            };
            if !ok {
                return Err(OdooError::value(format!(
                    "Wrong value for {}.{}: {}",
                    model.name,
                    f.name,
                    pyrepr::repr(v)
                )));
            }
            v.clone()
        }
        Kind::Many2one => match v {
            Value::Null | Value::Bool(false) => Value::Bool(false),
            Value::Number(n) => {
                let id = n.as_i64().unwrap_or_default();
                let rel = f.relation.as_deref().unwrap_or_default();
                if let Some(t) = db.table(rel)
                    && !t.rows.contains_key(&id)
                    && (t.complete || id >= t.next_id || id <= 0)
                {
                    return Err(OdooError::missing(rel, &[id], uid));
                }
                Value::from(id)
            }
            other => {
                let text = match other {
                    Value::Array(items) => items
                        .iter()
                        .find_map(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    Value::String(s) => s.clone(),
                    o => o.to_string(),
                };
                return Err(OdooError::new(
                    "psycopg2.errors.InvalidTextRepresentation",
                    format!(
                        "invalid input syntax for type integer: \"{text}\"\nLINE 1: ...{}...\n",
                        pyrepr::repr(other)
                    ),
                ));
            }
        },
        Kind::Integer => match v {
            Value::Null | Value::Bool(false) => Value::Bool(false),
            Value::Bool(true) => Value::from(1),
            Value::Number(n) => Value::from(
                n.as_i64()
                    .unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64),
            ),
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => {
                    return Err(OdooError::value(format!(
                        "invalid literal for int() with base 10: {}",
                        pyrepr::str_repr(s)
                    )));
                }
            },
            other => {
                return Err(OdooError::type_error(format!(
                    "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                    py_type(other)
                )));
            }
        },
        Kind::Float | Kind::Monetary => match v {
            Value::Null | Value::Bool(false) => Value::from(0.0),
            Value::Bool(true) => Value::from(1.0),
            Value::Number(n) => Value::from(n.as_f64().unwrap_or_default()),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(x) => Value::from(x),
                Err(_) => {
                    return Err(OdooError::value(format!(
                        "could not convert string to float: {}",
                        pyrepr::str_repr(s)
                    )));
                }
            },
            other => {
                return Err(OdooError::type_error(format!(
                    "float() argument must be a string or a real number, not '{}'",
                    py_type(other)
                )));
            }
        },
        Kind::Boolean => Value::Bool(truthy(v)),
        Kind::Date => match v {
            Value::String(s) if !s.is_empty() => {
                let d = s.get(..10).unwrap_or(s);
                if !valid_date(d) {
                    return Err(OdooError::value(format!(
                        "time data {} does not match format '%Y-%m-%d'",
                        pyrepr::str_repr(s)
                    )));
                }
                Value::String(d.to_owned())
            }
            _ => Value::Bool(false),
        },
        Kind::Datetime => match v {
            Value::String(s) if !s.is_empty() => {
                let full = if s.len() == 10 {
                    format!("{s} 00:00:00")
                } else {
                    s.clone()
                };
                let dt = full.get(..19).unwrap_or(&full);
                if !(valid_date(&dt[..dt.len().min(10)]) && valid_time(dt)) {
                    return Err(OdooError::value(format!(
                        "time data {} does not match format '%Y-%m-%d %H:%M:%S'",
                        pyrepr::str_repr(dt)
                    )));
                }
                Value::String(dt.to_owned())
            }
            _ => Value::Bool(false),
        },
        Kind::Html => match v {
            Value::String(s) if !s.trim_start().starts_with('<') && !s.is_empty() => {
                Value::String(format!("<p>{s}</p>"))
            }
            Value::String(_) => v.clone(),
            _ => Value::Bool(false),
        },
        Kind::Char | Kind::Text => match v {
            Value::String(_) => v.clone(),
            Value::Null | Value::Bool(false) => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        _ => v.clone(),
    })
}

/// Python truthiness of a JSON value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(true) => true,
    }
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::String(_) => "str",
        _ => "NoneType",
    }
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn valid_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[11..]
            .iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 2 | 5) || c.is_ascii_digit())
}
