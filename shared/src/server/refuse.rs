//! Turning a connection away past the connection cap: a `503 server_busy` written at once, then closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::error::GatewayError;

/// Time a refused connection is given to take its answer (and to have what it already sent drained, so the
/// close does not reset the connection before the client reads the 503).
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Refusals being written at once; past it a connection is closed without an answer (a flood of connects
/// must not turn into a flood of tasks and descriptors).
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// What a refused connection may have sent that is read and thrown away before closing.
const MAX_DRAINED_BYTES: usize = 64 * 1024;

static REFUSALS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT)));
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// The raw HTTP/1.1 answer, built once from the gateway's one error mapping.
fn answer() -> &'static [u8] {
    static ANSWER: OnceLock<Vec<u8>> = OnceLock::new();
    ANSWER.get_or_init(|| {
        let response = GatewayError::ServerBusy.into_response();
        let body = response.body();
        let mut raw = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\
             retry-after: 1\r\nconnection: close\r\n\r\n",
            response.status().as_u16(),
            response
                .status()
                .canonical_reason()
                .unwrap_or("Service Unavailable"),
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw
    })
}

pub(super) fn busy(mut stream: TcpStream, max_connections: usize) {
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    // Warn on the 1st, 2nd, 4th, 8th… refusal: visible without a flood of warnings.
    if refused.is_power_of_two() {
        tracing::warn!(
            refused,
            max_connections,
            "connection limit reached; refusing connections with 503"
        );
    }
    let Ok(permit) = Arc::clone(&REFUSALS).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSE_TIMEOUT, async {
            stream.write_all(answer()).await?;
            stream.shutdown().await?;
            let mut drained = 0;
            let mut buffer = [0u8; 4096];
            while drained < MAX_DRAINED_BYTES {
                match stream.read(&mut buffer).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
        drop(permit);
    });
}
