//! How webhooks are shown: a redacted view (no API key, no secret hashes) as text or JSON.

use bitconn::config::{FieldRule, Limits, ModelAccess, Permissions, WebhookConfig, WebhookId};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::printable::printable;
use crate::units::format_time;

/// Default public base URL printed in webhook URLs (what `bitconn serve` listens on by default).
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

pub fn webhook_url(public_url: &str, id: &WebhookId) -> String {
    format!("{}/bitconn/webhook/{id}", public_url.trim_end_matches('/'))
}

/// Everything an operator may see about a webhook. Built field by field so nothing secret slips in.
#[derive(Serialize)]
pub struct WebhookView {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub url: String,
    pub odoo: OdooView,
    pub permissions: Permissions,
    /// `"all"` or the list of model names.
    pub models: serde_json::Value,
    pub read_models: Vec<String>,
    /// Business methods `call` may run (`model:function`).
    pub callable: Vec<String>,
    pub field_rules: BTreeMap<String, FieldRule>,
    pub limits: Limits,
    pub allowed_verbs: Vec<&'static str>,
    /// The webhook `bitconn serve` manages for its bundled Odoo simulator.
    pub demo: bool,
    /// When a rotated-out secret stops being accepted (only during a grace period).
    pub previous_secret_valid_until: Option<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize)]
pub struct OdooView {
    pub url: String,
    pub db: String,
    pub login: String,
}

impl WebhookView {
    pub fn of(config: &WebhookConfig, public_url: &str) -> Self {
        Self {
            id: config.id.to_string(),
            name: config.name.clone(),
            enabled: config.enabled,
            url: webhook_url(public_url, &config.id),
            odoo: OdooView {
                url: config.odoo.url.clone(),
                db: config.odoo.db.clone(),
                login: config.odoo.login.clone(),
            },
            permissions: config.permissions,
            models: models_json(&config.models),
            read_models: config.read_models.iter().map(ToString::to_string).collect(),
            callable: config.callable.iter().map(ToString::to_string).collect(),
            field_rules: config
                .field_rules
                .iter()
                .map(|(m, r)| (m.to_string(), r.clone()))
                .collect(),
            limits: config.limits,
            allowed_verbs: config.allowed_verbs.iter().map(|v| v.as_str()).collect(),
            demo: config.demo,
            previous_secret_valid_until: config
                .secret
                .previous
                .as_ref()
                .map(|p| format_time(p.valid_until)),
            version: config.version,
            created_at: format_time(config.created_at),
            updated_at: format_time(config.updated_at),
        }
    }

    /// Names and Odoo settings are shown through `printable`: whoever set them, they cannot steer the terminal.
    pub fn print_text(&self) {
        println!("{} ({})", printable(&self.name), self.id);
        println!("  enabled:      {}", yes_no(self.enabled));
        println!("  url:          {}", self.url);
        println!(
            "  odoo:         {} db={} login={}",
            printable(&self.odoo.url),
            printable(&self.odoo.db),
            printable(&self.odoo.login)
        );
        println!("  models:       {}", models_text(&self.models));
        if !self.read_models.is_empty() {
            println!("  read models:  {}", self.read_models.join(", "));
        }
        if !self.callable.is_empty() {
            println!("  callable:     {}", self.callable.join(", "));
        }
        let p = self.permissions;
        println!(
            "  permissions:  create={} write={} unlink={}",
            yes_no(p.can_create),
            yes_no(p.can_write),
            yes_no(p.can_unlink)
        );
        let l = self.limits;
        println!(
            "  limits:       search default={} max={}, records per change max={}",
            l.default_search_limit, l.max_search_limit, l.max_records_per_change
        );
        println!("  http verbs:   {}", self.allowed_verbs.join(", "));
        if self.demo {
            println!("  demo:         yes (re-pointed at the bundled simulator by `bitconn serve`)");
        }
        for (model, rule) in &self.field_rules {
            if let Some(allow) = &rule.allow {
                println!("  allow fields: {model}: {}", join(allow));
            }
            if !rule.deny.is_empty() {
                println!("  deny fields:  {model}: {}", join(&rule.deny));
            }
        }
        if let Some(until) = &self.previous_secret_valid_until {
            println!("  old secret:   accepted until {until}");
        }
        println!(
            "  version:      {} (created {}, updated {})",
            self.version, self.created_at, self.updated_at
        );
    }
}

pub fn models_json(models: &ModelAccess) -> serde_json::Value {
    match models {
        ModelAccess::All => serde_json::Value::from("all"),
        ModelAccess::Only(set) => set.iter().map(|m| serde_json::Value::from(m.as_str())).collect(),
    }
}

pub fn models_text(models: &serde_json::Value) -> String {
    match models {
        serde_json::Value::Array(list) => list
            .iter()
            .filter_map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::String(all) => format!("{all} (every model the Odoo user can access)"),
        other => other.to_string(),
    }
}

fn join(set: &std::collections::BTreeSet<String>) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

pub fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
