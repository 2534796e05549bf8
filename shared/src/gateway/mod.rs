//! The inbound gateway: routes, webhook lookup, authentication, and the CRUD, schema and required handlers.
//! Framework-neutral (`http::Request<Bytes>` in, `http::Response<Bytes>` out); hosts adapt their own types.

mod auth;
mod business;
mod commands;
mod crud;
mod idempotent;
mod inbound;
mod log;
mod names;
mod native;
#[cfg(feature = "local-server")]
pub mod openapi;
mod outbound;
#[cfg(feature = "local-server")]
mod router;
mod schema;
mod schemas;

pub use auth::presented_secret;
pub use native::MAX_NATIVE_BODY_BYTES;
pub use outbound::{MAX_EVENT_LEN, MAX_EXTRA_BYTES};
#[cfg(feature = "local-server")]
pub use router::router;

use bytes::Bytes;
use http::{Method as HttpMethod, Request, Response, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Endpoint, GatewayError, json_response};
use crate::execution_log::ExecutionLog;
use crate::idempotency::{DEFAULT_IDEMPOTENCY_TTL, IdempotencyStore};
use crate::odoo::OdooClient;
use crate::store::ConfigStore;
use schemas::SchemaCache;

pub const DEFAULT_ODOO_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_ODOO_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_SCHEMA_CACHE_TTL: Duration = Duration::from_secs(60);
/// How long a call under an `Idempotency-Key` may run before a repeat is told its outcome is unknown (the
/// process running it is then presumed gone). Well above what a call's Odoo requests can take.
pub const DEFAULT_IDEMPOTENCY_LEASE: Duration = Duration::from_secs(10 * 60);

const WEBHOOK_PREFIX: &str = "/bitconn/webhook/";
const OUTBOUND_PREFIX: &str = "/bitconn/outbound/";

#[derive(Clone, Debug)]
pub struct GatewaySettings {
    /// Used in `default_payload` answers; e.g. `https://hooks.example.com`.
    pub public_base_url: Option<String>,
    pub odoo_connect_timeout: Duration,
    pub odoo_timeout: Duration,
    pub max_body_bytes: usize,
    /// How long a model's `fields_get` answer is trusted.
    pub schema_cache_ttl: Duration,
    /// How long an `Idempotency-Key` and its first call's answer are kept.
    pub idempotency_ttl: Duration,
    /// See `DEFAULT_IDEMPOTENCY_LEASE`.
    pub idempotency_lease: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            public_base_url: None,
            odoo_connect_timeout: DEFAULT_ODOO_CONNECT_TIMEOUT,
            odoo_timeout: DEFAULT_ODOO_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            schema_cache_ttl: DEFAULT_SCHEMA_CACHE_TTL,
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
            idempotency_lease: DEFAULT_IDEMPOTENCY_LEASE,
        }
    }
}

/// Cheap to share (hold it in an `Arc`): one HTTP client and one set of caches for the whole process.
pub struct Gateway {
    store: Arc<dyn ConfigStore>,
    log: Arc<dyn ExecutionLog>,
    idempotency: Arc<dyn IdempotencyStore>,
    settings: GatewaySettings,
    odoo: OdooClient,
    schemas: SchemaCache,
    /// Where `POST /bitconn/outbound/{id}` queues jobs; without one that route answers 404.
    queue: Option<Arc<dyn crate::outbound::queue::Queue>>,
}

enum Route<'a> {
    Health,
    Webhook(&'a str),
    Schema(&'a str),
    Required(&'a str),
    Outbound(&'a str),
    /// A native Odoo trigger: webhook id and trigger key.
    Native(&'a str, &'a str),
    Unknown,
}

fn route(path: &str) -> Route<'_> {
    if path == "/healthz" {
        return Route::Health;
    }
    if let Some(id) = path
        .strip_prefix(OUTBOUND_PREFIX)
        .map(|r| r.trim_end_matches('/'))
        && !id.is_empty()
        && !id.contains('/')
    {
        return Route::Outbound(id);
    }
    if let Some((id, key)) = path
        .strip_prefix(OUTBOUND_PREFIX)
        .and_then(|r| r.trim_end_matches('/').split_once('/'))
        && !id.is_empty()
        && !key.is_empty()
        && !key.contains('/')
    {
        return Route::Native(id, key);
    }
    let Some(rest) = path.strip_prefix(WEBHOOK_PREFIX) else {
        return Route::Unknown;
    };
    let rest = rest.trim_end_matches('/');
    match rest.split_once('/') {
        None if !rest.is_empty() => Route::Webhook(rest),
        Some((id, "schema")) => Route::Schema(id),
        Some((id, "required")) => Route::Required(id),
        _ => Route::Unknown,
    }
}

impl Gateway {
    /// `idempotency` holds the `Idempotency-Key`s of webhook calls; it must be shared by every process serving
    /// the same webhooks (the store's own adapter, not memory, when there are several).
    pub fn new(
        store: Arc<dyn ConfigStore>,
        log: Arc<dyn ExecutionLog>,
        idempotency: Arc<dyn IdempotencyStore>,
        settings: GatewaySettings,
    ) -> Self {
        let odoo = OdooClient::new(settings.odoo_connect_timeout, settings.odoo_timeout);
        Self {
            store,
            log,
            idempotency,
            schemas: SchemaCache::new(settings.schema_cache_ttl),
            odoo,
            settings,
            queue: None,
        }
    }

    /// Enables the outbound trigger route: jobs go to `queue`.
    pub fn with_queue(mut self, queue: Arc<dyn crate::outbound::queue::Queue>) -> Self {
        self.queue = Some(queue);
        self
    }

    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Serves every inbound route. Never panics on caller input; records one execution-log entry per webhook call.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        match route(request.uri().path()) {
            Route::Health => json_response(StatusCode::OK, &json!({"ok": true})),
            Route::Webhook(id) => self.webhook_call(id, &request).await,
            Route::Outbound(id) => self.outbound_call(id, &request).await,
            Route::Native(id, key) => self.native_call(id, key, &request).await,
            Route::Schema(_) | Route::Required(_) if request.method() != HttpMethod::GET => {
                GatewayError::VerbNotAllowed {
                    verb: request.method().to_string(),
                    allowed: vec!["GET"],
                }
                .into_response()
            }
            Route::Schema(id) => self
                .schema_call(id, &request, false)
                .await
                .unwrap_or_else(GatewayError::into_response),
            Route::Required(id) => self
                .schema_call(id, &request, true)
                .await
                .unwrap_or_else(GatewayError::into_response),
            Route::Unknown => GatewayError::RouteNotFound.into_response(),
        }
    }

    /// The webhook, if it exists, is enabled and accepts the presented credential (404, then 401).
    async fn authorised(
        &self,
        id: &str,
        headers: &http::HeaderMap,
        endpoint: Endpoint,
    ) -> Result<crate::config::WebhookConfig, GatewayError> {
        let config = self.lookup(id, endpoint).await?;
        check_credentials(&config, headers)?;
        Ok(config)
    }

    async fn lookup(
        &self,
        id: &str,
        endpoint: Endpoint,
    ) -> Result<crate::config::WebhookConfig, GatewayError> {
        let Ok(id) = id.parse() else {
            return Err(GatewayError::WebhookNotFound(endpoint));
        };
        match self.store.get(&id).await? {
            Some(config) if config.enabled => Ok(config),
            _ => Err(GatewayError::WebhookNotFound(endpoint)),
        }
    }
}

/// 401 unless the request presents one of the webhook's current secrets.
fn check_credentials(
    config: &crate::config::WebhookConfig,
    headers: &http::HeaderMap,
) -> Result<(), GatewayError> {
    let accepted =
        presented_secret(headers).is_some_and(|s| config.accepts_secret(s, time::OffsetDateTime::now_utc()));
    if accepted {
        Ok(())
    } else {
        Err(GatewayError::Unauthorized)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(route("/healthz"), Route::Health));
        assert!(matches!(route("/bitconn/webhook/abc"), Route::Webhook("abc")));
        assert!(matches!(route("/bitconn/webhook/abc/"), Route::Webhook("abc")));
        assert!(matches!(
            route("/bitconn/webhook/abc/schema"),
            Route::Schema("abc")
        ));
        assert!(matches!(
            route("/bitconn/webhook/abc/required"),
            Route::Required("abc")
        ));
        assert!(matches!(route("/bitconn/webhook/abc/other"), Route::Unknown));
        assert!(matches!(route("/bitconn/outbound/abc"), Route::Outbound("abc")));
        assert!(matches!(
            route("/bitconn/outbound/abc/x"),
            Route::Native("abc", "x")
        ));
        assert!(matches!(route("/bitconn/outbound/abc/x/y"), Route::Unknown));
        assert!(matches!(route("/bitconn/webhook/"), Route::Unknown));
        assert!(matches!(route("/"), Route::Unknown));
    }
}
