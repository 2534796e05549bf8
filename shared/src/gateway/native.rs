//! `POST /bitconn/outbound/{id}/{trigger_key}`: the receiving end of Odoo 18's own "Send Webhook
//! Notification" action. Odoo sends no header, so the key in the path is the credential; the body is only a
//! hint (`_model`, `_id`, sent before Odoo commits), queued for a later re-read, answered at once.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::time::{Duration, SystemTime};

use super::Gateway;
use crate::config::{ModelName, TriggerOn, trigger_for_key};
use crate::error::{Endpoint, GatewayError, json_response};
use crate::outbound::native::{NativeEvent, burst_key, burst_window, ordering_group};
use crate::outbound::queue::Job;
use crate::store::StoreError;

/// Largest body accepted: Odoo's body holds the action's selected fields, and a binary field among them is
/// sent whole (as a Python bytes repr), so this bounds what one post may make the gateway parse and keep.
pub const MAX_NATIVE_BODY_BYTES: usize = 256 * 1024;
/// Longest `_action` kept for the log (Odoo's is `name(#id)`).
const MAX_ACTION_LEN: usize = 256;

/// What is used of Odoo's body; every other key is ignored.
#[derive(Debug)]
struct Hint {
    model: ModelName,
    id: i64,
    action: Option<String>,
    body: Map<String, Value>,
}

fn bad(reason: &'static str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_payload(reason, message)
}

fn parse_hint(body: &[u8]) -> Result<Hint, GatewayError> {
    let body: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(bad(
                "not_an_object",
                "the body must be a JSON object with _model and _id",
            ));
        }
        Err(e) => {
            return Err(GatewayError::InvalidJson {
                detail: e.to_string(),
            });
        }
    };
    let model = match body.get("_model") {
        Some(Value::String(m)) => m
            .parse::<ModelName>()
            .map_err(|e| bad("invalid_model", e.to_string()))?,
        _ => return Err(bad("missing_model", "_model is required, e.g. \"res.partner\"")),
    };
    let id = match body.get("_id") {
        Some(Value::Number(n)) => n.as_i64().filter(|id| *id > 0),
        Some(Value::String(s)) => s.parse::<i64>().ok().filter(|id| *id > 0),
        _ => return Err(bad("missing_id", "_id is required: the record's id")),
    }
    .ok_or_else(|| bad("invalid_id", "_id must be a positive record id"))?;
    let action = body.get("_action").and_then(Value::as_str).map(|a| {
        let mut end = a.len().min(MAX_ACTION_LEN);
        while !a.is_char_boundary(end) {
            end -= 1;
        }
        a[..end].to_owned()
    });
    Ok(Hint {
        model,
        id,
        action,
        body,
    })
}

impl Gateway {
    pub(super) async fn native_call(&self, id: &str, key: &str, request: &Request<Bytes>) -> Response<Bytes> {
        match self.native_steps(id, key, request).await {
            Ok((event_id, queued)) => json_response(
                StatusCode::ACCEPTED,
                &json!({"ok": true, "event_id": event_id, "duplicate": !queued}),
            ),
            Err(e) => e.into_response(),
        }
    }

    async fn native_steps(
        &self,
        id: &str,
        key: &str,
        request: &Request<Bytes>,
    ) -> Result<(String, bool), GatewayError> {
        let config = self.lookup(id, Endpoint::Webhook).await?;
        let now = time::OffsetDateTime::now_utc();
        let Some(trigger) = trigger_for_key(&config.triggers, key, now) else {
            return Err(GatewayError::Unauthorized);
        };
        if request.method() != http::Method::POST {
            return Err(GatewayError::VerbNotAllowed {
                verb: request.method().to_string(),
                allowed: vec!["POST"],
            });
        }
        let Some(queue) = &self.queue else {
            return Err(GatewayError::RouteNotFound);
        };
        if request.body().len() > MAX_NATIVE_BODY_BYTES {
            return Err(GatewayError::PayloadTooLarge {
                limit: MAX_NATIVE_BODY_BYTES,
            });
        }
        let hint = parse_hint(request.body())?;
        if hint.model != trigger.model {
            return Err(bad(
                "model_mismatch",
                format!("this trigger is for {}, not {}", trigger.model, hint.model),
            ));
        }
        if !config.outbound.as_ref().is_some_and(|t| t.enabled) {
            return Err(bad(
                "outbound_disabled",
                "this webhook has no enabled outbound target",
            ));
        }
        if !config.allows_reading(&hint.model) {
            return Err(GatewayError::model_not_allowed(&hint.model));
        }
        let at = SystemTime::now();
        let delay = Duration::from_millis(trigger.reread_delay_ms);
        let dedup = burst_key(
            &config.id,
            &trigger.id,
            &hint.model,
            hint.id,
            at,
            burst_window(delay),
        );
        let event = NativeEvent {
            event_id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
            webhook_id: config.id,
            trigger: trigger.id.clone(),
            model: hint.model,
            id: hint.id,
            action: hint.action,
            sent: (trigger.on == TriggerOn::Unlink).then_some(hint.body),
        };
        let event_id = event.event_id.clone();
        let visible_at = at + delay;
        // An ordered webhook's event takes its place in the group now; its delivery keeps that place.
        let group = ordering_group(&config);
        let queued = queue
            .enqueue_in(&dedup, &Job::Native(event), visible_at, group.as_deref())
            .await
            .map_err(|e| GatewayError::Store(StoreError::Backend(Box::new(e))))?;
        Ok((if queued { event_id } else { dedup }, queued))
    }
}

impl Gateway {
    /// Ids and `field` values (`write_date` or `create_date`) of the records of `model` matching `domain`, in
    /// the order of `field` then id, at most `limit`, as the webhook's Odoo user; and the Odoo calls made.
    /// The domain comes from the webhook's own configuration, never from a caller.
    pub async fn outbound_changed(
        &self,
        config: &crate::config::WebhookConfig,
        model: &ModelName,
        domain: Vec<Value>,
        field: &str,
        limit: usize,
    ) -> Result<(Vec<(i64, String)>, u32), GatewayError> {
        if !config.allows_reading(model) {
            return Err(GatewayError::model_not_allowed(model));
        }
        let calls = crate::odoo::CallCounter::default();
        let session = self.odoo.session(&config.odoo, &calls).await?;
        let mut kwargs = Map::new();
        kwargs.insert("fields".into(), json!([field]));
        kwargs.insert("order".into(), json!(format!("{field} asc, id asc")));
        kwargs.insert("limit".into(), json!(limit));
        let answer = session
            .execute_kw(model.as_str(), "search_read", vec![Value::Array(domain)], kwargs)
            .await?;
        let rows = answer
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| Some((r.get("id")?.as_i64()?, r.get(field)?.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Ok((rows, calls.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/odoo18-native-webhooks/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        file["request"]["body_raw"].as_str().unwrap().as_bytes().to_vec()
    }

    #[test]
    fn every_captured_body_is_accepted() {
        for (name, model, id) in [
            ("01-partner-create.json", "res.partner", 44),
            ("03-partner-write-cleared-values.json", "res.partner", 44),
            ("04-sale-order-confirm.json", "sale.order", 23),
            ("05-partner-all-field-types.json", "res.partner", 48),
            ("06-partner-no-webhook-fields.json", "res.partner", 48),
            ("09-ui-style-action-name.json", "res.partner", 52),
        ] {
            let hint = parse_hint(&capture(name)).unwrap();
            assert_eq!((hint.model.as_str(), hint.id), (model, id), "{name}");
            assert!(hint.action.unwrap().contains("(#"), "{name}");
        }
    }

    #[test]
    fn malformed_bodies_are_named() {
        for (body, code) in [
            (&b"{}"[..], "missing_model"),
            (br#"{"_model":"res.partner"}"#, "missing_id"),
            (br#"{"_model":"res.partner","_id":0}"#, "invalid_id"),
            (br#"{"_model":"res.partner","_id":-3}"#, "invalid_id"),
            (br#"{"_model":"res.partner","_id":1.5}"#, "invalid_id"),
            (br#"{"_model":"Bad Model","_id":1}"#, "invalid_model"),
            (br#"[1]"#, "not_an_object"),
        ] {
            match parse_hint(body) {
                Err(GatewayError::InvalidPayload { reason, .. }) => assert_eq!(reason, code),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        assert!(matches!(
            parse_hint(b"{\"_model\":"),
            Err(GatewayError::InvalidJson { .. })
        ));
        let deep = "[".repeat(100_000);
        assert!(parse_hint(deep.as_bytes()).is_err());
    }
}
