//! Bitconn Webhook's shared library: everything the Lambda functions, the CLI and the gateway have in common.

pub mod config;
pub mod domain;
pub mod error;
pub mod execution_log;
pub mod extract;
pub mod gateway;
pub mod idempotency;
pub mod odoo;
pub mod outbound;
pub mod request;
pub mod seal;
pub mod secret;
#[cfg(feature = "local-server")]
pub mod server;
pub mod store;
