//! Makes a request body safe to keep in the execution log: credentials removed at any depth, size bounded.

use serde_json::Value;

use super::MAX_LOGGED_BODY_BYTES;

/// What a credential's value is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Appended when a body is cut to `MAX_LOGGED_BODY_BYTES`.
const TRUNCATED_MARK: &str = "…[truncated]";
/// Kept instead of a body that cannot be parsed yet names a credential: its value cannot be located safely.
const WITHHELD: &str = "[body withheld: not valid JSON and it mentions a credential]";

/// Key fragments that mark a value as a credential (compared lowercase, `-` read as `_`).
const CREDENTIAL_KEY_PARTS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "token",
    "authorization",
    "webhook_key",
    "credential",
    "cookie",
];

/// The body as it may be logged: JSON (or JSON5) with every credential-like key's value replaced by
/// `REDACTED`, re-serialised compactly and cut to `MAX_LOGGED_BODY_BYTES`. A body that does not parse is
/// kept as text only when it names no credential.
pub fn redact_and_truncate(body: &str) -> String {
    // The gateway's parser: strict JSON, then JSON5 with nesting bounded (a deep body cannot exhaust the stack).
    match crate::request::parse_json(body.as_bytes()) {
        Ok(value) => redact_json(value),
        Err(_) if mentions_credential(body) => WITHHELD.to_owned(),
        Err(_) => truncate(body.to_owned(), MAX_LOGGED_BODY_BYTES),
    }
}

/// An already parsed body as it may be logged: credential-like keys' values replaced, compact, size-bounded.
pub fn redact_json(mut value: Value) -> String {
    redact(&mut value);
    truncate(value.to_string(), MAX_LOGGED_BODY_BYTES)
}

/// Replaces credential-like keys' values in place, keeping the rest whole (no size bound): for values that are
/// stored to be used again, not only read.
pub fn redact_value(value: &mut Value) {
    redact(value);
}

fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    CREDENTIAL_KEY_PARTS.iter().any(|part| key.contains(part))
}

fn mentions_credential(text: &str) -> bool {
    let text = text.to_ascii_lowercase().replace('-', "_");
    CREDENTIAL_KEY_PARTS.iter().any(|part| text.contains(part))
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if is_credential_key(key) {
                    *value = Value::String(REDACTED.to_owned());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Cuts `text` on a character boundary so that it, with the mark, fits in `max` bytes.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max.saturating_sub(TRUNCATED_MARK.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(TRUNCATED_MARK);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_at_any_depth() {
        let body = r#"{"method":"create","secret":"bcw_x","values":{"name":"A","password":"p",
            "nested":[{"Api-Key":"k1"},{"access_token":"t","keep":1}]},"Authorization":"Bearer bcw_y"}"#;
        let logged = redact_and_truncate(body);
        for leaked in ["bcw_x", "\"p\"", "k1", "\"t\"", "bcw_y"] {
            assert!(!logged.contains(leaked), "{leaked} leaked in {logged}");
        }
        let value: Value = serde_json::from_str(&logged).unwrap();
        assert_eq!(value["method"], "create");
        assert_eq!(value["values"]["name"], "A");
        assert_eq!(value["values"]["password"], REDACTED);
        assert_eq!(value["values"]["nested"][0]["Api-Key"], REDACTED);
        assert_eq!(value["values"]["nested"][1]["keep"], 1);
        assert_eq!(value["Authorization"], REDACTED);
    }

    #[test]
    fn json5_bodies_are_redacted_too() {
        let logged =
            redact_and_truncate("{method: 'create', token: 'abc', /* note */ values: {name: 'B',},}");
        assert!(!logged.contains("abc"));
        let value: Value = serde_json::from_str(&logged).unwrap();
        assert_eq!(value["token"], REDACTED);
        assert_eq!(value["values"]["name"], "B");
    }

    #[test]
    fn unparsable_bodies_are_kept_only_without_credentials() {
        assert_eq!(redact_and_truncate("{not json"), "{not json");
        assert_eq!(redact_and_truncate("{\"secret\": \"bcw_z\""), WITHHELD);
        assert_eq!(redact_and_truncate("x-webhook-key=1"), WITHHELD);
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let body = format!("\"{}\"", "é".repeat(MAX_LOGGED_BODY_BYTES));
        let logged = redact_and_truncate(&body);
        assert!(logged.len() <= MAX_LOGGED_BODY_BYTES);
        assert!(logged.len() > MAX_LOGGED_BODY_BYTES - 8);
        assert!(logged.ends_with(TRUNCATED_MARK));
        let short = redact_and_truncate("{\"a\":1}");
        assert_eq!(short, "{\"a\":1}");
    }
}
