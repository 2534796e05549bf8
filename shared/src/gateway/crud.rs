//! create, write, unlink, search and read against Odoo, after every name in the request has been validated.

use serde_json::{Map, Value, json};

use super::Gateway;
use super::commands::check_values;
use super::inbound::to_bytes;
use super::schemas::{At, Checked, Place};
use crate::config::{ModelName, WebhookConfig};
use crate::domain::{self, Domain};
use crate::error::GatewayError;
use crate::extract::{self, Page, Plan, Shaped, SpecItem, fetch};
use crate::odoo::{Catalog, FieldCheck, OdooSession};
use crate::request::{Operation, Order, Target};

fn check_order(catalog: &Catalog<'_>, model: &ModelName, order: Option<&Order>) -> Result<(), Checked> {
    for term in order.iter().flat_map(|o| o.0.iter()) {
        catalog.read_value(model, &term.field).at(Place::Order)?;
    }
    Ok(())
}

fn check_spec(
    catalog: &Catalog<'_>,
    model: &ModelName,
    fields: Option<&[SpecItem]>,
) -> Result<Option<Plan>, Checked> {
    fields
        .map(|spec| extract::plan(spec, model, catalog).at(Place::Fields))
        .transpose()
}

fn ids_of(answer: &Value) -> Vec<i64> {
    answer
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

impl Gateway {
    pub(super) async fn execute(
        &self,
        config: &WebhookConfig,
        session: &OdooSession<'_>,
        model: &ModelName,
        operation: Operation,
    ) -> Result<Vec<u8>, GatewayError> {
        let rules = &config.field_rules;
        match operation {
            Operation::Create { values, batch } => {
                let values = self.named_values(session, config, model, values).await?;
                let through_commands = self
                    .schemas
                    .resolve(session, config, |c| {
                        check_values(c, &config.permissions, model, &values)
                    })
                    .await?;
                within_cap(values.len() + through_commands, config)?;
                let arg = if batch {
                    json!(values)
                } else {
                    Value::Object(values.into_iter().next().unwrap_or_default())
                };
                let created = session
                    .execute_kw(model.as_str(), "create", vec![arg], Map::new())
                    .await?;
                to_bytes(&if batch {
                    json!({"ok": true, "ids": ids_of(&created)})
                } else {
                    json!({"ok": true, "id": created})
                })
            }
            Operation::Write { target, values } => {
                let values = self
                    .named_values(session, config, model, vec![values])
                    .await?
                    .pop()
                    .unwrap_or_default();
                let (domain, through_commands) = self
                    .schemas
                    .resolve(session, config, |c| {
                        let changed =
                            check_values(c, &config.permissions, model, std::slice::from_ref(&values))?;
                        Ok((check_target(c, model, &target)?, changed))
                    })
                    .await?;
                within_cap(through_commands, config)?;
                let cap = config.limits.max_records_per_change;
                let remaining = cap.saturating_sub(u32::try_from(through_commands).unwrap_or(u32::MAX));
                let ids = self.capped_ids(session, model, &domain, remaining).await?;
                session
                    .execute_kw(
                        model.as_str(),
                        "write",
                        vec![json!(ids), Value::Object(values)],
                        Map::new(),
                    )
                    .await?;
                to_bytes(&json!({"ok": true, "ids": ids}))
            }
            Operation::Unlink { target } => {
                let domain = self
                    .schemas
                    .resolve(session, config, |c| check_target(c, model, &target))
                    .await?;
                let ids = self
                    .capped_ids(session, model, &domain, config.limits.max_records_per_change)
                    .await?;
                session
                    .execute_kw(model.as_str(), "unlink", vec![json!(ids)], Map::new())
                    .await?;
                to_bytes(&json!({"ok": true, "ids": ids}))
            }
            Operation::Search {
                domain,
                fields,
                limit,
                offset,
                order,
            } => {
                let plan = self
                    .schemas
                    .resolve(session, config, |c| {
                        domain::validate(&domain, model, c).at(Place::Domain)?;
                        check_order(c, model, order.as_ref())?;
                        check_spec(c, model, fields.as_deref())
                    })
                    .await?;
                let order = order.map(|o| o.to_odoo());
                // One record more than the page tells whether another page exists, without a count query.
                let page = Page {
                    domain: domain.to_json(),
                    offset,
                    limit: limit.saturating_add(1),
                    order: order.as_deref(),
                };
                search(session, model, plan.as_ref(), &page, limit as usize).await
            }
            Operation::Upsert(upsert) => self.upsert(config, session, model, upsert).await,
            Operation::Call(call) => self.call(config, session, model, call).await,
            Operation::Read { ids, fields } => {
                let (plan, plain_fields) = self
                    .schemas
                    .resolve(session, config, |c| {
                        let plan = check_spec(c, model, fields.as_deref())?;
                        let plain = match (&plan, rules.is_empty()) {
                            (None, false) => {
                                let m = c.model(model).at(Place::Fields)?;
                                Some(
                                    m.iter()
                                        .filter_map(|f| match c.read_value(model, &f.name) {
                                            Ok(_) => Some(Ok(f.name.clone())),
                                            Err(FieldCheck::Denied { .. }) => None,
                                            Err(other) => Some(Err(other)),
                                        })
                                        .collect::<Result<Vec<_>, _>>()
                                        .at(Place::Fields)?,
                                )
                            }
                            _ => None,
                        };
                        Ok((plan, plain))
                    })
                    .await?;
                match plan {
                    Some(plan) => {
                        let fetched = fetch::read(session, model, &ids, &plan.fetch).await?;
                        if fetched.is_empty() {
                            return Err(GatewayError::NothingMatched);
                        }
                        to_bytes(&Records {
                            ok: true,
                            count: None,
                            records: shaped(&fetched, &plan),
                            next_offset: None,
                        })
                    }
                    None => {
                        let mut kwargs = Map::new();
                        if let Some(fields) = plain_fields {
                            kwargs.insert("fields".into(), json!(fields));
                        }
                        let answer = session
                            .execute_kw(model.as_str(), "read", vec![json!(ids)], kwargs)
                            .await?;
                        match answer {
                            Value::Array(records) if !records.is_empty() => {
                                to_bytes(&json!({"ok": true, "records": records}))
                            }
                            _ => Err(GatewayError::NothingMatched),
                        }
                    }
                }
            }
        }
    }

    /// The ids `domain` matches, refusing (before anything is changed) more than `max` or none at all.
    async fn capped_ids(
        &self,
        session: &OdooSession<'_>,
        model: &ModelName,
        domain: &Domain,
        max: u32,
    ) -> Result<Vec<i64>, GatewayError> {
        let mut kwargs = Map::new();
        kwargs.insert("limit".into(), json!(u64::from(max) + 1));
        let ids = ids_of(
            &session
                .execute_kw(model.as_str(), "search", vec![domain.to_json()], kwargs)
                .await?,
        );
        if ids.is_empty() {
            return Err(GatewayError::NothingMatched);
        }
        if ids.len() > max as usize {
            let count = session
                .execute_kw(model.as_str(), "search_count", vec![domain.to_json()], Map::new())
                .await?;
            let matched = count
                .as_u64()
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(ids.len());
            return Err(GatewayError::TooManyRecords { matched, max });
        }
        Ok(ids)
    }
}

/// The per-call cap on records changed, before anything is sent to Odoo.
pub(super) fn within_cap(changed: usize, config: &WebhookConfig) -> Result<(), GatewayError> {
    let max = config.limits.max_records_per_change;
    if changed > max as usize {
        return Err(GatewayError::TooManyRecords {
            matched: changed,
            max,
        });
    }
    Ok(())
}

fn check_target(catalog: &Catalog<'_>, model: &ModelName, target: &Target) -> Result<Domain, Checked> {
    domain::validate(&target.domain, model, catalog).at(Place::Domain)?;
    Ok(target.domain())
}

/// A page of shaped records; `count` and `next_offset` are present on searches only.
#[derive(serde::Serialize)]
struct Records<'a> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    records: Vec<Shaped<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_offset: Option<Option<u64>>,
}

fn shaped<'a>(fetched: &'a [Map<String, Value>], plan: &'a Plan) -> Vec<Shaped<'a>> {
    fetched
        .iter()
        .map(|record| Shaped {
            record,
            outputs: &plan.outputs,
        })
        .collect()
}

async fn search(
    session: &OdooSession<'_>,
    model: &ModelName,
    plan: Option<&Plan>,
    page: &Page<'_>,
    limit: usize,
) -> Result<Vec<u8>, GatewayError> {
    let next_offset = |returned: usize, more: bool| more.then(|| u64::from(page.offset) + returned as u64);
    match plan {
        None => {
            let mut kwargs = Map::new();
            kwargs.insert("offset".into(), json!(page.offset));
            kwargs.insert("limit".into(), json!(page.limit));
            if let Some(order) = page.order {
                kwargs.insert("order".into(), json!(order));
            }
            let mut ids = ids_of(
                &session
                    .execute_kw(model.as_str(), "search", vec![page.domain.clone()], kwargs)
                    .await?,
            );
            let more = ids.len() > limit;
            ids.truncate(limit);
            to_bytes(
                &json!({"ok": true, "count": ids.len(), "ids": ids, "next_offset": next_offset(ids.len(), more)}),
            )
        }
        Some(plan) => {
            let mut fetched = fetch::search(session, model, &plan.fetch, page).await?;
            let more = fetched.len() > limit;
            fetched.truncate(limit);
            to_bytes(&Records {
                ok: true,
                count: Some(fetched.len()),
                records: shaped(&fetched, plan),
                next_offset: Some(next_offset(fetched.len(), more)),
            })
        }
    }
}
