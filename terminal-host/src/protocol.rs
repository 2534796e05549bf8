//! The WebSocket protocol's JSON control messages; binary frames carry raw PTY bytes and need no envelope.

use serde::{Deserialize, Serialize};

use crate::token::ShellMode;

/// Terminal sizes outside these bounds are clamped: a zero size confuses programs, a huge one wastes memory.
pub const MIN_ROWS: u16 = 2;
pub const MIN_COLS: u16 = 2;
pub const MAX_ROWS: u16 = 500;
pub const MAX_COLS: u16 = 1000;
pub const DEFAULT_SIZE: TermSize = TermSize { rows: 24, cols: 80 };

/// Close codes (RFC 6455 §7.4.1) the host uses, each with a JSON reason.
pub mod close {
    /// Shell exited, idle timeout, session length reached.
    pub const NORMAL: u16 = 1000;
    /// Authentication failed or a message broke the protocol.
    pub const POLICY: u16 = 1008;
    /// The shell could not be started.
    pub const INTERNAL: u16 = 1011;
    /// Every session slot is taken; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    pub rows: u16,
    pub cols: u16,
}

impl TermSize {
    /// Accepts any numbers a client sends and clamps them into the supported range.
    pub fn clamped(rows: u64, cols: u64) -> Self {
        let clamp = |v: u64, min: u16, max: u16| v.clamp(u64::from(min), u64::from(max)) as u16;
        TermSize {
            rows: clamp(rows, MIN_ROWS, MAX_ROWS),
            cols: clamp(cols, MIN_COLS, MAX_COLS),
        }
    }
}

/// Text frames from the browser.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Must be the first message; may carry the initial size so the shell starts at the right width.
    Auth {
        token: String,
        rows: Option<u64>,
        cols: Option<u64>,
    },
    Resize {
        rows: u64,
        cols: u64,
    },
    /// The client's terminal is behind: stop sending output until `resume`.
    Pause,
    Resume,
    Ping {
        id: Option<serde_json::Value>,
    },
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Text frames to the browser.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Authentication succeeded and the shell is running.
    Ready {
        user: String,
        mode: ShellMode,
        /// Unix seconds at which the session is closed whatever happens.
        ends_at: u64,
        idle_timeout_secs: u64,
    },
    Pong {
        id: Option<serde_json::Value>,
    },
    /// The shell ended; `code` is its exit status, `signal` the signal that killed it, if any.
    Exit {
        code: u32,
        signal: Option<String>,
    },
    /// Sent just before a closing frame, with the same code as the close reason.
    Error {
        error: String,
        message: String,
    },
}

impl ServerMessage {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// The JSON reason of a close frame: `{"reason": code}`, kept well under the 123-byte limit.
pub fn close_reason(code: &str) -> String {
    serde_json::json!({ "reason": code }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_client_message() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"auth","token":"t","rows":30,"cols":100}"#).unwrap(),
            ClientMessage::Auth {
                token: "t".into(),
                rows: Some(30),
                cols: Some(100)
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"auth","token":"t"}"#).unwrap(),
            ClientMessage::Auth {
                token: "t".into(),
                rows: None,
                cols: None
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"pause"}"#).unwrap(),
            ClientMessage::Pause
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ping","id":7}"#).unwrap(),
            ClientMessage::Ping { id: Some(7.into()) }
        );
        assert!(ClientMessage::parse(r#"{"type":"resize","rows":-1,"cols":3}"#).is_err());
        assert!(ClientMessage::parse(r#"{"type":"exec"}"#).is_err());
    }

    #[test]
    fn sizes_are_clamped() {
        assert_eq!(
            TermSize::clamped(0, 0),
            TermSize {
                rows: MIN_ROWS,
                cols: MIN_COLS
            }
        );
        assert_eq!(
            TermSize::clamped(u64::MAX, 99_999),
            TermSize {
                rows: MAX_ROWS,
                cols: MAX_COLS
            }
        );
        assert_eq!(TermSize::clamped(40, 120), TermSize { rows: 40, cols: 120 });
    }

    #[test]
    fn server_messages_are_tagged_json() {
        let exit = ServerMessage::Exit {
            code: 3,
            signal: None,
        }
        .to_text();
        assert_eq!(exit, r#"{"type":"exit","code":3,"signal":null}"#);
        assert!(close_reason("token_replayed").len() < 123);
    }
}
