//! Lambda function `inbound`: `POST /bitconn/webhook/{id}` (create, write, unlink, search, read, default_payload); wiring only, the gateway lives in the `bitconn` library.

use bitconn_lambda::FunctionConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config = FunctionConfig::from_env()?;
    bitconn_lambda::init_tracing(&config);
    let gateway = bitconn_lambda::build_gateway(&config).await?;
    tracing::info!(store = %config.store, "inbound function ready");
    bitconn_lambda::run(gateway).await
}
