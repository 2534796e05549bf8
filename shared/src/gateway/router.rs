//! Every inbound route on one axum server (`bitconn serve`, integration tests); Lambda hosts do not link it.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::Request as HttpRequest;
use std::sync::Arc;

use super::Gateway;
use crate::error::GatewayError;

pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new().fallback(move |request: Request| {
        let gateway = gateway.clone();
        async move { serve(&gateway, request).await }
    })
}

async fn serve(gateway: &Gateway, request: Request) -> Response {
    if request.uri().path() == super::openapi::PATH {
        return super::openapi::response(request.method()).map(Body::from);
    }
    let (parts, body) = request.into_parts();
    let limit = gateway.settings().max_body_bytes;
    let response = match axum::body::to_bytes(body, limit.saturating_add(1)).await {
        Ok(bytes) if bytes.len() <= limit => gateway.handle(HttpRequest::from_parts(parts, bytes)).await,
        _ => GatewayError::PayloadTooLarge { limit }.into_response(),
    };
    response.map(Body::from)
}
