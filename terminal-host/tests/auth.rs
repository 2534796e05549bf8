//! Who gets a shell: token checks (expiry, tampering, audience, `alg: none`, replay), origins, the session cap.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::json;
use terminal_host::token::{self, AUDIENCE, Claims, Secret, ShellMode};

const SECS5: Duration = Duration::from_secs(5);

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> Claims {
    Claims {
        sub: "admin".into(),
        iat: now(),
        exp: now() + 60,
        jti: format!("jti-{}", now()),
        aud: AUDIENCE.into(),
        shell: ShellMode::Bash,
    }
}

/// Connects, sends `auth` with `token` and returns the close code and reason.
async fn refused_with(addr: std::net::SocketAddr, token: &str) -> (u16, String) {
    let mut c = connect(addr, None).await.unwrap();
    c.auth(token).await;
    let closed = c.closed(SECS5).await;
    let error = c
        .control("error")
        .expect("an error message precedes the close frame");
    assert_eq!(error["error"].as_str(), Some(closed.1.as_str()));
    assert!(c.output.is_empty(), "no shell output for a refused token");
    closed
}

#[tokio::test]
async fn bad_tokens_are_refused_with_1008_and_a_reason() {
    let host = start_host(&[]).await;
    let addr = host.local_addr();

    let expired = Claims {
        iat: now() - 600,
        exp: now() - 120,
        ..claims()
    };
    let expired = token::sign(&secret(), &expired).unwrap();
    assert_eq!(refused_with(addr, &expired).await, (1008, "token_expired".into()));

    let wrong_aud = Claims {
        aud: "bitconn-webhook".into(),
        ..claims()
    };
    let wrong_aud = token::sign(&secret(), &wrong_aud).unwrap();
    assert_eq!(
        refused_with(addr, &wrong_aud).await,
        (1008, "token_wrong_audience".into())
    );

    let other_key = Secret::new("another-key-that-is-long-enough-0000").unwrap();
    let forged = token::sign(&other_key, &claims()).unwrap();
    assert_eq!(
        refused_with(addr, &forged).await,
        (1008, "token_bad_signature".into())
    );

    // Tampered: same signature, payload changed to another user.
    let good = token("admin", ShellMode::Bash);
    let parts: Vec<&str> = good.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("root");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(
        refused_with(addr, &tampered).await,
        (1008, "token_bad_signature".into())
    );

    // alg: none with no signature.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims()).unwrap());
    let (code, reason) = refused_with(addr, &format!("{header}.{body}.")).await;
    assert_eq!(code, 1008);
    assert!(reason.starts_with("token_"), "{reason}");

    // HS512 signed with the right key: the algorithm is pinned.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        refused_with(addr, &hs512).await,
        (1008, "token_wrong_algorithm".into())
    );

    assert_eq!(
        refused_with(addr, "not-a-jwt").await,
        (1008, "token_invalid".into())
    );
    assert_eq!(host.active_sessions(), 0);
}

#[tokio::test]
async fn a_token_opens_one_shell_only() {
    let host = start_host(&[]).await;
    let t = token("admin", ShellMode::Bash);
    let mut first = connect(host.local_addr(), None).await.unwrap();
    first.ready(&t).await;
    assert_eq!(
        refused_with(host.local_addr(), &t).await,
        (1008, "token_replayed".into())
    );
    drop(first);
    eventually(SECS5, "first session ended", || host.active_sessions() == 0).await;
    assert_eq!(
        refused_with(host.local_addr(), &t).await,
        (1008, "token_replayed".into())
    );
}

#[tokio::test]
async fn first_message_must_be_auth_and_arrive_in_time() {
    let host = start_host(&[("WS_AUTH_TIMEOUT", "500ms")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.send_input(b"ls\r").await;
    assert_eq!(c.closed(SECS5).await, (1008, "auth_required".into()));
    let mut c = connect(host.local_addr(), None).await.unwrap();
    assert_eq!(c.closed(SECS5).await, (1008, "auth_timeout".into()));
}

#[tokio::test]
async fn foreign_origins_are_refused_at_the_handshake() {
    let host = start_host(&[]).await;
    let addr = host.local_addr();
    let err = connect(addr, Some("http://evil.example"))
        .await
        .err()
        .expect("handshake must fail");
    assert!(err.to_string().contains("403"), "{err}");
    // The page's own origin (same host and port) is accepted, as is a client that sends none.
    let mut same = connect(addr, Some(&format!("http://{addr}"))).await.unwrap();
    same.ready(&token("admin", ShellMode::Bash)).await;

    let host = start_host(&[(
        "WS_ALLOWED_ORIGINS",
        "https://odoo.example.com, https://erp.example.com/",
    )])
    .await;
    let addr = host.local_addr();
    assert!(connect(addr, Some("https://erp.example.com")).await.is_ok());
    assert!(connect(addr, Some(&format!("http://{addr}"))).await.is_err());
    assert!(
        connect(addr, Some("https://odoo.example.com.evil.example"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_session_cap_refuses_with_1013_without_spending_the_token() {
    let host = start_host(&[("WS_MAX_SESSIONS", "2")]).await;
    let addr = host.local_addr();
    let mut a = connect(addr, None).await.unwrap();
    a.ready(&token("admin", ShellMode::Bash)).await;
    let mut b = connect(addr, None).await.unwrap();
    b.ready(&token("admin", ShellMode::Bash)).await;
    let third = token("admin", ShellMode::Bash);
    assert_eq!(
        refused_with(addr, &third).await,
        (1013, "too_many_sessions".into())
    );
    drop(a);
    eventually(SECS5, "a slot frees up", || host.active_sessions() == 1).await;
    let mut c = connect(addr, None).await.unwrap();
    c.ready(&third).await;
    assert_eq!(host.active_sessions(), 2);
}

async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_csp() {
    let host = start_host(&[]).await;
    let addr = host.local_addr();
    let page = http(addr, "GET /?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Security-Policy: default-src 'none'"));
    assert!(page.contains("vendor/xterm.js"));
    let js = http(addr, "GET /vendor/xterm.js HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert!(js.starts_with("HTTP/1.1 200 OK\r\n") && js.contains("text/javascript"));
    assert!(
        http(addr, "GET /etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 404")
    );
    assert!(
        http(addr, "POST / HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 405")
    );
    assert!(
        http(addr, "GET / SPDY/1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 400")
    );
}
