//! terminal-host: a JWT-guarded WebSocket PTY server for Odoo administrators (configuration: docs/terminal.md).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use terminal_host::{Config, Host};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    // Before the key is read and before any thread exists: a non-dumpable process's /proc/<pid>/environ,
    // mem and maps are closed to other processes of the same user (the shells), as is ptrace. The key stays
    // in the environment block the kernel shows there; removing the variable would not erase it.
    nix::sys::prctl::set_dumpable(false).context("could not make the host non-dumpable")?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = Config::from_env()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
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
