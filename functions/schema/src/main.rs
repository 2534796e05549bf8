//! Lambda function `schema`: `GET /bitconn/webhook/{id}/schema` and `/required`; wiring only, the gateway lives in the `bitconn` library.

use bitconn_lambda::FunctionConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config = FunctionConfig::from_env()?;
    bitconn_lambda::init_tracing(&config);
    let gateway = bitconn_lambda::build_gateway(&config).await?;
    tracing::info!(store = %config.store, "schema function ready");
    bitconn_lambda::run(gateway).await
}
