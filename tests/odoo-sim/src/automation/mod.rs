//! Automation: the `ir.model*` metadata, server actions, `base.automation` rules (module `base_automation`,
//! installable over RPC) and the native "Send Webhook Notification" POSTs they make, inside the user's call and
//! before its change is visible, as Odoo 18 does.

pub mod fire;
pub mod meta;
pub mod outbound;
pub mod payload;
mod pyjson;
mod pyliteral;
pub mod records;
pub mod schema;

use serde_json::{Map, Value, json};

use crate::db::{Db, Record};
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::orm::create::MutEnv;
use crate::registry::Model;

pub use fire::Pending;
pub use meta::AUTOMATION_MODULE;
pub use outbound::{Outbound, WebhookCall};

/// `web.base.url` of the simulated server, in `base.automation.url`.
const BASE_URL: &str = "http://127.0.0.1:8069";

/// Whether `model` exists in the database's current state (`base.automation` needs its module).
pub fn model_available(db: &Db, model: &str) -> bool {
    model != schema::AUTOMATION_MODEL || meta::installed(db, AUTOMATION_MODULE)
}

/// Whether `model.field` exists in the database's current state (`ir.actions.server.base_automation_id` needs
/// the module).
pub fn field_available(db: &Db, model: &str, field: &str) -> bool {
    !(model == "ir.actions.server" && field == schema::ACTION_RULE_FIELD)
        || meta::installed(db, AUTOMATION_MODULE)
}

/// Installs `base_automation` in `db` (the `--base-automation` start option).
pub fn install_module(reg: &crate::registry::Registry, db: &mut Db) {
    for r in db
        .tables
        .get_mut("ir.module.module")
        .into_iter()
        .flat_map(|t| t.rows.values_mut())
    {
        if r.get("name") == Some(&json!(AUTOMATION_MODULE)) {
            r.insert("state".into(), json!("installed"));
            r.insert("latest_version".into(), json!("18.0.1.0"));
        }
    }
    meta::add_model_rows(reg, db, true);
}

/// The error Odoo gives for a model the registry does not have.
pub fn unknown_model(model: &str) -> OdooError {
    OdooError::user(format!("Object {model} doesn't exist"))
}

/// After `create` of row `id`: the record's own computations, then the rules.
pub fn created(m: &mut MutEnv<'_>, model: &Model, id: i64, vals: &Map<String, Value>) -> OdooResult<()> {
    records::after_create(m, model, id, vals)?;
    fire::created(m, model, id, vals)
}

/// Before `write(vals)` on `ids`.
pub fn before_write(
    m: &mut MutEnv<'_>,
    model: &Model,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> OdooResult<Option<Pending>> {
    fire::before_write(m, model, ids, vals)
}

/// After the write of row `id`.
pub fn written(
    m: &mut MutEnv<'_>,
    model: &Model,
    id: i64,
    vals: &Map<String, Value>,
    pending: Option<&Pending>,
) -> OdooResult<()> {
    records::after_write(m, model, id, vals)?;
    match pending {
        Some(p) => fire::written(m, model, id, p),
        None => Ok(()),
    }
}

/// After the whole write of `ids`.
pub fn flushed(m: &mut MutEnv<'_>, model: &Model, ids: &[i64], pending: Option<Pending>) -> OdooResult<()> {
    match pending {
        Some(p) => fire::flushed(m, model, ids, p),
        None => Ok(()),
    }
}

/// Before `unlink` of `ids`.
pub fn unlinking(m: &mut MutEnv<'_>, model: &Model, ids: &[i64]) -> OdooResult<()> {
    fire::unlinking(m, model, ids)
}

/// Values the automation models compute: `webhook_sample_payload`, `url`.
pub fn computed(env: &Env<'_>, model: &Model, rec: &Record, field: &str) -> Option<Value> {
    match (model.name.as_str(), field) {
        ("ir.actions.server", "webhook_sample_payload") => {
            if rec.get("state") != Some(&json!("webhook")) {
                return Some(json!(false));
            }
            let target = rec
                .get("model_id")
                .and_then(Value::as_i64)
                .and_then(|id| meta::model_name(env.db, id))
                .and_then(|name| env.model(&name))?;
            Some(payload::sample(env, target, rec))
        }
        (schema::AUTOMATION_MODEL, "url") => Some(match rec.get("trigger").and_then(Value::as_str) {
            Some("on_webhook") => {
                let uuid = rec
                    .get("webhook_uuid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                json!(format!("{BASE_URL}/web/hook/{uuid}"))
            }
            _ => json!(false),
        }),
        _ => None,
    }
}

/// Whether [`computed`] computes `model.field`.
pub fn computes(model: &str, field: &str) -> bool {
    matches!(
        (model, field),
        ("ir.actions.server", "webhook_sample_payload") | (schema::AUTOMATION_MODEL, "url")
    )
}
