//! What the Lambda functions share: typed config from the environment, JSON tracing, and the adapter that
//! turns API Gateway / function URL events into gateway requests and gateway responses back into events.

mod adapt;
mod config;
mod dispatch;
mod observe;
mod traced;

pub use adapt::{from_gateway_response, handle, to_gateway_request};
pub use config::{ConfigError, FunctionConfig};
pub use dispatch::{DispatchHost, handle_sqs_event, record, run_dispatch};
pub use observe::{CallSummary, LOG_SETTLE_TIMEOUT, ObservedLog};
pub use traced::TracedDeliveryLog;

use bitconn::execution_log::ExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::idempotency::IdempotencyStore;
use bitconn::outbound::deliveries::{DeliveryLog, DynamoDeliveryLog, MemoryDeliveryLog};
use bitconn::outbound::poll::Poller;
use bitconn::outbound::queue::{OpenedQueue, Queue, open_queue};
use bitconn::outbound::{DispatchSettings, Dispatcher};
use bitconn::store::{ConfigStore, StoreOptions};
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

    /// Enables the outbound trigger route, queueing to `queue`.
    pub fn with_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.gateway = self.gateway.with_queue(queue);
        self
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

/// The store options with the AWS configuration loaded once, for the stores and the queue alike.
async fn shared_options(config: &FunctionConfig) -> StoreOptions {
    let options = config.store_options();
    StoreOptions {
        sdk_config: Some(bitconn::store::aws_sdk_config(&options).await),
        ..options
    }
}

/// The gateway with the outbound trigger route on the queue `BITCONN_QUEUE` names (the trigger function).
pub async fn build_trigger(config: &FunctionConfig) -> Result<LambdaGateway, lambda_http::Error> {
    let queue_spec = config.queue_spec()?;
    let options = shared_options(config).await;
    let stores = bitconn::store::open_stores_with(&config.store_spec()?, &options).await?;
    let queue = open_queue(&queue_spec, &options).await?;
    Ok(LambdaGateway::new(
        stores.config,
        stores.log,
        stores.idempotency,
        config.gateway_settings(),
    )
    .with_queue(queue.queue()))
}

/// The dispatcher on the SQS queue `BITCONN_QUEUE` names (the dispatch function), recording attempts in the
/// DynamoDB delivery log and as one log line each.
pub async fn build_dispatch(config: &FunctionConfig) -> Result<DispatchHost, lambda_runtime::Error> {
    let queue_spec = config.queue_spec()?;
    let options = shared_options(config).await;
    let stores = bitconn::store::open_stores_with(&config.store_spec()?, &options).await?;
    let OpenedQueue::Sqs(queue) = open_queue(&queue_spec, &options).await? else {
        return Err(format!(
            "the dispatch function reads SQS events: BITCONN_QUEUE must be sqs:…, not {queue_spec}"
        )
        .into());
    };
    let gateway = Arc::new(Gateway::new(
        stores.config.clone(),
        stores.log,
        stores.idempotency,
        config.gateway_settings(),
    ));
    let deliveries: Arc<dyn DeliveryLog> = match config.deliveries_table()? {
        Some(table) => match &options.sdk_config {
            Some(sdk) => Arc::new(DynamoDeliveryLog::from_sdk_config(
                sdk,
                table,
                options.log_retention,
            )),
            None => Arc::new(MemoryDeliveryLog::new()),
        },
        None => Arc::new(MemoryDeliveryLog::new()),
    };
    let log = Arc::new(TracedDeliveryLog::new(deliveries));
    let dispatcher = Dispatcher::new(
        stores.config,
        queue.clone(),
        log,
        gateway,
        DispatchSettings::default(),
    );
    Ok(DispatchHost { dispatcher, queue })
}

/// The backstop poller of native triggers on the queue `BITCONN_QUEUE` names (the poll function).
pub async fn build_poller(config: &FunctionConfig) -> Result<Poller, lambda_runtime::Error> {
    let queue_spec = config.queue_spec()?;
    let options = shared_options(config).await;
    let stores = bitconn::store::open_stores_with(&config.store_spec()?, &options).await?;
    let queue = open_queue(&queue_spec, &options).await?;
    let gateway = Arc::new(Gateway::new(
        stores.config.clone(),
        stores.log,
        stores.idempotency,
        config.gateway_settings(),
    ));
    Ok(Poller::new(stores.config, queue.queue(), gateway))
}

/// Runs one poll round per scheduled event (whatever the event holds) and answers what it queued; a round
/// that cannot list the webhooks is an error, so the schedule's failure metrics show it.
pub async fn run_poller(poller: Poller) -> Result<(), lambda_runtime::Error> {
    let poller = Arc::new(poller);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let poller = Arc::clone(&poller);
            async move { poll_round(&poller).await }
        },
    ))
    .await
}

/// One round of `poller`, summarised: the triggers polled, records seen, deliveries queued and Odoo calls.
pub async fn poll_round(poller: &Poller) -> Result<serde_json::Value, lambda_runtime::Error> {
    let reports = poller.tick().await?;
    let summary = serde_json::json!({
        "polled": reports.len(),
        "seen": reports.iter().map(|r| r.seen).sum::<usize>(),
        "queued": reports.iter().map(|r| r.queued).sum::<usize>(),
        "odoo_calls": reports.iter().map(|r| u64::from(r.calls)).sum::<u64>(),
    });
    tracing::info!(%summary, "poll round");
    Ok(summary)
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
