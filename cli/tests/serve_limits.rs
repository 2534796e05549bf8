//! `bitconn serve` over real TCP bounds what a client can hold: headers and bodies must arrive in time, and
//! connections past the cap are refused at once rather than queued behind idle ones.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, authority, http_post, serve};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const UNKNOWN_WEBHOOK: &str = "/bitconn/webhook/0f0e0d0c-0b0a-4908-8706-050403020100";
/// Longer than any limit these tests set: a connection still open after it was never going to be closed.
const PATIENCE: Duration = Duration::from_secs(15);

fn connect(base_url: &str) -> TcpStream {
    let stream = TcpStream::connect(authority(base_url)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until the server closes the connection (or `PATIENCE` runs out); returns what came and when.
fn read_until_closed(stream: &mut TcpStream, started: Instant) -> (String, Duration) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "still open after {:?} ({e}); received {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[test]
fn a_client_sending_headers_slowly_is_disconnected_at_the_header_timeout() {
    let store = TempStore::new();
    let served = serve(&store.spec, &["--no-demo", "--header-timeout", "1s"]);
    let mut stream = connect(&served.base_url);
    let started = Instant::now();
    stream
        .write_all(format!("POST {UNKNOWN_WEBHOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: appl").as_bytes())
        .unwrap();
    let (_, after) = read_until_closed(&mut stream, started);
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(4),
        "closed after {after:?}"
    );

    // An idle connection (nothing sent at all) is closed the same way.
    let mut idle = connect(&served.base_url);
    let (_, after) = read_until_closed(&mut idle, Instant::now());
    assert!(
        after < Duration::from_secs(4),
        "idle connection closed after {after:?}"
    );
}

#[test]
fn a_body_that_stops_arriving_gets_408_at_the_body_timeout() {
    let store = TempStore::new();
    let served = serve(&store.spec, &["--no-demo", "--body-timeout", "1s"]);
    let mut stream = connect(&served.base_url);
    let started = Instant::now();
    let head = format!(
        "POST {UNKNOWN_WEBHOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(b"{\"model\": ").unwrap();
    let (answer, after) = read_until_closed(&mut stream, started);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(4),
        "answered after {after:?}"
    );
}

#[test]
fn connections_past_the_cap_are_refused_at_once_and_service_resumes_when_idle_ones_time_out() {
    let store = TempStore::new();
    let served = serve(
        &store.spec,
        &["--no-demo", "--max-connections", "4", "--header-timeout", "2s"],
    );
    let url = format!("{}{UNKNOWN_WEBHOOK}", served.base_url);
    let flood: Vec<TcpStream> = (0..4).map(|_| connect(&served.base_url)).collect();
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let (status, body) = http_post(&url, "bcw_x", "{}");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"error\":\"server_busy\""), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused after {:?}",
        started.elapsed()
    );

    // The idle connections hold their slots only until the header timeout; then a normal request is served.
    let deadline = Instant::now() + Duration::from_secs(6);
    let status = loop {
        let (status, _) = http_post(&url, "bcw_x", "{}");
        if status != 503 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        status, 404,
        "served normally once the idle connections were closed"
    );
    drop(flood);
}
