//! One TCP connection: read the HTTP request head, then serve a page asset or upgrade `/ws` after the
//! Origin check.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::admission::Pending;
use crate::page::{self, CONTENT_SECURITY_POLICY};
use crate::protocol::{MAX_MESSAGE, close_reason};
use crate::session;
use crate::state::State;

/// The WebSocket endpoint; every other path is a page asset or 404.
pub const WS_PATH: &str = "/ws";
/// Request heads larger than this are refused: the page and the upgrade need a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;
/// Outgoing bytes tungstenite may hold when the client does not read; past this a send fails.
const MAX_WRITE_BUFFER: usize = 2 * 1024 * 1024;

/// Frame and message limits for client sockets: tungstenite checks a frame's declared length against
/// them before it allocates, so a hostile header cannot make the host reserve memory.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        .max_write_buffer_size(MAX_WRITE_BUFFER)
}

/// Serves one admitted connection to the end. Everything before the WebSocket exists (request head, page
/// response, upgrade) must finish within `WS_HANDSHAKE_TIMEOUT`; the session then has its own deadlines.
pub async fn handle(stream: TcpStream, peer: SocketAddr, state: Arc<State>, pending: Pending) {
    let _ = stream.set_nodelay(true);
    match timeout(state.config.handshake_timeout, route(stream, peer, &state)).await {
        Ok(Some(ws)) => session::serve(ws, peer, state, pending).await,
        Ok(None) => {}
        Err(_) => tracing::debug!(%peer, "handshake deadline passed; connection dropped"),
    }
}

/// Answers a page request (`None`) or upgrades `/ws` to a WebSocket.
async fn route(mut stream: TcpStream, peer: SocketAddr, state: &State) -> Option<WebSocketStream<Replay>> {
    let head = match read_head(&mut stream).await {
        Ok(head) => head,
        Err(HeadError::TooLarge) => {
            respond(&mut stream, 431, "text/plain", b"head too large").await;
            return None;
        }
        Err(HeadError::Io) => return None,
    };
    let Some(request) = parse_request_line(&head) else {
        respond(&mut stream, 400, "text/plain", b"bad request").await;
        return None;
    };
    if request.path == WS_PATH {
        let origins = state.config.allowed_origins.clone();
        let replay = Replay {
            head,
            pos: 0,
            inner: stream,
        };
        // The callback's signature is tungstenite's; its error is the HTTP refusal itself.
        #[allow(clippy::result_large_err)]
        let check = move |req: &Request, resp: Response| check_origin(req, resp, &origins);
        return match tokio_tungstenite::accept_hdr_async_with_config(replay, check, Some(websocket_config()))
            .await
        {
            Ok(ws) => Some(ws),
            Err(error) => {
                tracing::info!(%peer, %error, "WebSocket upgrade refused");
                None
            }
        };
    }
    match (request.method, page::lookup(request.path)) {
        ("GET" | "HEAD", Some(asset)) => {
            let body = if request.method == "HEAD" {
                &[][..]
            } else {
                asset.body
            };
            respond_with_length(&mut stream, 200, asset.content_type, body, asset.body.len()).await;
        }
        ("GET" | "HEAD", None) => respond(&mut stream, 404, "text/plain", b"not found").await,
        _ => respond(&mut stream, 405, "text/plain", b"method not allowed").await,
    }
    None
}

/// Browsers always send `Origin` on WebSocket upgrades, so a foreign page cannot ride a user's network
/// position; clients without one (the CLI, scripts) are not browsers and are let through to the token check.
#[allow(clippy::result_large_err)]
fn check_origin(req: &Request, resp: Response, allowed: &[String]) -> Result<Response, ErrorResponse> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(resp);
    };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    let ok = if allowed.is_empty() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        !host.is_empty()
            && (origin.eq_ignore_ascii_case(&format!("http://{host}"))
                || origin.eq_ignore_ascii_case(&format!("https://{host}")))
    } else {
        allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
    };
    if ok {
        return Ok(resp);
    }
    tracing::warn!(origin, "WebSocket origin refused");
    let mut refusal = ErrorResponse::new(Some(close_reason("origin_not_allowed")));
    *refusal.status_mut() = StatusCode::FORBIDDEN;
    Err(refusal)
}

enum HeadError {
    TooLarge,
    Io,
}

/// Reads up to and including the blank line ending the request head (and whatever followed it in the
/// same reads, which [`Replay`] hands on to the WebSocket handshake).
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io);
        }
        // Only the new bytes (and the three before them) can complete the blank line: no rescanning.
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if buf[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct RequestLine<'a> {
    method: &'a str,
    path: &'a str,
}

/// `METHOD SP target SP HTTP/1.x`; the path is the target without its query or fragment.
fn parse_request_line(head: &[u8]) -> Option<RequestLine<'_>> {
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some(RequestLine { method, path })
}

async fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    respond_with_length(stream, status, content_type, body, body.len()).await;
}

async fn respond_with_length(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    length: usize,
) {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// The TCP stream with the bytes already read for routing put back in front.
struct Replay {
    head: Vec<u8>,
    pos: usize,
    inner: TcpStream,
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.head.len() {
            let n = buf.remaining().min(self.head.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.head[start..start + n]);
            self.pos += n;
            if self.pos == self.head.len() {
                self.head = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_parser_rejects_leftovers() {
        let line = parse_request_line(b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(
            line,
            RequestLine {
                method: "GET",
                path: "/ws"
            }
        );
        assert!(parse_request_line(b"GET /ws HTTP/1.1 extra\r\n\r\n").is_none());
        assert!(parse_request_line(b"GET ws HTTP/1.1\r\n\r\n").is_none());
        assert!(parse_request_line(b"GET / SPDY/3\r\n\r\n").is_none());
        assert!(parse_request_line(b"GET / HTTP/1.1").is_none());
    }
}
