//! Lambda function `trigger`: `POST /bitconn/outbound/{id}` queues a delivery job on SQS and answers 202; wiring only, the route lives in the `bitconn` library.

use bitconn_lambda::FunctionConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config = FunctionConfig::from_env()?;
    bitconn_lambda::init_tracing(&config);
    let gateway = bitconn_lambda::build_trigger(&config).await?;
    tracing::info!(store = %config.store, "trigger function ready");
    bitconn_lambda::run(gateway).await
}
