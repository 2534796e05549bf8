//! `GET …/schema`, `GET …/required` and the `default_payload` method: what a model needs, from `fields_get`,
//! `default_get` and Odoo's model-level access check.

use bytes::Bytes;
use futures_util::future::join_all;
use http::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use super::Gateway;
use crate::config::{ModelName, WebhookConfig};
use crate::error::{Endpoint, GatewayError, json_response};
use crate::odoo::{CallCounter, FieldDef, ModelFields, OdooSession};

/// Model offered by `default_payload` when the request names none and the webhook allows every model.
const FALLBACK_MODEL: &str = "res.partner";

impl Gateway {
    pub(super) async fn schema_call(
        &self,
        id: &str,
        request: &Request<Bytes>,
        required: bool,
    ) -> Result<Response<Bytes>, GatewayError> {
        let config = self.authorised(id, request.headers(), Endpoint::Schema).await?;
        let query: HashMap<String, String> =
            form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let model = query
            .get("model")
            .filter(|m| !m.is_empty())
            .ok_or(GatewayError::MissingParam("model"))?;
        let model: ModelName = model
            .parse()
            .map_err(|e| GatewayError::invalid_payload("invalid_model", format!("{model:?}: {e}")))?;
        if !config.allows_reading(&model) {
            return Err(GatewayError::model_not_allowed(&model));
        }
        let calls = CallCounter::default();
        let session = self.odoo.session(&config.odoo, &calls).await?;
        let fields = self.schemas.fields(&session, &model).await?;
        let visible: Vec<&FieldDef> = fields
            .iter()
            .filter(|f| config.field_rule(&model).is_none_or(|r| r.permits(&f.name)))
            .collect();
        let body = if required {
            // An empty `values=` (forms send every field) is no values, as an empty `model=` is no model.
            let values = match query
                .get("values")
                .filter(|v| !v.trim().is_empty())
                .map(|v| crate::request::parse_json(v.as_bytes()))
            {
                None => Map::new(),
                Some(Err(e)) => {
                    return Err(GatewayError::invalid_payload(
                        "invalid_values",
                        format!("values must be a JSON object: {e}"),
                    ));
                }
                Some(Ok(Value::Object(values))) => values,
                Some(Ok(_)) => {
                    return Err(GatewayError::invalid_payload(
                        "invalid_values",
                        "values must be a JSON object",
                    ));
                }
            };
            let details = query
                .get("details")
                .is_some_and(|d| matches!(d.as_str(), "1" | "true" | "True"));
            required_body(
                &visible,
                &defaults(&session, &model, &visible).await,
                &values,
                details,
            )
        } else {
            let method = query
                .get("method")
                .map_or("create".to_owned(), |m| m.to_ascii_lowercase());
            if method != "create" && method != "write" {
                return Err(GatewayError::invalid_payload(
                    "invalid_method",
                    format!("method={method:?} is not a schema method: use create or write"),
                ));
            }
            self.schema_body(&config, &session, &model, &visible, &method)
                .await
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    async fn schema_body(
        &self,
        config: &WebhookConfig,
        session: &OdooSession<'_>,
        model: &ModelName,
        visible: &[&FieldDef],
        method: &str,
    ) -> Value {
        let mut fields = Map::new();
        for f in visible {
            let relation = f
                .relation
                .as_ref()
                .filter(|_| f.kind.is_relational())
                .map(ModelName::as_str);
            fields.insert(
                f.name.clone(),
                json!({"string": f.label, "type": f.type_name, "required": f.required,
                "readonly": f.readonly, "selection": f.selection, "relation": relation}),
            );
        }
        let required_fields: Vec<&str> = if method == "create" {
            visible
                .iter()
                .filter(|f| f.required && !f.readonly)
                .map(|f| f.name.as_str())
                .collect()
        } else {
            Vec::new()
        };
        let (defaults, rights) =
            tokio::join!(defaults(session, model, visible), access_rights(session, model));
        let p = &config.permissions;
        let access = json!({"can_create": p.can_create && rights[0], "can_write": p.can_write && rights[1],
                            "can_unlink": p.can_unlink && rights[2], "can_read": rights[3]});
        json!({"ok": true, "model": model, "method": method, "required_fields": required_fields, "fields": fields,
               "defaults": defaults, "access": access})
    }

    /// A ready request template for one model: its required fields, pre-filled with Odoo's defaults where it has them.
    pub(super) async fn default_payload(
        &self,
        config: &WebhookConfig,
        model: Option<&ModelName>,
        calls: &CallCounter,
    ) -> Result<Value, GatewayError> {
        let model = match model {
            Some(m) => m.clone(),
            None => match &config.models {
                crate::config::ModelAccess::Only(models) => models.iter().next().cloned(),
                crate::config::ModelAccess::All => FALLBACK_MODEL.parse().ok(),
            }
            .ok_or(GatewayError::PermissionDenied {
                reason: "model_not_allowed",
                field: None,
                message: Some("this webhook allows no model".into()),
            })?,
        };
        if !config.allows_model(&model) {
            return Err(GatewayError::model_not_allowed(&model));
        }
        let session = self.odoo.session(&config.odoo, calls).await?;
        let fields: std::sync::Arc<ModelFields> = self.schemas.fields(&session, &model).await?;
        let required: Vec<&FieldDef> = fields
            .iter()
            .filter(|f| {
                f.required
                    && !f.readonly
                    && !f.related
                    && config.field_rule(&model).is_none_or(|r| r.permits(&f.name))
            })
            .collect();
        let defaults = defaults(&session, &model, &required).await;
        let values: Map<String, Value> = required
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    defaults.get(&f.name).cloned().unwrap_or(Value::Null),
                )
            })
            .collect();
        let url = format!(
            "{}/bitconn/webhook/{}",
            self.settings
                .public_base_url
                .as_deref()
                .unwrap_or("")
                .trim_end_matches('/'),
            config.id
        );
        Ok(json!({
            "ok": true,
            "url": url,
            "payload": {"model": model, "method": "create", "values": values},
            "required_fields": required.iter().map(|f| &f.name).collect::<Vec<_>>(),
            "headers_example": {"Authorization": "Bearer <webhook secret>", "Webhook-Key": "<webhook secret>"}
        }))
    }
}

/// `default_get` for the given fields; `{}` when Odoo refuses, as the original does.
async fn defaults(session: &OdooSession<'_>, model: &ModelName, fields: &[&FieldDef]) -> Map<String, Value> {
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    match session
        .execute_kw(model.as_str(), "default_get", vec![json!(names)], Map::new())
        .await
    {
        Ok(Value::Object(defaults)) => defaults,
        _ => Map::new(),
    }
}

/// Model-level create, write, unlink and read rights (`has_access` on Odoo 18+, else `check_access_rights`).
async fn access_rights(session: &OdooSession<'_>, model: &ModelName) -> Vec<bool> {
    let checks = ["create", "write", "unlink", "read"]
        .map(|op| async move { matches!(session.has_model_access(model.as_str(), op).await, Ok(true)) });
    join_all(checks).await
}

/// The original's "missing" test per field type (numbers and booleans are provided unless absent).
fn is_missing(def: &FieldDef, value: Option<&Value>) -> bool {
    let Some(value) = value else { return true };
    match def.type_name.as_str() {
        "integer" | "float" | "monetary" | "boolean" => value.is_null(),
        _ => match value {
            Value::Null | Value::Bool(false) => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            _ => false,
        },
    }
}

/// What Odoo would reject: required, writable, non-related fields that neither `values` nor the defaults fill,
/// and that Odoo does not compute from fields that are filled (`sale.order`'s `partner_invoice_id` is required
/// but computed from `partner_id`). With `details`, the fields Odoo fills follow the missing ones, each with
/// `filled_by_odoo: {"from": [...]}`.
fn required_body(
    visible: &[&FieldDef],
    defaults: &Map<String, Value>,
    values: &Map<String, Value>,
    details: bool,
) -> Value {
    let provided = |name: &str| {
        let field = visible.iter().find(|f| f.name == name);
        let value = values.get(name).or_else(|| defaults.get(name));
        match field {
            Some(f) => !is_missing(f, value),
            None => value.is_some_and(|v| !v.is_null() && v != &Value::Bool(false)),
        }
    };
    let mut missing = Vec::new();
    let mut computed = Vec::new();
    for f in visible.iter().filter(|f| f.required && !f.readonly && !f.related) {
        if provided(&f.name) {
            continue;
        }
        let roots: Vec<&str> = f.depends.iter().filter_map(|d| d.split('.').next()).collect();
        if !roots.is_empty() && roots.iter().all(|root| *root != f.name && provided(root)) {
            computed.push((f, roots));
        } else {
            missing.push(f);
        }
    }
    if !details {
        return Value::Array(missing.iter().map(|f| json!(f.name)).collect());
    }
    let mut out: Vec<Value> = missing
        .iter()
        .map(|f| json!({"field": f.name, "label": f.label}))
        .collect();
    out.extend(computed.into_iter().map(|(f, mut roots)| {
        roots.dedup();
        json!({"field": f.name, "label": f.label, "filled_by_odoo": {"from": roots}})
    }));
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> ModelFields {
        ModelFields::from_fields_get(
            "sale.order".parse().unwrap(),
            &json!({
                "name": {"type": "char", "string": "Reference", "required": true},
                "partner_id": {"type": "many2one", "string": "Customer", "relation": "res.partner", "required": true},
                "amount": {"type": "float", "string": "Amount", "required": true},
                "state": {"type": "selection", "string": "Status", "required": true, "readonly": true},
                "currency_id": {"type": "many2one", "string": "Currency", "relation": "res.currency", "required": true, "related": "x.y"},
                "note": {"type": "text", "string": "Note"}
            }),
        )
    }

    #[test]
    fn required_lists_what_is_still_missing() {
        let fields = defs();
        let visible: Vec<&FieldDef> = fields.iter().collect();
        let defaults = json!({"name": "New"}).as_object().unwrap().clone();
        let none = Map::new();
        assert_eq!(
            required_body(&visible, &defaults, &none, false),
            json!(["partner_id", "amount"])
        );
        let values = json!({"partner_id": 3, "amount": 0}).as_object().unwrap().clone();
        assert_eq!(required_body(&visible, &defaults, &values, false), json!([]));
        let values = json!({"name": "", "partner_id": false})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            required_body(&visible, &defaults, &values, true),
            json!([{"field": "name", "label": "Reference"}, {"field": "partner_id", "label": "Customer"}, {"field": "amount", "label": "Amount"}])
        );
    }

    #[test]
    fn required_fields_odoo_computes_from_filled_ones_are_not_missing() {
        let fields = ModelFields::from_fields_get(
            "sale.order".parse().unwrap(),
            &json!({
                "partner_id": {"type": "many2one", "string": "Customer", "relation": "res.partner", "required": true},
                "partner_invoice_id": {"type": "many2one", "string": "Invoice Address", "relation": "res.partner",
                                       "required": true, "depends": ["partner_id"], "store": true},
                "pricelist_id": {"type": "many2one", "string": "Pricelist", "relation": "product.pricelist",
                                 "required": true, "depends": ["partner_id", "company_id"]}
            }),
        );
        let visible: Vec<&FieldDef> = fields.iter().collect();
        let none = Map::new();
        assert_eq!(
            required_body(&visible, &none, &none, false),
            json!(["partner_id", "partner_invoice_id", "pricelist_id"])
        );
        let values = json!({"partner_id": 3}).as_object().unwrap().clone();
        assert_eq!(
            required_body(&visible, &none, &values, false),
            json!(["pricelist_id"])
        );
        let defaults = json!({"company_id": [1, "YourCompany"]})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(required_body(&visible, &defaults, &values, false), json!([]));
        assert_eq!(
            required_body(&visible, &defaults, &values, true),
            json!([
                {"field": "partner_invoice_id", "label": "Invoice Address", "filled_by_odoo": {"from": ["partner_id"]}},
                {"field": "pricelist_id", "label": "Pricelist", "filled_by_odoo": {"from": ["partner_id", "company_id"]}}
            ])
        );
    }
}
