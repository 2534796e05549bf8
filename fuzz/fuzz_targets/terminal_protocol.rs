//! Fuzzes terminal-host's parser of client text frames (JSON control messages) with arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terminal_host::protocol::{
    ClientMessage, MAX_COLS, MAX_CONTROL_MESSAGE, MAX_PING_ID, MAX_ROWS, MIN_COLS, MIN_ROWS, ParseError,
    PingId, ServerMessage, TermSize,
};

fuzz_target!(|data: &[u8]| {
    match ClientMessage::parse_bytes(data) {
        Ok(ClientMessage::Resize { rows, cols }) => {
            let size = TermSize::clamped(rows, cols);
            assert!((MIN_ROWS..=MAX_ROWS).contains(&size.rows));
            assert!((MIN_COLS..=MAX_COLS).contains(&size.cols));
        }
        Ok(ClientMessage::Ping { id }) => {
            if let Some(PingId::Text(text)) = &id {
                assert!(text.len() <= MAX_PING_ID);
            }
            assert!(ServerMessage::Pong { id }.to_text().len() <= MAX_CONTROL_MESSAGE + 64);
        }
        Ok(_) => assert!(data.len() <= MAX_CONTROL_MESSAGE),
        Err(ParseError::TooLarge(n)) => assert!(n == data.len() && n > MAX_CONTROL_MESSAGE),
        Err(_) => {}
    }
});
