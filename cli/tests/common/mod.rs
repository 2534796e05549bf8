//! Helpers for the CLI tests: run the built `bitconn` binary, start `bitconn serve` and moto on free ports.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bitconn");
/// How long a spawned server may take to print that it is ready.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A temporary SQLite store, deleted on drop.
pub struct TempStore {
    _dir: tempfile::TempDir,
    pub spec: String,
    pub path: PathBuf,
}

impl TempStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bitconn.db");
        Self {
            spec: format!("sqlite:{}", path.display()),
            path,
            _dir: dir,
        }
    }
}

/// `bitconn` with a clean environment for the variables it reads.
pub fn bitconn(store: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "BITCONN_STORE",
        "BITCONN_PUBLIC_URL",
        "BITCONN_ODOO_API_KEY",
        "BITCONN_LISTEN",
        "BITCONN_SEAL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("BITCONN_STORE", store);
    cmd
}

pub fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// Runs and expects success; returns stdout.
pub fn ok(cmd: Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "failed: {}\nstdout: {}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

/// Runs and expects the CLI's error contract: exit code 1 and exactly one `error: …` line on stderr.
pub fn fails(cmd: Command) -> String {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_owned()
}

pub fn json(cmd: Command) -> Value {
    let out = ok(cmd);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `bitconn serve` and what it printed until it was ready.
pub struct Served {
    pub child: ChildGuard,
    pub base_url: String,
    pub lines: Vec<String>,
}

impl Served {
    /// The value after `label` on the first printed line that has it (e.g. `url:`).
    pub fn printed(&self, label: &str) -> Option<String> {
        self.lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
    }
}

/// Starts `bitconn serve` on a port the OS picks and waits for its "listening on <url>" line.
pub fn serve(store: &str, extra: &[&str]) -> Served {
    let mut cmd = bitconn(store);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = ChildGuard(cmd.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("serve did not get ready: {lines:#?}"));
        let ready = line.contains("listening on");
        lines.push(line);
        if ready {
            break;
        }
    }
    let listening = lines.last().unwrap();
    let base_url = listening.split("listening on ").nth(1).unwrap();
    let base_url = base_url.split_whitespace().next().unwrap().to_owned();
    Served {
        child,
        base_url,
        lines,
    }
}

/// moto_server (DynamoDB emulator) on a free port; skipped tests say so when it is not installed.
pub struct Moto {
    _child: ChildGuard,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Option<Moto> {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let guard = ChildGuard(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            _child: guard,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// A new KMS key in this moto (a raw `TrentService.CreateKey` call); returns its id.
    pub fn create_kms_key(&self) -> String {
        use std::io::{Read as _, Write as _};
        let host = authority(&self.endpoint);
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: TrentService.CreateKey\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let created: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("CreateKey ({e}): {answer}"));
        created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    }

    pub fn configure(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE");
    }
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// `host:port` of a `http://host:port` base URL.
pub fn authority(base_url: &str) -> &str {
    base_url.trim_start_matches("http://").trim_end_matches('/')
}

/// One HTTP/1.1 request over a fresh TCP connection (`Connection: close`); returns the status and the body.
pub fn http_post(url: &str, secret: &str, body: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {secret}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// One request a `receiver` got: its headers (lower-case names) and body.
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A receiver answering `status` (changeable) with a small JSON body; every request goes on the channel.
pub fn receiver(status: Arc<AtomicU16>) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (tx, status) = (tx.clone(), status.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = HashMap::new();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let _ = tx.send(Received { headers, body });
                    let code = status.load(Ordering::SeqCst);
                    let answer = format!("{{\"ok\":{},\"code\":{code}}}", code < 300);
                    let response = format!(
                        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if (&stream).write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}
