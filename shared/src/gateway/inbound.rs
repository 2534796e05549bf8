//! `POST /bitconn/webhook/{id}`: the check order of the original (404 → 401 → 405 → 400 → 403), then the method.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use std::time::Instant;

use super::Gateway;
use super::log::LogDraft;
use crate::config::{HttpVerb, WebhookConfig};
use crate::error::{Endpoint, GatewayError, json_bytes_response};
use crate::execution_log::Outcome;
use crate::odoo::CallCounter;
use crate::request::{Envelope, Method, Operation, parse_json, payload_object};

impl Gateway {
    pub(super) async fn webhook_call(&self, id: &str, request: &Request<Bytes>) -> Response<Bytes> {
        let started = Instant::now();
        let calls = CallCounter::default();
        let mut draft = LogDraft::new(request.method().as_str());
        let result = self.webhook_steps(id, request, &calls, &mut draft).await;
        let (response, outcome, error_code) = match result {
            Ok(body) => (json_bytes_response(StatusCode::OK, body), Outcome::Success, None),
            Err(e) => {
                let (outcome, code) = (e.outcome(), e.code());
                if outcome != Outcome::Rejected {
                    tracing::warn!(webhook = id, error = %e, "webhook call failed");
                }
                (e.into_response(), outcome, Some(code))
            }
        };
        self.record(
            draft,
            outcome,
            response.status().as_u16(),
            started.elapsed(),
            calls.get(),
            error_code,
        )
        .await;
        response
    }

    async fn webhook_steps(
        &self,
        id: &str,
        request: &Request<Bytes>,
        calls: &CallCounter,
        draft: &mut LogDraft,
    ) -> Result<Vec<u8>, GatewayError> {
        let config = self.lookup(id, Endpoint::Webhook).await?;
        draft.webhook_id = Some(config.id);
        super::check_credentials(&config, request.headers())?;
        draft.body = Some(request.body().clone());
        let verb_allowed = HttpVerb::parse(request.method().as_str()).is_some_and(|v| config.allows_verb(v));
        if !verb_allowed {
            let allowed = config.allowed_verbs.iter().map(|v| v.as_str()).collect();
            return Err(GatewayError::VerbNotAllowed {
                verb: request.method().to_string(),
                allowed,
            });
        }
        if request.body().len() > self.settings.max_body_bytes {
            return Err(GatewayError::PayloadTooLarge {
                limit: self.settings.max_body_bytes,
            });
        }
        let envelope = Envelope::parse(payload_object(parse_json(request.body())?)?)?;
        draft.method = Some(envelope.method_name.clone());
        draft.model = envelope.model.as_ref().map(|m| m.to_string());
        if envelope.method == Some(Method::DefaultPayload) {
            Method::DefaultPayload.check_keys(&envelope.rest)?;
            return to_bytes(
                &self
                    .default_payload(&config, envelope.model.as_ref(), calls)
                    .await?,
            );
        }
        let model = envelope.model.clone().ok_or_else(|| {
            GatewayError::invalid_payload("missing_model", "model is required, e.g. \"res.partner\"")
        })?;
        let method = envelope.require_method()?;
        check_permission(&config, method)?;
        let reads_only = matches!(method, Method::Search | Method::Read);
        let allowed = if reads_only {
            config.allows_reading(&model)
        } else {
            config.allows_model(&model)
        };
        if !allowed {
            return Err(GatewayError::model_not_allowed(&model));
        }
        let operation = Operation::parse(method, envelope.rest, &config.limits)?;
        if let Operation::Call(call) = &operation {
            super::business::check_callable(&config, &model, &call.function)?;
        }
        let session = self.odoo.session(&config.odoo, calls).await?;
        self.execute(&config, &session, &model, operation).await
    }
}

pub(super) fn to_bytes(value: &impl serde::Serialize) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value).map_err(|e| {
        GatewayError::Odoo(crate::odoo::OdooError::Protocol(format!(
            "cannot encode the answer: {e}"
        )))
    })
}

fn check_permission(config: &WebhookConfig, method: Method) -> Result<(), GatewayError> {
    let p = &config.permissions;
    let refused = match method {
        Method::Create if !p.can_create => "create_not_allowed",
        Method::Write if !p.can_write => "write_not_allowed",
        Method::Unlink if !p.can_unlink => "unlink_not_allowed",
        // An upsert may create or update; a business method changes the records it runs on.
        Method::Upsert if !p.can_create => "create_not_allowed",
        Method::Upsert | Method::Call if !p.can_write => "write_not_allowed",
        _ => return Ok(()),
    };
    Err(GatewayError::PermissionDenied {
        reason: refused,
        field: None,
        message: None,
    })
}
