//! An Odoo 18 JSON-RPC simulator built from the recorded golden corpus (models, demo data, behaviours).

mod access;
mod automation;
mod control;
mod db;
mod domain;
mod embedded;
mod error;
mod models;
mod order;
mod orm;
mod pyrepr;
mod registry;
mod rpc;
mod server;
mod xmlids;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use automation::WebhookCall;
pub use automation::outbound::WEBHOOK_TIMEOUT;
pub use control::{CallRecord, Fault, FaultPlan, FaultTimes, Latency};
pub use error::OdooError;

/// Database name the simulator serves.
pub const DEFAULT_DB: &str = "odoo18";
/// API key of `admin` unless configured otherwise.
pub const DEFAULT_ADMIN_API_KEY: &str = "sim-admin-api-key";
/// API key of `integrator` unless configured otherwise.
pub const DEFAULT_INTEGRATOR_API_KEY: &str = "sim-integrator-api-key";
/// Webhook POSTs `Sim::webhook_calls` keeps (the oldest are dropped).
pub const MAX_WEBHOOK_LOG: usize = 10_000;
/// Version `common.version` reports by default.
pub const DEFAULT_SERVER_VERSION: &str = "18.0";

/// How a simulator starts.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// (login, api key) pairs accepted in place of passwords; default: the two DEFAULT_* keys.
    pub api_keys: Vec<(String, String)>,
    /// What `common.version` reports, e.g. "18.0" (default) or "16.0". Below 17, `web_search_read`/`web_read`
    /// with a `specification` are not available, so clients must fall back to `read`.
    pub server_version: String,
    /// Injected latency per call.
    pub latency: Latency,
    /// Whether the Automation Rules module (`base_automation`) is installed from the start; otherwise it is
    /// uninstalled, as on the recording server, until `ir.module.module.button_immediate_install`.
    pub base_automation: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            api_keys: vec![
                ("admin".to_owned(), DEFAULT_ADMIN_API_KEY.to_owned()),
                ("integrator".to_owned(), DEFAULT_INTEGRATOR_API_KEY.to_owned()),
            ],
            server_version: DEFAULT_SERVER_VERSION.to_owned(),
            latency: Latency::None,
            base_automation: false,
        }
    }
}

/// Shared state behind every handle of one simulated server.
pub(crate) struct Inner {
    pub registry: Arc<registry::Registry>,
    pub initial: Arc<db::Db>,
    /// The committed state: what every reader sees. Writers work on a copy and publish it when the call is
    /// over, after its webhook POSTs (Odoo's POSTs run inside the transaction, before the commit).
    pub db: RwLock<Arc<db::Db>>,
    /// Serialises writing calls (Odoo's row locks, coarser).
    pub writer: Mutex<()>,
    /// Webhook POSTs sent, oldest first (bounded).
    pub webhooks: Mutex<std::collections::VecDeque<WebhookCall>>,
    pub control: control::Control,
    pub api_keys: RwLock<Vec<(String, String)>>,
    pub version: RwLock<String>,
}

/// A cheap-to-clone handle on one simulated server's state and switches.
#[derive(Clone)]
pub struct Sim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("calls", &self.call_count()).finish()
    }
}

impl Sim {
    /// Loads the demo data of the embedded corpus.
    pub fn new(config: SimConfig) -> Sim {
        let (registry, mut initial) = embedded::load();
        if config.base_automation {
            let mut db = (*initial).clone();
            automation::install_module(&registry, &mut db);
            initial = Arc::new(db);
        }
        let inner = Inner {
            registry,
            db: RwLock::new(initial.clone()),
            writer: Mutex::new(()),
            webhooks: Mutex::new(std::collections::VecDeque::new()),
            initial,
            control: control::Control::new(config.latency),
            api_keys: RwLock::new(config.api_keys),
            version: RwLock::new(config.server_version),
        };
        Sim {
            inner: Arc::new(inner),
        }
    }

    /// `POST /jsonrpc` plus the `/__sim/*` control routes.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// The per-call log, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.inner.control.calls()
    }
    pub fn call_count(&self) -> usize {
        self.inner.control.call_count()
    }
    pub fn clear_calls(&self) {
        self.inner.control.clear_calls();
    }

    /// Back to the initial demo data (and clears the call and webhook logs).
    pub fn reset(&self) {
        let _writer = self.inner.writer.lock();
        self.publish(self.inner.initial.clone());
        self.inner.control.clear_calls();
        self.clear_webhook_calls();
    }

    /// The committed state, as a reader sees it.
    pub(crate) fn committed(&self) -> Arc<db::Db> {
        match self.inner.db.read() {
            Ok(db) => db.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Makes `state` the committed state.
    pub(crate) fn publish(&self, state: Arc<db::Db>) {
        match self.inner.db.write() {
            Ok(mut db) => *db = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    /// Every webhook POST the automation rules sent (oldest first), with its outcome.
    pub fn webhook_calls(&self) -> Vec<WebhookCall> {
        match self.inner.webhooks.lock() {
            Ok(log) => log.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }
    pub fn clear_webhook_calls(&self) {
        match self.inner.webhooks.lock() {
            Ok(mut log) => log.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }
    pub(crate) fn record_webhook(&self, call: WebhookCall) {
        let mut log = match self.inner.webhooks.lock() {
            Ok(log) => log,
            Err(poisoned) => poisoned.into_inner(),
        };
        if log.len() >= MAX_WEBHOOK_LOG {
            log.pop_front();
        }
        log.push_back(call);
    }
    /// Whether the Automation Rules module is installed (committed state).
    pub fn base_automation_installed(&self) -> bool {
        automation::meta::installed(&self.committed(), automation::AUTOMATION_MODULE)
    }

    pub fn set_latency(&self, latency: Latency) {
        self.inner.control.set_latency(latency);
    }
    pub fn inject_fault(&self, fault: FaultPlan) {
        self.inner.control.inject_fault(fault);
    }
    pub fn clear_faults(&self) {
        self.inner.control.clear_faults();
    }
    pub fn set_server_version(&self, version: &str) {
        if let Ok(mut v) = self.inner.version.write() {
            *v = version.to_owned();
        }
    }
    /// The version `common.version` currently reports.
    pub fn server_version(&self) -> String {
        self.inner
            .version
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|_| DEFAULT_SERVER_VERSION.to_owned())
    }
    /// The API key configured for `login`, if any.
    pub fn api_key(&self, login: &str) -> Option<String> {
        self.inner
            .api_keys
            .read()
            .ok()?
            .iter()
            .find(|(l, _)| l == login)
            .map(|(_, k)| k.clone())
    }
}

/// A sim serving on 127.0.0.1:<free port>; shuts down when dropped.
pub struct RunningSim {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub sim: Sim,
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim").field("url", &self.url).finish()
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a simulator on 127.0.0.1 with a free port.
pub async fn start(config: SimConfig) -> anyhow::Result<RunningSim> {
    serve(config, "127.0.0.1:0".parse()?).await
}

/// Starts a simulator on `addr` (port 0 picks a free one).
pub async fn serve(config: SimConfig, addr: SocketAddr) -> anyhow::Result<RunningSim> {
    let sim = Sim::new(config);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningSim {
        url: format!("http://{addr}"),
        sim,
        addr,
        shutdown: Some(tx),
    })
}

/// Parses `login=key,login=key` (the `ODOO_SIM_API_KEYS` format).
pub fn parse_api_keys(spec: &str) -> Result<Vec<(String, String)>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((l, k)) if !l.is_empty() && !k.is_empty() => Ok((l.to_owned(), k.to_owned())),
            _ => Err(format!("expected login=key, got {pair:?}")),
        })
        .collect()
}

/// Parses a latency: `5ms`, or a uniform range `2ms..10ms`.
pub fn parse_latency(spec: &str) -> Result<Latency, String> {
    let spec = spec.trim();
    if spec.is_empty() || spec == "0" || spec == "none" {
        return Ok(Latency::None);
    }
    let parse = |s: &str| humantime::parse_duration(s.trim()).map_err(|e| format!("{s}: {e}"));
    match spec.split_once("..") {
        Some((a, b)) => Ok(Latency::Uniform {
            min: parse(a)?,
            max: parse(b)?,
        }),
        None => Ok(Latency::Fixed(parse(spec)?)),
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Sim>();
    let _ = Duration::ZERO;
}
