//! In-memory tables of the simulated database, loaded from the embedded corpus data.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::registry::{Kind, Registry};

/// One stored row: many2one as a bare id (or `false`), x2many as id lists, the rest as Odoo reads it.
pub type Record = Map<String, Value>;

/// Ids of a table and the id the next INSERT gets.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub rows: BTreeMap<i64, Record>,
    pub next_id: i64,
    /// True when the corpus holds every row of the table (ids not present do not exist).
    pub complete: bool,
}

/// The whole database state: what `reset` restores.
#[derive(Debug, Clone, Default)]
pub struct Db {
    pub tables: HashMap<String, Table>,
    /// Display names of many2one targets the corpus only names (no table rows).
    pub names: Arc<HashMap<(String, i64), String>>,
    /// Counters of sequences that are not tables (ir.sequence numbers, mail side tables).
    pub counters: HashMap<String, i64>,
}

/// Counter key of the `sale.order` ir.sequence.
pub const SEQ_SALE_ORDER: &str = "ir.sequence:sale.order";
/// Counter key of ir.sequence ids (res.company's defaults create one).
pub const SEQ_IR_SEQUENCE: &str = "ir.sequence";
/// Counter key of mail.followers ids.
pub const SEQ_FOLLOWERS: &str = "mail.followers";
/// Counter key of mail.tracking.value ids.
pub const SEQ_TRACKING: &str = "mail.tracking.value";

impl Db {
    /// Loads every data file into tables; `sequences` is `data/_sequences.json`.
    pub fn load(reg: &Registry, data: &[(&str, Value)], sequences: &Value) -> Db {
        let mut db = Db::default();
        let mut names = HashMap::new();
        for (model_name, file) in data {
            let Some(model) = reg.model(model_name) else {
                continue;
            };
            let mut table = Table {
                complete: file
                    .get("domain")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty),
                ..Table::default()
            };
            for rec in file
                .get("records")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(obj) = rec.as_object() else { continue };
                let Some(id) = obj.get("id").and_then(Value::as_i64) else {
                    continue;
                };
                let mut row = Record::new();
                for (k, v) in obj {
                    let stored = match model.field(k) {
                        Some(f) if f.kind == Kind::Many2one => match v.as_array().map(Vec::as_slice) {
                            Some([Value::Number(n), name]) => {
                                if let (Some(rel), Some(tid)) = (&f.relation, n.as_i64())
                                    && let Some(name) = name.as_str()
                                {
                                    names.insert((rel.clone(), tid), name.to_owned());
                                }
                                Value::Number(n.clone())
                            }
                            _ => v.clone(),
                        },
                        _ => v.clone(),
                    };
                    row.insert(k.clone(), stored);
                }
                table.rows.insert(id, row);
            }
            table.next_id = table.rows.keys().next_back().map_or(1, |m| m + 1);
            db.tables.insert((*model_name).to_owned(), table);
        }
        add_missing_users(&mut db);
        for name in reg.models.keys() {
            db.tables.entry(name.clone()).or_insert_with(|| Table {
                next_id: 1,
                ..Table::default()
            });
        }
        if let Some(tables) = sequences.get("tables").and_then(Value::as_object) {
            for (name, info) in tables {
                let Some(next) = info.get("next_id").and_then(Value::as_i64) else {
                    continue;
                };
                match db.tables.get_mut(name) {
                    Some(t) => t.next_id = next,
                    None => {
                        db.counters.insert(name.clone(), next);
                    }
                }
            }
        }
        let mut next_sequence = 1;
        for seq in sequences
            .get("ir_sequence")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = seq.get("id").and_then(Value::as_i64) {
                next_sequence = next_sequence.max(id + 1);
            }
            if let (Some(code), Some(next)) = (
                seq.get("code").and_then(Value::as_str),
                seq.get("number_next_actual").and_then(Value::as_i64),
            ) {
                db.counters.insert(format!("ir.sequence:{code}"), next);
            }
        }
        db.counters
            .entry(SEQ_IR_SEQUENCE.to_owned())
            .or_insert(next_sequence);
        db.names = Arc::new(names);
        db
    }

    pub fn table(&self, model: &str) -> Option<&Table> {
        self.tables.get(model)
    }
    pub fn row(&self, model: &str, id: i64) -> Option<&Record> {
        self.tables.get(model).and_then(|t| t.rows.get(&id))
    }
    pub fn row_mut(&mut self, model: &str, id: i64) -> Option<&mut Record> {
        self.tables.get_mut(model).and_then(|t| t.rows.get_mut(&id))
    }
    pub fn exists(&self, model: &str, id: i64) -> bool {
        self.row(model, id).is_some()
    }
    /// Takes the next id of a table (or side counter), as a PostgreSQL sequence does.
    pub fn next_id(&mut self, model: &str) -> i64 {
        if let Some(t) = self.tables.get_mut(model) {
            let id = t.next_id;
            t.next_id += 1;
            return id;
        }
        let c = self.counters.entry(model.to_owned()).or_insert(1);
        let id = *c;
        *c += 1;
        id
    }
}

/// The demo users the corpus's `res.users` dump leaves out but the cases list (Marc Demo, the portal user).
fn add_missing_users(db: &mut Db) {
    let Some(users) = db.tables.get_mut("res.users") else {
        return;
    };
    for (id, login, name, partner, share) in [
        (6, "demo", "Marc Demo", 7, false),
        (7, "portal", "Joel Willis", 8, true),
    ] {
        if users.rows.contains_key(&id) {
            continue;
        }
        let row = json!({"id": id, "login": login, "name": name, "partner_id": partner, "active": true,
            "company_id": 1, "company_ids": [1], "share": share, "lang": "en_US", "tz": "Europe/Brussels", "display_name": name});
        if let Value::Object(map) = row {
            users.rows.insert(id, map);
        }
    }
}

/// Current UTC time as Odoo writes datetimes, and today's date.
pub fn now() -> (String, String) {
    let (dt, _, d) = stamp();
    (dt, d)
}

/// Current UTC time: as `read` gives it (whole seconds), as Python's `str(datetime)` gives it (microseconds,
/// unless zero), and today's date.
pub fn stamp() -> (String, String, String) {
    let t = time::OffsetDateTime::now_utc();
    let dt = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let d = dt[..10].to_owned();
    let precise = match t.microsecond() {
        0 => dt.clone(),
        us => format!("{dt}.{us:06}"),
    };
    (dt, precise, d)
}

/// Today plus `days`, as `YYYY-MM-DD`.
pub fn today_plus(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}
