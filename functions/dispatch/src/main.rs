//! Lambda function `dispatch`: the outbound dispatcher on SQS events (deliver, sign, retry through visibility, dead-letter), answering partial batch failures; wiring only.

use bitconn_lambda::FunctionConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = FunctionConfig::from_env()?;
    bitconn_lambda::init_tracing(&config);
    let host = bitconn_lambda::build_dispatch(&config).await?;
    tracing::info!(store = %config.store, "dispatch function ready");
    bitconn_lambda::run_dispatch(host).await
}
