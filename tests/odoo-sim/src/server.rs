//! HTTP layer: `POST /jsonrpc` with Odoo's envelopes, and the `/__sim/*` control routes.

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::control::{CallRecord, FaultPlan, Latency};
use crate::error::OdooError;
use crate::{Sim, rpc};

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/jsonrpc", post(jsonrpc))
        .route("/__sim/calls", get(get_calls).delete(delete_calls))
        .route("/__sim/reset", post(reset))
        .route("/__sim/faults", post(post_fault).delete(delete_faults))
        .route("/__sim/latency", post(post_latency))
        .route("/__sim/version", post(post_version))
        .route("/__sim/webhooks", get(get_webhooks).delete(delete_webhooks))
        .with_state(sim)
}

/// Real Odoo closes the connection after each JSON-RPC answer.
fn with_close(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Like an Odoo worker, a call runs to its end even when the client stops waiting (e.g. a gateway timeout):
/// it runs in a task of its own, which dropping this handler does not cancel.
async fn jsonrpc(State(sim): State<Sim>, body: Bytes) -> Response {
    match tokio::spawn(run_call(sim, body)).await {
        Ok(response) => response,
        Err(_) => with_close(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

async fn run_call(sim: Sim, body: Bytes) -> Response {
    let started = Instant::now();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return with_close((StatusCode::BAD_REQUEST, "Invalid JSON data").into_response());
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    let plan = sim.inner.control.plan();
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let (outcome, mut call) = match &plan.error {
        Some((name, message)) => (Err(OdooError::new(name, message.clone())), rpc::describe(&params)),
        // The ORM is synchronous and a call may wait on webhook receivers: it runs on a blocking thread.
        None => {
            let (s, p, retries) = (sim.clone(), params.clone(), plan.retries);
            match tokio::task::spawn_blocking(move || rpc::dispatch(&s, &p, retries)).await {
                Ok(done) => done,
                Err(_) => (
                    Err(OdooError::new(
                        "builtins.RuntimeError",
                        "the call stopped unexpectedly",
                    )),
                    rpc::describe(&params),
                ),
            }
        }
    };
    call.duration = started.elapsed();
    sim.inner.control.record(call);
    if plan.drop {
        let stream = futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::other("dropped by fault injection"))
        });
        return with_close(Response::new(Body::from_stream(stream)));
    }
    let envelope = match outcome {
        Ok(Some(result)) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Ok(None) => json!({"jsonrpc": "2.0", "id": id}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}),
    };
    with_close(Json(envelope).into_response())
}

async fn get_calls(State(sim): State<Sim>) -> Json<Value> {
    let calls: Vec<CallRecord> = sim.calls();
    Json(json!({"count": calls.len(), "counters": sim.inner.control.counters(), "calls": calls}))
}

async fn delete_calls(State(sim): State<Sim>) -> StatusCode {
    sim.clear_calls();
    StatusCode::NO_CONTENT
}

async fn get_webhooks(State(sim): State<Sim>) -> Json<Value> {
    let calls = sim.webhook_calls();
    Json(json!({"count": calls.len(), "calls": calls}))
}

async fn delete_webhooks(State(sim): State<Sim>) -> StatusCode {
    sim.clear_webhook_calls();
    StatusCode::NO_CONTENT
}

async fn reset(State(sim): State<Sim>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn post_fault(State(sim): State<Sim>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultPlan>(&body) {
        Ok(plan) => {
            sim.inject_fault(plan);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("invalid fault plan: {e}")).into_response(),
    }
}

async fn delete_faults(State(sim): State<Sim>) -> StatusCode {
    sim.clear_faults();
    StatusCode::NO_CONTENT
}

async fn post_latency(State(sim): State<Sim>, body: Bytes) -> Response {
    match serde_json::from_slice::<Latency>(&body) {
        Ok(l) => {
            sim.set_latency(l);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("invalid latency: {e}")).into_response(),
    }
}

async fn post_version(State(sim): State<Sim>, body: Bytes) -> Response {
    let v: Option<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(s)) => Some(s),
        Ok(Value::Object(m)) => m.get("version").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    match v {
        Some(v) => {
            sim.set_server_version(&v);
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::BAD_REQUEST, "expected {\"version\": \"16.0\"}").into_response(),
    }
}
