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

    #[test]
    fn every_error_code_the_gateway_answers_is_documented() {
        let yaml = SPEC_YAML;
        for code in [
            "not_found",
            "conf_not_found",
            "invalid_webhook",
            "forbidden",
            "method_not_allowed",
            "payload_too_large",
            "request_timeout",
            "server_busy",
            "invalid_json",
            "invalid_payload",
            "missing_param",
            "invalid_method",
            "invalid_field",
            "invalid_domain",
            "permission_denied",
            "too_many_records",
            "ambiguous_match",
            "odoo_error",
            "odoo_timeout",
            "odoo_unreachable",
            "store_unavailable",
            "invalid_idempotency_key",
            "idempotency_key_reused",
            "idempotency_in_progress",
            "idempotency_outcome_unknown",
            "idempotency_answer_not_kept",
        ] {
            assert!(yaml.contains(code), "{code} is not in docs/openapi.yaml");
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
