//! `search` / `search_count`: domain, implicit `active` filter, record rules, order, offset and limit.

use serde_json::Value;

use crate::access;
use crate::domain::Leaf;
use crate::domain::{self, Evaluator, Node, Op};
use crate::error::{OdooError, OdooResult};
use crate::order;
use crate::orm::Env;
use crate::registry::Model;

/// Ids of `model` matching `domain` for the env's user, unsorted.
pub fn filter(env: &Env<'_>, model: &Model, domain: &Value) -> OdooResult<Vec<i64>> {
    let node = domain::parse(domain)?;
    filter_node(env, model, node)
}

/// Like [`filter`] with an already parsed domain.
pub fn filter_node(env: &Env<'_>, model: &Model, node: Node) -> OdooResult<Vec<i64>> {
    let mut parts = vec![];
    if env.filters_active(model) && !domain::has_active_leaf(&node) {
        parts.push(Node::Leaf(Leaf {
            path: "active".into(),
            op: Op::Eq,
            op_text: "=".into(),
            value: Value::Bool(true),
            sub: None,
        }));
    }
    parts.push(node);
    if let Some(rule) = access::rule_domain(env, &model.name) {
        parts.push(rule);
    }
    let ev = Evaluator::new(env);
    let compiled = ev.compile(model, &Node::and(parts))?;
    let Some(table) = env.db.table(&model.name) else {
        return Ok(Vec::new());
    };
    ev.charge(table.rows.len().saturating_mul(domain::leaves(&compiled)))?;
    Ok(table
        .rows
        .iter()
        .filter(|(id, rec)| ev.matches(model, **id, rec, &compiled))
        .map(|(id, _)| *id)
        .collect())
}

/// `search(domain, offset, limit, order)`.
pub fn search(
    env: &Env<'_>,
    model: &Model,
    domain: &Value,
    offset: &Value,
    limit: &Value,
    order_spec: &Value,
) -> OdooResult<Vec<i64>> {
    let spec = match order_spec {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        _ => model.order.clone(),
    };
    let items = order::parse(model, &spec)?;
    let limit = match limit {
        Value::Null | Value::Bool(false) => None,
        Value::Number(n) => n.as_u64().map(|l| l as usize),
        other => return Err(limit_error(model, &items, other)),
    };
    let offset = offset.as_u64().unwrap_or(0) as usize;
    let node = domain::parse(domain)?;
    let mut ids = filter_node(env, model, node)?;
    order::sort(env, model, &items, &mut ids);
    let ids: Vec<i64> = ids.into_iter().skip(offset).collect();
    Ok(match limit {
        Some(l) if l > 0 => ids.into_iter().take(l).collect(),
        _ => ids,
    })
}

/// PostgreSQL's error for a non-integer LIMIT, with the query line cut as libpq cuts it.
fn limit_error(model: &Model, items: &[order::Item], value: &Value) -> OdooError {
    let table = model.name.replace('.', "_");
    let literal = match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    };
    let order_sql: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "\"{table}\".\"{}\" {}",
                i.field,
                if i.desc { "DESC" } else { "ASC" }
            )
        })
        .collect();
    let where_sql = if model.has_active() {
        format!(" WHERE (\"{table}\".\"active\" = true)")
    } else {
        String::new()
    };
    let query = format!(
        "SELECT \"{table}\".\"id\" FROM \"{table}\"{where_sql} ORDER BY  {}  LIMIT {literal}",
        order_sql.join(" , ")
    );
    let chars: Vec<char> = query.chars().collect();
    let loc = chars.len() - literal.chars().count();
    let (mut beg, mut end) = (0usize, chars.len());
    let (mut beg_trunc, mut end_trunc) = (false, false);
    const DISPLAY_SIZE: usize = 60;
    const MIN_RIGHT_CUT: usize = 10;
    if end - beg > DISPLAY_SIZE {
        if beg + DISPLAY_SIZE >= loc + MIN_RIGHT_CUT {
            end = beg + DISPLAY_SIZE;
            end_trunc = true;
        } else {
            while loc + MIN_RIGHT_CUT < end {
                end -= 1;
                end_trunc = true;
            }
            while end - beg > DISPLAY_SIZE {
                beg += 1;
                beg_trunc = true;
            }
        }
    }
    let prefix = if beg_trunc { "..." } else { "" };
    let shown: String = chars[beg..end].iter().collect();
    let caret = " ".repeat(8 + prefix.len() + loc - beg);
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    OdooError::new(
        "psycopg2.errors.InvalidTextRepresentation",
        format!(
            "invalid input syntax for type bigint: \"{text}\"\nLINE 1: {prefix}{shown}{}\n{caret}^\n",
            if end_trunc { "..." } else { "" }
        ),
    )
}
