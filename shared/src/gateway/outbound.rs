//! The outbound side of the gateway: `POST /bitconn/outbound/{id}` queues a delivery job (202 once it is
//! durable), and the dispatcher reads the records to send through here, as the webhook's Odoo user.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::time::SystemTime;

use super::Gateway;
use super::schemas::{At, Place};
use crate::config::{ModelName, WebhookConfig};
use crate::error::{Endpoint, GatewayError, json_response};
use crate::extract::{self, fetch};
use crate::odoo::CallCounter;
use crate::outbound::queue::Job;
use crate::outbound::template;
use crate::request::{parse_json, payload_object};
use crate::store::StoreError;

/// Longest `event` name a trigger may give.
pub const MAX_EVENT_LEN: usize = 200;
/// Largest `extra` object a trigger may give, as JSON.
pub const MAX_EXTRA_BYTES: usize = 16 * 1024;

/// A parsed trigger body: `{"model", "ids", "event"?, "extra"?}`.
#[derive(Debug)]
struct Trigger {
    model: ModelName,
    ids: Vec<i64>,
    event: Option<String>,
    extra: Option<Map<String, Value>>,
}

fn bad(reason: &'static str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_payload(reason, message)
}

fn parse_trigger(body: &[u8], max_ids: u32) -> Result<Trigger, GatewayError> {
    let mut object = payload_object(parse_json(body)?)?;
    if let Some(key) = object
        .keys()
        .find(|k| !["model", "ids", "event", "extra"].contains(&k.as_str()))
    {
        return Err(bad(
            "unknown_key",
            format!("unknown key {key:?}: use model, ids, event, extra"),
        ));
    }
    let model = match object.remove("model") {
        Some(Value::String(m)) => m
            .parse::<ModelName>()
            .map_err(|e| bad("invalid_model", e.to_string()))?,
        _ => return Err(bad("missing_model", "model is required, e.g. \"res.partner\"")),
    };
    let ids = match object.remove("ids") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_i64().filter(|id| *id > 0))
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| bad("invalid_ids", "ids must be positive record ids"))?,
        _ => {
            return Err(bad(
                "missing_ids",
                "ids is required: a non-empty list of record ids (the whole model is never sent)",
            ));
        }
    };
    if ids.len() > max_ids as usize {
        return Err(GatewayError::TooManyRecords {
            matched: ids.len(),
            max: max_ids,
        });
    }
    let event = match object.remove("event") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) if !e.is_empty() && e.len() <= MAX_EVENT_LEN => Some(e),
        Some(_) => {
            return Err(bad(
                "invalid_event",
                format!("event is a string of 1 to {MAX_EVENT_LEN} bytes"),
            ));
        }
    };
    let extra = match object.remove("extra") {
        None | Some(Value::Null) => None,
        Some(Value::Object(extra)) if Value::Object(extra.clone()).to_string().len() <= MAX_EXTRA_BYTES => {
            Some(extra)
        }
        Some(_) => {
            return Err(bad(
                "invalid_extra",
                format!("extra is an object of at most {MAX_EXTRA_BYTES} bytes"),
            ));
        }
    };
    Ok(Trigger {
        model,
        ids,
        event,
        extra,
    })
}

/// One job per record, each with its own stable event id (`<event id>_<record id>`, as the dispatcher names
/// the jobs it splits); a single record stays one job under the trigger's event id.
fn per_record(job: &Job) -> Vec<Job> {
    let Job::Deliver { event_id, ids, .. } = job else {
        return vec![job.clone()];
    };
    if ids.len() < 2 {
        return vec![job.clone()];
    }
    ids.iter()
        .map(|id| {
            let mut child = job.clone();
            if let Job::Deliver {
                event_id: child_id,
                ids: child_ids,
                ..
            } = &mut child
            {
                *child_id = format!("{event_id}_{id}");
                *child_ids = vec![*id];
            }
            child
        })
        .collect()
}

impl Gateway {
    pub(super) async fn outbound_call(&self, id: &str, request: &Request<Bytes>) -> Response<Bytes> {
        match self.outbound_steps(id, request).await {
            Ok(event_id) => json_response(StatusCode::ACCEPTED, &json!({"ok": true, "event_id": event_id})),
            Err(e) => e.into_response(),
        }
    }

    async fn outbound_steps(&self, id: &str, request: &Request<Bytes>) -> Result<String, GatewayError> {
        let config = self.authorised(id, request.headers(), Endpoint::Webhook).await?;
        if request.method() != http::Method::POST {
            return Err(GatewayError::VerbNotAllowed {
                verb: request.method().to_string(),
                allowed: vec!["POST"],
            });
        }
        let Some(queue) = &self.queue else {
            return Err(GatewayError::RouteNotFound);
        };
        if request.body().len() > self.settings.max_body_bytes {
            return Err(GatewayError::PayloadTooLarge {
                limit: self.settings.max_body_bytes,
            });
        }
        let trigger = parse_trigger(request.body(), config.limits.max_records_per_change)?;
        let target = match &config.outbound {
            Some(target) if target.enabled => target,
            _ => {
                return Err(bad(
                    "outbound_disabled",
                    "this webhook has no enabled outbound target",
                ));
            }
        };
        if !config.allows_reading(&trigger.model) {
            return Err(GatewayError::model_not_allowed(&trigger.model));
        }
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let job = Job::Deliver {
            event_id: event_id.clone(),
            webhook_id: config.id,
            model: trigger.model,
            ids: trigger.ids,
            event: trigger.event,
            extra: trigger.extra,
        };
        let group = crate::outbound::native::ordering_group(&config);
        // An ordered webhook whose URL is per record gets its per-record jobs now, in order; the dispatcher's
        // own split would queue them behind jobs triggered later.
        let jobs = if group.is_some() && template::has_placeholders(&target.url) {
            per_record(&job)
        } else {
            vec![job]
        };
        for job in &jobs {
            queue
                .enqueue_in(job.event_id(), job, SystemTime::now(), group.as_deref())
                .await
                .map_err(|e| GatewayError::Store(StoreError::Backend(Box::new(e))))?;
        }
        Ok(event_id)
    }

    /// The records `ids` of `model` that still exist, in the order asked, shaped by `spec` (a field spec in
    /// JSON form, `id` always included), read as the webhook's Odoo user with its field rules.
    pub async fn outbound_records(
        &self,
        config: &WebhookConfig,
        model: &ModelName,
        ids: &[i64],
        spec: &[Value],
    ) -> Result<Vec<Value>, GatewayError> {
        Ok(self.outbound_records_counted(config, model, ids, spec).await?.0)
    }

    /// `outbound_records`, and how many Odoo calls it made.
    pub async fn outbound_records_counted(
        &self,
        config: &WebhookConfig,
        model: &ModelName,
        ids: &[i64],
        spec: &[Value],
    ) -> Result<(Vec<Value>, u32), GatewayError> {
        if !config.allows_reading(model) {
            return Err(GatewayError::model_not_allowed(model));
        }
        let mut items = spec.to_vec();
        if !items.iter().any(|i| i.as_str() == Some("id")) {
            items.insert(0, json!("id"));
        }
        let items = extract::spec::parse(&Value::Array(items)).map_err(|e| GatewayError::InvalidField {
            field: e.field.clone().unwrap_or_default(),
            message: e.message.clone(),
        })?;
        let calls = CallCounter::default();
        let session = self.odoo.session(&config.odoo, &calls).await?;
        let plan = self
            .schemas
            .resolve(&session, config, |c| {
                extract::plan(&items, model, c).at(Place::Fields)
            })
            .await?;
        let fetched = fetch::read(&session, model, ids, &plan.fetch).await?;
        let records = fetched.iter().map(|r| extract::shape(r, &plan.outputs)).collect();
        Ok((records, calls.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_bodies_need_a_model_and_ids_and_nothing_unknown() {
        let ok = parse_trigger(
            br#"{"model":"res.partner","ids":[3,1],"event":"x","extra":{"a":1}}"#,
            10,
        )
        .unwrap();
        assert_eq!(
            (ok.model.as_str(), ok.ids, ok.event.as_deref()),
            ("res.partner", vec![3, 1], Some("x"))
        );
        for (body, code) in [
            (&br#"{"model":"res.partner"}"#[..], "missing_ids"),
            (br#"{"model":"res.partner","ids":[]}"#, "missing_ids"),
            (br#"{"model":"res.partner","ids":[0]}"#, "invalid_ids"),
            (br#"{"model":"res.partner","ids":["1"]}"#, "invalid_ids"),
            (br#"{"ids":[1]}"#, "missing_model"),
            (br#"{"model":"Bad Model","ids":[1]}"#, "invalid_model"),
            (br#"{"model":"res.partner","ids":[1],"domain":[]}"#, "unknown_key"),
            (
                br#"{"model":"res.partner","ids":[1],"extra":[1]}"#,
                "invalid_extra",
            ),
            (br#"{"model":"res.partner","ids":[1],"event":7}"#, "invalid_event"),
        ] {
            match parse_trigger(body, 10) {
                Err(GatewayError::InvalidPayload { reason, .. }) => assert_eq!(reason, code),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        assert!(matches!(
            parse_trigger(br#"{"model":"res.partner","ids":[1,2,3]}"#, 2),
            Err(GatewayError::TooManyRecords { matched: 3, max: 2 })
        ));
    }
}
