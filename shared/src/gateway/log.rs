//! Execution-log entries: one per webhook call, credentials removed, written off the response path.

use bytes::Bytes;
use std::time::Duration;

use super::Gateway;
use crate::config::WebhookId;
use crate::execution_log::{ExecutionLogEntry, Outcome, redact_json};
use crate::request::parse_json;

/// What is known about a call as it progresses. The body joins the draft only once the caller has
/// authenticated, and is redacted only when an entry is written: a rejected call is logged with its metadata,
/// and nothing it sent is parsed or stored.
pub(super) struct LogDraft {
    pub webhook_id: Option<WebhookId>,
    pub http_verb: String,
    pub method: Option<String>,
    pub model: Option<String>,
    pub body: Option<Bytes>,
}

impl LogDraft {
    pub fn new(verb: &str) -> Self {
        Self {
            webhook_id: None,
            http_verb: verb.to_owned(),
            method: None,
            model: None,
            body: None,
        }
    }
}

/// The body with credentials removed (the execution log's one redaction), size-bounded; a body that is not
/// JSON is never kept, only its size.
pub(super) fn redacted_body(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    match parse_json(body) {
        Ok(value) => redact_json(value),
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
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
            request_body: draft.body.as_deref().map(redacted_body).unwrap_or_default(),
        };
        if let Err(e) = self.log.record(entry).await {
            tracing::warn!(error = %e, "execution log entry lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution_log::MAX_LOGGED_BODY_BYTES;

    #[test]
    fn secrets_are_removed_at_any_depth() {
        let body =
            br#"{"model": "res.partner", "secret_key": "bcw_x", "values": {"Password": "p", "name": "A"}}"#;
        let logged = redacted_body(body);
        assert!(!logged.contains("bcw_x") && !logged.contains("\"p\""));
        assert!(logged.contains("res.partner") && logged.contains(crate::execution_log::REDACTED));
    }

    #[test]
    fn credential_like_keys_are_removed_too() {
        let body =
            br#"{"model": "x", "values": {"access_token": "t1", "client_secret": "s1", "X-Api-Key": "k1"}}"#;
        let logged = redacted_body(body);
        for leaked in ["t1", "s1", "k1"] {
            assert!(!logged.contains(leaked), "{leaked} in {logged}");
        }
    }

    #[test]
    fn long_bodies_are_truncated_and_garbage_is_not_kept() {
        let long = format!("{{\"model\": \"{}\"}}", "é".repeat(MAX_LOGGED_BODY_BYTES));
        assert!(redacted_body(long.as_bytes()).len() <= MAX_LOGGED_BODY_BYTES);
        assert_eq!(redacted_body(b"Bearer abc not json"), "<19 bytes, not JSON>");
    }
}
