//! The listening host: the accept loop, admission of new connections and a handle that shuts it down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admission::{Admission, Refused};
use crate::config::Config;
use crate::socket;
use crate::state::State;

/// After a failed `accept` (out of descriptors or similar): back off instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running host. Dropping it stops accepting and ends every session; [`Host::shutdown`] also waits.
#[derive(Debug)]
pub struct Host {
    addr: SocketAddr,
    state: Arc<State>,
    admission: Arc<Admission>,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Host {
    /// Binds `WS_HOST:WS_PORT` (port 0 picks a free one) and starts accepting.
    pub async fn start(config: Config) -> io::Result<Host> {
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        let addr = listener.local_addr()?;
        let admission = Admission::new(config.max_pending_per_peer);
        let (state, stop) = State::new(config);
        let accept = tokio::spawn(accept_loop(listener, state.clone(), admission.clone()));
        Ok(Host {
            addr,
            state,
            admission,
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

    /// Connections open that are not sessions (yet): page loads, handshakes, sockets before `auth`.
    pub fn pending_connections(&self) -> usize {
        self.admission.pending()
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

async fn accept_loop(listener: TcpListener, state: Arc<State>, admission: Arc<Admission>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let pending = match admission.admit(peer.ip()) {
                    Ok(pending) => pending,
                    Err(refused @ Refused::Full) => {
                        tracing::warn!(%peer, %refused, "connection dropped");
                        continue;
                    }
                    Err(refused @ Refused::PeerFull(_)) => {
                        tracing::debug!(%peer, %refused, "connection dropped");
                        continue;
                    }
                };
                tokio::spawn(socket::handle(stream, peer, state.clone(), pending));
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}
