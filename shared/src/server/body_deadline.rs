//! Reading a request body within a deadline and a size limit, before the router sees the request.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::LengthLimitError;
use std::time::Duration;

use super::ServerLimits;
use crate::error::GatewayError;

/// Reads `body` whole: at most `limit` bytes, all of them within `deadline` (a client trickling its body
/// byte by byte is cut off at the deadline, not kept waiting for).
pub async fn read_body_within(body: Body, limit: usize, deadline: Duration) -> Result<Bytes, GatewayError> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit.saturating_add(1))).await {
        Err(_) => Err(GatewayError::RequestTimeout { limit: deadline }),
        Ok(Ok(bytes)) if bytes.len() <= limit => Ok(bytes),
        Ok(Ok(_)) => Err(GatewayError::PayloadTooLarge { limit }),
        Ok(Err(error)) => {
            let error = error.into_inner();
            if error.downcast_ref::<LengthLimitError>().is_some() {
                Err(GatewayError::PayloadTooLarge { limit })
            } else {
                Err(GatewayError::invalid_payload(
                    "unreadable_body",
                    "the request body could not be read (broken chunked encoding or connection)",
                ))
            }
        }
    }
}

/// Middleware: the request goes on with its body in memory, or the client gets 408/413 at once.
pub(super) async fn buffer_body(
    State(limits): State<ServerLimits>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match read_body_within(body, limits.max_body_bytes, limits.body_read_timeout).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(error) => error.into_response().map(Body::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{StreamExt as _, stream};

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_times_out() {
        let chunks =
            stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{\"a\":"))]).chain(stream::pending());
        let body = Body::from_stream(chunks);
        let error = read_body_within(body, 1024, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(error, GatewayError::RequestTimeout { .. }), "{error:?}");
        assert_eq!(error.into_response().status(), 408);
    }

    #[tokio::test]
    async fn sizes_are_checked_and_whole_bodies_pass() {
        let ok = read_body_within(Body::from("12345"), 5, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(ok, "12345");
        let error = read_body_within(Body::from("123456"), 5, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(error.into_response().status(), 413);
    }
}
