//! ORM methods over the in-memory tables: the environment (user, context) and value access shared by them.

pub mod convert;
pub mod create;
pub mod read;
pub mod search;
pub mod unlink;
pub mod web;
pub mod write;

use serde_json::{Map, Value};

use crate::db::{Db, Record};
use crate::registry::{Field, Kind, Model, Registry};

/// What every ORM call sees: registry, database, user and context.
pub struct Env<'a> {
    pub reg: &'a Registry,
    pub db: &'a Db,
    pub uid: i64,
    pub ctx: &'a Map<String, Value>,
}

impl<'a> Env<'a> {
    pub fn active_test(&self) -> bool {
        !matches!(self.ctx.get("active_test"), Some(Value::Bool(false)))
    }

    /// The same environment with another context.
    pub fn with_ctx<'b>(&'b self, ctx: &'b Map<String, Value>) -> Env<'b> {
        Env {
            reg: self.reg,
            db: self.db,
            uid: self.uid,
            ctx,
        }
    }

    pub fn model(&self, name: &str) -> Option<&'a Model> {
        self.reg.model(name)
    }

    /// `display_name` of a row (model hooks decide; `false` for an unnamed record).
    pub fn display_name(&self, model: &str, id: i64, rec: &Record) -> Value {
        crate::models::display_name(self, model, id, rec)
    }

    /// `display_name` of a many2one target, from its row or from the names the corpus gives.
    pub fn target_name(&self, model: &str, id: i64) -> Value {
        match self.db.row(model, id) {
            Some(rec) => self.display_name(model, id, rec),
            None => self
                .db
                .names
                .get(&(model.to_owned(), id))
                .map_or(Value::Bool(false), |n| Value::String(n.clone())),
        }
    }

    /// A field's value as the ORM sees it: many2one id, visible x2many ids, computed display name.
    pub fn value_of(&self, model: &Model, id: i64, rec: &Record, field: &Field) -> Value {
        match field.name.as_str() {
            "id" => return Value::from(id),
            "display_name" => return self.display_name(&model.name, id, rec),
            _ => {}
        }
        if field.kind.is_x2many() {
            return Value::Array(
                self.x2many_ids(model, id, rec, field)
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            );
        }
        match rec.get(&field.name) {
            Some(v) => v.clone(),
            None => crate::models::computed(self, model, id, rec, field).unwrap_or(Value::Null),
        }
    }

    /// Ids of an x2many as `read` returns them: existing (or unknown-but-plausible) co-records, archived ones
    /// dropped under `active_test`, in the comodel's order.
    pub fn x2many_ids(&self, model: &Model, id: i64, rec: &Record, field: &Field) -> Vec<i64> {
        if let Some(ids) = crate::models::x2many_override(self, model, id, rec, field) {
            return ids;
        }
        let mut ids: Vec<i64> = match rec.get(&field.name).and_then(Value::as_array) {
            Some(a) => a.iter().filter_map(Value::as_i64).collect(),
            None => self.inverse_m2m(model, id, field),
        };
        let Some(rel) = field.relation.as_deref() else {
            return ids;
        };
        let Some(table) = self.db.table(rel) else {
            return ids;
        };
        let comodel = self.reg.model(rel);
        let check_active = self.active_test() && comodel.is_some_and(Model::has_active);
        ids.retain(|cid| match table.rows.get(cid) {
            Some(crec) => !check_active || crec.get("active") != Some(&Value::Bool(false)),
            None => !table.complete && *cid < table.next_id,
        });
        if let Some(cm) = comodel
            && ids.iter().all(|cid| table.rows.contains_key(cid))
            && ids.len() > 1
            && let Ok(spec) = crate::order::parse(cm, &cm.order)
        {
            crate::order::sort(self, cm, &spec, &mut ids);
        }
        ids
    }

    /// A many2many the row does not store, read from the comodel's many2many pointing back at this model.
    fn inverse_m2m(&self, model: &Model, id: i64, field: &Field) -> Vec<i64> {
        let (Some(rel), Kind::Many2many) = (field.relation.as_deref(), field.kind) else {
            return Vec::new();
        };
        let Some(cm) = self.reg.model(rel) else {
            return Vec::new();
        };
        let Some(back) = cm
            .fields
            .iter()
            .find(|f| f.kind == Kind::Many2many && f.relation.as_deref() == Some(&model.name))
        else {
            return Vec::new();
        };
        let Some(table) = self.db.table(rel) else {
            return Vec::new();
        };
        table
            .rows
            .iter()
            .filter(|(_, r)| {
                r.get(&back.name)
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v.as_i64() == Some(id)))
            })
            .map(|(k, _)| *k)
            .collect()
    }
}
