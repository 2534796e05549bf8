//! One terminal session: authenticate the first message, start the shell, pump bytes, end and audit it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::admission::Pending;
use crate::audit::{self, EndReason, SessionRecord};
use crate::protocol::{ClientMessage, DEFAULT_SIZE, ServerMessage, TermSize, close, close_reason};
use crate::state::State;
use crate::terminal::{Pipes, Terminal};
use crate::token::{self, Claims, ShellMode};

/// Largest binary frame sent to the browser; smaller PTY reads queued together are coalesced up to it.
const MAX_OUTPUT_FRAME: usize = 64 * 1024;
/// Input bytes accepted from the socket but not yet taken by the shell; past this the socket is not read.
const MAX_PENDING_INPUT: usize = 256 * 1024;
/// After the shell exits, how long its last output may take to arrive before the session ends anyway.
const EXIT_DRAIN: Duration = Duration::from_millis(500);
/// Closing messages to a client that stopped reading must not hold the session open.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);
/// A frame the client has not taken within this long ends the session: it stopped reading. Well above what
/// a slow link needs for one 64 KiB frame, and a paused client is sent nothing.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
type Stream<S> = SplitStream<WebSocketStream<S>>;

/// Runs a freshly upgraded socket from authentication to the audit line. `pending` is the connection's
/// place among the unauthenticated ones, given back once it is a session.
pub async fn serve<S>(ws: WebSocketStream<S>, peer: SocketAddr, state: Arc<State>, pending: Pending)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let (claims, size) = match authenticate(&mut stream, &state).await {
        Ok(auth) => auth,
        Err((code, reason)) => return refuse(&mut sink, code, reason, &peer).await,
    };
    let argv = match claims.shell {
        ShellMode::Bash => Some(&state.config.bash_command),
        ShellMode::Odoo => state.config.odoo_command.as_ref(),
    };
    let Some(argv) = argv else {
        return refuse(&mut sink, close::POLICY, "shell_unavailable", &peer).await;
    };
    // The slot is taken before the token is spent, so a full host does not burn a valid token.
    let Ok(_slot) = state.slots.clone().try_acquire_owned() else {
        return refuse(&mut sink, close::TRY_AGAIN_LATER, "too_many_sessions", &peer).await;
    };
    if let Err(e) = state.replay.consume(&claims) {
        return refuse(&mut sink, close::POLICY, e.code(), &peer).await;
    }
    drop(pending);
    let config = &state.config;
    let (terminal, pipes) = match Terminal::spawn(argv, &config.shell_env, &config.workdir, size) {
        Ok(spawned) => spawned,
        Err(error) => {
            tracing::error!(error = %error_chain(&error), user = %claims.sub, "shell did not start");
            return refuse(&mut sink, close::INTERNAL, "spawn_failed", &peer).await;
        }
    };
    let started = SystemTime::now();
    let now = Instant::now();
    let ends_at = started + config.max_session_length;
    let ready = ServerMessage::Ready {
        user: claims.sub.clone(),
        mode: claims.shell,
        ends_at: ends_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        idle_timeout_secs: config.idle_timeout.as_secs(),
    };
    let mut record = SessionRecord {
        user: claims.sub.clone(),
        mode: claims.shell,
        jti: claims.jti.clone(),
        peer: peer.to_string(),
        pid: terminal.pid(),
        started,
        bytes_in: 0,
        bytes_out: 0,
    };
    tracing::info!(user = %claims.sub, mode = %claims.shell, pid = record.pid, %peer, "terminal session started");
    let mut pump = Pump {
        terminal,
        pipes,
        record: &mut record,
        paused: false,
        ends_at: now + config.max_session_length,
        idle_at: now + config.idle_timeout,
        idle_timeout: config.idle_timeout,
        shutdown: state.shutdown.clone(),
    };
    let reason = match pump.send(&mut sink, Message::text(ready.to_text())).await {
        Ok(()) => pump.run(&mut sink, &mut stream).await,
        Err(reason) => reason,
    };
    let Pump { terminal, pipes, .. } = pump;
    drop(pipes);
    let exit = terminal.terminate(config.kill_grace).await;
    // A client that closed, or stopped reading, would not take the goodbye.
    if !matches!(reason, EndReason::ClientClosed | EndReason::SendTimeout) {
        let exit_msg = ServerMessage::Exit {
            code: exit.code,
            signal: exit.signal.clone(),
        };
        goodbye(&mut sink, Some(exit_msg), close::NORMAL, reason.as_str()).await;
    }
    audit::session_ended(&record, reason, &exit);
}

/// Waits for the `auth` message and checks its token (everything but single use).
async fn authenticate<S>(
    stream: &mut Stream<S>,
    state: &State,
) -> Result<(Claims, TermSize), (u16, &'static str)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = timeout(state.config.auth_timeout, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return Some(ClientMessage::parse(&text).ok()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(_)) => return Some(None),
                None | Some(Err(_)) => return None,
            }
        }
    })
    .await;
    let (token, rows, cols) = match first {
        Err(_) => return Err((close::POLICY, "auth_timeout")),
        Ok(None) => return Err((close::POLICY, "closed_before_auth")),
        Ok(Some(Some(ClientMessage::Auth { token, rows, cols }))) => (token, rows, cols),
        Ok(Some(_)) => return Err((close::POLICY, "auth_required")),
    };
    let claims = token::verify(&state.config.secret, &token).map_err(|e| (close::POLICY, e.code()))?;
    let size = match (rows, cols) {
        (Some(rows), Some(cols)) => TermSize::clamped(rows, cols),
        _ => DEFAULT_SIZE,
    };
    Ok((claims, size))
}

/// The running session's state between the socket and the PTY.
struct Pump<'a> {
    terminal: Terminal,
    pipes: Pipes,
    record: &'a mut SessionRecord,
    paused: bool,
    /// `WS_MAX_SESSION_LENGTH` after the start, whatever the client does.
    ends_at: Instant,
    /// Moved forward by every keystroke.
    idle_at: Instant,
    idle_timeout: Duration,
    shutdown: watch::Receiver<bool>,
}

impl Pump<'_> {
    async fn run<S>(&mut self, sink: &mut Sink<S>, stream: &mut Stream<S>) -> EndReason
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
        let mut pending_bytes = 0usize;
        let mut output_open = true;
        let mut drain_until: Option<Instant> = None;
        loop {
            // Arms that answer the client yield the frame; it is sent after the select, within limits.
            let outgoing = tokio::select! {
                _ = self.shutdown.changed() => return EndReason::ServerShutdown,
                _ = sleep_until(self.ends_at) => return EndReason::MaxLength,
                _ = sleep_until(self.idle_at) => return EndReason::IdleTimeout,
                _ = sleep_until(drain_until.unwrap_or_else(Instant::now)), if drain_until.is_some() => {
                    return EndReason::ShellExited;
                }
                _ = self.terminal.exited(), if !self.terminal.has_exited() => {
                    if !output_open {
                        return EndReason::ShellExited;
                    }
                    drain_until = Some(Instant::now() + EXIT_DRAIN);
                    None
                }
                permit = self.pipes.input.reserve(), if !pending.is_empty() => {
                    match (permit, pending.pop_front()) {
                        (Ok(permit), Some(data)) => {
                            pending_bytes -= data.len();
                            permit.send(data);
                        }
                        _ => {
                            pending.clear();
                            pending_bytes = 0;
                        }
                    }
                    None
                }
                chunk = self.pipes.output.recv(), if output_open && !self.paused => match chunk {
                    Some(mut data) => {
                        while data.len() < MAX_OUTPUT_FRAME {
                            match self.pipes.output.try_recv() {
                                Ok(more) => data.extend_from_slice(&more),
                                Err(_) => break,
                            }
                        }
                        self.record.bytes_out += data.len() as u64;
                        Some(Message::binary(data))
                    }
                    None => {
                        output_open = false;
                        if self.terminal.has_exited() {
                            return EndReason::ShellExited;
                        }
                        None
                    }
                },
                msg = stream.next(), if pending_bytes < MAX_PENDING_INPUT => match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return EndReason::ClientClosed,
                    Some(Ok(Message::Binary(data))) => {
                        self.record.bytes_in += data.len() as u64;
                        pending_bytes += data.len();
                        pending.push_back(data.to_vec());
                        self.idle_at = Instant::now() + self.idle_timeout;
                        None
                    }
                    Some(Ok(Message::Text(text))) => control(&self.terminal, &mut self.paused, &text)
                        .map(|reply| Message::text(reply.to_text())),
                    Some(Ok(_)) => None,
                },
            };
            if let Some(message) = outgoing
                && let Err(reason) = self.send(sink, message).await
            {
                return reason;
            }
        }
    }

    /// Sends one frame, giving up at the first of: [`SEND_TIMEOUT`], the idle or length limit, the host
    /// stopping. A client that stops reading therefore cannot keep its session (or its shell) alive.
    async fn send<S>(&mut self, sink: &mut Sink<S>, message: Message) -> Result<(), EndReason>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let give_up = Instant::now() + SEND_TIMEOUT;
        tokio::select! {
            sent = sink.send(message) => sent.map_err(|_| EndReason::ClientClosed),
            _ = sleep_until(give_up) => Err(EndReason::SendTimeout),
            _ = sleep_until(self.idle_at) => Err(EndReason::IdleTimeout),
            _ = sleep_until(self.ends_at) => Err(EndReason::MaxLength),
            _ = self.shutdown.changed() => Err(EndReason::ServerShutdown),
        }
    }
}

/// Applies a control message; returns the reply, if it has one. Unknown or broken JSON is ignored, as the
/// original did, so a newer page can talk to an older host.
fn control(terminal: &Terminal, paused: &mut bool, text: &str) -> Option<ServerMessage> {
    match ClientMessage::parse(text) {
        Ok(ClientMessage::Resize { rows, cols }) => terminal.resize(TermSize::clamped(rows, cols)),
        Ok(ClientMessage::Pause) => *paused = true,
        Ok(ClientMessage::Resume) => *paused = false,
        Ok(ClientMessage::Ping { id }) => return Some(ServerMessage::Pong { id }),
        Ok(ClientMessage::Auth { .. }) => {}
        Err(error) => tracing::debug!(%error, "ignored control message"),
    }
    None
}

/// Refuses a connection that never became a session: a JSON error, then a close frame with the same code.
async fn refuse<S>(sink: &mut Sink<S>, code: u16, reason: &'static str, peer: &SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::warn!(%peer, code, reason, "terminal connection refused");
    let message = match code {
        close::TRY_AGAIN_LATER => "every terminal slot is in use; try again later",
        close::INTERNAL => "the shell could not be started",
        _ => "authentication failed; ask for a fresh token",
    };
    let error = ServerMessage::Error {
        error: reason.to_owned(),
        message: message.to_owned(),
    };
    goodbye(sink, Some(error), code, reason).await;
}

async fn goodbye<S>(sink: &mut Sink<S>, last: Option<ServerMessage>, code: u16, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: code.into(),
        reason: close_reason(reason).into(),
    };
    let _ = timeout(GOODBYE_TIMEOUT, async {
        if let Some(last) = last {
            sink.send(Message::text(last.to_text())).await?;
        }
        sink.send(Message::Close(Some(frame))).await?;
        sink.close().await
    })
    .await;
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
