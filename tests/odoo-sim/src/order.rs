//! `order` specifications: Odoo's validation and errors, and sorting with PostgreSQL NULL placement.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::registry::{Kind, Model};

/// How deep many2one orders expand into their comodel's `_order`.
const MAX_M2O_DEPTH: usize = 3;

/// One `field [asc|desc] [nulls first|last]` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub field: String,
    pub desc: bool,
    pub nulls_first: Option<bool>,
}

fn invalid(spec: &str) -> OdooError {
    OdooError::user(format!(
        "Invalid \"order\" specified ({spec}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)"
    ))
}

/// Parses and checks an order specification against `model`.
pub fn parse(model: &Model, spec: &str) -> OdooResult<Vec<Item>> {
    let mut items = Vec::new();
    for part in spec.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let Some((&name, rest)) = words.split_first() else {
            return Err(invalid(spec));
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.');
        if !valid_name {
            return Err(invalid(spec));
        }
        let lower: Vec<String> = rest.iter().map(|w| w.to_ascii_lowercase()).collect();
        let (desc, rest) = match lower.first().map(String::as_str) {
            Some("asc") => (false, &lower[1..]),
            Some("desc") => (true, &lower[1..]),
            _ => (false, &lower[..]),
        };
        let nulls_first = match rest {
            [] => None,
            [n, f] if n == "nulls" && f == "first" => Some(true),
            [n, l] if n == "nulls" && l == "last" => Some(false),
            _ => return Err(invalid(spec)),
        };
        let field_name = name.split('.').next().unwrap_or(name);
        let Some(field) = model.field(field_name) else {
            return Err(OdooError::invalid_field(&model.name, field_name));
        };
        if !field.store && !field.related && field.name != "id" {
            return Err(OdooError::value(format!(
                "Cannot convert {}.{} to SQL because it is not stored",
                model.name, field.name
            )));
        }
        items.push(Item {
            field: field_name.to_owned(),
            desc,
            nulls_first,
        });
    }
    Ok(items)
}

/// One sort column value with its direction and NULL placement.
#[derive(Debug, Clone)]
struct Col {
    val: Option<SortVal>,
    desc: bool,
    nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum SortVal {
    Num(f64),
    Str(String),
}

#[allow(clippy::too_many_arguments)] // recursion state of many2one expansion
fn columns(
    env: &Env<'_>,
    model: &Model,
    id: i64,
    items: &[Item],
    outer_desc: bool,
    nulls: Option<bool>,
    depth: usize,
    out: &mut Vec<Col>,
) {
    let rec = env.db.row(&model.name, id);
    for item in items {
        let desc = item.desc != outer_desc;
        let nulls_first = nulls.or(item.nulls_first).unwrap_or(desc);
        let Some(field) = model.field(&item.field) else {
            continue;
        };
        if field.kind == Kind::Many2one
            && depth < MAX_M2O_DEPTH
            && let Some(cm) = field.relation.as_deref().and_then(|r| env.reg.model(r))
        {
            let target = rec.and_then(|r| r.get(&field.name)).and_then(Value::as_i64);
            let sub = parse(cm, &cm.order).unwrap_or_default();
            match target.filter(|t| env.db.exists(&cm.name, *t)) {
                Some(t) => columns(env, cm, t, &sub, desc, item.nulls_first.or(nulls), depth + 1, out),
                None => {
                    for s in &sub {
                        let d = s.desc != desc;
                        out.push(Col {
                            val: None,
                            desc: d,
                            nulls_first: item.nulls_first.or(nulls).or(s.nulls_first).unwrap_or(d),
                        });
                    }
                }
            }
            continue;
        }
        let v = if field.name == "id" {
            Some(Value::from(id))
        } else {
            rec.and_then(|r| r.get(&field.name)).cloned()
        };
        let val = match v {
            Some(Value::Number(n)) => n.as_f64().map(SortVal::Num),
            Some(Value::String(s)) => Some(SortVal::Str(s)),
            Some(Value::Bool(b)) if field.kind == Kind::Boolean => {
                Some(SortVal::Num(if b { 1.0 } else { 0.0 }))
            }
            _ if field.kind.is_numeric() => Some(SortVal::Num(0.0)),
            _ => None,
        };
        out.push(Col {
            val,
            desc,
            nulls_first,
        });
    }
}

fn cmp_cols(a: &[Col], b: &[Col]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = match (&x.val, &y.val) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => {
                if x.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(_), None) => {
                if x.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Some(p), Some(q)) => {
                let o = match (p, q) {
                    (SortVal::Num(m), SortVal::Num(n)) => m.partial_cmp(n).unwrap_or(Ordering::Equal),
                    (SortVal::Str(m), SortVal::Str(n)) => m.as_bytes().cmp(n.as_bytes()),
                    (SortVal::Num(_), SortVal::Str(_)) => Ordering::Less,
                    (SortVal::Str(_), SortVal::Num(_)) => Ordering::Greater,
                };
                if x.desc { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Sorts ids of `model` by `items` (stable; ties keep their relative order).
pub fn sort(env: &Env<'_>, model: &Model, items: &[Item], ids: &mut Vec<i64>) {
    let mut keyed: Vec<(Vec<Col>, i64)> = ids
        .iter()
        .map(|&id| {
            let mut cols = Vec::with_capacity(items.len() + 2);
            columns(env, model, id, items, false, None, 0, &mut cols);
            (cols, id)
        })
        .collect();
    keyed.sort_by(|a, b| cmp_cols(&a.0, &b.0));
    *ids = keyed.into_iter().map(|(_, id)| id).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(vals: &[Option<f64>], desc: bool) -> Vec<Col> {
        vals.iter()
            .map(|v| Col {
                val: v.map(SortVal::Num),
                desc,
                nulls_first: desc,
            })
            .collect()
    }

    #[test]
    fn nulls_last_ascending_first_descending() {
        assert_eq!(
            cmp_cols(&cols(&[None], false), &cols(&[Some(1.0)], false)),
            Ordering::Greater
        );
        assert_eq!(
            cmp_cols(&cols(&[None], true), &cols(&[Some(1.0)], true)),
            Ordering::Less
        );
        assert_eq!(
            cmp_cols(&cols(&[Some(2.0)], true), &cols(&[Some(1.0)], true)),
            Ordering::Less
        );
    }

    fn model() -> Model {
        let fields = serde_json::json!({
            "name": {"type": "char", "store": true},
            "display_name": {"type": "char", "store": false},
        });
        let reg = crate::registry::Registry::build(&[("x.model", fields)], &[]);
        reg.model("x.model").cloned().unwrap()
    }

    #[test]
    fn parses_directions_and_nulls() {
        let m = model();
        let items = parse(&m, "name desc nulls last, id").unwrap();
        assert_eq!(
            items[0],
            Item {
                field: "name".into(),
                desc: true,
                nulls_first: Some(false)
            }
        );
        assert_eq!(
            items[1],
            Item {
                field: "id".into(),
                desc: false,
                nulls_first: None
            }
        );
    }

    #[test]
    fn rejects_like_odoo() {
        let m = model();
        assert_eq!(
            parse(&m, "name sideways").unwrap_err().name,
            "odoo.exceptions.UserError"
        );
        assert_eq!(
            parse(&m, "id; drop table x").unwrap_err().name,
            "odoo.exceptions.UserError"
        );
        assert_eq!(
            parse(&m, "nope").unwrap_err().message,
            "Invalid field 'nope' on model 'x.model'"
        );
        assert_eq!(
            parse(&m, "display_name").unwrap_err().message,
            "Cannot convert x.model.display_name to SQL because it is not stored"
        );
    }
}
