//! `web_read` / `web_search_read` with a `specification` (Odoo 17+): nested many2one and x2many reads.

use serde_json::{Map, Value};

use crate::error::{OdooError, OdooResult};
use crate::orm::read::shape;
use crate::orm::{Env, search};
use crate::registry::{Kind, Model};

/// Deepest nesting of `fields` in a specification.
pub const MAX_SPEC_DEPTH: usize = 16;
/// Most related records one call may read through nested specifications (each level can multiply them).
pub const MAX_NESTED_RECORDS: usize = 50_000;

/// What one `web_read` call has spent of its nesting allowance.
struct Budget {
    nested: usize,
}

/// `web_read(ids, specification)`.
pub fn web_read(
    env: &Env<'_>,
    model: &Model,
    ids: &[i64],
    spec: &Map<String, Value>,
) -> OdooResult<Vec<Value>> {
    check_depth(spec)?;
    if spec.keys().all(|k| k == "id") {
        // Odoo builds `{"id": ..}` from the ids without reading them, so missing records are not dropped.
        return Ok(crate::orm::read::ids_only(ids));
    }
    read_level(env, model, ids, spec, 0, &mut Budget { nested: 0 })
}

/// Refuses a specification nested deeper than [`MAX_SPEC_DEPTH`], whether or not the records reach that deep.
fn check_depth(spec: &Map<String, Value>) -> OdooResult<()> {
    let mut todo: Vec<(&Map<String, Value>, usize)> = vec![(spec, 0)];
    while let Some((level, depth)) = todo.pop() {
        if depth > MAX_SPEC_DEPTH {
            return Err(too_deep());
        }
        for sub in level.values() {
            if let Some(fields) = sub.get("fields").and_then(Value::as_object) {
                todo.push((fields, depth + 1));
            }
        }
    }
    Ok(())
}

fn too_deep() -> OdooError {
    OdooError::value(format!(
        "Specification nested too deeply: more than {MAX_SPEC_DEPTH} levels of 'fields'"
    ))
}

fn read_level(
    env: &Env<'_>,
    model: &Model,
    ids: &[i64],
    spec: &Map<String, Value>,
    depth: usize,
    budget: &mut Budget,
) -> OdooResult<Vec<Value>> {
    if depth > MAX_SPEC_DEPTH {
        return Err(too_deep());
    }
    if depth > 0 {
        budget.nested = budget.nested.saturating_add(ids.len());
        if budget.nested > MAX_NESTED_RECORDS {
            return Err(OdooError::value(format!(
                "Specification reads too many related records: more than {MAX_NESTED_RECORDS}"
            )));
        }
    }
    for name in spec.keys() {
        if model.field(name).is_none() {
            return Err(OdooError::invalid_field(&model.name, name));
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some(rec) = env.db.row(&model.name, id) else {
            continue;
        };
        let mut obj = Map::with_capacity(spec.len() + 1);
        obj.insert("id".into(), Value::from(id));
        for (name, sub) in spec {
            let Some(field) = model.field(name) else { continue };
            if !rec.contains_key(name) && !env.knows(model, field) {
                continue;
            }
            let v = env.value_of(model, id, rec, field);
            let sub_fields = sub.get("fields").and_then(Value::as_object);
            let mut ctx = env.ctx.clone();
            if let Some(extra) = sub.get("context").and_then(Value::as_object) {
                ctx.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let sub_env = env.with_ctx(&ctx);
            let comodel = field.relation.as_deref().and_then(|r| env.reg.model(r));
            let value = match (field.kind, sub_fields, comodel) {
                (Kind::Many2one, Some(sf), Some(cm)) => match v.as_i64() {
                    Some(tid) => {
                        let nested = if env.db.exists(&cm.name, tid) {
                            read_level(&sub_env, cm, &[tid], sf, depth + 1, budget)?.pop()
                        } else {
                            None
                        };
                        nested.unwrap_or_else(|| {
                            let mut o = Map::new();
                            o.insert("id".into(), Value::from(tid));
                            if sf.contains_key("display_name") {
                                o.insert("display_name".into(), sub_env.target_name(&cm.name, tid));
                            }
                            Value::Object(o)
                        })
                    }
                    None => Value::Bool(false),
                },
                (Kind::Many2one, _, _) => v.as_i64().map_or(Value::Bool(false), Value::from),
                (k, Some(sf), Some(cm)) if k.is_x2many() => {
                    let mut child_ids: Vec<i64> = v
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_i64).collect())
                        .unwrap_or_default();
                    if let Some(order) = sub.get("order").and_then(Value::as_str) {
                        let items = crate::order::parse(cm, order)?;
                        crate::order::sort(env, cm, &items, &mut child_ids);
                    }
                    let limit = sub
                        .get("limit")
                        .and_then(Value::as_u64)
                        .map_or(child_ids.len(), |l| l as usize);
                    let (head, tail) = child_ids.split_at(limit.min(child_ids.len()));
                    let mut list = read_level(&sub_env, cm, head, sf, depth + 1, budget)?;
                    list.extend(tail.iter().map(|i| {
                        let mut o = Map::new();
                        o.insert("id".into(), Value::from(*i));
                        Value::Object(o)
                    }));
                    Value::Array(list)
                }
                _ => shape(env, field, v, true),
            };
            obj.insert(name.clone(), value);
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

/// Paging arguments of `web_search_read` as sent.
#[derive(Debug, Clone, Copy)]
pub struct Page<'v> {
    pub offset: &'v Value,
    pub limit: &'v Value,
    pub order: &'v Value,
    pub count_limit: &'v Value,
}

/// `web_search_read(domain, specification, offset, limit, order, count_limit)`.
pub fn web_search_read(
    env: &Env<'_>,
    model: &Model,
    domain: &Value,
    spec: &Map<String, Value>,
    page: &Page<'_>,
) -> OdooResult<Value> {
    let Page {
        offset,
        limit,
        order,
        count_limit,
    } = *page;
    let ids = search::search(env, model, domain, offset, limit, order)?;
    let records = web_read(env, model, &ids, spec)?;
    if records.is_empty() {
        return Ok(serde_json::json!({"length": 0, "records": []}));
    }
    let offset = offset.as_u64().unwrap_or(0) as usize;
    let limit = limit.as_u64().filter(|l| *l > 0).map(|l| l as usize);
    let count_limit = count_limit.as_u64().map(|c| c as usize);
    let current = records.len() + offset;
    let limit_reached = limit == Some(records.len());
    let count_limit_reached = count_limit.is_some_and(|c| c <= current);
    let length = if limit.is_some() && limit_reached && !count_limit_reached {
        let all = search::filter(env, model, domain)?.len();
        count_limit.map_or(all, |c| all.min(c))
    } else {
        current
    };
    Ok(serde_json::json!({"length": length, "records": records}))
}
