//! `write`: scalar updates with inverse bookkeeping, x2many commands 0-6 and plain id lists, model hooks.

use serde_json::{Map, Value};

use crate::error::{OdooError, OdooResult};
use crate::models;
use crate::orm::convert::convert;
use crate::orm::create::{MutEnv, create_one, link_inverse};
use crate::registry::{Kind, Model};

/// Writes `vals` on existing rows `ids` (existence and access are checked by the caller).
pub fn write(m: &mut MutEnv<'_>, model: &Model, ids: &[i64], vals: &Map<String, Value>) -> OdooResult<()> {
    let conv = convert(m.db, model, vals, m.uid)?;
    models::before_write(m, model, ids, &conv.scalars)?;
    let pending = crate::automation::before_write(m, model, ids, vals)?;
    for &id in ids {
        let mut moves = Vec::new();
        let mut changed = Map::new();
        if let Some(row) = m.db.row_mut(&model.name, id) {
            for (k, v) in &conv.scalars {
                let old = row.insert(k.clone(), v.clone());
                if model.field(k).is_some_and(|f| f.kind == Kind::Many2one) {
                    let old_id = old.as_ref().and_then(Value::as_i64);
                    if old_id != v.as_i64() {
                        moves.push((k.clone(), old_id, v.as_i64()));
                    }
                }
                if old.as_ref() != Some(v) {
                    changed.insert(k.clone(), old.unwrap_or(Value::Bool(false)));
                }
            }
            if model.field("write_uid").is_some() {
                row.insert("write_uid".into(), Value::from(m.uid));
            }
            if model.field("write_date").is_some() {
                row.insert("write_date".into(), Value::String(m.now.clone()));
                row.insert(
                    crate::automation::payload::precise_key("write_date"),
                    Value::String(m.now_precise.clone()),
                );
            }
        }
        for (f, old, new) in moves {
            link_inverse(m, model, id, &f, old, new);
        }
        for (fname, cmds) in &conv.x2many {
            apply_x2many(m, model, id, fname, cmds)?;
        }
        models::after_write(m, model, id, &conv.scalars, &changed)?;
        crate::automation::written(m, model, id, vals, pending.as_ref())?;
    }
    crate::automation::flushed(m, model, ids, pending)
}

fn ids_of(v: Option<&Value>) -> Vec<i64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Deepest nesting of x2many commands (a create inside a create ...) one call may send.
pub const MAX_X2MANY_DEPTH: usize = 16;

/// Runs x2many commands (or a plain id list, which replaces the set) on `field` of row `id`.
pub fn apply_x2many(m: &mut MutEnv<'_>, model: &Model, id: i64, fname: &str, cmds: &Value) -> OdooResult<()> {
    if m.x2many_depth >= MAX_X2MANY_DEPTH {
        return Err(OdooError::value(format!(
            "x2many commands nested too deeply: more than {MAX_X2MANY_DEPTH} levels"
        )));
    }
    m.x2many_depth += 1;
    let result = run_commands(m, model, id, fname, cmds);
    m.x2many_depth -= 1;
    result
}

fn run_commands(m: &mut MutEnv<'_>, model: &Model, id: i64, fname: &str, cmds: &Value) -> OdooResult<()> {
    let Some(field) = model.field(fname) else {
        return Ok(());
    };
    let rel = field.relation.clone().unwrap_or_default();
    let Some(items) = cmds.as_array() else {
        return Ok(());
    };
    let Some(comodel) = m.model(&rel) else {
        if items.iter().all(Value::is_number) {
            let list = ids_of(Some(cmds));
            set_list(m, model, id, fname, |l| *l = list);
        }
        return Ok(());
    };
    let o2m = field.kind == Kind::One2many;
    let inverse = field.relation_field.clone();
    let commands: Vec<Vec<Value>> = if items.iter().all(Value::is_number) {
        vec![vec![Value::from(6), Value::from(0), Value::Array(items.clone())]]
    } else {
        items.iter().filter_map(|c| c.as_array().cloned()).collect()
    };
    for cmd in commands {
        let code = cmd.first().and_then(Value::as_i64).unwrap_or(-1);
        let target = cmd.get(1).and_then(Value::as_i64).unwrap_or(0);
        let arg = cmd.get(2).cloned().unwrap_or(Value::Bool(false));
        match code {
            0 => {
                let mut vals = arg.as_object().cloned().unwrap_or_default();
                if let (true, Some(inv)) = (o2m, &inverse) {
                    vals.insert(inv.clone(), Value::from(id));
                }
                let child = create_one(m, comodel, &vals)?;
                if !o2m {
                    set_list(m, model, id, fname, |l| l.push(child));
                }
            }
            1 => {
                let vals = arg.as_object().cloned().unwrap_or_default();
                if !m.db.exists(&rel, target) {
                    return Err(OdooError::missing(&rel, &[target], m.uid));
                }
                write(m, comodel, &[target], &vals)?;
            }
            2 => {
                if m.db.exists(&rel, target) {
                    crate::orm::unlink::unlink(m, comodel, &[target])?;
                }
                set_list(m, model, id, fname, |l| l.retain(|x| *x != target));
            }
            3 => {
                if let (true, Some(inv)) = (o2m, &inverse) {
                    let mut vals = Map::new();
                    vals.insert(inv.clone(), Value::Bool(false));
                    write(m, comodel, &[target], &vals)?;
                }
                set_list(m, model, id, fname, |l| l.retain(|x| *x != target));
            }
            4 => {
                if let (true, Some(inv)) = (o2m, &inverse) {
                    let mut vals = Map::new();
                    vals.insert(inv.clone(), Value::from(id));
                    write(m, comodel, &[target], &vals)?;
                } else {
                    set_list(m, model, id, fname, |l| {
                        if !l.contains(&target) {
                            l.push(target);
                        }
                    });
                }
            }
            5 | 6 => {
                let new_ids = if code == 6 { ids_of(Some(&arg)) } else { Vec::new() };
                if o2m {
                    let current = ids_of(m.db.row(&model.name, id).and_then(|r| r.get(fname)));
                    if let Some(inv) = &inverse {
                        for c in current.iter().filter(|c| !new_ids.contains(c)) {
                            let mut vals = Map::new();
                            vals.insert(inv.clone(), Value::Bool(false));
                            write(m, comodel, &[*c], &vals)?;
                        }
                        for c in &new_ids {
                            let mut vals = Map::new();
                            vals.insert(inv.clone(), Value::from(id));
                            write(m, comodel, &[*c], &vals)?;
                        }
                    }
                } else {
                    set_list(m, model, id, fname, |l| *l = new_ids.clone());
                }
            }
            _ => {}
        }
    }
    models::after_x2many(m, model, id, fname)
}

fn set_list(m: &mut MutEnv<'_>, model: &Model, id: i64, fname: &str, f: impl FnOnce(&mut Vec<i64>)) {
    if let Some(row) = m.db.row_mut(&model.name, id) {
        let mut list = ids_of(row.get(fname));
        f(&mut list);
        row.insert(
            fname.to_owned(),
            Value::Array(list.into_iter().map(Value::from).collect()),
        );
    }
}
