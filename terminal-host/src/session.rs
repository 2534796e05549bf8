//! One terminal session: authenticate the first message, start the shell, pump bytes, end and audit it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::audit::{self, EndReason, SessionRecord};
use crate::protocol::{ClientMessage, DEFAULT_SIZE, ServerMessage, TermSize, close, close_reason};
use crate::server::State;
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

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
type Stream<S> = SplitStream<WebSocketStream<S>>;

/// Runs a freshly upgraded socket from authentication to the audit line.
pub async fn serve<S>(ws: WebSocketStream<S>, peer: SocketAddr, state: Arc<State>)
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
    let config = &state.config;
    let (terminal, pipes) = match Terminal::spawn(argv, &config.shell_env, &config.workdir, size) {
        Ok(spawned) => spawned,
        Err(error) => {
            tracing::error!(error = %error_chain(&error), user = %claims.sub, "shell did not start");
            return refuse(&mut sink, close::INTERNAL, "spawn_failed", &peer).await;
        }
    };
    let started = SystemTime::now();
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
        state: &state,
    };
    let reason = match sink.send(Message::text(ready.to_text())).await {
        Ok(()) => pump.run(&mut sink, &mut stream).await,
        Err(_) => EndReason::ClientClosed,
    };
    let Pump { terminal, pipes, .. } = pump;
    drop(pipes);
    let exit = terminal.terminate(config.kill_grace).await;
    if reason != EndReason::ClientClosed {
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
    state: &'a State,
}

impl Pump<'_> {
    async fn run<S>(&mut self, sink: &mut Sink<S>, stream: &mut Stream<S>) -> EndReason
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let state = self.state;
        let config = &state.config;
        let mut shutdown = state.shutdown.clone();
        let deadline = sleep(config.max_session_length);
        let idle = sleep(config.idle_timeout);
        tokio::pin!(deadline, idle);
        let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
        let mut pending_bytes = 0usize;
        let mut output_open = true;
        let mut drain_until: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return EndReason::ServerShutdown,
                _ = &mut deadline => return EndReason::MaxLength,
                _ = &mut idle => return EndReason::IdleTimeout,
                _ = sleep_until(drain_until.unwrap_or_else(Instant::now)), if drain_until.is_some() => {
                    return EndReason::ShellExited;
                }
                _ = self.terminal.exited(), if !self.terminal.has_exited() => {
                    if !output_open {
                        return EndReason::ShellExited;
                    }
                    drain_until = Some(Instant::now() + EXIT_DRAIN);
                }
                permit = self.pipes.input.reserve(), if !pending.is_empty() => match (permit, pending.pop_front()) {
                    (Ok(permit), Some(data)) => {
                        pending_bytes -= data.len();
                        permit.send(data);
                    }
                    _ => {
                        pending.clear();
                        pending_bytes = 0;
                    }
                },
                chunk = self.pipes.output.recv(), if output_open && !self.paused => match chunk {
                    Some(mut data) => {
                        while data.len() < MAX_OUTPUT_FRAME {
                            match self.pipes.output.try_recv() {
                                Ok(more) => data.extend_from_slice(&more),
                                Err(_) => break,
                            }
                        }
                        self.record.bytes_out += data.len() as u64;
                        if sink.send(Message::binary(data)).await.is_err() {
                            return EndReason::ClientClosed;
                        }
                    }
                    None => {
                        output_open = false;
                        if self.terminal.has_exited() {
                            return EndReason::ShellExited;
                        }
                    }
                },
                msg = stream.next(), if pending_bytes < MAX_PENDING_INPUT => match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return EndReason::ClientClosed,
                    Some(Ok(Message::Binary(data))) => {
                        self.record.bytes_in += data.len() as u64;
                        pending_bytes += data.len();
                        pending.push_back(data.to_vec());
                        idle.as_mut().reset(Instant::now() + config.idle_timeout);
                    }
                    Some(Ok(Message::Text(text))) => {
                        if let Some(reply) = control(&self.terminal, &mut self.paused, &text)
                            && sink.send(Message::text(reply.to_text())).await.is_err()
                        {
                            return EndReason::ClientClosed;
                        }
                    }
                    Some(Ok(_)) => {}
                },
            }
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
