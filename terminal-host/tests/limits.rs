//! What a stalled or hostile client cannot do over real sockets: outlive the idle or length limit by not
//! reading, lock others out with idle connections, hold an unauthenticated socket, or send oversized frames.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use terminal_host::token::ShellMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;

const SECS5: Duration = Duration::from_secs(5);

/// Starts `yes <marker>` and waits until its output has begun, then the caller stops reading.
async fn flood(c: &mut Client, marker: &str) {
    c.send_input(format!("yes {marker}\r").as_bytes()).await;
    c.until(SECS5, "yes output", |c| c.output.len() > 64 * 1024).await;
    assert!(process_running(&format!("yes {marker}")));
}

/// Reads whatever is still buffered; true when the host closed the connection before `limit`.
async fn host_closes_within(c: &mut Client, limit: Duration) -> bool {
    timeout(limit, async { while c.pump_once().await {} })
        .await
        .is_ok()
}

/// Whether the host ends (EOF or reset) a raw TCP connection within `limit`.
async fn tcp_closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_at_the_idle_timeout() {
    let host = start_host(&[("WS_IDLE_TIMEOUT", "1s")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let started = Instant::now();
    flood(&mut c, "stalled-idle-reader").await;
    // From here on the client reads nothing: the host's sends stall on a full socket.
    eventually(Duration::from_secs(8), "the session to end", || {
        host.active_sessions() == 0
    })
    .await;
    eventually(SECS5, "yes to be killed", || {
        !process_running("yes stalled-idle-reader")
    })
    .await;
    println!("session ended {:?} after the flood began", started.elapsed());
    assert!(
        host_closes_within(&mut c, Duration::from_secs(10)).await,
        "the host kept the TCP connection open"
    );
}

#[tokio::test]
async fn a_client_that_types_but_never_reads_is_closed_at_the_maximum_length() {
    let host = start_host(&[("WS_MAX_SESSION_LENGTH", "2s"), ("WS_IDLE_TIMEOUT", "60s")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let started = Instant::now();
    flood(&mut c, "stalled-typing-reader").await;
    // Keystrokes keep the idle timer fresh; only the length limit can end this session.
    while host.active_sessions() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the session outlived its 2 s maximum length"
        );
        let _ = timeout(Duration::from_millis(100), c.ws.send(Message::binary(&b"x"[..]))).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eventually(SECS5, "yes to be killed", || {
        !process_running("yes stalled-typing-reader")
    })
    .await;
    assert!(host_closes_within(&mut c, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn idle_connections_from_one_address_do_not_lock_out_another() {
    let host = start_host(&[]).await;
    let addr = host.local_addr();
    let flooder: IpAddr = "127.0.0.1".parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(tcp_from(flooder, addr).await);
    }
    // Past the per-peer cap the host closes them at once.
    let mut refused = 0;
    for stream in idle.iter_mut() {
        if tcp_closed_within(stream, Duration::from_millis(50)).await {
            refused += 1;
        }
    }
    assert!(
        refused >= 90,
        "only {refused} of 100 idle connections were refused"
    );
    assert!(host.pending_connections() <= 8, "{}", host.pending_connections());
    // Another address still gets a shell while the flood is held open.
    let started = Instant::now();
    let mut c = connect_from("127.0.0.2".parse().unwrap(), addr).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    assert_eq!(c.run("echo still-served").await, "still-served");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(idle);
}

#[tokio::test]
async fn unauthenticated_sockets_are_closed_fast() {
    let host = start_host(&[("WS_HANDSHAKE_TIMEOUT", "1s"), ("WS_AUTH_TIMEOUT", "1s")]).await;
    let addr = host.local_addr();

    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(tcp_closed_within(&mut silent, Duration::from_secs(3)).await);
    let silent_for = started.elapsed();

    // The deadline covers the whole head, not each read: dripping bytes does not extend it.
    let started = Instant::now();
    let mut drip = TcpStream::connect(addr).await.unwrap();
    let head = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    for byte in head.iter().cycle().take(60) {
        if drip.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(tcp_closed_within(&mut drip, Duration::from_secs(3)).await);
    let drip_for = started.elapsed();

    // Upgraded, but no `auth`: closed with a reason at the auth deadline.
    let mut c = connect(addr, None).await.unwrap();
    assert_eq!(
        c.closed(Duration::from_secs(3)).await,
        (1008, "auth_timeout".into())
    );

    println!("silent socket closed after {silent_for:?}, dripping one after {drip_for:?}");
    assert!(silent_for < Duration::from_millis(2500), "{silent_for:?}");
    assert!(drip_for < Duration::from_millis(4000), "{drip_for:?}");
    eventually(SECS5, "no connection left pending", || {
        host.pending_connections() == 0
    })
    .await;
}

#[tokio::test]
async fn oversized_messages_and_frame_headers_end_the_connection() {
    let host = start_host(&[]).await;
    let addr = host.local_addr();

    // One binary message over the 1 MiB limit ends the session and its shell.
    let mut c = connect(addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let _ = c.ws.send(Message::binary(vec![b'a'; 2 * 1024 * 1024])).await;
    assert!(host_closes_within(&mut c, SECS5).await);
    eventually(SECS5, "the session to end", || host.active_sessions() == 0).await;

    // A frame header announcing 2^62 bytes is refused from the header alone.
    let mut c = connect(addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let stream = c.ws.get_mut();
    let mut header = vec![0x82, 0xff];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    stream.write_all(&header).await.unwrap();
    assert!(host_closes_within(&mut c, SECS5).await);
    eventually(SECS5, "the session to end", || host.active_sessions() == 0).await;

    // Oversized control messages are ignored; the session goes on.
    let mut c = connect(addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let padding = "p".repeat(64 * 1024);
    c.send_json(serde_json::json!({"type": "ping", "id": 1, "pad": padding}))
        .await;
    c.send_json(serde_json::json!({"type": "resize", "rows": u64::MAX, "cols": u64::MAX}))
        .await;
    assert_eq!(c.run("stty size").await, "500 1000");
    assert!(c.control("pong").is_none(), "{:?}", c.controls);
}
