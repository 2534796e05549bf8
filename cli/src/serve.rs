//! `bitconn serve`: every gateway route on one port, over the store named by `--store`.

use anyhow::Context as _;
use bitconn::execution_log::ExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::outbound::deliveries::{DeliveryLog, SqliteDeliveryLog};
use bitconn::outbound::queue::{OpenedQueue, Queue, QueueSpec, open_queue};
use bitconn::outbound::{DispatchSettings, Dispatcher};
use bitconn::server::ServerLimits;
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

use crate::units::parse_timeout;
use crate::{Global, demo, serve_delivery, stores};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BITCONN_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Base URL callers reach this server at (default: http://<listen address>).
    #[arg(long, env = "BITCONN_PUBLIC_URL")]
    public_url: Option<String>,
    /// Timeout of one Odoo call.
    #[arg(long, env = "BITCONN_ODOO_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    odoo_timeout: Duration,
    /// `off` records no execution log entries (same as --no-execution-log).
    #[arg(long, env = "BITCONN_EXECUTION_LOG", default_value = "on", value_parser = ["on", "off"])]
    execution_log: String,
    #[arg(long)]
    no_execution_log: bool,
    /// Never start the bundled Odoo simulator, even when the store has no webhook.
    #[arg(long, env = "BITCONN_NO_DEMO")]
    no_demo: bool,
    /// Time a client has to send a request's headers (also the longest a keep-alive connection stays idle).
    #[arg(long, env = "BITCONN_HEADER_TIMEOUT", default_value = HEADER_TIMEOUT_TEXT, value_parser = parse_timeout)]
    header_timeout: Duration,
    /// Time a client has to send a request's body once its headers are in (408 after it).
    #[arg(long, env = "BITCONN_BODY_TIMEOUT", default_value = BODY_TIMEOUT_TEXT, value_parser = parse_timeout)]
    body_timeout: Duration,
    /// Connections served at once; further ones are answered 503 server_busy and closed.
    #[arg(long, env = "BITCONN_MAX_CONNECTIONS", default_value_t = bitconn::server::MAX_CONNECTIONS,
          value_parser = parse_connections)]
    max_connections: usize,
}

/// Most connections `--max-connections` takes: each may hold a body of up to the gateway's body limit.
const MAX_CONNECTIONS_CAP: usize = 65_536;

fn parse_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CONNECTIONS_CAP).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is not a number of connections from 1 to {MAX_CONNECTIONS_CAP}"
        )),
    }
}

/// The defaults of `--header-timeout` and `--body-timeout`, as `bitconn::server` names them.
const HEADER_TIMEOUT_TEXT: &str = "10s";
const BODY_TIMEOUT_TEXT: &str = "30s";

pub async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let opened = stores::open(global).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));

    let demo = if args.no_demo {
        None
    } else {
        demo::start_if_needed(opened.config.as_ref(), &public_url).await?
    };
    if let Some(demo) = &demo {
        demo.print_banner(global.json)?;
    }

    let log_on = args.execution_log == "on" && !args.no_execution_log;
    let log: Arc<dyn ExecutionLog> = if log_on { opened.log } else { Arc::new(DisabledLog) };
    let settings = GatewaySettings {
        public_base_url: Some(public_url.clone()),
        odoo_timeout: args.odoo_timeout,
        ..GatewaySettings::default()
    };
    let outbound = open_outbound(global).await?;
    let mut gateway = Gateway::new(
        opened.config.clone(),
        log.clone(),
        opened.idempotency.clone(),
        settings.clone(),
    );
    if let Some((queue, _)) = &outbound {
        gateway = gateway.with_queue(queue.clone());
    }
    let gateway = Arc::new(gateway);
    let (stop_dispatch, dispatch_stopped) = tokio::sync::watch::channel(false);
    // The delivery side (dispatcher and poller) runs on lower-priority threads with an Odoo connection pool of its
    // own, whose connections those threads drive, so delivery work does not hold up the answers to callers.
    let delivery = match &outbound {
        Some(_) => Some(serve_delivery::delivery_runtime().context("cannot start the delivery threads")?),
        None => None,
    };
    let delivery_gateway = outbound.as_ref().map(|(queue, _)| {
        Arc::new(
            Gateway::new(
                opened.config.clone(),
                log.clone(),
                opened.idempotency.clone(),
                settings,
            )
            .with_queue(queue.clone()),
        )
    });
    let mut delivery_tasks = Vec::new();
    if let (Some(runtime), Some(delivery_gateway), Some((queue, deliveries))) = (
        delivery.as_ref().and_then(|d| d.handle()),
        &delivery_gateway,
        outbound,
    ) {
        delivery_tasks.push(spawn_poller(
            runtime,
            &opened.config,
            &queue,
            delivery_gateway,
            &dispatch_stopped,
        ));
        let dispatcher = Dispatcher::new(
            opened.config.clone(),
            queue,
            deliveries,
            delivery_gateway.clone(),
            DispatchSettings::default(),
        );
        let mut stopped = dispatch_stopped.clone();
        delivery_tasks.push(runtime.spawn(async move {
            dispatcher
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    // Installed before "listening" is printed, so a SIGTERM right after it is already a graceful stop.
    let shutdown = shutdown_signal()?;
    let limits = ServerLimits {
        header_read_timeout: args.header_timeout,
        body_read_timeout: args.body_timeout,
        max_connections: args.max_connections,
        max_body_bytes: gateway.settings().max_body_bytes,
    };
    let app = bitconn::gateway::router(gateway);

    if global.json {
        println!(
            "{}",
            serde_json::json!({"listening": public_url, "execution_log": log_on})
        );
    } else {
        println!(
            "bitconn serve: listening on {public_url} (store {}, execution log {})",
            global.store,
            on_off(log_on)
        );
    }
    bitconn::server::serve(listener, app, limits, shutdown).await;
    let _ = stop_dispatch.send(true);
    for task in delivery_tasks {
        let _ = task.await;
    }
    // Its tasks have finished; what is left (idle connections) needs no waiting for.
    drop(delivery);
    if let Err(error) = log.flush().await {
        tracing::warn!(%error, "execution log entries may be lost");
    }
    if let Some(stats) = log.delivery() {
        tracing::info!(
            written = stats.written,
            dropped = stats.dropped,
            failed = stats.failed,
            retried = stats.retried,
            "execution log"
        );
    }
    tracing::info!("stopped");
    drop(demo);
    Ok(())
}

type Outbound = (Arc<dyn Queue>, Arc<dyn DeliveryLog>);

/// The backstop poller of native triggers with `--poll`, on a timer, stopped with the dispatcher.
fn spawn_poller(
    runtime: &tokio::runtime::Handle,
    store: &Arc<dyn bitconn::store::ConfigStore>,
    queue: &Arc<dyn Queue>,
    gateway: &Arc<Gateway>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let poller = bitconn::outbound::poll::Poller::new(store.clone(), queue.clone(), gateway.clone());
    let mut stopped = stop.clone();
    runtime.spawn(async move {
        poller
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
    })
}

/// The outbound queue and delivery log beside the store: `<store>.outbound.db` for an SQLite file, memory for
/// an in-memory store; a DynamoDB store has none here (AWS runs the dispatcher on SQS).
async fn open_outbound(global: &Global) -> anyhow::Result<Option<Outbound>> {
    use bitconn::store::{SqliteLocation, StoreSpec};
    let location = match stores::parse_spec(&global.store)? {
        StoreSpec::Sqlite(SqliteLocation::File(path)) => {
            SqliteLocation::File(path.with_extension("outbound.db"))
        }
        StoreSpec::Sqlite(SqliteLocation::InMemory) | StoreSpec::Memory => {
            return Ok(Some((
                Arc::new(bitconn::outbound::queue::MemoryQueue::new()),
                Arc::new(bitconn::outbound::deliveries::MemoryDeliveryLog::new()),
            )));
        }
        StoreSpec::DynamoDb { .. } => return Ok(None),
    };
    let opened = open_queue(&QueueSpec::Sqlite(location.clone()), &Default::default())
        .await
        .context("cannot open the outbound queue")?;
    if let OpenedQueue::Sqlite(queue) = &opened {
        let released = queue
            .release_leases()
            .await
            .context("cannot open the outbound queue")?;
        if released > 0 {
            tracing::info!(released, "outbound jobs of a previous run are delivered again");
        }
    }
    let deliveries = SqliteDeliveryLog::open(&location, bitconn::execution_log::DEFAULT_RETENTION)
        .await
        .context("cannot open the delivery log")?;
    Ok(Some((opened.queue(), Arc::new(deliveries))))
}

fn on_off(flag: bool) -> &'static str {
    if flag { "on" } else { "off" }
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits. The handlers are
/// installed when this is called, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        let terminate = terminate.recv();
        #[cfg(not(unix))]
        let terminate = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down");
    })
}

/// The execution log when it is switched off: entries are dropped.
struct DisabledLog;

#[async_trait::async_trait]
impl ExecutionLog for DisabledLog {
    async fn record(
        &self,
        _entry: bitconn::execution_log::ExecutionLogEntry,
    ) -> Result<(), bitconn::execution_log::LogError> {
        Ok(())
    }

    async fn query(
        &self,
        _query: &bitconn::execution_log::LogQuery,
    ) -> Result<Vec<bitconn::execution_log::ExecutionLogEntry>, bitconn::execution_log::LogError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limits_are_the_servers_own() {
        assert_eq!(
            parse_timeout(HEADER_TIMEOUT_TEXT).unwrap(),
            bitconn::server::HEADER_READ_TIMEOUT
        );
        assert_eq!(
            parse_timeout(BODY_TIMEOUT_TEXT).unwrap(),
            bitconn::server::BODY_READ_TIMEOUT
        );
    }
}
