//! The listening host: shared state, the accept loop and a handle that shuts it down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::socket;
use crate::token::ReplayGuard;

/// Connections beyond the running sessions (page loads, handshakes, sockets not yet authenticated): a flood
/// of idle sockets cannot exhaust the host's descriptors.
const MAX_EXTRA_CONNECTIONS: usize = 64;

/// What every connection shares.
#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub replay: ReplayGuard,
    /// One permit per running shell (`WS_MAX_SESSIONS`).
    pub slots: Arc<Semaphore>,
    /// Flips to `true` when the host stops; every session then ends its shell.
    pub shutdown: watch::Receiver<bool>,
}

/// A running host. Dropping it stops accepting and ends every session; [`Host::shutdown`] also waits.
#[derive(Debug)]
pub struct Host {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Host {
    /// Binds `WS_HOST:WS_PORT` (port 0 picks a free one) and starts accepting.
    pub async fn start(config: Config) -> io::Result<Host> {
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        let addr = listener.local_addr()?;
        let (stop, shutdown) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(config.max_sessions));
        let state = Arc::new(State {
            config,
            replay: ReplayGuard::default(),
            slots,
            shutdown,
        });
        let accept = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(Host {
            addr,
            state,
            stop,
            accept,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shells currently running.
    pub fn active_sessions(&self) -> usize {
        self.state.config.max_sessions - self.state.slots.available_permits()
    }

    /// Stops accepting, ends every shell and waits up to `wait` for them to be reaped.
    pub async fn shutdown(self, wait: Duration) {
        let _ = self.stop.send(true);
        self.accept.abort();
        let all = u32::try_from(self.state.config.max_sessions).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(wait, self.state.slots.acquire_many(all)).await;
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let connections = Arc::new(Semaphore::new(state.config.max_sessions + MAX_EXTRA_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "too many open connections; dropping one");
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    socket::handle(stream, peer, state).await;
                    drop(permit);
                });
            }
            Err(error) => {
                // Out of fds or similar: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
