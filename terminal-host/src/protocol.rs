//! The WebSocket protocol's JSON control messages; binary frames carry raw PTY bytes and need no envelope.

use serde::{Deserialize, Serialize};

use crate::token::ShellMode;

/// Terminal sizes outside these bounds are clamped: a zero size confuses programs, a huge one wastes memory.
pub const MIN_ROWS: u16 = 2;
pub const MIN_COLS: u16 = 2;
pub const MAX_ROWS: u16 = 500;
pub const MAX_COLS: u16 = 1000;
pub const DEFAULT_SIZE: TermSize = TermSize { rows: 24, cols: 80 };
/// Largest WebSocket message (and frame) a client may send: keystrokes and pastes, which the page slices
/// into 64 KiB. A larger one ends the connection.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Largest JSON control message: `auth` with its token is the biggest, at a few hundred bytes.
pub const MAX_CONTROL_MESSAGE: usize = 8 * 1024;
/// Longest `ping` id string echoed back in `pong`.
pub const MAX_PING_ID: usize = 128;

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
        id: Option<PingId>,
    },
}

/// What a client may tag a `ping` with: a number or a short string, echoed back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PingId {
    Number(serde_json::Number),
    Text(String),
}

/// Why a text frame is not a control message the host acts on.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("control message of {0} bytes; at most {MAX_CONTROL_MESSAGE} are read")]
    TooLarge(usize),
    #[error("ping id longer than {MAX_PING_ID} bytes")]
    PingIdTooLong,
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::parse_bytes(text.as_bytes())
    }

    /// Parses one client text frame. Any bytes are accepted as input: oversized frames are refused before
    /// JSON parsing (serde_json also bounds nesting at 128), so memory stays a small multiple of
    /// [`MAX_CONTROL_MESSAGE`] and nothing can panic.
    pub fn parse_bytes(data: &[u8]) -> Result<Self, ParseError> {
        if data.len() > MAX_CONTROL_MESSAGE {
            return Err(ParseError::TooLarge(data.len()));
        }
        let message: ClientMessage = serde_json::from_slice(data)?;
        if let ClientMessage::Ping {
            id: Some(PingId::Text(id)),
        } = &message
            && id.len() > MAX_PING_ID
        {
            return Err(ParseError::PingIdTooLong);
        }
        Ok(message)
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
        id: Option<PingId>,
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
            ClientMessage::Ping {
                id: Some(PingId::Number(7.into()))
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ping"}"#).unwrap(),
            ClientMessage::Ping { id: None }
        );
        assert!(ClientMessage::parse(r#"{"type":"resize","rows":-1,"cols":3}"#).is_err());
        assert!(ClientMessage::parse(r#"{"type":"exec"}"#).is_err());
    }

    #[test]
    fn hostile_control_messages_are_refused_cheaply() {
        let padded = format!(r#"{{"type":"pause","x":"{}"}}"#, "a".repeat(MAX_CONTROL_MESSAGE));
        assert!(matches!(
            ClientMessage::parse(&padded),
            Err(ParseError::TooLarge(_))
        ));
        let deep = format!("{}{}", "[".repeat(4000), "]".repeat(4000));
        assert!(matches!(ClientMessage::parse(&deep), Err(ParseError::Json(_))));
        let long_id = format!(r#"{{"type":"ping","id":"{}"}}"#, "i".repeat(MAX_PING_ID + 1));
        assert!(matches!(
            ClientMessage::parse(&long_id),
            Err(ParseError::PingIdTooLong)
        ));
        for nested in [
            r#"{"type":"ping","id":[1,[2]]}"#,
            r#"{"type":"ping","id":{"a":1}}"#,
        ] {
            assert!(ClientMessage::parse(nested).is_err(), "{nested}");
        }
        for absurd in [
            r#"{"type":"resize","rows":1e400,"cols":3}"#,
            r#"{"type":"resize","rows":18446744073709551616,"cols":3}"#,
            r#"{"type":"resize","rows":2.5,"cols":3}"#,
        ] {
            assert!(ClientMessage::parse(absurd).is_err(), "{absurd}");
        }
        assert!(ClientMessage::parse_bytes(b"{\"type\":\"pause\",\"x\":\"\xff\"}").is_err());
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
