//! Lambda function `poll`: on its EventBridge schedule, the backstop poller of native triggers with `--poll` finds records changed in Odoo since each trigger's cursor and queues their deliveries; wiring only.

use bitconn_lambda::FunctionConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = FunctionConfig::from_env()?;
    bitconn_lambda::init_tracing(&config);
    let poller = bitconn_lambda::build_poller(&config).await?;
    tracing::info!(store = %config.store, "poll function ready");
    bitconn_lambda::run_poller(poller).await
}
