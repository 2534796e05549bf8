//! Test support: a host on port 0 with a deterministic bash, tokens, and a small WebSocket client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use terminal_host::token::{self, Secret, ShellMode};
use terminal_host::{Config, Host};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Message, http::HeaderValue};
use tokio_tungstenite::{WebSocketStream, client_async};

pub const KEY: &str = "test-key-0123456789abcdef-0123456789abcdef";
/// A prompt nothing else prints, so tests can wait for "the shell is ready for the next line".
pub const PROMPT: &str = "PROMPT>";

pub fn secret() -> Secret {
    Secret::new(KEY).unwrap()
}

pub fn token(user: &str, mode: ShellMode) -> String {
    token::mint(&secret(), user, mode, token::DEFAULT_TTL)
        .unwrap()
        .token
}

/// The variables every test host gets; `overrides` replace or add.
pub fn test_env(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("WS_SECRET_KEY", KEY),
        ("WS_PORT", "0"),
        ("WS_BASH_COMMAND", "/bin/bash --noprofile --norc"),
        (
            "WS_ODOO_COMMAND",
            "/usr/bin/env ODOO_FAKE=yes /bin/bash --noprofile --norc",
        ),
        ("WS_SHELL_ENV", "PS1=PROMPT>,HISTFILE=/dev/null"),
        ("WS_KILL_GRACE", "1s"),
        ("HOME", "/tmp"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

pub async fn start_host(overrides: &[(&str, &str)]) -> Host {
    let env = test_env(overrides);
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    Host::start(config).await.unwrap()
}

/// The real binary as a child process; killed on drop.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    /// The host's log lines after the "listening" one.
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (the binary, or a wrapper that execs it) and waits for its "listening" line.
pub fn run_binary(mut cmd: Command) -> Running {
    cmd.env("RUST_LOG", "info");
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("host exited before listening").unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep draining the log so the host never blocks on a full pipe.
    let (tx, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Running { child, addr, log }
}

/// A WebSocket client speaking the host's protocol.
pub struct Client {
    pub ws: WebSocketStream<TcpStream>,
    /// Every PTY byte received so far.
    pub output: Vec<u8>,
    /// Text (JSON) messages received so far.
    pub controls: Vec<Value>,
    /// The close frame, once received: (code, parsed JSON reason).
    pub closed: Option<(u16, Value)>,
}

pub async fn connect(
    addr: SocketAddr,
    origin: Option<&str>,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    let stream = TcpStream::connect(addr).await.unwrap();
    upgrade(stream, addr, origin).await
}

/// A TCP connection from `local` (any 127.0.0.0/8 address reaches a host on 127.0.0.1).
pub async fn tcp_from(local: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// [`connect`] from another loopback address, as a different peer.
pub async fn connect_from(
    local: IpAddr,
    addr: SocketAddr,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    upgrade(tcp_from(local, addr).await, addr, None).await
}

async fn upgrade(
    stream: TcpStream,
    addr: SocketAddr,
    origin: Option<&str>,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    stream.set_nodelay(true).unwrap();
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    let (ws, _) = client_async(request, stream).await?;
    Ok(Client {
        ws,
        output: Vec::new(),
        controls: Vec::new(),
        closed: None,
    })
}

impl Client {
    pub async fn send_json(&mut self, value: Value) {
        self.ws.send(Message::text(value.to_string())).await.unwrap();
    }

    pub async fn auth(&mut self, token: &str) {
        self.send_json(serde_json::json!({"type": "auth", "token": token}))
            .await;
    }

    pub async fn send_input(&mut self, bytes: &[u8]) {
        self.ws.send(Message::binary(bytes.to_vec())).await.unwrap();
    }

    /// Reads one frame into the client's buffers; `false` once the socket is finished.
    pub async fn pump_once(&mut self) -> bool {
        match self.ws.next().await {
            Some(Ok(Message::Binary(b))) => self.output.extend_from_slice(&b),
            Some(Ok(Message::Text(t))) => self.controls.push(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| {
                        (
                            u16::from(f.code),
                            serde_json::from_str(&f.reason).unwrap_or(Value::Null),
                        )
                    })
                    .unwrap_or((1005, Value::Null));
                self.closed = Some((code, reason));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return false,
        }
        true
    }

    /// Reads until `pred` holds or `limit` passes; panics with what was seen on timeout.
    pub async fn until(&mut self, limit: Duration, what: &str, pred: impl Fn(&Client) -> bool) {
        let end = Instant::now() + limit;
        while !pred(self) {
            let left = end.saturating_duration_since(Instant::now());
            match timeout(left, self.pump_once()).await {
                Ok(true) => {}
                _ => panic!(
                    "timed out waiting for {what}; output: {:?}; controls: {:?}; closed: {:?}",
                    self.text(),
                    self.controls,
                    self.closed
                ),
            }
        }
    }

    /// The output as text, without bash's bracketed-paste toggles.
    pub fn text(&self) -> String {
        strip_paste_mode(&String::from_utf8_lossy(&self.output))
    }

    pub fn control(&self, kind: &str) -> Option<&Value> {
        self.controls.iter().find(|c| c["type"] == kind)
    }

    /// Authenticates and waits for `ready` and the first prompt.
    pub async fn ready(&mut self, token: &str) {
        self.auth(token).await;
        self.until(Duration::from_secs(5), "ready and prompt", |c| {
            c.control("ready").is_some() && c.text().contains(PROMPT)
        })
        .await;
    }

    /// Waits for the close frame and returns (code, reason code).
    pub async fn closed(&mut self, limit: Duration) -> (u16, String) {
        self.until(limit, "close frame", |c| c.closed.is_some()).await;
        let (code, reason) = self.closed.clone().unwrap();
        (code, reason["reason"].as_str().unwrap_or("").to_owned())
    }

    /// Runs a line and returns what it printed between the echoed command and the next prompt.
    pub async fn run(&mut self, line: &str) -> String {
        let start = self.output.len();
        self.send_input(format!("{line}\r").as_bytes()).await;
        let printed = |c: &Client| -> Option<String> {
            let seen = strip_paste_mode(&String::from_utf8_lossy(&c.output[start..]));
            // Readline may redraw the prompt (e.g. after SIGWINCH); the output starts after the echo.
            let after_echo = &seen[seen.find(line)? + line.len()..];
            let (_, body) = after_echo.split_once("\r\n")?;
            let trimmed = body.trim_end();
            trimmed
                .ends_with(PROMPT)
                .then(|| trimmed[..trimmed.len() - PROMPT.len()].trim_end().to_owned())
        };
        self.until(Duration::from_secs(5), line, |c| printed(c).is_some())
            .await;
        printed(self).unwrap_or_default()
    }

    /// Waits until the output after byte `start` ends with a prompt.
    pub async fn prompt_after(&mut self, start: usize) {
        self.until(Duration::from_secs(5), "prompt", |c| {
            strip_paste_mode(&String::from_utf8_lossy(&c.output[start..]))
                .trim_end()
                .ends_with(PROMPT)
        })
        .await;
    }
}

fn strip_paste_mode(text: &str) -> String {
    text.replace("\u{1b}[?2004l\r", "")
        .replace("\u{1b}[?2004h", "")
        .replace("\u{1b}[?2004l", "")
}

/// Pids whose parent is this process (the shells a test's host started), skipping reaped ones.
pub fn child_pids() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let ppid: i32 = rest.split_whitespace().nth(1).unwrap().parse().unwrap();
        if ppid == me {
            pids.push(pid);
        }
    }
    pids
}

/// Open descriptors of this process that point at a PTY (master or slave).
pub fn pty_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| {
            let t = target.to_string_lossy();
            t.starts_with("/dev/ptmx") || t.starts_with("/dev/pts/")
        })
        .count()
}

/// Whether any process in the system has `needle` in its command line.
pub fn process_running(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            return false;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        cmd.contains(needle)
    })
}

pub async fn eventually(limit: Duration, what: &str, check: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
