//! `upsert` (find by match fields or external id, then write or create) and `call` (an allow-listed business
//! method such as `action_confirm` or `message_post`).

use serde_json::{Map, Value, json};
use std::collections::HashSet;

use super::Gateway;
use super::commands::check_values;
use super::crud::within_cap;
use super::inbound::to_bytes;
use super::names::xmlid_target;
use super::schemas::{At, Checked, Place};
use crate::config::{ModelName, WebhookConfig, call_refusal};
use crate::domain::{self, Domain};
use crate::error::GatewayError;
use crate::odoo::OdooSession;
use crate::request::{Call, Match, Upsert, Xmlid};

/// Most ids a conflicting match lists (and the search limit that finds them).
const MAX_CONFLICT_IDS: usize = 50;
/// The keyword arguments `message_post` takes through `call`.
const MESSAGE_POST_KWARGS: &[&str] = &[
    "body",
    "body_is_html",
    "message_type",
    "partner_ids",
    "subject",
    "subtype_xmlid",
];

/// 403 unless the webhook's allow-list names `model:function` and it is not private or an ORM method.
pub(super) fn check_callable(
    config: &WebhookConfig,
    model: &ModelName,
    function: &str,
) -> Result<(), GatewayError> {
    if let Some(why) = call_refusal(function) {
        return Err(GatewayError::PermissionDenied {
            reason: "method_not_callable",
            field: None,
            message: Some(format!("{function:?}: {why}")),
        });
    }
    if config.allows_call(model, function) {
        return Ok(());
    }
    Err(GatewayError::PermissionDenied {
        reason: "method_not_allowed",
        field: None,
        message: Some(format!(
            "this webhook may not call {model}.{function}; allow it with --allow-call {model}:{function}"
        )),
    })
}

/// What one upsert item turns into once its match has been searched.
enum Plan {
    Write(i64),
    Create,
}

impl Gateway {
    pub(super) async fn upsert(
        &self,
        config: &WebhookConfig,
        session: &OdooSession<'_>,
        model: &ModelName,
        upsert: Upsert,
    ) -> Result<Vec<u8>, GatewayError> {
        let values = self.named_values(session, config, model, upsert.values).await?;
        let (domains, through_commands) = self
            .schemas
            .resolve(session, config, |c| {
                let changed = check_values(c, &config.permissions, model, &values)?;
                let Match::Fields(fields) = &upsert.matcher else {
                    return Ok((Vec::new(), changed));
                };
                let domains = values
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let d = match_domain(fields, item, upsert.batch.then_some(i))?;
                        domain::validate(&d, model, c).at(Place::Domain)?;
                        Ok(d)
                    })
                    .collect::<Result<Vec<_>, Checked>>()?;
                Ok((domains, changed))
            })
            .await?;
        within_cap(values.len() + through_commands, config)?;
        if let Match::Xmlid(xmlid) = &upsert.matcher {
            let item = values.into_iter().next().unwrap_or_default();
            return self.upsert_xmlid(session, model, xmlid, item).await;
        }
        let mut seen = HashSet::new();
        for (i, d) in domains.iter().enumerate() {
            if !seen.insert(d.to_json().to_string()) {
                return Err(GatewayError::invalid_payload(
                    "duplicate_match",
                    format!(
                        "item {i} of values matches the same record as an earlier item; send each record once"
                    ),
                ));
            }
        }
        // Every match is searched before anything changes, so a conflict leaves Odoo untouched.
        let mut plans = Vec::with_capacity(domains.len());
        for (i, d) in domains.iter().enumerate() {
            let mut kwargs = Map::new();
            kwargs.insert("limit".into(), json!(MAX_CONFLICT_IDS));
            let found = session
                .execute_kw(model.as_str(), "search", vec![d.to_json()], kwargs)
                .await?;
            let ids: Vec<i64> = found
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            plans.push(match ids.as_slice() {
                [] => Plan::Create,
                [id] => Plan::Write(*id),
                _ => {
                    return Err(GatewayError::MatchConflict {
                        model: model.to_string(),
                        ids,
                        item: upsert.batch.then_some(i),
                    });
                }
            });
        }
        let mut results: Vec<Option<(i64, bool)>> = vec![None; values.len()];
        let mut to_create = Vec::new();
        let mut create_at = Vec::new();
        for (i, (plan, item)) in plans.iter().zip(values).enumerate() {
            match plan {
                Plan::Write(id) => {
                    write_one(session, model, *id, item).await?;
                    results[i] = Some((*id, false));
                }
                Plan::Create => {
                    to_create.push(Value::Object(item));
                    create_at.push(i);
                }
            }
        }
        if !to_create.is_empty() {
            let created = session
                .execute_kw(
                    model.as_str(),
                    "create",
                    vec![Value::Array(to_create)],
                    Map::new(),
                )
                .await?;
            let ids: Vec<i64> = created
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            if ids.len() != create_at.len() {
                return Err(GatewayError::Odoo(crate::odoo::OdooError::Protocol(
                    "create answered a different number of ids".into(),
                )));
            }
            for (i, id) in create_at.into_iter().zip(ids) {
                results[i] = Some((id, true));
            }
        }
        let answer = |(id, created): (i64, bool)| json!({"id": id, "created": created});
        let mut results: Vec<Value> = results.into_iter().flatten().map(answer).collect();
        if upsert.batch {
            return to_bytes(&json!({"ok": true, "results": results}));
        }
        let mut single = results.pop().unwrap_or_default();
        single["ok"] = json!(true);
        to_bytes(&single)
    }

    /// Writes the record an external id names, or creates one and registers the external id for it.
    async fn upsert_xmlid(
        &self,
        session: &OdooSession<'_>,
        model: &ModelName,
        xmlid: &Xmlid,
        item: Map<String, Value>,
    ) -> Result<Vec<u8>, GatewayError> {
        match xmlid_target(session, xmlid).await? {
            Some((target, _)) if target != model.as_str() => Err(GatewayError::invalid_payload(
                "xmlid_other_model",
                format!("the external id {xmlid} names a {target} record, not a {model} one"),
            )),
            Some((_, id)) => {
                write_one(session, model, id, item).await?;
                to_bytes(&json!({"ok": true, "id": id, "created": false}))
            }
            None => {
                // Registering the external id needs Odoo's create right on ir.model.data: asked first, so a user
                // without it gets a refusal instead of a record without its external id.
                if !session.has_model_access("ir.model.data", "create").await? {
                    return Err(GatewayError::PermissionDenied {
                        reason: "xmlid_not_allowed",
                        field: None,
                        message: Some(format!(
                            "no record has the external id {xmlid}, and this webhook's Odoo user may not register external ids (create on ir.model.data)"
                        )),
                    });
                }
                let created = session
                    .execute_kw(model.as_str(), "create", vec![Value::Object(item)], Map::new())
                    .await?;
                let id = created.as_i64().ok_or_else(|| {
                    GatewayError::Odoo(crate::odoo::OdooError::Protocol("create answered no id".into()))
                })?;
                let data = json!({"module": xmlid.module, "name": xmlid.name, "model": model.as_str(), "res_id": id});
                session
                    .execute_kw("ir.model.data", "create", vec![data], Map::new())
                    .await?;
                to_bytes(&json!({"ok": true, "id": id, "created": true}))
            }
        }
    }

    pub(super) async fn call(
        &self,
        config: &WebhookConfig,
        session: &OdooSession<'_>,
        model: &ModelName,
        call: Call,
    ) -> Result<Vec<u8>, GatewayError> {
        within_cap(call.ids.len(), config)?;
        if call.function == "message_post" {
            return self.message_post(config, session, model, call).await;
        }
        let mut args = Vec::with_capacity(call.args.len() + 1);
        args.push(json!(call.ids));
        args.extend(call.args);
        let result = session
            .execute_kw(model.as_str(), &call.function, args, call.kwargs)
            .await?;
        to_bytes(&json!({"ok": true, "result": result}))
    }

    /// One `message_post` per record (Odoo's takes one record): the message id, or a list of them, one per id.
    async fn message_post(
        &self,
        config: &WebhookConfig,
        session: &OdooSession<'_>,
        model: &ModelName,
        call: Call,
    ) -> Result<Vec<u8>, GatewayError> {
        if !call.args.is_empty() {
            return Err(GatewayError::invalid_payload(
                "invalid_args",
                "message_post takes kwargs only, e.g. {\"body\": \"…\", \"message_type\": \"comment\"}",
            ));
        }
        let kwargs = &call.kwargs;
        if let Some(key) = kwargs.keys().find(|k| !MESSAGE_POST_KWARGS.contains(&k.as_str())) {
            return Err(GatewayError::invalid_payload(
                "invalid_kwargs",
                format!(
                    "message_post does not take {key:?}; it takes {}",
                    MESSAGE_POST_KWARGS.join(", ")
                ),
            ));
        }
        let body = kwargs.get("body").and_then(Value::as_str);
        if body.is_none_or(|s| s.trim().is_empty()) {
            return Err(GatewayError::invalid_payload(
                "invalid_kwargs",
                "message_post needs a body: the text of the message",
            ));
        }
        match kwargs.get("message_type").map(|t| t.as_str()) {
            None | Some(Some("comment" | "notification")) => {}
            Some(_) => {
                return Err(GatewayError::invalid_payload(
                    "invalid_kwargs",
                    "message_type is \"comment\" (a message to followers) or \"notification\" (a note)",
                ));
            }
        }
        if let Some(partners) = kwargs.get("partner_ids") {
            let partner: ModelName = "res.partner".parse().map_err(|e: crate::config::InvalidId| {
                GatewayError::invalid_payload("invalid_model", e.to_string())
            })?;
            let valid = partners.as_array().is_some_and(|ids| {
                ids.len() <= crate::request::MAX_IDS
                    && ids.iter().all(|v| v.as_i64().is_some_and(|id| id > 0))
            });
            if !valid {
                return Err(GatewayError::invalid_payload(
                    "invalid_kwargs",
                    "partner_ids is a list of res.partner ids to notify",
                ));
            }
            if !config.allows_reading(&partner) {
                return Err(GatewayError::PermissionDenied {
                    reason: "model_not_allowed",
                    field: Some("partner_ids".into()),
                    message: Some(
                        "partner_ids reaches model 'res.partner', which this webhook may not read".into(),
                    ),
                });
            }
        }
        let mut posted = Vec::with_capacity(call.ids.len());
        for id in &call.ids {
            posted.push(
                session
                    .execute_kw(model.as_str(), "message_post", vec![json!([id])], kwargs.clone())
                    .await?,
            );
        }
        let result = match posted.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(posted),
        };
        to_bytes(&json!({"ok": true, "result": result}))
    }
}

/// `[[field, "=", value], …]` from an item's own values; a match field must be there with a plain, non-empty value
/// (matching on an empty value would update whichever record happens to lack one).
fn match_domain(
    fields: &[String],
    item: &Map<String, Value>,
    index: Option<usize>,
) -> Result<Domain, Checked> {
    let at = index
        .map(|i| format!(" in item {i} of values"))
        .unwrap_or_default();
    let mut terms = Vec::with_capacity(fields.len());
    for field in fields {
        let value = match item.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Value::String(s.clone()),
            Some(v @ Value::Number(_)) => v.clone(),
            Some(Value::Bool(true)) => Value::Bool(true),
            None => {
                return Err(Checked::Refused(GatewayError::invalid_payload(
                    "missing_match_value",
                    format!(
                        "match field '{field}' has no value{at}: upsert matches on the values it is given"
                    ),
                )));
            }
            Some(other) => {
                return Err(Checked::Refused(GatewayError::invalid_payload(
                    "invalid_match_value",
                    format!(
                        "match field '{field}' is {other}{at}; matching needs a non-empty text, a number or a record id"
                    ),
                )));
            }
        };
        terms.push(json!([field, "=", value]));
    }
    domain::parse(&Value::Array(terms)).map_err(|e| Checked::Refused(GatewayError::InvalidDomain(e.0)))
}

/// Writes `values` to the one matched record; nothing to write is no call.
async fn write_one(
    session: &OdooSession<'_>,
    model: &ModelName,
    id: i64,
    values: Map<String, Value>,
) -> Result<(), GatewayError> {
    if !values.is_empty() {
        session
            .execute_kw(
                model.as_str(),
                "write",
                vec![json!([id]), Value::Object(values)],
                Map::new(),
            )
            .await?;
    }
    Ok(())
}
