//! Rows of `ir.model`, `ir.model.fields`, `ir.model.fields.selection` (generated from the registry, so they list
//! the simulated models and fields) and `ir.module.module` (the demo database's modules and their state).

use serde_json::{Value, json};

use super::schema::{ACTION_RULE_FIELD, AUTOMATION_MODEL};
use crate::db::{Db, Record};
use crate::registry::{Field, Registry};

/// The automation rules module.
pub const AUTOMATION_MODULE: &str = "base_automation";

/// Modules of the demo database: (technical name, title, application). All are installed but `base_automation`.
const MODULES: &[(&str, &str, bool)] = &[
    ("account", "Invoicing", true),
    ("base", "Base", false),
    (AUTOMATION_MODULE, "Automation Rules", false),
    ("base_setup", "Initial Setup Tools", false),
    ("contacts", "Contacts", true),
    ("crm", "CRM", true),
    ("digest", "KPI Digests", false),
    ("mail", "Discuss", true),
    ("product", "Products & Pricelists", false),
    ("resource", "Resource", false),
    ("sale", "Sales", false),
    ("sale_management", "Sales", true),
    ("sms", "SMS gateway", false),
    ("uom", "Units of measure", false),
    ("web", "Web", false),
];

/// Id the first server action created gets: the recording server's, so the first bodies match its captures.
const FIRST_ACTION_ID: i64 = 395;

/// Whether a model or field row belongs to `base_automation` (listed only while it is installed).
fn of_automation(model: &str, field: Option<&str>) -> bool {
    model == AUTOMATION_MODEL || (model == "ir.actions.server" && field == Some(ACTION_RULE_FIELD))
}

/// Fills the metadata tables of a freshly loaded database.
pub fn seed(reg: &Registry, db: &mut Db) {
    for (i, (name, title, app)) in MODULES.iter().enumerate() {
        let id = i as i64 + 1;
        let state = if *name == AUTOMATION_MODULE {
            "uninstalled"
        } else {
            "installed"
        };
        let row = json!({"id": id, "name": name, "shortdesc": title, "summary": false, "state": state,
            "application": app, "latest_version": if state == "installed" { json!("18.0.1.0") } else { json!(false) },
            "display_name": title});
        insert(db, "ir.module.module", id, row);
    }
    add_model_rows(reg, db, false);
    for t in [
        "ir.module.module",
        "ir.model",
        "ir.model.fields",
        "ir.model.fields.selection",
        "ir.actions.server",
        AUTOMATION_MODEL,
    ] {
        if let Some(table) = db.tables.get_mut(t) {
            table.complete = true;
        }
    }
    if let Some(t) = db.tables.get_mut("ir.actions.server") {
        t.next_id = t.next_id.max(FIRST_ACTION_ID);
    }
}

/// Adds the `ir.model*` rows the database lacks; `automation` includes those of `base_automation`.
pub fn add_model_rows(reg: &Registry, db: &mut Db, automation: bool) {
    let mut names: Vec<&String> = reg.models.keys().collect();
    names.sort();
    for name in names {
        let Some(model) = reg.model(name) else { continue };
        if of_automation(name, None) && !automation {
            continue;
        }
        let model_id = match find(db, "ir.model", |r| r.get("model") == Some(&json!(name))) {
            Some(id) => id,
            None => {
                let id = db.next_id("ir.model");
                let row = json!({"id": id, "name": model.description, "model": name, "order": model.order,
                    "info": false, "state": "base", "transient": false, "modules": "base",
                    "is_mail_thread": model.field("message_ids").is_some(), "field_id": [],
                    "display_name": model.description});
                insert(db, "ir.model", id, row);
                id
            }
        };
        for f in &model.fields {
            if of_automation(name, Some(&f.name)) && !automation {
                continue;
            }
            let known = find(db, "ir.model.fields", |r| {
                r.get("model") == Some(&json!(name)) && r.get("name") == Some(&json!(f.name))
            });
            if known.is_none() {
                add_field_row(db, name, model_id, f);
            }
        }
    }
}

fn add_field_row(db: &mut Db, model: &str, model_id: i64, f: &Field) {
    let id = db.next_id("ir.model.fields");
    let s = |k: &str| {
        f.attrs
            .get(k)
            .cloned()
            .filter(|v| v.is_string())
            .unwrap_or(json!(false))
    };
    let b = |k: &str| json!(f.attrs.get(k).and_then(Value::as_bool).unwrap_or(false));
    let label = f
        .attrs
        .get("string")
        .and_then(Value::as_str)
        .unwrap_or(&f.name)
        .to_owned();
    let ttype = f
        .attrs
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("char")
        .to_owned();
    let row = json!({"id": id, "name": f.name, "complete_name": format!("{model}.{}", f.name), "model": model,
        "model_id": model_id, "field_description": label, "help": s("help"), "ttype": ttype,
        "relation": s("relation"), "relation_field": s("relation_field"), "related": s("related"),
        "required": b("required"), "readonly": b("readonly"), "store": json!(f.store), "state": "base",
        "selection_ids": [], "display_name": format!("{label} ({model})")});
    insert(db, "ir.model.fields", id, row);
    if let Some(Value::Array(list)) = db
        .row_mut("ir.model", model_id)
        .and_then(|r| r.get_mut("field_id"))
    {
        list.push(json!(id));
    }
    let options = f
        .attrs
        .get("selection")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut selection_ids = Vec::new();
    for (seq, opt) in options.iter().enumerate() {
        let (Some(value), Some(name)) = (
            opt.get(0).and_then(Value::as_str),
            opt.get(1).and_then(Value::as_str),
        ) else {
            continue;
        };
        let sid = db.next_id("ir.model.fields.selection");
        let row = json!({"id": sid, "field_id": id, "value": value, "name": name, "sequence": seq,
            "display_name": name});
        insert(db, "ir.model.fields.selection", sid, row);
        selection_ids.push(json!(sid));
    }
    if let Some(r) = db.row_mut("ir.model.fields", id) {
        r.insert("selection_ids".into(), Value::Array(selection_ids));
    }
}

/// Removes the `ir.model*` rows of `base_automation` (its uninstall drops them).
pub fn remove_automation_rows(db: &mut Db) {
    let fields: Vec<i64> = ids_where(db, "ir.model.fields", |r| {
        of_automation(
            r.get("model").and_then(Value::as_str).unwrap_or_default(),
            r.get("name").and_then(Value::as_str),
        )
    });
    if let Some(t) = db.tables.get_mut("ir.model.fields.selection") {
        t.rows.retain(|_, r| {
            !r.get("field_id")
                .and_then(Value::as_i64)
                .is_some_and(|f| fields.contains(&f))
        });
    }
    if let Some(t) = db.tables.get_mut("ir.model.fields") {
        t.rows.retain(|id, _| !fields.contains(id));
    }
    let models = ids_where(db, "ir.model", |r| {
        r.get("model") == Some(&json!(AUTOMATION_MODEL))
    });
    if let Some(t) = db.tables.get_mut("ir.model") {
        t.rows.retain(|id, _| !models.contains(id));
        for r in t.rows.values_mut() {
            if let Some(Value::Array(list)) = r.get_mut("field_id") {
                list.retain(|v| !v.as_i64().is_some_and(|f| fields.contains(&f)));
            }
        }
    }
}

/// Whether `module` is installed.
pub fn installed(db: &Db, module: &str) -> bool {
    db.table("ir.module.module").is_some_and(|t| {
        t.rows
            .values()
            .any(|r| r.get("name") == Some(&json!(module)) && r.get("state") == Some(&json!("installed")))
    })
}

/// The `ir.model` id of `model`.
pub fn model_id(db: &Db, model: &str) -> Option<i64> {
    find(db, "ir.model", |r| r.get("model") == Some(&json!(model)))
}

/// The technical name of `ir.model` row `id`.
pub fn model_name(db: &Db, id: i64) -> Option<String> {
    db.row("ir.model", id)
        .and_then(|r| r.get("model"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `(model, name)` of `ir.model.fields` row `id`.
pub fn field_of(db: &Db, id: i64) -> Option<(String, String)> {
    let r = db.row("ir.model.fields", id)?;
    Some((
        r.get("model")?.as_str()?.to_owned(),
        r.get("name")?.as_str()?.to_owned(),
    ))
}

fn insert(db: &mut Db, table: &str, id: i64, row: Value) {
    if let (Some(t), Value::Object(row)) = (db.tables.get_mut(table), row) {
        t.rows.insert(id, row);
        t.next_id = t.next_id.max(id + 1);
    }
}

fn find(db: &Db, table: &str, pred: impl Fn(&Record) -> bool) -> Option<i64> {
    db.table(table)?
        .rows
        .iter()
        .find(|(_, r)| pred(r))
        .map(|(id, _)| *id)
}

fn ids_where(db: &Db, table: &str, pred: impl Fn(&Record) -> bool) -> Vec<i64> {
    db.table(table)
        .map(|t| {
            t.rows
                .iter()
                .filter(|(_, r)| pred(r))
                .map(|(id, _)| *id)
                .collect()
        })
        .unwrap_or_default()
}
