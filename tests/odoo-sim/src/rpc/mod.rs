//! JSON-RPC services as Odoo's `/jsonrpc` dispatches them: `common`, `object`, `db`.

mod args;
mod call;
mod common;
mod object;

use std::time::Duration;

use serde_json::Value;

use crate::Sim;
use crate::control::CallRecord;
use crate::error::{OdooError, OdooResult};

/// What a call is, for the log, before it runs.
pub fn describe(params: &Value) -> CallRecord {
    let service = params
        .get("service")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let method = params
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let args = params.get("args").and_then(Value::as_array);
    let (model, model_method) = if service == "object" {
        let at = |i: usize| {
            args.and_then(|a| a.get(i))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        (at(3), at(4))
    } else {
        (None, None)
    };
    CallRecord {
        service,
        method,
        model,
        model_method,
        duration: Duration::ZERO,
    }
}

/// Runs one call; `Ok(None)` is a Python `None` (no `result` member).
/// `retries`: serialization failures the call's transaction hits (a fault injected for tests).
pub fn dispatch(sim: &Sim, params: &Value, retries: u32) -> (OdooResult<Option<Value>>, CallRecord) {
    let record = describe(params);
    let empty = Vec::new();
    let args = params.get("args").and_then(Value::as_array).unwrap_or(&empty);
    let outcome = match record.service.as_str() {
        "common" => common::call(sim, &record.method, args).map(Some),
        "db" => common::db(sim, &record.method, args).map(Some),
        "object" => object::call(sim, &record.method, args, retries),
        other => Err(OdooError::new("builtins.KeyError", other.to_owned())),
    };
    (outcome, record)
}
