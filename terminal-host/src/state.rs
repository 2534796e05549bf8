//! What every connection shares: the configuration, the replay guard, the session slots and the stop signal.

use std::sync::Arc;

use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::token::ReplayGuard;

#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub replay: ReplayGuard,
    /// One permit per running shell (`WS_MAX_SESSIONS`).
    pub slots: Arc<Semaphore>,
    /// Flips to `true` when the host stops; every session then ends its shell.
    pub shutdown: watch::Receiver<bool>,
}

impl State {
    /// The state and the sender that stops every session.
    pub fn new(config: Config) -> (Arc<State>, watch::Sender<bool>) {
        let (stop, shutdown) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(config.max_sessions));
        let state = State {
            config,
            replay: ReplayGuard::default(),
            slots,
            shutdown,
        };
        (Arc::new(state), stop)
    }
}
