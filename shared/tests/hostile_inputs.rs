//! Property tests: no input to a parser a caller reaches (body, `fields`, domain, order, envelope) panics or
//! overflows the stack, and whatever is accepted is bounded and means what it says. Deep and wide nesting is
//! generated up to the body limit.
#![allow(clippy::unwrap_used)]

use bitconn::config::Limits;
use bitconn::domain::{self, MAX_TERMS};
use bitconn::extract::spec;
use bitconn::request::{Envelope, Operation, Order, json5, parse_json, payload_object};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The gateway's default body limit.
const BODY_LIMIT: usize = 1024 * 1024;

/// Any JSON value, nested a few levels, with strings that look like field names, operators and paths.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            Just("&".to_owned()),
            Just("|".to_owned()),
            Just("!".to_owned()),
            Just("any".to_owned()),
            Just("in".to_owned()),
            Just("=".to_owned()),
            "[a-z_]{1,8}(\\.[a-z_]{1,8}){0,3}",
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Text made of JSON5's structural characters, comments and line terminators (the bytes that fool scanners).
fn json5_noise() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(","),
        Just(":"),
        Just("'"),
        Just("\""),
        Just("\\"),
        Just("//"),
        Just("/*"),
        Just("*/"),
        Just("\n"),
        Just("\r"),
        Just("\u{2028}"),
        Just("\u{2029}"),
        Just("a"),
        Just("1"),
        Just("0x"),
        Just("."),
        Just("e"),
        Just("-"),
        Just("null"),
        Just(" "),
    ];
    prop::collection::vec(piece, 0..400).prop_map(|p| p.concat())
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_json(&bytes).map(payload_object);
    }

    #[test]
    fn json5_structure_never_panics_and_agrees_with_strict_json(text in json5_noise()) {
        let lenient = json5::from_str(&text);
        if let Ok(strict) = serde_json::from_str::<Value>(&text) {
            prop_assert_eq!(lenient.ok(), Some(strict));
        }
    }

    #[test]
    fn deep_nesting_up_to_the_body_limit_is_refused_not_a_crash(
        open in prop::sample::select(vec![("[", "]"), ("{a:", "}"), ("{'a':[", "]}"), ("[//\r", "]"), ("[/*]*/", "]")]),
        depth in 129usize..(BODY_LIMIT / 8),
    ) {
        let body = nested(open.0, open.1, depth);
        prop_assert!(body.len() <= BODY_LIMIT);
        prop_assert!(parse_json(body.as_bytes()).is_err());
        let fields = Value::String(body);
        prop_assert!(spec::parse(&fields).is_err());
    }

    #[test]
    fn domains_never_panic_and_round_trip(value in json_value()) {
        if let Ok(parsed) = domain::parse(&value) {
            let written = parsed.to_json();
            let again = domain::parse(&written).unwrap();
            prop_assert_eq!(again, parsed);
        }
    }

    #[test]
    fn wide_domains_are_flat_or_refused(
        term_count in 1usize..(4 * MAX_TERMS),
        op in prop::sample::select(vec!["&", "|", "implicit"]),
    ) {
        let term = json!(["id", "!=", 0]);
        let mut items: Vec<Value> = Vec::new();
        if op != "implicit" {
            items.extend(std::iter::repeat_n(json!(op), term_count - 1));
        }
        items.extend(std::iter::repeat_n(term, term_count));
        match domain::parse(&Value::Array(items)) {
            Ok(parsed) => {
                prop_assert!(term_count <= MAX_TERMS);
                prop_assert_eq!(parsed.leaves().len(), term_count);
                let _ = parsed.to_json();
            }
            Err(e) => prop_assert!(term_count > MAX_TERMS && (e.0.contains("terms") || e.0.contains("items")), "{}", e.0),
        }
    }

    #[test]
    fn nested_any_and_alternating_operators_are_bounded(depth in 1usize..5000, alternate in any::<bool>()) {
        let term = json!(["id", "!=", 0]);
        let value = if alternate {
            let mut items: Vec<Value> = (0..depth).map(|i| json!(if i % 2 == 0 { "&" } else { "|" })).collect();
            items.extend(std::iter::repeat_n(term, depth + 1));
            Value::Array(items)
        } else {
            let mut v = json!([term]);
            for _ in 0..depth.min(100) {
                v = json!([["child_ids", "any", v]]);
            }
            v
        };
        let _ = domain::parse(&value).map(|d| d.to_json());
    }

    #[test]
    fn field_specs_never_panic(value in json_value(), text in any::<String>()) {
        let _ = spec::parse(&value);
        let _ = spec::parse(&Value::String(text));
    }

    #[test]
    fn orders_never_panic(text in "[a-z_ ,.A-Z]{0,200}|\\PC{0,200}") {
        if let Ok(order) = Order::parse(&text) {
            prop_assert!(!order.to_odoo().is_empty());
        }
    }

    #[test]
    fn envelopes_and_operations_never_panic(value in json_value(), method in "create|write|unlink|search|read|default_payload|x") {
        let mut object = match value {
            Value::Object(o) => o,
            other => [("values".to_owned(), other)].into_iter().collect(),
        };
        object.insert("method".into(), json!(method));
        object.insert("model".into(), json!("res.partner"));
        if let Ok(envelope) = Envelope::parse(object)
            && let Ok(method) = envelope.require_method()
        {
            let _ = Operation::parse(method, envelope.rest, &Limits::default());
        }
    }
}

#[test]
fn a_body_at_the_limit_of_flat_terms_parses_in_bounded_time() {
    let terms: Vec<Value> = (0..BODY_LIMIT / 20).map(|_| json!(["id", "!=", 0])).collect();
    let body = json!({"model": "res.partner", "method": "search", "domain": terms}).to_string();
    let value = parse_json(body.as_bytes()).unwrap();
    let envelope = Envelope::parse(payload_object(value).unwrap()).unwrap();
    let method = envelope.require_method().unwrap();
    assert!(Operation::parse(method, envelope.rest, &Limits::default()).is_err());
}
