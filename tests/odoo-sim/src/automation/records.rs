//! What Odoo's Python does when the automation records themselves are created or written: defaults, NOT NULL
//! columns, the rule's computed trigger fields and domains (the RPC pitfalls), the action's recomputed name,
//! group-restricted payload fields, and the module's install buttons.

use serde_json::{Map, Value, json};

use super::meta::{self, AUTOMATION_MODULE};
use super::schema::{ACTION_RULE_FIELD, ACTION_STATES, AUTOMATION_MODEL};
use crate::db::Record;
use crate::error::{OdooError, OdooResult};
use crate::orm::create::MutEnv;
use crate::registry::Model;

/// `record_getter`'s default.
const RECORD_GETTER: &str = "model.env[payload.get('_model')].browse(int(payload.get('_id')))";

/// Triggers whose trigger field is found by name (trigger, field type, candidate names).
const FIELD_TRIGGERS: &[(&str, &str, &[&str])] = &[
    ("on_stage_set", "many2one", &["stage_id", "x_studio_stage_id"]),
    ("on_tag_set", "many2many", &["tag_ids", "x_studio_tag_ids"]),
    ("on_priority_set", "selection", &["priority", "x_studio_priority"]),
    ("on_state_set", "selection", &["state", "x_studio_state"]),
    (
        "on_user_set",
        "many2one",
        &["user_id", "user_ids", "x_studio_user_id", "x_studio_user_ids"],
    ),
    ("on_archive", "boolean", &["active", "x_active"]),
    ("on_unarchive", "boolean", &["active", "x_active"]),
    ("on_time_created", "datetime", &["create_date"]),
    ("on_time_updated", "datetime", &["write_date"]),
];

/// Triggers whose watched fields are the user's choice: emptying them leaves `_compute_trigger` no trigger.
const CHOSEN_FIELD_TRIGGERS: &[&str] = &["on_create_or_write", "on_write", "on_create"];

/// Fields of the demo models restricted to groups, refused in webhook payloads: (model, field, label).
const GROUP_RESTRICTED: &[(&str, &str, &str)] = &[("res.partner", "signup_type", "Signup Token Type")];

/// The `IntegrityError` Odoo turns into a `ValidationError` when a mandatory column is empty.
fn not_null(m: &MutEnv<'_>, model: &str, field: &str) -> OdooError {
    let label = m
        .model(model)
        .and_then(|md| md.field(field))
        .and_then(|f| f.attrs.get("string"))
        .and_then(Value::as_str)
        .unwrap_or(field)
        .to_owned();
    let desc = m.model(model).map_or(model, |md| md.description.as_str());
    OdooError::validation(format!(
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {desc} ({model})\nField: {label} ({field})\n"
    ))
}

fn empty(v: Option<&Value>) -> bool {
    v.is_none_or(|v| !crate::orm::convert::truthy(v))
}

/// A random version-4 UUID, as `str(uuid4())`.
pub fn uuid4() -> String {
    let a = crate::models::defaults::random();
    let b = crate::models::defaults::random().rotate_left(17) ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// Defaults set before the INSERT.
pub fn before_create(m: &mut MutEnv<'_>, model: &Model, row: &mut Record) -> OdooResult<()> {
    match model.name.as_str() {
        "ir.actions.server" => {
            row.entry("type").or_insert(json!("ir.actions.server"));
            row.entry("state").or_insert(json!("object_write"));
            row.entry("sequence").or_insert(json!(5));
            let usage = m
                .ctx
                .get("default_usage")
                .cloned()
                .filter(Value::is_string)
                .unwrap_or_else(|| {
                    if empty(row.get(ACTION_RULE_FIELD)) {
                        json!("ir_actions_server")
                    } else {
                        json!("base_automation")
                    }
                });
            row.entry("usage").or_insert(usage);
        }
        AUTOMATION_MODEL => {
            row.entry("active").or_insert(json!(true));
            row.entry("webhook_uuid").or_insert(json!(uuid4()));
            row.entry("record_getter").or_insert(json!(RECORD_GETTER));
            row.entry("log_webhook_calls").or_insert(json!(false));
            row.entry("trg_date_range").or_insert(json!(0));
        }
        _ => {}
    }
    Ok(())
}

/// NOT NULL columns checked by the INSERT.
pub fn check_insert(m: &MutEnv<'_>, model: &Model, row: &Record) -> OdooResult<()> {
    let mandatory: &[&str] = match model.name.as_str() {
        "ir.actions.server" => &["name", "model_id", "state", "type", "usage"],
        // `trigger` is computed after the INSERT in Odoo too, but its column is NOT NULL: checked in `after_create`.
        AUTOMATION_MODEL => &["name", "model_id"],
        _ => &[],
    };
    for f in mandatory {
        if empty(row.get(*f)) {
            return Err(not_null(m, &model.name, f));
        }
    }
    Ok(())
}

/// Computations after a create (`vals` as the caller sent them).
pub fn after_create(m: &mut MutEnv<'_>, model: &Model, id: i64, vals: &Map<String, Value>) -> OdooResult<()> {
    match model.name.as_str() {
        AUTOMATION_MODEL => {
            let given: Vec<&str> = vals.keys().map(String::as_str).collect();
            recompute_rule(m, id, &given, &["trigger", "trigger_field_ids", "model_id"])
        }
        "ir.actions.server" => check_webhook_fields(m, id),
        _ => Ok(()),
    }
}

/// Computations after a write of row `id`.
pub fn after_write(m: &mut MutEnv<'_>, model: &Model, id: i64, vals: &Map<String, Value>) -> OdooResult<()> {
    let written: Vec<&str> = vals.keys().map(String::as_str).collect();
    match model.name.as_str() {
        AUTOMATION_MODEL => recompute_rule(m, id, &written, &written),
        "ir.actions.server" => {
            let linked =
                m.db.row("ir.actions.server", id)
                    .is_some_and(|r| !empty(r.get(ACTION_RULE_FIELD)));
            if linked
                && !vals.contains_key("name")
                && written.iter().any(|k| matches!(*k, "state" | "webhook_url"))
            {
                let state = field_str(m, "ir.actions.server", id, "state");
                let name = ACTION_STATES
                    .iter()
                    .find(|(v, _)| Some(*v) == state.as_deref())
                    .map_or("Server Action", |(_, l)| l);
                set(m, "ir.actions.server", id, "name", json!(name));
            }
            check_webhook_fields(m, id)
        }
        _ => Ok(()),
    }
}

fn field_str(m: &MutEnv<'_>, model: &str, id: i64, f: &str) -> Option<String> {
    m.db.row(model, id)
        .and_then(|r| r.get(f))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn set(m: &mut MutEnv<'_>, model: &str, id: i64, f: &str, v: Value) {
    if let Some(r) = m.db.row_mut(model, id) {
        r.insert(f.to_owned(), v);
    }
}

fn ids(m: &MutEnv<'_>, model: &str, id: i64, f: &str) -> Vec<i64> {
    m.db.row(model, id)
        .and_then(|r| r.get(f))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Odoo's `_compute_trigger`, `_compute_trigger_field_ids`, `_compute_trg_selection_field_id`,
/// `_compute_trg_field_ref`, `_compute_filter_pre_domain` and `_compute_filter_domain`: a field the caller sent
/// (`given`) keeps its value; the others are recomputed when a dependency `changed`.
fn recompute_rule(m: &mut MutEnv<'_>, id: i64, given: &[&str], changed: &[&str]) -> OdooResult<()> {
    let has = |f: &str| given.contains(&f);
    let touched = |deps: &[&str]| deps.iter().any(|d| changed.contains(d));
    let trigger = field_str(m, AUTOMATION_MODEL, id, "trigger");
    if touched(&["model_id", "trigger"]) && !has("trigger_field_ids") {
        let found = trigger
            .as_deref()
            .and_then(|t| FIELD_TRIGGERS.iter().find(|(ft, _, _)| *ft == t))
            .map(|(_, ttype, names)| trigger_field(m, id, ttype, names));
        if let Some(list) = found {
            set(m, AUTOMATION_MODEL, id, "trigger_field_ids", json!(list));
        }
    }
    let fields = ids(m, AUTOMATION_MODEL, id, "trigger_field_ids");
    if changed.contains(&"trigger_field_ids") && !has("trigger") && fields.is_empty() {
        let chosen = trigger
            .as_deref()
            .is_some_and(|t| CHOSEN_FIELD_TRIGGERS.contains(&t));
        if chosen {
            return Err(not_null(m, AUTOMATION_MODEL, "trigger"));
        }
    }
    if empty(m.db.row(AUTOMATION_MODEL, id).and_then(|r| r.get("trigger"))) {
        return Err(not_null(m, AUTOMATION_MODEL, "trigger"));
    }
    let rule_deps = ["trigger", "trigger_field_ids"];
    if touched(&rule_deps) && !has("trg_selection_field_id") {
        set(m, AUTOMATION_MODEL, id, "trg_selection_field_id", json!(false));
    }
    if touched(&rule_deps) && !has("trg_field_ref") {
        set(m, AUTOMATION_MODEL, id, "trg_field_ref", json!(false));
    }
    let field_name = match fields.as_slice() {
        [one] => meta::field_of(m.db, *one).map(|(_, n)| n),
        _ => None,
    };
    let trigger = trigger.unwrap_or_default();
    let field_ref =
        m.db.row(AUTOMATION_MODEL, id)
            .and_then(|r| r.get("trg_field_ref"))
            .and_then(Value::as_i64)
            .filter(|v| *v != 0);
    if touched(&["trigger", "trigger_field_ids", "trg_field_ref"]) && !has("filter_pre_domain") {
        let pre = match (&field_name, trigger.as_str(), field_ref) {
            (Some(f), "on_tag_set", Some(v)) => json!(format!("[('{f}', 'not in', [{v}])]")),
            _ => json!(false),
        };
        set(m, AUTOMATION_MODEL, id, "filter_pre_domain", pre);
    }
    let domain_deps = [
        "trigger",
        "trigger_field_ids",
        "trg_selection_field_id",
        "trg_field_ref",
    ];
    if touched(&domain_deps) && !has("filter_domain") {
        let selection_value =
            m.db.row(AUTOMATION_MODEL, id)
                .and_then(|r| r.get("trg_selection_field_id"))
                .and_then(Value::as_i64)
                .and_then(|s| m.db.row("ir.model.fields.selection", s))
                .and_then(|s| s.get("value"))
                .and_then(Value::as_str)
                .map(str::to_owned);
        let domain = match (fields.len(), &field_name) {
            (0, _) => Some(json!(false)),
            (1, Some(f)) => match trigger.as_str() {
                "on_state_set" | "on_priority_set" => {
                    Some(selection_value.map_or(json!(false), |v| json!(format!("[('{f}', '=', '{v}')]"))))
                }
                "on_stage_set" => {
                    Some(field_ref.map_or(json!(false), |v| json!(format!("[('{f}', '=', {v})]"))))
                }
                "on_tag_set" => {
                    Some(field_ref.map_or(json!(false), |v| json!(format!("[('{f}', 'in', [{v}])]"))))
                }
                "on_user_set" => Some(json!(format!("[('{f}', '!=', False)]"))),
                "on_archive" => Some(json!(format!("[('{f}', '=', False)]"))),
                "on_unarchive" => Some(json!(format!("[('{f}', '=', True)]"))),
                _ => None,
            },
            _ => None,
        };
        if let Some(d) = domain {
            set(m, AUTOMATION_MODEL, id, "filter_domain", d);
        } else if !m
            .db
            .row(AUTOMATION_MODEL, id)
            .is_some_and(|r| r.contains_key("filter_domain"))
        {
            set(m, AUTOMATION_MODEL, id, "filter_domain", json!(false));
        }
    }
    for f in ["filter_domain", "filter_pre_domain"] {
        if !m.db.row(AUTOMATION_MODEL, id).is_some_and(|r| r.contains_key(f)) {
            set(m, AUTOMATION_MODEL, id, f, json!(false));
        }
    }
    Ok(())
}

/// The rule model's first field of `ttype` named one of `names` (`search(domain, limit=1)`), as an id list.
fn trigger_field(m: &MutEnv<'_>, rule: i64, ttype: &str, names: &[&str]) -> Vec<i64> {
    let Some(model) =
        m.db.row(AUTOMATION_MODEL, rule)
            .and_then(|r| r.get("model_id"))
            .and_then(Value::as_i64)
            .and_then(|mid| meta::model_name(m.db, mid))
    else {
        return Vec::new();
    };
    let Some(table) = m.db.table("ir.model.fields") else {
        return Vec::new();
    };
    let mut found: Vec<(&str, i64)> = table
        .rows
        .iter()
        .filter(|(_, r)| r.get("model").and_then(Value::as_str) == Some(model.as_str()))
        .filter(|(_, r)| {
            let t = r.get("ttype").and_then(Value::as_str).unwrap_or_default();
            t == ttype || (ttype == "many2one" && t == "many2many" && names.contains(&"user_ids"))
        })
        .filter_map(|(id, r)| {
            let n = r.get("name").and_then(Value::as_str)?;
            names.contains(&n).then_some((n, *id))
        })
        .collect();
    found.sort();
    found.first().map(|(_, id)| vec![*id]).unwrap_or_default()
}

/// Group-restricted fields cannot be sent in a payload (`_check_webhook_field_ids`).
fn check_webhook_fields(m: &MutEnv<'_>, id: i64) -> OdooResult<()> {
    let restricted: Vec<String> = ids(m, "ir.actions.server", id, "webhook_field_ids")
        .into_iter()
        .filter_map(|f| meta::field_of(m.db, f))
        .filter_map(|(model, name)| {
            GROUP_RESTRICTED
                .iter()
                .find(|(rm, rf, _)| *rm == model && *rf == name)
                .map(|(_, _, label)| (*label).to_owned())
        })
        .collect();
    if restricted.is_empty() {
        return Ok(());
    }
    let action = field_str(m, "ir.actions.server", id, "name").unwrap_or_default();
    Err(OdooError::validation(format!(
        "Group-restricted fields cannot be included in webhook payloads, as it could allow any user to accidentally leak sensitive information. You will have to remove the following fields from the webhook payload in the following actions:\n {action}: {}",
        restricted.join(", ")
    )))
}

/// Methods of the automation models callable over RPC; `None` when the model has no such method.
pub fn call_method(
    m: &mut MutEnv<'_>,
    model: &Model,
    method: &str,
    ids: &[i64],
) -> Option<OdooResult<Option<Value>>> {
    match (model.name.as_str(), method) {
        ("ir.module.module", "button_immediate_install") => Some(set_modules(m, ids, true)),
        ("ir.module.module", "button_immediate_uninstall") => Some(set_modules(m, ids, false)),
        ("ir.actions.server", "run") => Some(super::fire::run_manually(m, ids).map(|()| Some(json!(false)))),
        (AUTOMATION_MODEL, "action_rotate_webhook_uuid") => {
            for id in ids {
                set(m, AUTOMATION_MODEL, *id, "webhook_uuid", json!(uuid4()));
            }
            Some(Ok(None))
        }
        _ => None,
    }
}

/// Installs or uninstalls modules; `base_automation` brings its model and fields, its uninstall drops them.
fn set_modules(m: &mut MutEnv<'_>, ids: &[i64], install: bool) -> OdooResult<Option<Value>> {
    for id in ids {
        let Some(name) = field_str(m, "ir.module.module", *id, "name") else {
            continue;
        };
        let state = if install { "installed" } else { "uninstalled" };
        set(m, "ir.module.module", *id, "state", json!(state));
        let version = if install { json!("18.0.1.0") } else { json!(false) };
        set(m, "ir.module.module", *id, "latest_version", version);
        if name != AUTOMATION_MODULE {
            continue;
        }
        if install {
            meta::add_model_rows(m.reg, m.db, true);
        } else {
            if let Some(t) = m.db.tables.get_mut(AUTOMATION_MODEL) {
                t.rows.clear();
            }
            if let Some(t) = m.db.tables.get_mut("ir.actions.server") {
                t.rows
                    .retain(|_, r| r.get("usage") != Some(&json!("base_automation")));
                for r in t.rows.values_mut() {
                    r.remove(ACTION_RULE_FIELD);
                }
            }
            meta::remove_automation_rows(m.db);
        }
    }
    Ok(Some(
        json!({"type": "ir.actions.act_url", "target": "self", "url": "/odoo"}),
    ))
}
