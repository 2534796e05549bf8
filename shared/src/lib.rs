//! Bitconn Webhook's shared library: everything the Lambda functions, the CLI and the terminal host have in common.
