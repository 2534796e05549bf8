//! Reading a request body: strict JSON first, then JSON5 (comments, trailing commas, single quotes) as the original tolerates.

use serde_json::{Map, Value};

use crate::error::GatewayError;

/// Strict JSON, else JSON5. An empty body is an error, as in the original (`Expecting value`).
pub fn parse_json(body: &[u8]) -> Result<Value, GatewayError> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let strict = match serde_json::from_slice::<Value>(body) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(GatewayError::InvalidJson {
            detail: "the body is not UTF-8 text".into(),
        });
    };
    if text.trim().is_empty() {
        return Err(GatewayError::InvalidJson {
            detail: "Expecting value: the body is empty".into(),
        });
    }
    let invalid = || GatewayError::InvalidJson {
        detail: strict.to_string(),
    };
    super::json5::from_str(text).map_err(|e| match e.message.contains("nest") {
        true => GatewayError::InvalidJson {
            detail: e.to_string(),
        },
        false => invalid(),
    })
}

/// The payload object; falsy bodies (`null`, `{}`, `[]`, `false`, `0`, `""`) count as `{}` like the original's.
pub fn payload_object(value: Value) -> Result<Map<String, Value>, GatewayError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null | Value::Bool(false) => Ok(Map::new()),
        Value::Array(a) if a.is_empty() => Ok(Map::new()),
        Value::String(s) if s.is_empty() => Ok(Map::new()),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Map::new()),
        _ => Err(GatewayError::invalid_payload(
            "not_an_object",
            "the body must be a JSON object such as {\"model\": \"res.partner\", \"method\": \"search\"}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::json5::MAX_NESTING;
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_json_and_json5_are_accepted() {
        assert_eq!(
            parse_json(br#"{"model": "res.partner"}"#).unwrap(),
            json!({"model": "res.partner"})
        );
        let lenient = b"{\n // a comment\n 'model': 'res.partner',\n \"ids\": [1, 2,],\n}";
        assert_eq!(
            parse_json(lenient).unwrap(),
            json!({"model": "res.partner", "ids": [1, 2]})
        );
        assert_eq!(
            parse_json("\u{feff}{\"a\": 1}".as_bytes()).unwrap(),
            json!({"a": 1})
        );
    }

    #[test]
    fn garbage_and_empty_bodies_are_invalid_json() {
        for body in [&b""[..], b"   ", b"{model: ", b"not json", b"\xff\xfe"] {
            assert!(
                matches!(parse_json(body), Err(GatewayError::InvalidJson { .. })),
                "{body:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_invalid_json_not_a_stack_overflow() {
        for open in ["[", "{\"a\":", "['x',", "[// \r", "[// \u{2028}", "[/**/"] {
            let body = open.repeat(100_000);
            assert!(
                matches!(parse_json(body.as_bytes()), Err(GatewayError::InvalidJson { .. })),
                "{open}"
            );
        }
        let within = format!("{}1,{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(parse_json(within.as_bytes()).is_ok());
        let beyond = format!("{}1,{}", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
        assert!(parse_json(beyond.as_bytes()).is_err());
        let quoted = format!(
            "{{'a': '{}', /* {} */ \"b\": \"\\\"{}\",}}",
            "[".repeat(500),
            "{".repeat(500),
            "[".repeat(500)
        );
        assert_eq!(
            parse_json(quoted.as_bytes()).unwrap()["a"].as_str().map(str::len),
            Some(500)
        );
    }

    #[test]
    fn falsy_payloads_are_empty_and_other_scalars_refused() {
        for v in [
            json!(null),
            json!({}),
            json!([]),
            json!(false),
            json!(0),
            json!(""),
        ] {
            assert!(payload_object(v).unwrap().is_empty());
        }
        for v in [json!([1]), json!("x"), json!(3), json!(true)] {
            assert!(matches!(
                payload_object(v),
                Err(GatewayError::InvalidPayload {
                    reason: "not_an_object",
                    ..
                })
            ));
        }
    }
}
