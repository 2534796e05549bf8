//! `GET /openapi.json` on `bitconn serve`: docs/openapi.yaml, embedded at build time, served as JSON.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::LazyLock;

use crate::error::{GatewayError, json_bytes_response, json_response};

/// The route's path.
pub const PATH: &str = "/openapi.json";
/// The contract of every route, as written; the tests check it against the code and the server.
pub const SPEC_YAML: &str = include_str!("../../../docs/openapi.yaml");

/// Converted on the first request, not at start: most processes never serve it.
static SPEC_JSON: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
    let value: Value = serde_yaml_ng::from_str(SPEC_YAML).map_err(|e| e.to_string())?;
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
});

/// The spec as a JSON value (for tests and tools).
pub fn spec() -> Result<Value, String> {
    let bytes = SPEC_JSON.as_ref().map_err(Clone::clone)?;
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// The answer to `method` on `PATH`: the spec for GET and HEAD, 405 otherwise.
pub fn response(method: &Method) -> Response<Bytes> {
    if method != Method::GET && method != Method::HEAD {
        return GatewayError::VerbNotAllowed {
            verb: method.to_string(),
            allowed: vec!["GET"],
        }
        .into_response();
    }
    match &*SPEC_JSON {
        Ok(bytes) => json_bytes_response(StatusCode::OK, bytes.to_vec()),
        Err(error) => {
            tracing::error!(%error, "the embedded OpenAPI document does not parse");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"ok": false, "error": "openapi_unavailable"}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_yaml_converts_and_names_every_gateway_route() {
        let spec = spec().unwrap();
        assert_eq!(spec["openapi"], "3.1.0");
        let paths = spec["paths"].as_object().unwrap();
        for path in [
            "/healthz",
            PATH,
            "/bitconn/webhook/{id}",
            "/bitconn/webhook/{id}/schema",
            "/bitconn/webhook/{id}/required",
            "/bitconn/outbound/{id}",
            "/bitconn/outbound/{id}/{trigger_key}",
            "/bitconn/terminal/token",
        ] {
            assert!(paths.contains_key(path), "{path} is not described");
        }
    }

    /// The error codes the spec allows for `status` on `path`'s `verb` (an `enum` or `const` on `error`).
    fn codes(spec: &Value, path: &str, verb: &str, status: u16) -> Vec<String> {
        let mut response = &spec["paths"][path][verb]["responses"][status.to_string()];
        if let Some(reference) = response["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap();
            response = &spec["components"]["responses"][name];
        }
        let schema = &response["content"]["application/json"]["schema"];
        let error = &schema["allOf"][1]["properties"]["error"];
        match (&error["enum"], &error["const"]) {
            (Value::Array(codes), _) => codes.iter().map(|c| c.as_str().unwrap().to_owned()).collect(),
            (_, Value::String(code)) => vec![code.clone()],
            _ => Vec::new(),
        }
    }

    fn fault(name: &str) -> GatewayError {
        GatewayError::Odoo(crate::odoo::OdooError::Fault(crate::odoo::OdooFault {
            name: name.into(),
            message: "m".into(),
        }))
    }

    #[test]
    fn every_error_answer_is_in_the_spec_under_its_status() {
        use crate::error::Endpoint;
        let spec = spec().unwrap();
        let webhook = [
            GatewayError::RouteNotFound,
            GatewayError::WebhookNotFound(Endpoint::Webhook),
            GatewayError::Unauthorized,
            GatewayError::VerbNotAllowed {
                verb: "GET".into(),
                allowed: vec!["POST"],
            },
            GatewayError::PayloadTooLarge { limit: 1 },
            GatewayError::RequestTimeout {
                limit: std::time::Duration::from_secs(1),
            },
            GatewayError::ServerBusy,
            GatewayError::InvalidJson { detail: "d".into() },
            GatewayError::invalid_payload("unknown_key", "m"),
            GatewayError::MissingParam("model"),
            GatewayError::InvalidMethod("x".into()),
            GatewayError::InvalidField {
                field: "f".into(),
                message: "m".into(),
            },
            GatewayError::InvalidDomain("m".into()),
            GatewayError::PermissionDenied {
                reason: "model_not_allowed",
                field: None,
                message: None,
            },
            GatewayError::NothingMatched,
            GatewayError::TooManyRecords { matched: 2, max: 1 },
            GatewayError::MatchConflict {
                model: "res.partner".into(),
                ids: vec![1, 2],
                item: None,
            },
            fault("odoo.exceptions.ValidationError"),
            fault("odoo.exceptions.AccessError"),
            fault("odoo.exceptions.MissingError"),
            fault("builtins.AttributeError"),
            GatewayError::Odoo(crate::odoo::OdooError::AuthenticationFailed { login: "l".into() }),
            GatewayError::Odoo(crate::odoo::OdooError::Protocol("p".into())),
            GatewayError::Store(crate::store::StoreError::Missing("t".into())),
        ];
        for error in webhook {
            let (status, code) = (error.status().as_u16(), error.code());
            let allowed = codes(&spec, "/bitconn/webhook/{id}", "post", status);
            assert!(
                allowed.iter().any(|c| c == code),
                "{status} {code} is not documented: {allowed:?}"
            );
        }
        let invalid_webhook = GatewayError::WebhookNotFound(Endpoint::Schema);
        for path in ["/bitconn/webhook/{id}/schema", "/bitconn/webhook/{id}/required"] {
            let allowed = codes(&spec, path, "get", 404);
            assert!(
                allowed.iter().any(|c| c == invalid_webhook.code()),
                "{path}: {allowed:?}"
            );
        }
    }

    /// Every code `GatewayError::code` and the `Idempotency-Key` refusals can answer, read from their source
    /// (the Odoo timeout and unreachable variants cannot be built in a test).
    #[test]
    fn every_error_code_in_the_source_is_documented() {
        let source = [include_str!("../error.rs"), include_str!("idempotent.rs")];
        let code_fn = source[0]
            .split("pub fn code(&self)")
            .nth(1)
            .and_then(|rest| rest.split("pub fn outcome").next())
            .unwrap();
        let consts = source[1]
            .lines()
            .filter(|l| l.trim_start().starts_with("const ") || l.trim_start().starts_with("pub const "))
            .filter(|l| l.contains(": &str ="));
        let literals: Vec<&str> = code_fn
            .lines()
            .chain(consts)
            .flat_map(|l| l.split('"').skip(1).step_by(2))
            .filter(|s| !s.is_empty())
            .collect();
        assert!(literals.len() > 25, "{literals:?}");
        let mut documented = Vec::new();
        documented_codes(&spec().unwrap(), &mut documented);
        for code in literals {
            assert!(
                documented.iter().any(|c| c == code),
                "{code} is in no error enum of docs/openapi.yaml"
            );
        }
    }

    /// Every `enum` or `const` given for an `error` property anywhere in the spec.
    fn documented_codes(node: &Value, into: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(error) = map.get("error") {
                    let values = error["enum"].as_array().cloned().unwrap_or_default();
                    into.extend(
                        values
                            .iter()
                            .chain(std::iter::once(&error["const"]))
                            .filter_map(|v| v.as_str().map(str::to_owned)),
                    );
                }
                map.values().for_each(|v| documented_codes(v, into));
            }
            Value::Array(items) => items.iter().for_each(|v| documented_codes(v, into)),
            _ => {}
        }
    }

    #[test]
    fn other_verbs_are_refused_as_elsewhere() {
        let r = response(&Method::POST);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[http::header::ALLOW], "GET");
        let r = response(&Method::GET);
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()[http::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}
