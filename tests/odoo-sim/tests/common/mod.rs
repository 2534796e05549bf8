//! Helpers shared by the HTTP tests: a running simulator and `execute_kw` calls against it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod native;
pub mod receiver;

use odoo_sim::{RunningSim, SimConfig};
use serde_json::{Value, json};

/// A simulator on a free port and a client for it; the server stops when this is dropped.
pub struct Odoo {
    pub sim: RunningSim,
    client: reqwest::Client,
}

impl Odoo {
    pub async fn start() -> Odoo {
        Odoo::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Odoo {
        Odoo {
            sim: odoo_sim::start(config).await.unwrap(),
            client: http_client(),
        }
    }

    /// `execute_kw` as admin; returns the whole JSON-RPC envelope.
    pub async fn call(&self, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
        self.call_as(2, odoo_sim::DEFAULT_ADMIN_API_KEY, model, method, args, kwargs)
            .await
    }

    /// `execute_kw` as the given user.
    pub async fn call_as(
        &self,
        uid: i64,
        key: &str,
        model: &str,
        method: &str,
        args: Value,
        kwargs: Value,
    ) -> Value {
        let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object",
            "method": "execute_kw", "args": [odoo_sim::DEFAULT_DB, uid, key, model, method, args, kwargs]}});
        self.post(&body).await
    }

    /// Posts a raw JSON-RPC body; returns the decoded answer.
    pub async fn post(&self, body: &Value) -> Value {
        let resp = self
            .client
            .post(format!("{}/jsonrpc", self.sim.url))
            .json(body)
            .send()
            .await
            .expect("the simulator answers");
        resp.json().await.expect("a JSON answer")
    }

    /// The `result` of a call that must succeed.
    pub async fn ok(&self, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
        let r = self.call(model, method, args, kwargs).await;
        assert!(r.get("error").is_none(), "{model}.{method} failed: {r}");
        r["result"].clone()
    }

    /// `(data.name, data.message)` of a call that must fail.
    pub async fn err(&self, model: &str, method: &str, args: Value, kwargs: Value) -> (String, String) {
        let r = self.call(model, method, args, kwargs).await;
        let data = &r["error"]["data"];
        assert!(data.is_object(), "{model}.{method} did not fail: {r}");
        (
            data["name"].as_str().unwrap_or_default().to_owned(),
            data["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Whether the server still answers an ordinary call.
    pub async fn alive(&self) -> bool {
        let r = self
            .call("res.partner", "search_count", json!([[]]), json!({}))
            .await;
        r["result"] == json!(38)
    }
}

/// A plain-HTTP client for the simulator. reqwest carries no TLS crypto provider of its own in this workspace,
/// so one is installed for the process first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
