//! `odoo-sim`: serve the Odoo 18 JSON-RPC simulator over HTTP.

use std::net::SocketAddr;

use clap::Parser;
use odoo_sim::{SimConfig, parse_api_keys, parse_latency};

/// Odoo 18 JSON-RPC simulator (database "odoo18", users admin/admin and integrator/integrator).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ODOO_SIM_LISTEN", default_value = "127.0.0.1:8069")]
    listen: SocketAddr,
    /// API key accepted for a login, as login=key (repeatable).
    #[arg(long = "api-key", value_name = "LOGIN=KEY")]
    api_key: Vec<String>,
    /// API keys as login=key,login=key (used when no --api-key is given).
    #[arg(long, env = "ODOO_SIM_API_KEYS", hide = true)]
    api_keys: Option<String>,
    /// Latency added to each call: "5ms" or a uniform range "2ms..10ms".
    #[arg(long, env = "ODOO_SIM_LATENCY")]
    latency: Option<String>,
    /// Version reported by common.version ("16.0" disables web_read/web_search_read).
    #[arg(long, env = "ODOO_SIM_SERVER_VERSION", default_value = odoo_sim::DEFAULT_SERVER_VERSION)]
    server_version: String,
    /// Start with the Automation Rules module (base_automation) installed.
    #[arg(long, env = "ODOO_SIM_BASE_AUTOMATION")]
    base_automation: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let mut config = SimConfig {
        server_version: args.server_version,
        base_automation: args.base_automation,
        ..SimConfig::default()
    };
    let keys = if args.api_key.is_empty() {
        args.api_keys.unwrap_or_default()
    } else {
        args.api_key.join(",")
    };
    if !keys.is_empty() {
        let parsed = parse_api_keys(&keys).map_err(anyhow::Error::msg)?;
        for (login, key) in parsed {
            config.api_keys.retain(|(l, _)| *l != login);
            config.api_keys.push((login, key));
        }
    }
    if let Some(l) = args.latency {
        config.latency = parse_latency(&l).map_err(anyhow::Error::msg)?;
    }
    let running = odoo_sim::serve(config, args.listen).await?;
    tracing::info!(url = %running.url, "odoo-sim listening");
    println!(
        "odoo-sim listening on {} (database {})",
        running.url,
        odoo_sim::DEFAULT_DB
    );
    tokio::signal::ctrl_c().await?;
    drop(running);
    Ok(())
}
