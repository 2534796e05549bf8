//! The one audit line each terminal session leaves behind (target `terminal_host::audit`).

use std::time::SystemTime;

use crate::terminal::ExitInfo;
use crate::token::ShellMode;

/// Why a session ended, as it appears in the audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    ShellExited,
    ClientClosed,
    IdleTimeout,
    MaxLength,
    ServerShutdown,
    /// The client took no frame for `SEND_TIMEOUT`: it stopped reading.
    SendTimeout,
    ProtocolError,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ShellExited => "shell_exited",
            EndReason::ClientClosed => "client_closed",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::MaxLength => "max_session_length",
            EndReason::ServerShutdown => "server_shutdown",
            EndReason::SendTimeout => "send_timeout",
            EndReason::ProtocolError => "protocol_error",
        }
    }
}

/// What is known about a session when it ends.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: String,
    pub mode: ShellMode,
    pub jti: String,
    pub peer: String,
    pub pid: u32,
    pub started: SystemTime,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Emits the audit line: who, which shell, when, how much, how it ended.
pub fn session_ended(record: &SessionRecord, reason: EndReason, exit: &ExitInfo) {
    let ended = SystemTime::now();
    let duration_ms = ended
        .duration_since(record.started)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    tracing::info!(
        target: "terminal_host::audit",
        user = %record.user,
        mode = %record.mode,
        jti = %record.jti,
        peer = %record.peer,
        pid = record.pid,
        start = %humantime::format_rfc3339_millis(record.started),
        end = %humantime::format_rfc3339_millis(ended),
        duration_ms = duration_ms as u64,
        bytes_in = record.bytes_in,
        bytes_out = record.bytes_out,
        exit_code = exit.code,
        exit_signal = exit.signal.as_deref().unwrap_or(""),
        reason = reason.as_str(),
        "terminal session ended"
    );
}
