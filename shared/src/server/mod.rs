//! The local HTTP server (`bitconn serve`): a router on a TCP listener with bounded time and connections.
//!
//! `axum::serve` waits forever for a client's headers and body and accepts any number of connections, so one
//! slow client holds a connection for good and a few thousand idle ones exhaust the process. Here every
//! connection has a deadline for its request head (also while idle between keep-alive requests), every request
//! one for its body, and the number of connections is capped: past the cap a new connection is answered `503
//! server_busy` at once and closed, instead of waiting in the kernel's queue behind the idle ones.

mod body_deadline;
mod refuse;

pub use body_deadline::read_body_within;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A client must send a request's whole head (request line and headers) within this time after connecting or
/// after its previous response; otherwise the connection is closed. Also bounds idle keep-alive connections.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request's whole body must arrive within this time after its head; otherwise `408 request_timeout`.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; further ones get `503 server_busy` and are closed.
pub const MAX_CONNECTIONS: usize = 512;
/// How long a graceful stop waits for requests in flight before the remaining connections are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The limits of one server; `Default` is the constants above.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
    /// Largest body read into memory; a longer one gets `413 payload_too_large` (the gateway's own limit).
    pub max_body_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_body_bytes: crate::gateway::GatewaySettings::default().max_body_bytes,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets requests in flight finish
/// (at most `SHUTDOWN_GRACE`) and returns.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let app = app.layer(axum::middleware::from_fn_with_state(
        limits,
        body_deadline::buffer_body,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse::busy(stream, limits.max_connections);
            continue;
        };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
}
