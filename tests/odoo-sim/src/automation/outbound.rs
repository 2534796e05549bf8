//! Sends a webhook POST the way Odoo 18's `requests.post(url, data=..., timeout=1)` does: the same request line,
//! headers in the same order and case, 1 s to connect and to answer, no retry. Loopback targets only: this is a
//! test tool, and a test must never reach out of the machine.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Serialize;

/// `timeout=1` of `_run_action_webhook` (connect, then the whole answer).
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(1);
/// Most bytes of an answer read (status line, headers and body); the rest is not waited for.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;
/// What python-requests 2.31 sends as `User-Agent`.
const USER_AGENT: &str = "python-requests/2.31.0";

/// One POST an action queued during a call.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub url: String,
    pub body: String,
}

/// What happened to one webhook POST, for tests (`Sim::webhook_calls`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookCall {
    pub url: String,
    pub body: String,
    /// HTTP status of the answer, if one came in time.
    pub status: Option<u16>,
    /// `None` when Odoo logs nothing but "Webhook call to ..."; else its WARNING text.
    pub warning: Option<String>,
    /// Milliseconds the user's call waited for this POST.
    pub elapsed_ms: u64,
}

/// The parts of a webhook URL a request needs.
#[derive(Debug)]
struct Target {
    host: String,
    port: u16,
    /// `Host` header: the host, with the port unless it is 80.
    host_header: String,
    /// Path and query (`/odoo/res.partner?src=odoo-native`).
    request_target: String,
}

fn parse(url: &str) -> Result<Target, String> {
    let invalid_scheme =
        || format!("Invalid URL '{url}': No scheme supplied. Perhaps you meant https://{url}?");
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid_scheme)?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => {
            return Err(format!(
                "{url}: the simulator sends webhooks over plain HTTP only"
            ));
        }
        other => return Err(format!("No connection adapters were found for '{url}' ({other})")),
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("Invalid URL '{url}': whitespace or control characters"));
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("Invalid URL '{url}': bad IPv6 host"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("Invalid URL '{url}': No host supplied"));
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("Failed to parse: {url}"))?,
        None => 80,
    };
    let shown = if authority.starts_with('[') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let host_header = if port == 80 {
        shown
    } else {
        format!("{shown}:{port}")
    };
    let request_target = match tail.chars().next() {
        None => "/".to_owned(),
        Some('?') => format!("/{tail}"),
        Some(_) => tail.to_owned(),
    };
    Ok(Target {
        host,
        port,
        host_header,
        request_target,
    })
}

/// Loopback addresses of the target, or why it may not be called.
fn loopback(t: &Target) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "{} is not a loopback address: the simulator only sends webhooks to this machine",
            t.host
        ));
    }
    Ok(addrs)
}

/// POSTs `call.body` to `call.url`; never fails the caller, like Odoo (only a WARNING on failure).
pub fn send(call: &Outbound) -> WebhookCall {
    let started = Instant::now();
    tracing::info!("Webhook call to {}", call.url);
    tracing::debug!("POST JSON data for webhook call: {}", call.body);
    let (status, warning) = match post(call) {
        Ok((code, reason)) if code >= 400 => {
            let side = if code >= 500 { "Server" } else { "Client" };
            (
                Some(code),
                Some(format!(
                    "Webhook call failed: {code} {side} Error: {reason} for url: {}",
                    call.url
                )),
            )
        }
        Ok((code, _)) => (Some(code), None),
        Err(warning) => (None, Some(warning)),
    };
    if let Some(w) = &warning {
        tracing::warn!("{w}");
    }
    WebhookCall {
        url: call.url.clone(),
        body: call.body.clone(),
        status,
        warning,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

fn post(call: &Outbound) -> Result<(u16, String), String> {
    let t = parse(&call.url).map_err(|e| format!("Webhook call failed: {e}"))?;
    let addrs = loopback(&t).map_err(|e| format!("Webhook call refused: {e}"))?;
    let pool = |cause: String| {
        format!(
            "Webhook call failed: HTTPConnectionPool(host='{}', port={}): Max retries exceeded with url: {} (Caused by {cause})",
            t.host, t.port, t.request_target
        )
    };
    let mut last = String::new();
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, WEBHOOK_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = pool(format!(
                    "ConnectTimeoutError(<urllib3.connection.HTTPConnection object>, 'Connection to {} timed out. (connect timeout=1)')",
                    t.host
                ));
            }
            Err(e) => {
                last = pool(format!(
                    "NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to establish a new connection: [Errno {}] {}')",
                    e.raw_os_error().unwrap_or(0),
                    os_message(&e)
                ));
            }
        }
    }
    let mut stream = stream.ok_or(last)?;
    let deadline = Instant::now() + WEBHOOK_TIMEOUT;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        t.request_target,
        t.host_header,
        call.body.len()
    );
    let aborted = |e: std::io::Error| format!("Webhook call failed: ('Connection aborted.', {e})");
    stream.set_write_timeout(Some(WEBHOOK_TIMEOUT)).map_err(aborted)?;
    stream
        .write_all(format!("{head}{}", call.body).as_bytes())
        .map_err(aborted)?;
    read_status(&mut stream, deadline)
}

fn os_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

const TIMED_OUT: &str = "Webhook call timed out after 1s - it may or may not have failed. If this happens often, it may be a sign that the system you're trying to reach is slow or non-functional.";

/// Reads the answer's status line and headers, then its body (bounded), before the deadline.
fn read_status(stream: &mut TcpStream, deadline: Instant) -> Result<(u16, String), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut head_end = None;
    let mut body_len: Option<usize> = None;
    loop {
        if let Some(end) = head_end
            && body_len.is_some_and(|n| buf.len() >= end + n)
        {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TIMED_OUT.to_owned());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| format!("Webhook call failed: {e}"))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(TIMED_OUT.to_owned());
            }
            Err(e) => return Err(format!("Webhook call failed: ('Connection aborted.', {e})")),
        }
        if head_end.is_none()
            && let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n")
        {
            head_end = Some(pos + 4);
            body_len = content_length(&buf[..pos]);
        }
        if buf.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    let line_end = buf.windows(2).position(|w| w == b"\r\n").unwrap_or(buf.len());
    let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
    let mut parts = line.splitn(3, ' ');
    let (Some(_version), Some(code)) = (parts.next(), parts.next()) else {
        return Err("Webhook call failed: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))".to_owned());
    };
    let code = code
        .parse::<u16>()
        .map_err(|_| format!("Webhook call failed: invalid status line {line:?}"))?;
    Ok((code, parts.next().unwrap_or_default().to_owned()))
}

fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_as_requests_does() {
        let t = parse("http://127.0.0.1:42679/odoo/res.partner?src=odoo-native#x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 42679));
        assert_eq!(t.host_header, "127.0.0.1:42679");
        assert_eq!(t.request_target, "/odoo/res.partner?src=odoo-native");
        let t = parse("http://localhost?a=1").unwrap();
        assert_eq!(
            (t.host_header.as_str(), t.request_target.as_str()),
            ("localhost", "/?a=1")
        );
        let t = parse("http://[::1]:8080").unwrap();
        assert_eq!((t.host.as_str(), t.host_header.as_str()), ("::1", "[::1]:8080"));
        assert!(parse("not a url").unwrap_err().contains("No scheme supplied"));
        assert!(parse("https://127.0.0.1/").is_err());
    }

    #[test]
    fn only_loopback_targets_are_called() {
        assert!(loopback(&parse("http://127.0.0.1:9/").unwrap()).is_ok());
        assert!(loopback(&parse("http://[::1]:9/").unwrap()).is_ok());
        assert!(loopback(&parse("http://10.255.255.1:81/").unwrap()).is_err());
        assert!(loopback(&parse("http://192.0.2.1/").unwrap()).is_err());
    }
}
