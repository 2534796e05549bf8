//! Bitconn Webhook's shared library: everything the Lambda functions, the CLI and the gateway have in common.

pub mod config;
pub mod execution_log;
pub mod secret;
pub mod store;
