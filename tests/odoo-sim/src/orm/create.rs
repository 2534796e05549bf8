//! `create`: conversion, defaults, id allocation (consumed even when the INSERT fails), x2many commands,
//! inverse one2many lists and model hooks.

use serde_json::{Map, Value};

use crate::automation::Outbound;
use crate::db::{Db, Record, stamp};
use crate::error::OdooResult;
use crate::models;
use crate::orm::Env;
use crate::orm::convert::convert;
use crate::registry::{Kind, Model, Registry};

/// A mutable view of the database for one call.
pub struct MutEnv<'a> {
    pub reg: &'a Registry,
    pub db: &'a mut Db,
    pub uid: i64,
    pub ctx: &'a Map<String, Value>,
    pub now: String,
    /// `now` with microseconds, as Odoo's cache holds `create_date`/`write_date` until the commit.
    pub now_precise: String,
    pub today: String,
    /// Depth of nested creates: fields are not tracked while a record is being created.
    pub creating: u32,
    /// Depth of x2many commands running inside x2many commands.
    pub x2many_depth: usize,
    /// Webhook POSTs the call's automation rules made, in order; sent before the call's change is visible.
    pub outbox: Vec<Outbound>,
    /// Server actions run so far (see `automation::fire::MAX_ACTION_RUNS`).
    pub action_runs: usize,
}

impl<'a> MutEnv<'a> {
    pub fn new(reg: &'a Registry, db: &'a mut Db, uid: i64, ctx: &'a Map<String, Value>) -> Self {
        let (now, now_precise, today) = stamp();
        MutEnv {
            reg,
            db,
            uid,
            ctx,
            now,
            now_precise,
            today,
            creating: 0,
            x2many_depth: 0,
            outbox: Vec::new(),
            action_runs: 0,
        }
    }
    /// A read-only environment over the current state.
    pub fn env(&self) -> Env<'_> {
        Env {
            reg: self.reg,
            db: self.db,
            uid: self.uid,
            ctx: self.ctx,
        }
    }
    pub fn model(&self, name: &str) -> Option<&'a Model> {
        self.reg.model(name)
    }
}

/// Creates one record from `vals`; returns its id.
pub fn create_one(m: &mut MutEnv<'_>, model: &Model, vals: &Map<String, Value>) -> OdooResult<i64> {
    let conv = convert(m.db, model, vals, m.uid)?;
    let mut row: Record = models::defaults(&m.env(), model, true);
    for (k, v) in conv.scalars {
        row.insert(k, v);
    }
    models::before_create(m, model, &mut row)?;
    let id = m.db.next_id(&model.name);
    models::check_insert(m, model, id, &row)?;
    row.insert("id".into(), Value::from(id));
    for f in ["create_uid", "write_uid"] {
        if model.field(f).is_some() {
            row.insert(f.into(), Value::from(m.uid));
        }
    }
    for f in ["create_date", "write_date"] {
        if model.field(f).is_some() {
            row.insert(f.into(), Value::String(m.now.clone()));
            row.insert(
                crate::automation::payload::precise_key(f),
                Value::String(m.now_precise.clone()),
            );
        }
    }
    for f in &model.fields {
        if f.kind.is_x2many() && !row.contains_key(&f.name) {
            row.insert(f.name.clone(), Value::Array(Vec::new()));
        }
    }
    let links: Vec<(String, i64)> = model
        .fields
        .iter()
        .filter(|f| f.kind == Kind::Many2one)
        .filter_map(|f| {
            row.get(&f.name)
                .and_then(Value::as_i64)
                .map(|t| (f.name.clone(), t))
        })
        .collect();
    if let Some(t) = m.db.tables.get_mut(&model.name) {
        t.rows.insert(id, row);
    }
    for (fname, target) in links {
        link_inverse(m, model, id, &fname, None, Some(target));
    }
    m.creating += 1;
    let mut result = Ok(());
    for (fname, cmds) in conv.x2many {
        result = crate::orm::write::apply_x2many(m, model, id, &fname, &cmds);
        if result.is_err() {
            break;
        }
    }
    m.creating -= 1;
    result?;
    models::after_create(m, model, id)?;
    crate::automation::created(m, model, id, vals)?;
    Ok(id)
}

/// Keeps the parents' one2many lists in step when a child's many2one `field` moves from `old` to `new`.
pub fn link_inverse(
    m: &mut MutEnv<'_>,
    child: &Model,
    child_id: i64,
    field: &str,
    old: Option<i64>,
    new: Option<i64>,
) {
    let mut targets: Vec<(String, String)> = Vec::new();
    for pm in m.reg.models.values() {
        for pf in &pm.fields {
            if pf.kind == Kind::One2many
                && pf.relation.as_deref() == Some(&child.name)
                && pf.relation_field.as_deref() == Some(field)
                && pf.store
            {
                targets.push((pm.name.clone(), pf.name.clone()));
            }
        }
    }
    for (pmodel, pfield) in targets {
        if !models::o2m_accepts(m, &pmodel, &pfield, &child.name, child_id) {
            continue;
        }
        if let Some(old) = old
            && let Some(list) =
                m.db.row_mut(&pmodel, old)
                    .and_then(|r| r.get_mut(&pfield))
                    .and_then(Value::as_array_mut)
        {
            list.retain(|v| v.as_i64() != Some(child_id));
        }
        if let Some(new) = new
            && let Some(prow) = m.db.row_mut(&pmodel, new)
        {
            let list = prow
                .entry(pfield.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut()
                && !list.iter().any(|v| v.as_i64() == Some(child_id))
            {
                list.push(Value::from(child_id));
            }
        }
    }
}
