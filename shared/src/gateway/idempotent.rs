//! `Idempotency-Key` on webhook calls: reserve the key before the call, replay a kept answer, refuse a reused or
//! running key, and settle the reservation with what the call answered.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::json;
use time::OffsetDateTime;

use super::Gateway;
use crate::config::WebhookConfig;
use crate::error::{GatewayError, json_response};
use crate::execution_log::Outcome;
use crate::idempotency::{
    IdempotencyKey, MAX_STORED_BODY_BYTES, REPLAYED_HEADER, Record, State, StoredResponse, fingerprint,
};
use crate::odoo::OdooError;

/// Codes of the answers given instead of running a call.
const INVALID_KEY: &str = "invalid_idempotency_key";
const KEY_REUSED: &str = "idempotency_key_reused";
const IN_PROGRESS: &str = "idempotency_in_progress";
/// A kept 409 for a key whose first call may or may not have changed Odoo.
pub const OUTCOME_UNKNOWN: &str = "idempotency_outcome_unknown";
/// A kept 409 for a key whose first call succeeded with an answer too large to keep.
pub const ANSWER_NOT_KEPT: &str = "idempotency_answer_not_kept";
/// Methods that change nothing in Odoo: a failed one can simply run again under the same key.
const READ_ONLY_METHODS: [&str; 3] = ["search", "read", "default_payload"];

/// What the key check decided.
pub(super) enum Admission {
    /// Run the call, then settle this reservation (`None`: the call has no key).
    Run(Option<Record>),
    /// Answer without running the call: a replay or a refusal, with its outcome and code for the log.
    Answer(Response<Bytes>, Outcome, Option<String>),
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Admission {
    let response = json_response(status, &json!({"ok": false, "error": code, "message": message}));
    Admission::Answer(response, Outcome::Rejected, Some(code.to_owned()))
}

fn replay(stored: StoredResponse) -> Admission {
    let mut response = Response::new(stored.body);
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    if let Ok(value) = HeaderValue::from_str(&stored.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    let outcome = if response.status().is_success() {
        Outcome::Success
    } else {
        Outcome::Rejected
    };
    Admission::Answer(response, outcome, None)
}

impl Gateway {
    /// Reads the request's key and reserves it for `config`'s webhook; called once the caller is authenticated.
    pub(super) async fn admit_key(
        &self,
        config: &WebhookConfig,
        request: &Request<Bytes>,
    ) -> Result<Admission, GatewayError> {
        let key = match IdempotencyKey::from_headers(request.headers()) {
            Ok(Some(key)) => key,
            Ok(None) => return Ok(Admission::Run(None)),
            Err(invalid) => {
                return Ok(refusal(
                    StatusCode::BAD_REQUEST,
                    INVALID_KEY,
                    &invalid.to_string(),
                ));
            }
        };
        let now = OffsetDateTime::now_utc();
        let claim = Record {
            webhook_id: config.id,
            key,
            token: uuid::Uuid::new_v4().to_string(),
            fingerprint: fingerprint(request.body()),
            state: State::InProgress,
            created_at: now,
            expires_at: now + self.settings.idempotency_ttl,
        };
        let Some(first) = self.idempotency.reserve(&claim).await? else {
            return Ok(Admission::Run(Some(claim)));
        };
        if first.fingerprint != claim.fingerprint {
            return Ok(refusal(
                StatusCode::CONFLICT,
                KEY_REUSED,
                "this Idempotency-Key was first used with a different request body; send a new request under a new key",
            ));
        }
        Ok(match first.state {
            State::Done(stored) => replay(stored),
            State::Blocked { code, message } => refusal(StatusCode::CONFLICT, &code, &message),
            State::InProgress => self.running(now - first.created_at),
        })
    }

    /// The answer to a repeat of a call that has been running for `running_for`.
    fn running(&self, running_for: time::Duration) -> Admission {
        let lease = self.settings.idempotency_lease;
        let left = lease.checked_sub(running_for.try_into().unwrap_or_default());
        let Some(left) = left.filter(|left| !left.is_zero()) else {
            return refusal(
                StatusCode::CONFLICT,
                OUTCOME_UNKNOWN,
                "the first call with this Idempotency-Key never finished (the server handling it may have stopped); \
                 whether it changed anything in Odoo is unknown: check in Odoo before sending the request again \
                 under a new key",
            );
        };
        let retry_after = left.min(self.settings.odoo_timeout).as_secs().max(1);
        let mut admission = refusal(
            StatusCode::CONFLICT,
            IN_PROGRESS,
            "the first call with this Idempotency-Key is still running; repeat the request after Retry-After seconds",
        );
        if let Admission::Answer(response, ..) = &mut admission {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        admission
    }

    /// Keeps the call's answer under its key, blocks the key when the outcome is unknown, or releases it.
    pub(super) async fn settle_key(
        &self,
        mut reservation: Record,
        unanswered: bool,
        method: Option<&str>,
        response: &Response<Bytes>,
    ) {
        let settled = match settlement(unanswered, method, response) {
            Some(state) => {
                reservation.state = state;
                self.idempotency.settle(&reservation).await
            }
            None => self.idempotency.release(&reservation).await,
        };
        if let Err(e) = settled {
            // The reservation stays in progress; after the lease, repeats are told the outcome is unknown.
            tracing::warn!(webhook = %reservation.webhook_id, error = %e, "cannot settle an idempotency key");
        }
    }
}

/// Whether Odoo may have received a request of the call and finished it after the gateway stopped waiting
/// (a timeout, a connection lost after connecting, an answer that could not be read). A fault is Odoo's own
/// answer (its transaction was rolled back); the gateway's other failures happen before Odoo is reached.
pub(super) fn unanswered(error: &GatewayError) -> bool {
    match error {
        GatewayError::Odoo(OdooError::Timeout(_) | OdooError::Protocol(_)) => true,
        GatewayError::Odoo(OdooError::Unreachable(e)) => !e.is_connect(),
        _ => false,
    }
}

/// What a finished call leaves under its key; `None` releases the key so the same request can run again.
/// Answers below 500 are kept; a 5xx releases the key unless a changing call went `unanswered`.
fn settlement(unanswered: bool, method: Option<&str>, response: &Response<Bytes>) -> Option<State> {
    let changes = !method.is_some_and(|m| READ_ONLY_METHODS.contains(&m));
    let status = response.status();
    if status.is_server_error() {
        return (unanswered && changes).then(|| State::Blocked {
            code: OUTCOME_UNKNOWN.to_owned(),
            message: format!(
                "the first call with this Idempotency-Key reached Odoo but got no answer (HTTP {}); whether it \
                 changed anything is unknown: check in Odoo (e.g. search for the record) before sending the request \
                 again under a new key",
                status.as_u16()
            ),
        });
    }
    let body = response.body();
    if body.len() > MAX_STORED_BODY_BYTES {
        return changes.then(|| State::Blocked {
            code: ANSWER_NOT_KEPT.to_owned(),
            message: format!(
                "the first call with this Idempotency-Key answered HTTP {} with {} bytes, more than the {MAX_STORED_BODY_BYTES} \
                 kept for replay; read the outcome from Odoo",
                status.as_u16(),
                body.len()
            ),
        });
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    Some(State::Done(StoredResponse {
        status: status.as_u16(),
        content_type,
        body: body.clone(),
    }))
}
