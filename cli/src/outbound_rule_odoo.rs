//! The Odoo side of `bitconn outbound rule`: the `ir.actions.server` webhook action and the `base.automation`
//! rule, created, read back and removed over JSON-RPC as an administrator, with the pitfalls of doing so
//! (a recomputed action name, a filter domain reset by writing the trigger, inline actions needing a name).

use anyhow::{Context as _, bail};
use bitconn::config::{ModelName, NativeTrigger, OdooConnection, TriggerOn};
use bitconn::odoo::{CallCounter, OdooClient};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Environment variables naming the administrator the rules are created as; the key is never stored.
pub const ADMIN_KEY_ENV: &str = "BITCONN_ODOO_ADMIN_KEY";
pub const ADMIN_LOGIN_ENV: &str = "BITCONN_ODOO_ADMIN_LOGIN";
/// Installing a module runs Odoo's registry reload (2 s measured); leave it far more.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An administrator's connection to the webhook's Odoo.
pub struct Admin {
    client: OdooClient,
    conn: OdooConnection,
    calls: CallCounter,
}

/// A rule as Odoo holds it now.
#[derive(Debug, Default)]
pub struct OdooSide {
    pub rule: Option<Map<String, Value>>,
    pub action: Option<Map<String, Value>>,
}

impl Admin {
    /// The admin of `odoo` (the webhook's server and database), with the key from the environment.
    pub fn from_env(odoo: &OdooConnection) -> anyhow::Result<Self> {
        let key = std::env::var(ADMIN_KEY_ENV)
            .ok()
            .filter(|k| !k.is_empty())
            .with_context(|| {
                format!(
                    "set {ADMIN_KEY_ENV} to an API key of an Odoo administrator (it is used, never stored)"
                )
            })?;
        let login = std::env::var(ADMIN_LOGIN_ENV).unwrap_or_else(|_| "admin".into());
        Ok(Self {
            client: OdooClient::new(CONNECT_TIMEOUT, INSTALL_TIMEOUT),
            conn: OdooConnection {
                url: odoo.url.clone(),
                db: odoo.db.clone(),
                login,
                api_key: key,
            },
            calls: CallCounter::default(),
        })
    }

    pub async fn call(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Value,
    ) -> anyhow::Result<Value> {
        let session = self.client.session(&self.conn, &self.calls).await?;
        let kwargs = kwargs.as_object().cloned().unwrap_or_default();
        Ok(session.execute_kw(model, method, args, kwargs).await?)
    }

    async fn search_read(
        &self,
        model: &str,
        domain: Value,
        fields: &[&str],
    ) -> anyhow::Result<Vec<Map<String, Value>>> {
        let answer = self
            .call(
                model,
                "search_read",
                vec![domain],
                json!({"fields": fields, "context": {"active_test": false}}),
            )
            .await?;
        Ok(answer
            .as_array()
            .map(|rows| rows.iter().filter_map(|r| r.as_object().cloned()).collect())
            .unwrap_or_default())
    }

    /// Makes sure `base_automation` is installed, installing it only when `install` says so.
    pub async fn ensure_automation(&self, install: bool) -> anyhow::Result<bool> {
        let rows = self
            .search_read(
                "ir.module.module",
                json!([["name", "=", "base_automation"]]),
                &["state"],
            )
            .await
            .context("cannot read Odoo's modules")?;
        let Some(module) = rows.first() else {
            bail!("this Odoo has no Automation Rules module (base_automation)");
        };
        if module.get("state").and_then(Value::as_str) == Some("installed") {
            return Ok(false);
        }
        if !install {
            bail!(
                "the Automation Rules module (base_automation) is not installed in this Odoo: install it from \
                 Apps, or run again with --install-module"
            );
        }
        let id = module.get("id").cloned().unwrap_or(Value::Null);
        self.call(
            "ir.module.module",
            "button_immediate_install",
            vec![json!([id])],
            json!({}),
        )
        .await
        .context("installing base_automation failed")?;
        Ok(true)
    }

    async fn model_id(&self, model: &ModelName) -> anyhow::Result<i64> {
        let rows = self
            .search_read("ir.model", json!([["model", "=", model.as_str()]]), &["id"])
            .await?;
        rows.first()
            .and_then(|r| r.get("id")?.as_i64())
            .with_context(|| format!("Odoo has no model {model}"))
    }

    /// The `ir.model.fields` ids of `names` on `model`, in order; an unknown name is an error naming it.
    async fn field_ids(&self, model: &ModelName, names: &[String]) -> anyhow::Result<Vec<i64>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .search_read(
                "ir.model.fields",
                json!([["model", "=", model.as_str()], ["name", "in", names]]),
                &["name"],
            )
            .await?;
        names
            .iter()
            .map(|name| {
                rows.iter()
                    .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
                    .and_then(|r| r.get("id")?.as_i64())
                    .with_context(|| format!("{model} has no field {name}"))
            })
            .collect()
    }

    async fn selection_id(&self, model: &ModelName, value: &str) -> anyhow::Result<(i64, i64)> {
        let state = self
            .field_ids(model, &["state".to_owned()])
            .await
            .with_context(|| format!("--on state:{value} needs a `state` field on {model}"))?;
        let field = state.first().copied().unwrap_or_default();
        let rows = self
            .search_read(
                "ir.model.fields.selection",
                json!([["field_id", "=", field]]),
                &["value"],
            )
            .await?;
        let found = rows
            .iter()
            .find(|r| r.get("value").and_then(Value::as_str) == Some(value))
            .and_then(|r| r.get("id")?.as_i64());
        match found {
            Some(id) => Ok((id, field)),
            None => {
                let values: Vec<&str> = rows.iter().filter_map(|r| r.get("value")?.as_str()).collect();
                bail!(
                    "{model}.state has no value {value:?} (it has: {})",
                    values.join(", ")
                )
            }
        }
    }

    /// Creates the webhook action and the rule for `trigger`, posting to `url`; returns (action, rule).
    /// On a failure after the action exists, the action is removed again.
    pub async fn create_rule(
        &self,
        name: &str,
        trigger: &NativeTrigger,
        url: &str,
    ) -> anyhow::Result<(i64, i64)> {
        let model_id = self.model_id(&trigger.model).await?;
        let payload_ids = self.field_ids(&trigger.model, &trigger.fields).await?;
        let watch_ids = self.field_ids(&trigger.model, &trigger.watch).await?;
        // Created on its own with a name: an inline action without one fails on NOT NULL.
        let action = self
            .call(
                "ir.actions.server",
                "create",
                vec![
                    json!({"name": name, "state": "webhook", "model_id": model_id, "webhook_url": url,
                            "webhook_field_ids": [[6, 0, payload_ids]]}),
                ],
                json!({}),
            )
            .await
            .context("cannot create the webhook action")?
            .as_i64()
            .context("Odoo answered the action's create without an id")?;
        match self
            .create_automation(name, trigger, model_id, &watch_ids, action)
            .await
        {
            Ok(rule) => Ok((action, rule)),
            Err(error) => {
                let _ = self
                    .call("ir.actions.server", "unlink", vec![json!([action])], json!({}))
                    .await;
                Err(error)
            }
        }
    }

    async fn create_automation(
        &self,
        name: &str,
        trigger: &NativeTrigger,
        model_id: i64,
        watch_ids: &[i64],
        action: i64,
    ) -> anyhow::Result<i64> {
        let mut values = json!({"name": name, "model_id": model_id, "trigger": trigger.on.odoo_trigger(),
                                "action_server_ids": [[6, 0, [action]]]});
        if matches!(trigger.on, TriggerOn::Write | TriggerOn::CreateOrWrite) && !watch_ids.is_empty() {
            values["trigger_field_ids"] = json!([[6, 0, watch_ids]]);
        }
        if let TriggerOn::State(value) = &trigger.on {
            let (selection, field) = self.selection_id(&trigger.model, value).await?;
            values["trg_selection_field_id"] = json!(selection);
            values["trigger_field_ids"] = json!([[6, 0, [field]]]);
        }
        if let Some(filter) = &trigger.filter {
            values["filter_domain"] = json!(filter);
        }
        let rule = self
            .call("base.automation", "create", vec![values], json!({}))
            .await
            .context("cannot create the automation rule")?
            .as_i64()
            .context("Odoo answered the rule's create without an id")?;
        // Writing the trigger (or its fields) recomputes the filter domain: put ours back if it was lost.
        if let Some(filter) = &trigger.filter {
            let read = self.read_rule(rule).await?;
            if read.get("filter_domain").and_then(Value::as_str) != Some(filter.as_str()) {
                self.call(
                    "base.automation",
                    "write",
                    vec![json!([rule]), json!({"filter_domain": filter})],
                    json!({}),
                )
                .await?;
                let again = self.read_rule(rule).await?;
                if again.get("filter_domain").and_then(Value::as_str) != Some(filter.as_str()) {
                    bail!("Odoo did not keep the filter domain {filter:?} on rule #{rule}");
                }
            }
        }
        Ok(rule)
    }

    async fn read_rule(&self, rule: i64) -> anyhow::Result<Map<String, Value>> {
        self.search_read(
            "base.automation",
            json!([["id", "=", rule]]),
            &[
                "name",
                "active",
                "trigger",
                "filter_domain",
                "model_id",
                "action_server_ids",
            ],
        )
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("rule #{rule} is gone from Odoo"))
    }

    /// The rule and action as Odoo has them (either `None` when deleted).
    pub async fn side(&self, action: i64, rule: i64) -> anyhow::Result<OdooSide> {
        let rules = self
            .search_read(
                "base.automation",
                json!([["id", "=", rule]]),
                &["name", "active", "trigger", "filter_domain", "action_server_ids"],
            )
            .await?;
        let actions = self
            .search_read(
                "ir.actions.server",
                json!([["id", "=", action]]),
                &["name", "state", "webhook_url"],
            )
            .await?;
        Ok(OdooSide {
            rule: rules.into_iter().next(),
            action: actions.into_iter().next(),
        })
    }

    /// Deletes the rule, then the action (which deleting a rule may already have removed, by cascade);
    /// records already gone are fine.
    pub async fn remove(&self, action: i64, rule: i64) -> anyhow::Result<()> {
        if self.side(action, rule).await?.rule.is_some() {
            self.call("base.automation", "unlink", vec![json!([rule])], json!({}))
                .await
                .context("cannot delete the automation rule")?;
        }
        if self.side(action, rule).await?.action.is_some() {
            self.call("ir.actions.server", "unlink", vec![json!([action])], json!({}))
                .await
                .context("cannot delete the webhook action")?;
        }
        Ok(())
    }
}
