//! Shared harness of the inbound tests: the Odoo simulator and the gateway's router, each on a free port,
//! a memory config store and execution log, and helpers that send requests and return (status, JSON).
#![allow(dead_code, clippy::unwrap_used)]

pub mod native;

use bitconn::config::{ModelAccess, NewWebhook, OdooConnection, Permissions, WebhookConfig};
use bitconn::execution_log::{ExecutionLog, ExecutionLogEntry, LogQuery, MemoryExecutionLog};
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::idempotency::MemoryIdempotencyStore;
use bitconn::secret::PlainSecret;
use bitconn::store::{ConfigStore, MemoryConfigStore};
use odoo_sim::{RunningSim, SimConfig};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct Harness {
    pub sim: RunningSim,
    pub url: String,
    pub store: Arc<MemoryConfigStore>,
    pub log: Arc<MemoryExecutionLog>,
    pub idempotency: Arc<MemoryIdempotencyStore>,
    pub gateway: Arc<Gateway>,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A webhook stored in the harness's store, with its secret in clear.
pub struct Hook {
    pub config: WebhookConfig,
    pub secret: PlainSecret,
}

impl Hook {
    pub fn id(&self) -> String {
        self.config.id.to_string()
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default(), GatewaySettings::default()).await
    }

    pub async fn start_with(sim_config: SimConfig, settings: GatewaySettings) -> Self {
        let sim = odoo_sim::start(sim_config).await.unwrap();
        let store = Arc::new(MemoryConfigStore::new());
        let log = Arc::new(MemoryExecutionLog::new());
        let idempotency = Arc::new(MemoryIdempotencyStore::new());
        let gateway = Arc::new(Gateway::new(
            store.clone(),
            log.clone(),
            idempotency.clone(),
            settings,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = bitconn::gateway::router(gateway.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            sim,
            url,
            store,
            log,
            idempotency,
            gateway,
            http: bitconn::odoo::tls::http_client_builder().build().unwrap(),
            server,
        }
    }

    /// The connection of the sim's admin (uid 2) or integrator (uid 8) with its API key.
    pub fn odoo(&self, login: &str) -> OdooConnection {
        let api_key = if login == "admin" {
            odoo_sim::DEFAULT_ADMIN_API_KEY
        } else {
            odoo_sim::DEFAULT_INTEGRATOR_API_KEY
        };
        OdooConnection {
            url: self.sim.url.clone(),
            db: odoo_sim::DEFAULT_DB.into(),
            login: login.into(),
            api_key: api_key.into(),
        }
    }

    /// A webhook as admin on every model with all permissions, adjusted by `edit`, saved in the store.
    pub async fn hook(&self, edit: impl FnOnce(&mut WebhookConfig)) -> Hook {
        let new = NewWebhook {
            name: "test".into(),
            odoo: self.odoo("admin"),
            models: ModelAccess::All,
            permissions: Permissions {
                can_create: true,
                can_write: true,
                can_unlink: true,
            },
        };
        let (mut config, secret) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
        edit(&mut config);
        self.store.create(&config).await.unwrap();
        Hook { config, secret }
    }

    pub async fn post(&self, hook: &Hook, body: Value) -> (u16, Value) {
        self.post_raw(
            &hook.id(),
            Some(hook.secret.expose()),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn post_raw(&self, id: &str, secret: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/bitconn/webhook/{id}", self.url))
            .body(body);
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        read(request.send().await.unwrap()).await
    }

    pub async fn get(&self, hook: &Hook, path_and_query: &str) -> (u16, Value) {
        let url = format!("{}/bitconn/webhook/{}/{path_and_query}", self.url, hook.id());
        read(
            self.http
                .get(url)
                .bearer_auth(hook.secret.expose())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The log entries of `hook`, waiting briefly for the background writer.
    pub async fn log_entries(&self, hook: &Hook, at_least: usize) -> Vec<ExecutionLogEntry> {
        for _ in 0..100 {
            let entries = self
                .log
                .query(&LogQuery {
                    webhook_id: Some(hook.config.id),
                    ..Default::default()
                })
                .await
                .unwrap();
            if entries.len() >= at_least {
                let mut entries = entries;
                entries.sort_by_key(|e| e.at);
                return entries;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {at_least} log entries");
    }

    /// Odoo calls the sim received as (model, method) pairs, oldest first.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.sim
            .sim
            .calls()
            .into_iter()
            .map(|c| (c.model.unwrap_or_default(), c.model_method.unwrap_or(c.method)))
            .collect()
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

pub fn example(name: &str) -> Value {
    let path = format!("{}/../../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}
