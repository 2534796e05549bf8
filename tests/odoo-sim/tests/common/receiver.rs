//! A webhook receiver on 127.0.0.1:0 that records every request as it arrived (request line, headers in order,
//! body), can read the simulator while the POST is in flight (a "probe"), and answers late or with an error.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
    /// What the probe read while the simulator waited for this answer.
    pub probe: Option<Value>,
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Mode {
    pub status: u16,
    pub delay: Duration,
    /// `(sim url, model, domain, fields)`: a `search_read` run before answering.
    pub probe: Option<(String, String, Value, Value)>,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            status: 200,
            delay: Duration::ZERO,
            probe: None,
        }
    }
}

pub struct Receiver {
    pub url: String,
    pub port: u16,
    got: Arc<Mutex<Vec<Captured>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(Mode::default()));
        let (g, md) = (got.clone(), mode.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (g, md) = (g.clone(), md.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, g, md).await;
                });
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            port,
            got,
            mode,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
    pub fn requests(&self) -> Vec<Captured> {
        self.got.lock().unwrap().clone()
    }
    pub fn clear(&self) {
        self.got.lock().unwrap().clear();
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    got: Arc<Mutex<Vec<Captured>>>,
    mode: Arc<Mutex<Mode>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + 4 + len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..]).into_owned();
    let at = Instant::now();
    let mode = mode.lock().unwrap().clone();
    let probe = match &mode.probe {
        Some((url, model, domain, fields)) => Some(probe(url, model, domain, fields).await),
        None => None,
    };
    got.lock().unwrap().push(Captured {
        request_line,
        headers,
        body,
        at,
        probe,
    });
    tokio::time::sleep(mode.delay).await;
    let reason = if mode.status == 200 {
        "OK"
    } else {
        "Internal Server Error"
    };
    let answer = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        mode.status
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
}

/// `search_read` over JSON-RPC as admin, as the capture's receiver did while Odoo waited.
async fn probe(url: &str, model: &str, domain: &Value, fields: &Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object",
        "method": "execute_kw", "args": [odoo_sim::DEFAULT_DB, 2, odoo_sim::DEFAULT_ADMIN_API_KEY, model,
        "search_read", [domain], {"fields": fields}]}});
    let r: Value = super::http_client()
        .post(format!("{url}/jsonrpc"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["result"].clone()
}
