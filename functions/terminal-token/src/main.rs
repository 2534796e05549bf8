//! Lambda function `terminal-token`: `POST {login, password, mode?}` → a one-time terminal-host token for
//! Odoo administrators; wiring only, the handler lives in this crate's library.

use terminal_token::{Settings, TokenService, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();
    let service = TokenService::new(Settings::from_env()?);
    let service = &service;
    lambda_http::run(lambda_http::service_fn(move |request| handle(service, request))).await
}
