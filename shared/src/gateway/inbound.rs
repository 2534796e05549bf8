//! `POST /bitconn/webhook/{id}`: the check order of the original (404 → 401 → 405 → 400 → 403), then the method.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use std::time::Instant;

use super::Gateway;
use super::idempotent::Admission;
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
        let admitted = match self.authenticated(id, request, &mut draft).await {
            Ok(config) => self.admit_key(&config, request).await.map(|a| (config, a)),
            Err(e) => Err(e),
        };
        let (response, outcome, error_code) = match admitted {
            Err(e) => answer(id, Err(e)),
            Ok((_, Admission::Answer(response, outcome, code))) => (response, outcome, code),
            Ok((config, Admission::Run(reservation))) => {
                let result = self.webhook_steps(config, request, &calls, &mut draft).await;
                let unanswered = result.as_ref().err().is_some_and(super::idempotent::unanswered);
                let answered = answer(id, result);
                if let Some(reservation) = reservation {
                    self.settle_key(reservation, unanswered, draft.method.as_deref(), &answered.0)
                        .await;
                }
                answered
            }
        };
        self.record(
            draft,
            outcome,
            response.status().as_u16(),
            started.elapsed(),
            calls.get(),
            error_code.as_deref(),
        )
        .await;
        response
    }

    /// The webhook, once the caller is authenticated (404, then 401); the log entry then names the webhook.
    async fn authenticated(
        &self,
        id: &str,
        request: &Request<Bytes>,
        draft: &mut LogDraft,
    ) -> Result<WebhookConfig, GatewayError> {
        let config = self.lookup(id, Endpoint::Webhook).await?;
        draft.webhook_id = Some(config.id);
        super::check_credentials(&config, request.headers())?;
        draft.body = Some(request.body().clone());
        Ok(config)
    }

    async fn webhook_steps(
        &self,
        config: WebhookConfig,
        request: &Request<Bytes>,
        calls: &CallCounter,
        draft: &mut LogDraft,
    ) -> Result<Vec<u8>, GatewayError> {
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

/// The response of a call's result, its outcome and error code for the log.
fn answer(id: &str, result: Result<Vec<u8>, GatewayError>) -> (Response<Bytes>, Outcome, Option<String>) {
    match result {
        Ok(body) => (json_bytes_response(StatusCode::OK, body), Outcome::Success, None),
        Err(e) => {
            let (outcome, code) = (e.outcome(), e.code());
            if outcome != Outcome::Rejected {
                tracing::warn!(webhook = id, error = %e, "webhook call failed");
            }
            (e.into_response(), outcome, Some(code.to_owned()))
        }
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
