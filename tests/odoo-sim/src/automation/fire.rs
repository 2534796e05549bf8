//! Runs automation rules as base_automation's patched `create`, `_write`, `_compute_field_value` and `unlink` do:
//! pre/post domains, watched fields, one run per record, and the re-entries of the final flush, where every
//! stored computed field recomputed on the record runs the rule again (the duplicate POSTs of "on save" rules
//! that watch no fields).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::outbound::Outbound;
use super::payload;
use super::schema::AUTOMATION_MODEL;
use super::{meta, pyliteral};
use crate::domain::{self, Evaluator};
use crate::error::{OdooError, OdooResult};
use crate::orm::create::MutEnv;
use crate::registry::{Field, Model};

/// Triggers the patched `create` runs.
const CREATE_TRIGGERS: &[&str] = &[
    "on_create",
    "on_create_or_write",
    "on_priority_set",
    "on_stage_set",
    "on_state_set",
    "on_tag_set",
    "on_user_set",
];
/// Triggers the patched `_write` and `_compute_field_value` run.
const WRITE_TRIGGERS: &[&str] = &[
    "on_write",
    "on_archive",
    "on_unarchive",
    "on_create_or_write",
    "on_priority_set",
    "on_stage_set",
    "on_state_set",
    "on_tag_set",
    "on_user_set",
];

/// Stored computed fields with `precompute=True`: computed on the new record before the INSERT, so they never
/// reach the patched `_compute_field_value` (which only sees stored records).
const PRECOMPUTED: &[(&str, &str)] = &[
    ("res.partner", "user_id"),
    ("sale.order", "partner_invoice_id"),
    ("sale.order", "partner_shipping_id"),
    ("sale.order", "pricelist_id"),
    ("sale.order", "currency_id"),
    ("sale.order", "payment_term_id"),
    ("sale.order", "fiscal_position_id"),
    ("sale.order", "user_id"),
    ("sale.order", "team_id"),
    ("sale.order", "company_id"),
    ("sale.order", "validity_date"),
    ("sale.order", "require_signature"),
    ("sale.order", "require_payment"),
    ("sale.order", "prepayment_percent"),
    ("sale.order", "note"),
    ("sale.order", "journal_id"),
];

/// Nesting of "Execute Existing Actions" (multi) actions followed.
const MAX_ACTION_DEPTH: usize = 8;
/// Most actions one call runs; past it the call fails rather than queueing without end.
pub const MAX_ACTION_RUNS: usize = 10_000;

/// One active rule of a model.
struct Rule {
    /// Watched fields (`trigger_field_ids`); empty: every field.
    fields: Vec<String>,
    pre: Option<domain::Node>,
    post: Option<domain::Node>,
    actions: Vec<i64>,
}

/// What a write needs to remember from before it changes the rows.
pub struct Pending {
    rules: Vec<(Rule, HashSet<i64>)>,
    /// Old values of the written fields, per record.
    old: HashMap<i64, Map<String, Value>>,
    /// Stored computed fields the write makes the flush recompute.
    recomputed: Vec<String>,
    /// Their old values, per record.
    recomputed_old: HashMap<i64, Map<String, Value>>,
}

fn has_rules(m: &MutEnv<'_>) -> bool {
    m.db.table(AUTOMATION_MODEL).is_some_and(|t| !t.rows.is_empty())
}

fn parse_domain(rule: i64, text: Option<&str>) -> OdooResult<Option<domain::Node>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let value = pyliteral::parse(text)
        .map_err(|e| OdooError::value(format!("Invalid domain {text:?} of automation rule #{rule}: {e}")))?;
    if value == json!([]) {
        return Ok(None);
    }
    domain::parse(&value).map(Some)
}

/// Active rules of `model` with one of `triggers`, in id order.
fn rules(m: &MutEnv<'_>, model: &str, triggers: &[&str]) -> OdooResult<Vec<Rule>> {
    if !has_rules(m) {
        return Ok(Vec::new());
    }
    let Some(model_id) = meta::model_id(m.db, model) else {
        return Ok(Vec::new());
    };
    let Some(table) = m.db.table(AUTOMATION_MODEL) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (id, r) in &table.rows {
        let trigger = r.get("trigger").and_then(Value::as_str).unwrap_or_default();
        if r.get("active") == Some(&json!(false))
            || r.get("model_id").and_then(Value::as_i64) != Some(model_id)
            || !triggers.contains(&trigger)
        {
            continue;
        }
        let fields = r
            .get("trigger_field_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .filter_map(|f| meta::field_of(m.db, f).map(|(_, n)| n))
            .collect();
        out.push(Rule {
            fields,
            pre: parse_domain(*id, r.get("filter_pre_domain").and_then(Value::as_str))?,
            post: parse_domain(*id, r.get("filter_domain").and_then(Value::as_str))?,
            actions: actions_of(m, *id),
        });
    }
    Ok(out)
}

/// The rule's actions (`action_server_ids`) in `sequence, name` order.
fn actions_of(m: &MutEnv<'_>, rule: i64) -> Vec<i64> {
    let Some(table) = m.db.table("ir.actions.server") else {
        return Vec::new();
    };
    let mut list: Vec<(i64, String, i64)> = table
        .rows
        .iter()
        .filter(|(_, r)| r.get(super::schema::ACTION_RULE_FIELD).and_then(Value::as_i64) == Some(rule))
        .map(|(id, r)| {
            let seq = r.get("sequence").and_then(Value::as_i64).unwrap_or(0);
            let name = r
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (seq, name, *id)
        })
        .collect();
    list.sort();
    list.into_iter().map(|(_, _, id)| id).collect()
}

/// Whether row `id` passes `node` (`filtered_domain`); no domain passes everything.
fn passes(m: &MutEnv<'_>, model: &Model, id: i64, node: Option<&domain::Node>) -> OdooResult<bool> {
    let Some(node) = node else { return Ok(true) };
    let env = m.env();
    let Some(rec) = env.db.row(&model.name, id) else {
        return Ok(false);
    };
    let ev = Evaluator::new(&env);
    let compiled = ev.compile(model, node)?;
    Ok(ev.matches(model, id, rec, &compiled))
}

/// Current values of `names` on row `id`, as the ORM compares them.
fn values(m: &MutEnv<'_>, model: &Model, id: i64, names: &[String]) -> Map<String, Value> {
    let env = m.env();
    let mut out = Map::new();
    let Some(rec) = env.db.row(&model.name, id) else {
        return out;
    };
    for n in names {
        if let Some(f) = model.field(n) {
            out.insert(n.clone(), normal(env.value_of(model, id, rec, f)));
        }
    }
    out
}

fn normal(v: Value) -> Value {
    match v {
        Value::Null => Value::Bool(false),
        v => v,
    }
}

/// `_check_trigger_fields`: no watched fields, or a create, or a watched field whose value changed.
fn watched_changed(
    m: &MutEnv<'_>,
    model: &Model,
    id: i64,
    rule: &Rule,
    old: Option<&Map<String, Value>>,
) -> bool {
    if rule.fields.is_empty() {
        return true;
    }
    let Some(old) = old else { return true };
    let now = values(m, model, id, &rule.fields);
    rule.fields
        .iter()
        .any(|f| old.contains_key(f) && old.get(f) != now.get(f))
}

/// `_process`: runs the rule's actions on the record.
fn process(m: &mut MutEnv<'_>, model: &Model, id: i64, rule: &Rule) -> OdooResult<()> {
    for action in &rule.actions {
        run_action(m, model, id, *action, 0)?;
    }
    Ok(())
}

fn run_action(m: &mut MutEnv<'_>, model: &Model, id: i64, action: i64, depth: usize) -> OdooResult<()> {
    if depth > MAX_ACTION_DEPTH {
        return Err(OdooError::value(format!(
            "server actions nested deeper than {MAX_ACTION_DEPTH} levels"
        )));
    }
    m.action_runs += 1;
    if m.action_runs > MAX_ACTION_RUNS {
        return Err(OdooError::value(format!(
            "more than {MAX_ACTION_RUNS} server actions in one call"
        )));
    }
    let Some(row) = m.db.row("ir.actions.server", action).cloned() else {
        return Ok(());
    };
    match row.get("state").and_then(Value::as_str).unwrap_or_default() {
        "webhook" => {
            let url = row.get("webhook_url").and_then(Value::as_str).unwrap_or_default();
            if url.is_empty() || !m.db.exists(&model.name, id) {
                return Ok(());
            }
            let body = payload::body(&m.env(), model, id, action, &row);
            m.outbox.push(Outbound {
                url: url.to_owned(),
                body,
            });
            Ok(())
        }
        "code" => run_code(row.get("code").and_then(Value::as_str).unwrap_or_default()),
        "multi" => {
            let children: Vec<i64> = row
                .get("child_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            for child in children {
                run_action(m, model, id, child, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `ir.actions.server.run()` over RPC: each action on the context's `active_model` records (`active_ids`, else
/// `active_id`), as a rule would run it.
pub fn run_manually(m: &mut MutEnv<'_>, actions: &[i64]) -> OdooResult<()> {
    let Some(model) = m
        .ctx
        .get("active_model")
        .and_then(Value::as_str)
        .and_then(|name| m.model(name))
    else {
        return Ok(());
    };
    let ids: Vec<i64> = match m.ctx.get("active_ids").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(Value::as_i64).collect(),
        None => m
            .ctx
            .get("active_id")
            .and_then(Value::as_i64)
            .into_iter()
            .collect(),
    };
    for action in actions {
        for id in &ids {
            run_action(m, model, *id, *action, 0)?;
        }
    }
    Ok(())
}

/// Python code actions are not run, except a `raise UserError("...")` / `raise ValidationError("...")`, which
/// fails the call as it does in Odoo (the change is rolled back; POSTs already sent stay sent).
fn run_code(code: &str) -> OdooResult<()> {
    for (class, make) in [
        ("UserError(", OdooError::user as fn(String) -> OdooError),
        (
            "ValidationError(",
            OdooError::validation as fn(String) -> OdooError,
        ),
    ] {
        let Some(at) = code.find(&format!("raise {class}")) else {
            continue;
        };
        let args = &code[at + "raise ".len() + class.len()..];
        let literal = args.split(')').next().unwrap_or_default();
        let message = match pyliteral::parse(literal.trim()) {
            Ok(Value::String(s)) => s,
            _ => literal.trim().to_owned(),
        };
        return Err(make(message));
    }
    Ok(())
}

/// Stored computed fields of `model` recomputed through `_compute_field_value` (one call each).
fn computed_fields(model: &Model) -> Vec<&Field> {
    model
        .fields
        .iter()
        .filter(|f| f.store && !PRECOMPUTED.contains(&(model.name.as_str(), f.name.as_str())))
        .filter(|f| {
            let deps = depends(f);
            let own = format!("{}.", f.name);
            // A one2many/many2many "depending" on its own subfields only is a domain, not a computation.
            let domain_only = f.kind.is_x2many() && deps.iter().all(|d| d.starts_with(&own));
            !deps.is_empty() && !domain_only
        })
        .collect()
}

fn depends(f: &Field) -> Vec<String> {
    f.attrs
        .get("depends")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Stored computed fields a write of `written` marks for recomputation: those depending on a written field or on
/// a non-stored field that depends on one.
fn recomputed_by(model: &Model, written: &[String]) -> Vec<String> {
    let mut touched: HashSet<&str> = written.iter().map(String::as_str).collect();
    for _ in 0..model.fields.len() {
        let before = touched.len();
        for f in model.fields.iter().filter(|f| !f.store) {
            if !touched.contains(f.name.as_str())
                && depends(f)
                    .iter()
                    .any(|d| touched.contains(d.split('.').next().unwrap_or_default()))
            {
                touched.insert(&f.name);
            }
        }
        if touched.len() == before {
            break;
        }
    }
    computed_fields(model)
        .into_iter()
        .filter(|f| {
            depends(f)
                .iter()
                .any(|d| touched.contains(d.split('.').next().unwrap_or_default()))
        })
        .map(|f| f.name.clone())
        .collect()
}

/// After `create` of row `id` (`vals` as sent): the create rules, then the flush's re-entries.
pub fn created(m: &mut MutEnv<'_>, model: &Model, id: i64, vals: &Map<String, Value>) -> OdooResult<()> {
    if !has_rules(m) {
        return Ok(());
    }
    for rule in rules(m, &model.name, CREATE_TRIGGERS)? {
        if passes(m, model, id, rule.post.as_ref())? && watched_changed(m, model, id, &rule, None) {
            process(m, model, id, &rule)?;
        }
    }
    let recomputed: Vec<String> = computed_fields(model)
        .into_iter()
        .filter(|f| !vals.contains_key(&f.name))
        .map(|f| f.name.clone())
        .collect();
    let write_rules = rules(m, &model.name, WRITE_TRIGGERS)?;
    for field in recomputed {
        let empty = model.field(&field).map_or(json!(false), |f| {
            if f.kind.is_x2many() {
                json!([])
            } else {
                json!(false)
            }
        });
        let mut old = Map::new();
        old.insert(field.clone(), empty);
        reenter(m, model, id, &write_rules, &old)?;
    }
    Ok(())
}

/// One `_compute_field_value` call on row `id`: every write rule whose domains pass runs again.
fn reenter(
    m: &mut MutEnv<'_>,
    model: &Model,
    id: i64,
    rules: &[Rule],
    old: &Map<String, Value>,
) -> OdooResult<()> {
    for rule in rules {
        if passes(m, model, id, rule.pre.as_ref())?
            && passes(m, model, id, rule.post.as_ref())?
            && watched_changed(m, model, id, rule, Some(old))
        {
            process(m, model, id, rule)?;
        }
    }
    Ok(())
}

/// Before `write(vals)` on `ids`: the write rules, which records pass their pre-domain, and the old values.
pub fn before_write(
    m: &mut MutEnv<'_>,
    model: &Model,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> OdooResult<Option<Pending>> {
    if !has_rules(m) {
        return Ok(None);
    }
    let list = rules(m, &model.name, WRITE_TRIGGERS)?;
    if list.is_empty() {
        return Ok(None);
    }
    let mut with_pre = Vec::with_capacity(list.len());
    for rule in list {
        let mut ok = HashSet::new();
        for id in ids {
            if passes(m, model, *id, rule.pre.as_ref())? {
                ok.insert(*id);
            }
        }
        with_pre.push((rule, ok));
    }
    let written: Vec<String> = vals.keys().cloned().collect();
    let recomputed = recomputed_by(model, &written);
    let mut old = HashMap::new();
    let mut recomputed_old = HashMap::new();
    for id in ids {
        old.insert(*id, values(m, model, *id, &written));
        recomputed_old.insert(*id, values(m, model, *id, &recomputed));
    }
    Ok(Some(Pending {
        rules: with_pre,
        old,
        recomputed,
        recomputed_old,
    }))
}

/// After the write of row `id`: the write rules whose pre- and post-domains pass and whose watched fields changed.
pub fn written(m: &mut MutEnv<'_>, model: &Model, id: i64, pending: &Pending) -> OdooResult<()> {
    for (rule, pre_ok) in &pending.rules {
        if pre_ok.contains(&id)
            && passes(m, model, id, rule.post.as_ref())?
            && watched_changed(m, model, id, rule, pending.old.get(&id))
        {
            process(m, model, id, rule)?;
        }
    }
    Ok(())
}

/// After the whole write: the flush recomputes what the written fields feed, each recompute a re-entry.
pub fn flushed(m: &mut MutEnv<'_>, model: &Model, ids: &[i64], pending: Pending) -> OdooResult<()> {
    let rules: Vec<Rule> = pending.rules.into_iter().map(|(r, _)| r).collect();
    for field in &pending.recomputed {
        for id in ids {
            let mut old = Map::new();
            if let Some(v) = pending.recomputed_old.get(id).and_then(|o| o.get(field)) {
                old.insert(field.clone(), v.clone());
            }
            reenter(m, model, *id, &rules, &old)?;
        }
    }
    Ok(())
}

/// Before `unlink`: the deletion rules run while the records still exist.
pub fn unlinking(m: &mut MutEnv<'_>, model: &Model, ids: &[i64]) -> OdooResult<()> {
    if !has_rules(m) {
        return Ok(());
    }
    for rule in rules(m, &model.name, &["on_unlink"])? {
        for id in ids {
            if passes(m, model, *id, rule.post.as_ref())? {
                process(m, model, *id, &rule)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_actions_raise_what_they_say() {
        let e = run_code("raise UserError('simulated failure after the webhook')").unwrap_err();
        assert_eq!(e.name, "odoo.exceptions.UserError");
        assert_eq!(e.message, "simulated failure after the webhook");
        assert!(run_code("record.write({'x': 1})").is_ok());
    }
}
