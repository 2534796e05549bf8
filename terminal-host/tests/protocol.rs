//! Property tests: the parser of client text frames takes any bytes without panicking, refuses oversized
//! input before parsing it, and whatever it accepts stays within the protocol's bounds.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use terminal_host::protocol::{
    ClientMessage, MAX_COLS, MAX_CONTROL_MESSAGE, MAX_PING_ID, MAX_ROWS, MIN_COLS, MIN_ROWS, ParseError,
    PingId, ServerMessage, TermSize,
};

/// Arbitrary JSON, nested a few levels, with numbers of every kind (huge, negative, fractional).
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Numbers as a client might write them, including ones no integer type holds.
fn any_number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        "[0-9]{19,60}",
        "-?[0-9]{1,5}\\.[0-9]{1,5}(e[+-]?[0-9]{1,4})?",
    ]
}

fn message_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("auth".to_owned()),
        Just("resize".to_owned()),
        Just("pause".to_owned()),
        Just("resume".to_owned()),
        Just("ping".to_owned()),
        ".{0,12}",
    ]
}

fn assert_within_bounds(message: &ClientMessage) {
    match message {
        ClientMessage::Resize { rows, cols } => {
            let size = TermSize::clamped(*rows, *cols);
            assert!((MIN_ROWS..=MAX_ROWS).contains(&size.rows), "{size:?}");
            assert!((MIN_COLS..=MAX_COLS).contains(&size.cols), "{size:?}");
        }
        ClientMessage::Ping { id } => {
            if let Some(PingId::Text(text)) = id {
                assert!(text.len() <= MAX_PING_ID);
            }
            let pong = ServerMessage::Pong { id: id.clone() }.to_text();
            assert!(pong.len() <= MAX_CONTROL_MESSAGE + 64, "{}", pong.len());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_bytes_parse_without_panicking(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(message) = ClientMessage::parse_bytes(&data) {
            assert_within_bounds(&message);
        }
    }

    #[test]
    fn any_string_parses_without_panicking(text in ".{0,512}") {
        if let Ok(message) = ClientMessage::parse(&text) {
            assert_within_bounds(&message);
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_parsing(pad in MAX_CONTROL_MESSAGE..4 * MAX_CONTROL_MESSAGE) {
        let text = format!(r#"{{"type":"pause","pad":"{}"}}"#, "x".repeat(pad));
        prop_assert!(matches!(ClientMessage::parse(&text), Err(ParseError::TooLarge(n)) if n == text.len()));
    }

    #[test]
    fn resize_with_any_numbers_is_refused_or_clamped(
        kind in message_type(),
        rows in any_number_text(),
        cols in any_number_text(),
    ) {
        let text = format!(r#"{{"type":"{kind}","rows":{rows},"cols":{cols},"token":"t"}}"#);
        if let Ok(message) = ClientMessage::parse(&text) {
            assert_within_bounds(&message);
        }
    }

    #[test]
    fn json_shaped_messages_are_refused_or_bounded(kind in message_type(), fields in any_json(), id in any_json()) {
        let mut object = match fields {
            Value::Object(map) => map,
            other => [("rows".to_owned(), other)].into_iter().collect(),
        };
        object.insert("type".into(), Value::String(kind));
        object.insert("id".into(), id);
        let text = Value::Object(object).to_string();
        if let Ok(message) = ClientMessage::parse(&text) {
            assert_within_bounds(&message);
        }
    }

    #[test]
    fn any_requested_size_is_clamped(rows in any::<u64>(), cols in any::<u64>()) {
        let size = TermSize::clamped(rows, cols);
        prop_assert!((MIN_ROWS..=MAX_ROWS).contains(&size.rows));
        prop_assert!((MIN_COLS..=MAX_COLS).contains(&size.cols));
    }
}
