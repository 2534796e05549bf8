//! Every failure the gateway can answer with, and the one place where failures become HTTP responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::execution_log::Outcome;
use crate::odoo::{FaultClass, OdooError};
use crate::store::StoreError;

/// Which family of routes answered: the original names a missing webhook differently on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /bitconn/webhook/{id}`: `conf_not_found`.
    Webhook,
    /// `GET …/schema` and `…/required`: `invalid_webhook`.
    Schema,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no such route")]
    RouteNotFound,
    #[error("unknown or disabled webhook")]
    WebhookNotFound(Endpoint),
    #[error("missing or invalid webhook credentials")]
    Unauthorized,
    #[error("Method {verb} not allowed for this webhook")]
    VerbNotAllowed {
        verb: String,
        allowed: Vec<&'static str>,
    },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The client did not send its whole body within the server's limit (`bitconn serve`).
    #[error("the request body did not arrive within {} s", limit.as_secs_f64())]
    RequestTimeout { limit: std::time::Duration },
    /// The server holds as many connections as it serves at once (`bitconn serve`); try again shortly.
    #[error("the server is at its connection limit")]
    ServerBusy,
    #[error("invalid_json: {detail}")]
    InvalidJson { detail: String },
    #[error("invalid payload ({reason}): {message}")]
    InvalidPayload { reason: &'static str, message: String },
    #[error("missing query parameter {0}")]
    MissingParam(&'static str),
    #[error("unknown method {0:?}")]
    InvalidMethod(String),
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("invalid domain: {0}")]
    InvalidDomain(String),
    #[error("permission denied: {reason}")]
    PermissionDenied {
        reason: &'static str,
        field: Option<String>,
        /// What was refused and why, naming the model and path where one was involved.
        message: Option<String>,
    },
    #[error("no record matched")]
    NothingMatched,
    #[error("{matched} records match, more than the {max} this webhook may change at once")]
    TooManyRecords { matched: usize, max: u32 },
    /// An upsert's match found several records; `item` is the batch position when a list was sent.
    #[error("{} {model} records match{}, so upsert cannot tell which one to update", ids.len(), item_note(*.item))]
    MatchConflict {
        model: String,
        ids: Vec<i64>,
        item: Option<usize>,
    },
    #[error(transparent)]
    Odoo(#[from] OdooError),
    #[error("configuration store unavailable: {0}")]
    Store(#[from] StoreError),
}

fn item_note(item: Option<usize>) -> String {
    item.map(|i| format!(" item {i} of values")).unwrap_or_default()
}

impl GatewayError {
    pub fn invalid_payload(reason: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidPayload {
            reason,
            message: message.into(),
        }
    }

    /// 403 for a model outside the webhook's allowed models.
    pub fn model_not_allowed(model: &crate::config::ModelName) -> Self {
        Self::PermissionDenied {
            reason: "model_not_allowed",
            field: None,
            message: Some(format!("model '{model}' is not allowed for this webhook")),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::RouteNotFound | Self::WebhookNotFound(_) | Self::NothingMatched => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::VerbNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidJson { .. }
            | Self::InvalidPayload { .. }
            | Self::MissingParam(_)
            | Self::InvalidMethod(_)
            | Self::InvalidField { .. }
            | Self::InvalidDomain(_)
            | Self::TooManyRecords { .. } => StatusCode::BAD_REQUEST,
            Self::PermissionDenied { .. } => StatusCode::FORBIDDEN,
            Self::MatchConflict { .. } => StatusCode::CONFLICT,
            Self::Odoo(OdooError::Fault(fault)) => match fault.class() {
                FaultClass::Invalid => StatusCode::BAD_REQUEST,
                FaultClass::Access => StatusCode::FORBIDDEN,
                FaultClass::Missing => StatusCode::NOT_FOUND,
                FaultClass::Server => StatusCode::BAD_GATEWAY,
            },
            Self::Odoo(OdooError::AuthenticationFailed { .. }) => StatusCode::FORBIDDEN,
            Self::Odoo(OdooError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            Self::Odoo(OdooError::Unreachable(_) | OdooError::Protocol(_)) => StatusCode::BAD_GATEWAY,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` member of the body (the original's codes where it had one).
    pub fn code(&self) -> &'static str {
        match self {
            Self::RouteNotFound | Self::NothingMatched => "not_found",
            Self::WebhookNotFound(Endpoint::Webhook) => "conf_not_found",
            Self::WebhookNotFound(Endpoint::Schema) => "invalid_webhook",
            Self::Unauthorized => "forbidden",
            Self::VerbNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::ServerBusy => "server_busy",
            Self::InvalidJson { .. } => "invalid_json",
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::MissingParam(_) => "missing_param",
            Self::InvalidMethod(_) => "invalid_method",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidDomain(_) => "invalid_domain",
            Self::PermissionDenied { .. } => "permission_denied",
            Self::TooManyRecords { .. } => "too_many_records",
            Self::MatchConflict { .. } => "ambiguous_match",
            Self::Odoo(OdooError::Fault(_) | OdooError::AuthenticationFailed { .. }) => "odoo_error",
            Self::Odoo(OdooError::Timeout(_)) => "odoo_timeout",
            Self::Odoo(OdooError::Unreachable(_) | OdooError::Protocol(_)) => "odoo_unreachable",
            Self::Store(_) => "store_unavailable",
        }
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Odoo(OdooError::Fault(_) | OdooError::AuthenticationFailed { .. }) => Outcome::OdooError,
            Self::Odoo(_) | Self::Store(_) => Outcome::Failed,
            _ => Outcome::Rejected,
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({"ok": false, "error": self.code()});
        let extra = match self {
            Self::Unauthorized => json!({"reason": "invalid_token"}),
            Self::VerbNotAllowed { allowed, .. } => {
                json!({"message": self.to_string(), "allowed_methods": allowed})
            }
            Self::InvalidJson { .. } => json!({"detail": self.to_string()}),
            Self::InvalidPayload { reason, message } => json!({"reason": reason, "message": message}),
            Self::MissingParam(param) => json!({"param": param}),
            Self::InvalidMethod(method) => {
                json!({"message": format!("unknown method {method:?}: use create, write, unlink, search, read, upsert, call or default_payload")})
            }
            Self::InvalidField { field, message } => json!({"field": field, "message": message}),
            Self::InvalidDomain(message) => json!({"message": message}),
            Self::PermissionDenied {
                reason,
                field,
                message,
            } => {
                let mut extra = json!({"reason": reason});
                if let Some(field) = field {
                    extra["field"] = json!(field);
                }
                if let Some(message) = message {
                    extra["message"] = json!(message);
                }
                extra
            }
            Self::TooManyRecords { matched, max } => {
                json!({"message": self.to_string(), "matched": matched, "max": max})
            }
            Self::MatchConflict { ids, item, .. } => {
                let mut extra = json!({"message": self.to_string(), "ids": ids});
                if let Some(item) = item {
                    extra["item"] = json!(item);
                }
                extra
            }
            Self::PayloadTooLarge { limit } => json!({"message": self.to_string(), "limit": limit}),
            Self::RequestTimeout { .. } | Self::ServerBusy => json!({"message": self.to_string()}),
            Self::Odoo(OdooError::Fault(fault)) => {
                json!({"kind": fault.kind(), "message": fault.public_message()})
            }
            Self::Odoo(OdooError::AuthenticationFailed { .. }) => {
                json!({"kind": "AccessDenied", "message": "Odoo rejected this webhook's Odoo login or API key"})
            }
            Self::Odoo(OdooError::Timeout(_)) => json!({"message": "Odoo did not answer in time"}),
            Self::Odoo(OdooError::Unreachable(_)) => json!({"message": "Odoo cannot be reached"}),
            Self::Odoo(OdooError::Protocol(detail)) => {
                json!({"message": format!("unexpected answer from Odoo: {detail}")})
            }
            Self::Store(_) => json!({"message": "the webhook configuration store is unavailable"}),
            Self::RouteNotFound | Self::WebhookNotFound(_) | Self::NothingMatched => json!({}),
        };
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        body
    }

    /// The response for this error; the only place an error becomes HTTP.
    pub fn into_response(self) -> Response<Bytes> {
        let mut response = json_response(self.status(), &self.body());
        if let Self::VerbNotAllowed { allowed, .. } = &self
            && let Ok(allow) = HeaderValue::from_str(&allowed.join(", "))
        {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}

/// A JSON response as the original sends it (`application/json; charset=utf-8`).
pub fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    json_bytes_response(
        status,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{\"ok\":false}".to_vec()),
    )
}

/// A response from an already serialised JSON body.
pub fn json_bytes_response(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odoo::OdooFault;

    fn parts(e: GatewayError) -> (u16, Value) {
        let r = e.into_response();
        (r.status().as_u16(), serde_json::from_slice(r.body()).unwrap())
    }

    fn fault(name: &str) -> GatewayError {
        GatewayError::Odoo(OdooError::Fault(OdooFault {
            name: name.into(),
            message: "Contacts require a name".into(),
        }))
    }

    #[test]
    fn original_envelopes_are_kept() {
        assert_eq!(
            parts(GatewayError::WebhookNotFound(Endpoint::Webhook)),
            (404, json!({"ok": false, "error": "conf_not_found"}))
        );
        assert_eq!(
            parts(GatewayError::WebhookNotFound(Endpoint::Schema)),
            (404, json!({"ok": false, "error": "invalid_webhook"}))
        );
        assert_eq!(
            parts(GatewayError::Unauthorized),
            (
                401,
                json!({"ok": false, "error": "forbidden", "reason": "invalid_token"})
            )
        );
        let (status, body) = parts(GatewayError::VerbNotAllowed {
            verb: "GET".into(),
            allowed: vec!["POST"],
        });
        assert_eq!(status, 405);
        assert_eq!(body["message"], "Method GET not allowed for this webhook");
        assert_eq!(body["allowed_methods"], json!(["POST"]));
        let (status, body) = parts(GatewayError::invalid_payload(
            "missing_model",
            "model is required",
        ));
        assert_eq!((status, body["reason"].as_str()), (400, Some("missing_model")));
        assert_eq!(
            parts(GatewayError::MissingParam("model")),
            (
                400,
                json!({"ok": false, "error": "missing_param", "param": "model"})
            )
        );
        let (status, body) = parts(GatewayError::InvalidJson {
            detail: "Expecting value".into(),
        });
        assert_eq!(
            (status, body["detail"].as_str()),
            (400, Some("invalid_json: Expecting value"))
        );
    }

    #[test]
    fn odoo_faults_map_by_kind_without_tracebacks() {
        let (status, body) = parts(fault("odoo.exceptions.ValidationError"));
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"ok": false, "error": "odoo_error", "kind": "ValidationError", "message": "Contacts require a name"})
        );
        assert_eq!(parts(fault("odoo.exceptions.UserError")).0, 400);
        assert_eq!(parts(fault("builtins.ValueError")).0, 400);
        assert_eq!(parts(fault("odoo.exceptions.AccessError")).0, 403);
        assert_eq!(parts(fault("odoo.exceptions.AccessDenied")).0, 403);
        assert_eq!(parts(fault("odoo.exceptions.MissingError")).0, 404);
        assert_eq!(parts(fault("builtins.AttributeError")).0, 502);
    }

    #[test]
    fn permission_and_caps_are_explicit() {
        assert_eq!(
            parts(GatewayError::PermissionDenied {
                reason: "unlink_not_allowed",
                field: None,
                message: None,
            }),
            (
                403,
                json!({"ok": false, "error": "permission_denied", "reason": "unlink_not_allowed"})
            )
        );
        let (status, body) = parts(GatewayError::TooManyRecords {
            matched: 101,
            max: 100,
        });
        assert_eq!(
            (status, body["matched"].as_u64(), body["max"].as_u64()),
            (400, Some(101), Some(100))
        );
        let r = GatewayError::VerbNotAllowed {
            verb: "PUT".into(),
            allowed: vec!["POST", "GET"],
        }
        .into_response();
        assert_eq!(r.headers()[header::ALLOW], "POST, GET");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }
}
