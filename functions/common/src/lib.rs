//! What the Lambda functions share: typed config from the environment, JSON tracing, and the adapter that
//! turns API Gateway / function URL events into gateway requests and gateway responses back into events.

mod adapt;
mod config;
mod observe;

pub use adapt::{from_gateway_response, handle, to_gateway_request};
pub use config::{ConfigError, FunctionConfig};
pub use observe::{CallSummary, LOG_SETTLE_TIMEOUT, ObservedLog};

use bitconn::execution_log::ExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::idempotency::IdempotencyStore;
use bitconn::store::ConfigStore;
use std::sync::Arc;

/// The gateway as a Lambda function holds it: built once, with its execution log observed per request.
pub struct LambdaGateway {
    gateway: Gateway,
    log: Arc<ObservedLog>,
}

impl LambdaGateway {
    pub fn new(
        store: Arc<dyn ConfigStore>,
        log: Arc<dyn ExecutionLog>,
        idempotency: Arc<dyn IdempotencyStore>,
        settings: GatewaySettings,
    ) -> Self {
        let log = Arc::new(ObservedLog::new(log));
        Self {
            gateway: Gateway::new(store, log.clone(), idempotency, settings),
            log,
        }
    }
}

/// JSON logs on stdout (CloudWatch), filtered by `RUST_LOG`; no ANSI colours, no timestamps (Lambda adds them).
pub fn init_tracing(config: &FunctionConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(config::DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// Opens the store and builds the gateway, once per execution environment.
pub async fn build_gateway(config: &FunctionConfig) -> Result<LambdaGateway, lambda_http::Error> {
    let spec = config.store_spec()?;
    let stores = bitconn::store::open_stores_with(&spec, &config.store_options()).await?;
    Ok(LambdaGateway::new(
        stores.config,
        stores.log,
        stores.idempotency,
        config.gateway_settings(),
    ))
}

/// Serves Lambda events with `gateway` until the runtime stops the process.
pub async fn run(gateway: LambdaGateway) -> Result<(), lambda_http::Error> {
    let gateway = Arc::new(gateway);
    lambda_http::run(lambda_http::service_fn(move |request| {
        let gateway = Arc::clone(&gateway);
        async move { handle(&gateway, request).await }
    }))
    .await
}
