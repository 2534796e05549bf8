//! Benchmark client for scripts/bench-terminal.sh: the same measurements against terminal-host and terminado.
//!
//! `bench-client <host|terminado> <ws-url> echo <n>`      keystroke echo round trips (prints p50/p99 in µs)
//! `bench-client <host|terminado> <ws-url> cat <file>`    throughput of `cat <file>` (prints MB/s)
//! `bench-client <host|terminado> <ws-url> flood <secs>`  `yes` read by a deliberately slow client
//! For `host`, the token is minted here from WS_SECRET_KEY. Each run prints one JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use terminal_host::token::{self, Secret, ShellMode};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

const PROMPT: &[u8] = b"PROMPT>";
const WARMUP: usize = 20;
/// Keystrokes typed on one line before it is cleared (Ctrl-U), so readline never redraws a huge line.
const LINE: usize = 50;
const DONE: &[u8] = b"__BENCH_DONE__";

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Host,
    Terminado,
}

struct Conn {
    ws: WebSocketStream<TcpStream>,
    proto: Proto,
}

impl Conn {
    async fn open(proto: Proto, url: &str) -> Conn {
        let request = url.into_client_request().unwrap();
        let authority = request.uri().authority().unwrap().as_str().to_owned();
        let stream = TcpStream::connect(authority).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (ws, _) = client_async(request, stream).await.unwrap();
        let mut conn = Conn { ws, proto };
        match proto {
            Proto::Host => {
                let secret = Secret::from_env().expect("WS_SECRET_KEY");
                let minted = token::mint(&secret, "bench", ShellMode::Bash, token::DEFAULT_TTL).unwrap();
                let auth = json!({"type": "auth", "token": minted.token, "rows": 24, "cols": 80});
                conn.ws.send(Message::text(auth.to_string())).await.unwrap();
            }
            Proto::Terminado => {
                conn.ws
                    .send(Message::text(json!(["set_size", 24, 80]).to_string()))
                    .await
                    .unwrap();
            }
        }
        conn.wait_for(PROMPT).await;
        conn
    }

    async fn send(&mut self, text: &str) {
        let msg = match self.proto {
            Proto::Host => Message::binary(text.as_bytes().to_vec()),
            Proto::Terminado => Message::text(json!(["stdin", text]).to_string()),
        };
        self.ws.send(msg).await.unwrap();
    }

    /// The next chunk of terminal output; `None` when the socket ends.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Binary(b)) if self.proto == Proto::Host => return Some(b.to_vec()),
                Ok(Message::Text(t)) if self.proto == Proto::Terminado => {
                    let v: Value = serde_json::from_str(&t).ok()?;
                    if v[0] == "stdout" {
                        return Some(v[1].as_str().unwrap_or("").as_bytes().to_vec());
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads until `needle` appears; returns the bytes read.
    async fn wait_for(&mut self, needle: &[u8]) -> u64 {
        let mut tail: Vec<u8> = Vec::new();
        let mut total = 0u64;
        loop {
            let chunk = timeout(Duration::from_secs(120), self.recv())
                .await
                .expect("timed out")
                .expect("closed");
            total += chunk.len() as u64;
            tail.extend_from_slice(&chunk);
            if tail.windows(needle.len()).any(|w| w == needle) {
                return total;
            }
            let keep = tail.len().saturating_sub(needle.len());
            tail.drain(..keep);
        }
    }

    async fn drain(&mut self, quiet: Duration) {
        while let Ok(Some(_)) = timeout(quiet, self.recv()).await {}
    }
}

async fn echo(conn: &mut Conn, n: usize) -> Value {
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for i in 0..WARMUP + n {
        if i % LINE == 0 {
            conn.send("\u{15}").await;
            conn.drain(Duration::from_millis(30)).await;
        }
        let key = (b'a' + (i % 26) as u8) as char;
        let started = Instant::now();
        conn.send(&key.to_string()).await;
        conn.wait_for(&[key as u8]).await;
        if i >= WARMUP {
            hist.record(started.elapsed().as_micros() as u64).unwrap();
        }
    }
    json!({"mode": "echo", "n": n, "p50_us": hist.value_at_quantile(0.5), "p99_us": hist.value_at_quantile(0.99),
           "max_us": hist.max()})
}

async fn cat(conn: &mut Conn, file: &str) -> Value {
    let size = std::fs::metadata(file).unwrap().len();
    let started = Instant::now();
    // The quotes keep the marker out of the command's own echo.
    conn.send(&format!("cat {file}; echo __BENCH_''DONE__\r")).await;
    let bytes = conn.wait_for(DONE).await;
    let secs = started.elapsed().as_secs_f64();
    json!({"mode": "cat", "file_bytes": size, "bytes": bytes, "secs": secs,
           "mb_per_s": size as f64 / 1e6 / secs})
}

async fn flood(conn: &mut Conn, secs: u64) -> Value {
    conn.send("yes\r").await;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut bytes = 0u64;
    while Instant::now() < end {
        if let Ok(Some(chunk)) = timeout(Duration::from_millis(200), conn.recv()).await {
            bytes += chunk.len() as u64;
        }
        // A slow client: a browser busy rendering, or a thin link.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    conn.send("\u{3}").await;
    json!({"mode": "flood", "secs": secs, "bytes_read": bytes})
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, url, mode, arg] = args.as_slice() else {
        eprintln!("usage: bench-client <host|terminado> <ws-url> <echo N|cat FILE|flood SECS>");
        std::process::exit(2);
    };
    let proto = if target == "host" {
        Proto::Host
    } else {
        Proto::Terminado
    };
    let mut conn = Conn::open(proto, url).await;
    let mut result = match mode.as_str() {
        "echo" => echo(&mut conn, arg.parse().unwrap()).await,
        "cat" => cat(&mut conn, arg).await,
        "flood" => flood(&mut conn, arg.parse().unwrap()).await,
        other => panic!("unknown mode {other}"),
    };
    result["target"] = json!(target);
    println!("{result}");
    let _ = conn.ws.close(None).await;
}
