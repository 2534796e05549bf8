//! Execution-log entries: one per webhook call, credentials removed, written off the response path.

use bytes::Bytes;
use serde_json::Value;
use std::time::Duration;

use super::Gateway;
use crate::config::WebhookId;
use crate::execution_log::{ExecutionLogEntry, MAX_LOGGED_BODY_BYTES, Outcome};
use crate::request::parse_json;

/// Body keys whose values are never logged (compared case-insensitively, at any depth).
const SECRET_KEYS: &[&str] = &[
    "secret",
    "secret_key",
    "api_key",
    "apikey",
    "password",
    "token",
    "authorization",
    "webhook_key",
];

/// What is known about a call as it progresses. The body is redacted only when an entry is written, so calls
/// to unknown webhooks (which are not logged) cost no parse.
pub(super) struct LogDraft {
    pub webhook_id: Option<WebhookId>,
    pub http_verb: String,
    pub method: Option<String>,
    pub model: Option<String>,
    pub body: Bytes,
}

impl LogDraft {
    pub fn new(verb: &str, body: &Bytes) -> Self {
        Self {
            webhook_id: None,
            http_verb: verb.to_owned(),
            method: None,
            model: None,
            body: body.clone(),
        }
    }
}

/// The body as JSON with secret-looking members replaced, truncated; non-JSON bodies are not kept.
pub(super) fn redacted_body(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let Ok(mut value) = parse_json(body) else {
        return format!("<{} bytes, not JSON>", body.len());
    };
    redact(&mut value);
    let mut text = value.to_string();
    if text.len() > MAX_LOGGED_BODY_BYTES {
        let mut cut = MAX_LOGGED_BODY_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if SECRET_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s)) {
                    *v = Value::String("<redacted>".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

impl Gateway {
    /// Hands the entry to the log. The `ExecutionLog` contract says `record` never blocks on a slow sink
    /// (hosts wrap real sinks in `BackgroundLog`, which only queues), so awaiting it here costs microseconds
    /// and guarantees the entry is handed over before the response leaves, even if the host stops right after.
    pub(super) async fn record(
        &self,
        draft: LogDraft,
        outcome: Outcome,
        status: u16,
        elapsed: Duration,
        odoo_calls: u32,
        error_code: Option<&str>,
    ) {
        let Some(webhook_id) = draft.webhook_id else {
            return;
        };
        let entry = ExecutionLogEntry {
            at: time::OffsetDateTime::now_utc(),
            webhook_id,
            http_verb: draft.http_verb,
            method: draft.method,
            model: draft.model,
            outcome,
            status,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            odoo_calls,
            error_code: error_code.map(str::to_owned),
            request_body: redacted_body(&draft.body),
        };
        if let Err(e) = self.log.record(entry).await {
            tracing::warn!(error = %e, "execution log entry lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_at_any_depth() {
        let body =
            br#"{"model": "res.partner", "secret_key": "bcw_x", "values": {"Password": "p", "name": "A"}}"#;
        let logged = redacted_body(body);
        assert!(!logged.contains("bcw_x") && !logged.contains("\"p\""));
        assert!(logged.contains("res.partner") && logged.contains("<redacted>"));
    }

    #[test]
    fn long_bodies_are_truncated_and_garbage_is_not_kept() {
        let long = format!("{{\"model\": \"{}\"}}", "é".repeat(MAX_LOGGED_BODY_BYTES));
        assert!(redacted_body(long.as_bytes()).len() <= MAX_LOGGED_BODY_BYTES);
        assert_eq!(redacted_body(b"Bearer abc not json"), "<19 bytes, not JSON>");
    }
}
