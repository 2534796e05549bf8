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

/// Most related fields followed to reach a value (related fields of related fields ...).
const MAX_RELATED_HOPS: usize = 8;

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

    /// Whether searches of `model` drop archived rows: `active_test` is on and the model's `active` values are
    /// known (the corpus does not record them for every model that has the field).
    pub fn filters_active(&self, model: &Model) -> bool {
        self.active_test()
            && model.has_active()
            && model.field("active").is_some_and(|f| self.knows(model, f))
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

    /// A field's value as the ORM sees it: many2one id, visible x2many ids, computed and related values.
    pub fn value_of(&self, model: &Model, id: i64, rec: &Record, field: &Field) -> Value {
        self.value_at(model, id, rec, field, 0)
    }

    fn value_at(&self, model: &Model, id: i64, rec: &Record, field: &Field, hops: usize) -> Value {
        match field.name.as_str() {
            "id" => return Value::from(id),
            "display_name" => return self.display_name(&model.name, id, rec),
            _ => {}
        }
        if crate::models::computes(&model.name, &field.name)
            && let Some(v) = crate::models::computed(self, model, id, rec, field)
        {
            return v;
        }
        if !rec.contains_key(&field.name)
            && let Some(path) = field.related_path.as_deref()
        {
            return self
                .related_value(model, id, rec, path, hops)
                .unwrap_or(Value::Null);
        }
        if field.kind.is_x2many() {
            return Value::Array(
                self.x2many_ids(model, id, rec, field)
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            );
        }
        rec.get(&field.name).cloned().unwrap_or(Value::Null)
    }

    /// The value at the end of a related field's path (`partner_id.customer_rank`), following many2one links.
    fn related_value(&self, model: &Model, id: i64, rec: &Record, path: &str, hops: usize) -> Option<Value> {
        let (mut m, mut id, mut rec) = (model, id, rec);
        let mut segments = path.split('.').peekable();
        while let Some(seg) = segments.next() {
            let f = m.field(seg)?;
            if segments.peek().is_none() {
                if hops >= MAX_RELATED_HOPS {
                    return None;
                }
                return Some(self.value_at(m, id, rec, f, hops + 1));
            }
            let target = self.value_at(m, id, rec, f, hops + 1).as_i64()?;
            m = self.reg.model(f.relation.as_deref()?)?;
            rec = self.db.row(&m.name, target)?;
            id = target;
        }
        None
    }

    /// Whether the simulator has values for `field` (recorded by the corpus, computed, related to a known field,
    /// or set by the simulator itself); a field it has none for is left out of `read` and refused in domains.
    pub fn knows(&self, model: &Model, field: &Field) -> bool {
        self.knows_at(model, field, 0)
    }

    fn knows_at(&self, model: &Model, field: &Field, hops: usize) -> bool {
        if matches!(field.name.as_str(), "id" | "display_name") || crate::models::knows(model, &field.name) {
            return true;
        }
        if let Some(path) = field.related_path.as_deref() {
            let mut m = model;
            let mut segments = path.split('.').peekable();
            while let Some(seg) = segments.next() {
                let Some(f) = m.field(seg) else { return false };
                if segments.peek().is_none() {
                    return hops < MAX_RELATED_HOPS && self.knows_at(m, f, hops + 1);
                }
                let Some(next) = f.relation.as_deref().and_then(|r| self.reg.model(r)) else {
                    return false;
                };
                m = next;
            }
            return false;
        }
        let Some(recorded) = &model.recorded else {
            return true;
        };
        if recorded.contains(&field.name) {
            return true;
        }
        // An x2many the corpus leaves out is read back from its comodel when that table is complete.
        let Some(rel) = field.relation.as_deref() else {
            return false;
        };
        let (Some(cm), true) = (
            self.reg.model(rel),
            self.db.table(rel).is_some_and(|t| t.complete),
        ) else {
            return false;
        };
        let inverse = match field.kind {
            Kind::One2many => field.relation_field.clone(),
            Kind::Many2many => inverse_m2m_field(cm, &model.name).map(|f| f.name.clone()),
            _ => None,
        };
        inverse.is_some_and(|inv| cm.recorded.as_ref().is_none_or(|r| r.contains(&inv)))
    }

    /// Ids of an x2many as `read` returns them: existing (or unknown-but-plausible) co-records, archived ones
    /// dropped under `active_test`, in the comodel's order.
    pub fn x2many_ids(&self, model: &Model, id: i64, rec: &Record, field: &Field) -> Vec<i64> {
        if let Some(ids) = crate::models::x2many_override(self, model, id, rec, field) {
            return ids;
        }
        let mut ids: Vec<i64> = match rec.get(&field.name).and_then(Value::as_array) {
            Some(a) => a.iter().filter_map(Value::as_i64).collect(),
            None if field.kind == Kind::One2many => self.inverse_o2m(id, field),
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

    /// A one2many the row does not store: the comodel's rows whose inverse many2one points at this row.
    fn inverse_o2m(&self, id: i64, field: &Field) -> Vec<i64> {
        let (Some(rel), Some(inverse)) = (field.relation.as_deref(), field.relation_field.as_deref()) else {
            return Vec::new();
        };
        let Some(table) = self.db.table(rel) else {
            return Vec::new();
        };
        table
            .rows
            .iter()
            .filter(|(_, r)| r.get(inverse).and_then(Value::as_i64) == Some(id))
            .map(|(k, _)| *k)
            .collect()
    }

    /// A many2many the row does not store, read from the comodel's many2many pointing back at this model.
    fn inverse_m2m(&self, model: &Model, id: i64, field: &Field) -> Vec<i64> {
        let (Some(rel), Kind::Many2many) = (field.relation.as_deref(), field.kind) else {
            return Vec::new();
        };
        let Some(cm) = self.reg.model(rel) else {
            return Vec::new();
        };
        let Some(back) = inverse_m2m_field(cm, &model.name) else {
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

/// The many2many of `comodel` pointing back at `model` (the other side of a many2many).
fn inverse_m2m_field<'m>(comodel: &'m Model, model: &str) -> Option<&'m Field> {
    comodel
        .fields
        .iter()
        .find(|f| f.kind == Kind::Many2many && f.relation.as_deref() == Some(model))
}
