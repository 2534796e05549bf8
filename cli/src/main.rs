//! `bitconn`: the operator's command line (local gateway, webhook administration, logs, tokens).

mod deliveries;
mod deliveries_replay;
mod demo;
mod logs;
mod outbound;
mod outbound_rule;
mod outbound_rule_odoo;
mod outbound_stores;
mod outbound_test;
mod output;
mod printable;
mod serve;
mod serve_delivery;
mod store_cmd;
mod stores;
mod terminal;
mod units;
mod webhook;
mod webhook_common;
mod webhook_update;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `serve` allocates per request; a profile of the trigger route under load spent a fifth of its time in glibc's
/// malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where webhooks and the execution log live unless `--store`/`BITCONN_STORE` say otherwise.
pub const DEFAULT_STORE: &str = "sqlite:./bitconn.db";

#[derive(Parser)]
#[command(
    name = "bitconn",
    version,
    about = "Bitconn Webhook: an integration gateway for Odoo"
)]
struct Cli {
    /// Store of webhooks and execution logs: `sqlite:<path>` or `dynamodb:<table>`.
    #[arg(long, global = true, env = "BITCONN_STORE", default_value = DEFAULT_STORE)]
    store: String,
    /// Key sealing stored credentials: `kms:<key id, ARN or alias>`, `key-file:<path>` or `none` (tests only).
    /// Default: the key file beside an SQLite store (`<file>.key`); DynamoDB stores need `kms:`.
    #[arg(long, global = true, env = "BITCONN_SEAL")]
    seal: Option<String>,
    /// Machine-readable output (JSON) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Parsed once at start, so the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve every gateway route on one port (starts a demo Odoo simulator when the store is empty).
    Serve(serve::ServeArgs),
    /// Create, inspect, change and delete webhooks.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Create the store's tables.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Show execution log entries.
    Logs(logs::LogsArgs),
    /// A webhook's outbound target: where Odoo records are delivered, signed and retried.
    #[command(subcommand)]
    Outbound(outbound::OutboundCommand),
    /// The outbound delivery log: list, show and replay deliveries.
    #[command(subcommand)]
    Deliveries(deliveries::DeliveriesCommand),
    /// terminal-host tools (one-time terminal tokens).
    #[command(subcommand)]
    Terminal(terminal::TerminalCommand),
}

/// What every command needs besides its own arguments.
pub struct Global {
    pub store: String,
    pub seal: Option<String>,
    pub json: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let global = Global {
        store: cli.store,
        seal: cli.seal,
        json: cli.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&anyhow::Error::from(error)),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(&global, args).await,
            Command::Webhook(command) => webhook::run(&global, command).await,
            Command::Store(command) => store_cmd::run(&global, command).await,
            Command::Logs(args) => logs::run(&global, args).await,
            Command::Outbound(command) => outbound::run(&global, command).await,
            Command::Deliveries(command) => deliveries::run(&global, command).await,
            Command::Terminal(command) => terminal::run(command),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Help and version go to stdout as usual; a usage mistake becomes one `error:` line and exit code 1.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            return ExitCode::FAILURE;
        }
        _ => {}
    }
    let rendered = error.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(|line| line.trim().trim_start_matches("error:").trim())
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect();
    eprintln!("error: {} (see `bitconn --help`)", message.join(" "));
    ExitCode::FAILURE
}

/// One clear line on stderr: the error and its causes, never a backtrace.
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}
