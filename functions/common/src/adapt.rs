//! Lambda HTTP events (API Gateway HTTP API v2, function URLs, REST API v1) to gateway requests and back.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt as _};
use std::convert::Infallible;
use std::time::Instant;
use tracing::Instrument as _;

use crate::{LOG_SETTLE_TIMEOUT, LambdaGateway};

const WEBHOOK_PATH_PREFIXES: [&str; 2] = ["/bitconn/webhook/", "/bitconn/outbound/"];

/// Handles one event: never fails, every outcome is an HTTP response. Logs one structured line per request
/// (request id, webhook id, method, model, status, duration, Odoo calls; never credentials or bodies).
pub async fn handle(
    host: &LambdaGateway,
    request: lambda_http::Request,
) -> Result<lambda_http::Response<Body>, Infallible> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let request = to_gateway_request(request);
    let method = request.method().clone();
    let webhook_id = webhook_id(request.uri().path()).to_owned();
    let query_model = query_model(request.uri().query());
    let span = tracing::info_span!("request", request_id = %request_id, webhook_id = %webhook_id);
    let response = host.gateway.handle(request).instrument(span.clone()).await;
    let calls = host.log.settle(LOG_SETTLE_TIMEOUT).await;
    let call = calls.last();
    span.in_scope(|| {
        tracing::info!(
            http_method = %method,
            method = call.and_then(|c| c.method.as_deref()).unwrap_or(""),
            model = call.and_then(|c| c.model.as_deref()).or(query_model.as_deref()).unwrap_or(""),
            status = response.status().as_u16(),
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            odoo_calls = call.map_or(0, |c| c.odoo_calls),
            outcome = call.map_or("", |c| c.outcome),
            "handled"
        );
    });
    Ok(from_gateway_response(response))
}

/// The body is already decoded from base64 by `lambda_http`; headers and query carry over unchanged, and the
/// path loses the API stage prefix (`/prod/bitconn/…` → `/bitconn/…`) that `lambda_http` puts on named stages.
pub fn to_gateway_request(request: lambda_http::Request) -> http::Request<Bytes> {
    let stage = stage(&request);
    let (mut parts, body) = request.into_parts();
    if let Some(uri) = stage.and_then(|stage| without_stage(&parts.uri, &stage)) {
        parts.uri = uri;
    }
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    http::Request::from_parts(parts, bytes)
}

fn stage(request: &lambda_http::Request) -> Option<String> {
    let stage = match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.stage.clone(),
        RequestContext::ApiGatewayV2(context) => context.stage.clone(),
        _ => None,
    };
    stage.filter(|s| !s.is_empty() && s != "$default")
}

fn without_stage(uri: &http::Uri, stage: &str) -> Option<http::Uri> {
    let rest = uri.path().strip_prefix('/')?.strip_prefix(stage)?;
    if !rest.starts_with('/') {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let mut builder = http::Uri::builder().path_and_query(path_and_query);
    if let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) {
        builder = builder.scheme(scheme.clone()).authority(authority.clone());
    }
    builder.build().ok()
}

/// JSON and other UTF-8 bodies go back as text; anything else as binary (API Gateway base64-encodes it).
pub fn from_gateway_response(response: http::Response<Bytes>) -> lambda_http::Response<Body> {
    let (parts, bytes) = response.into_parts();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(error) => Body::Binary(error.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}

/// The Lambda invocation id when running under the runtime, else the API Gateway request id.
fn request_id(request: &lambda_http::Request) -> String {
    if let Some(context) = request.lambda_context_ref().filter(|c| !c.request_id.is_empty()) {
        return context.request_id.clone();
    }
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone().unwrap_or_default(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The `{id}` segment of `/bitconn/webhook/{id}[/…]` or `/bitconn/outbound/{id}`, or "" for other paths (it is
/// only logged).
fn webhook_id(path: &str) -> &str {
    WEBHOOK_PATH_PREFIXES
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
}

fn query_model(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("model="))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_id_from_paths() {
        assert_eq!(webhook_id("/bitconn/webhook/abc"), "abc");
        assert_eq!(webhook_id("/bitconn/webhook/abc/schema"), "abc");
        assert_eq!(webhook_id("/bitconn/outbound/abc"), "abc");
        assert_eq!(webhook_id("/healthz"), "");
    }

    #[test]
    fn stage_prefix_is_removed() {
        let uri: http::Uri = "https://h.example.com/prod/bitconn/webhook/x/schema?model=res.partner"
            .parse()
            .unwrap();
        let stripped = without_stage(&uri, "prod").unwrap();
        assert_eq!(
            stripped.to_string(),
            "https://h.example.com/bitconn/webhook/x/schema?model=res.partner"
        );
        assert_eq!(without_stage(&uri, "pro"), None);
        assert_eq!(
            without_stage(&"/bitconn/webhook/x".parse().unwrap(), "prod"),
            None
        );
    }

    #[test]
    fn model_from_query() {
        assert_eq!(
            query_model(Some("model=res.partner&method=create")).as_deref(),
            Some("res.partner")
        );
        assert_eq!(query_model(Some("method=create")), None);
        assert_eq!(query_model(None), None);
    }

    #[test]
    fn responses_keep_status_headers_and_text() {
        let response = http::Response::builder()
            .status(404)
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"ok":false}"#))
            .unwrap();
        let converted = from_gateway_response(response);
        assert_eq!(converted.status(), 404);
        assert_eq!(converted.headers()["content-type"], "application/json");
        assert_eq!(converted.body(), &Body::Text(r#"{"ok":false}"#.to_owned()));
        let binary = from_gateway_response(http::Response::new(Bytes::from_static(&[0xff, 0x00])));
        assert_eq!(binary.body(), &Body::Binary(vec![0xff, 0x00]));
    }
}
