//! terminal-host: a JWT-guarded WebSocket PTY server for Odoo administrators (configuration: docs/terminal.md).

use std::io::IsTerminal;
use std::time::Duration;

use terminal_host::{Config, Host};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = Config::from_env()?;
    let grace = config.kill_grace + Duration::from_secs(1);
    if config.odoo_command.is_none() {
        tracing::warn!("no Odoo found and WS_ODOO_COMMAND unset: odoo shell tokens will be refused");
    }
    let host = Host::start(config).await?;
    tracing::info!(addr = %host.local_addr(), "terminal-host listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping: ending every terminal session");
    host.shutdown(grace).await;
    Ok(())
}
