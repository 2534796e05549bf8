//! The Odoo client: JSON-RPC `execute_kw` as a webhook's Odoo user, with the uid and server version cached.

mod catalog;
mod fault;
mod fields;
mod rpc;
pub mod tls;

pub use catalog::{Catalog, FieldCheck, ModelRights};
pub use fault::{FaultClass, OdooError, OdooFault};
pub use fields::{FIELD_ATTRIBUTES, FieldDef, FieldKind, ModelFields};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

use crate::config::OdooConnection;

/// Odoo's first version whose `web_search_read`/`web_read` take a nested `specification`.
const FIRST_SPECIFICATION_MAJOR: u32 = 17;

/// The Odoo server's version, read once per server (`common.version`); it decides the extraction strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    pub major: u32,
    pub label: String,
}

impl ServerVersion {
    pub fn from_version_info(answer: &Value) -> Self {
        let label = answer
            .get("server_version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let major = answer
            .get("server_version_info")
            .and_then(|v| v.get(0))
            .and_then(Value::as_u64)
            .or_else(|| {
                label
                    .split('.')
                    .next()
                    .and_then(|m| m.trim_start_matches("saas~").parse().ok())
            })
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0);
        Self { major, label }
    }

    pub fn has_specification_reads(&self) -> bool {
        self.major >= FIRST_SPECIFICATION_MAJOR
    }

    /// `has_access` replaced `check_access_rights` in Odoo 18.
    pub fn has_has_access(&self) -> bool {
        self.major >= 18
    }
}

/// Counts the Odoo calls one gateway request makes (for the execution log and round-trip tests).
#[derive(Debug, Default)]
pub struct CallCounter(AtomicU32);

impl CallCounter {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Identifies one Odoo user on one server; the API key enters only as a hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LoginKey {
    url: String,
    db: String,
    login: String,
    key_hash: [u8; 32],
}

impl LoginKey {
    fn of(conn: &OdooConnection) -> Self {
        Self {
            url: conn.url.clone(),
            db: conn.db.clone(),
            login: conn.login.clone(),
            key_hash: Sha256::digest(conn.api_key.as_bytes()).into(),
        }
    }
}

/// One process-wide client: a single connection pool, and caches shared by every request.
/// `common.authenticate` is slow on real Odoo (~350 ms), so uids are resolved once per login.
pub struct OdooClient {
    http: reqwest::Client,
    /// One cell per login: concurrent first requests wait for a single `authenticate` instead of each calling it.
    uids: Mutex<HashMap<LoginKey, Arc<OnceCell<i64>>>>,
    versions: Mutex<HashMap<String, Arc<OnceCell<ServerVersion>>>>,
    next_id: AtomicU64,
}

impl OdooClient {
    /// Builds the one HTTP client (rustls with the process's shared roots, read on the first handshake, not
    /// here; a pool that reuses connections when the server keeps them open).
    pub fn new(connect_timeout: Duration, timeout: Duration) -> Self {
        let http = tls::http_client_builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_else(|error| {
                tracing::error!(%error, "cannot configure the Odoo HTTP client; using defaults");
                tls::http_client_builder().build().unwrap_or_default()
            });
        Self {
            http,
            uids: Mutex::default(),
            versions: Mutex::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// A session as `conn`'s user: resolves (or reuses) the uid and the server version, concurrently when both are unknown.
    pub async fn session<'a>(
        &'a self,
        conn: &'a OdooConnection,
        calls: &'a CallCounter,
    ) -> Result<OdooSession<'a>, OdooError> {
        let key = LoginKey::of(conn);
        let uid_cell = lock(&self.uids).entry(key.clone()).or_default().clone();
        let version_cell = lock(&self.versions).entry(conn.url.clone()).or_default().clone();
        let uid_fut = uid_cell.get_or_try_init(|| self.authenticate(conn, calls));
        let version_fut = version_cell.get_or_try_init(|| async {
            let answer = self
                .call(&conn.url, "common", "version", json!([]), calls)
                .await?;
            Ok::<_, OdooError>(ServerVersion::from_version_info(&answer))
        });
        let (uid, version) = tokio::join!(uid_fut, version_fut);
        let (uid, version) = (*uid?, version?.clone());
        Ok(OdooSession {
            client: self,
            conn,
            key,
            uid,
            version,
            calls,
        })
    }

    async fn authenticate(&self, conn: &OdooConnection, calls: &CallCounter) -> Result<i64, OdooError> {
        let args = json!([conn.db, conn.login, conn.api_key, {}]);
        let answer = self
            .call(&conn.url, "common", "authenticate", args, calls)
            .await?;
        answer.as_i64().ok_or_else(|| OdooError::AuthenticationFailed {
            login: conn.login.clone(),
        })
    }

    async fn call(
        &self,
        url: &str,
        service: &str,
        method: &str,
        args: Value,
        calls: &CallCounter,
    ) -> Result<Value, OdooError> {
        calls.bump();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let endpoint = format!("{}/jsonrpc", url.trim_end_matches('/'));
        let response = self
            .http
            .post(endpoint)
            .json(&rpc::call_body(id, service, method, args))
            .send()
            .await
            .map_err(OdooError::from_transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(OdooError::Protocol(format!("HTTP {status} from /jsonrpc")));
        }
        let body = response.bytes().await.map_err(OdooError::from_transport)?;
        let json = serde_json::from_slice(&body)
            .map_err(|e| OdooError::Protocol(format!("the answer is not JSON ({e})")))?;
        rpc::parse_answer(json)
    }

    fn forget_uid(&self, key: &LoginKey) {
        lock(&self.uids).remove(key);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Calls as one Odoo user, counting every call in the request's `CallCounter`.
pub struct OdooSession<'a> {
    client: &'a OdooClient,
    conn: &'a OdooConnection,
    key: LoginKey,
    uid: i64,
    version: ServerVersion,
    calls: &'a CallCounter,
}

impl OdooSession<'_> {
    pub fn version(&self) -> &ServerVersion {
        &self.version
    }

    pub fn uid(&self) -> i64 {
        self.uid
    }

    pub fn connection(&self) -> &OdooConnection {
        self.conn
    }

    /// `object.execute_kw(db, uid, key, model, method, args, kwargs)`.
    pub async fn execute_kw(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, OdooError> {
        let params = json!([
            self.conn.db,
            self.uid,
            self.conn.api_key,
            model,
            method,
            args,
            kwargs
        ]);
        let result = self
            .client
            .call(&self.conn.url, "object", "execute_kw", params, self.calls)
            .await;
        if let Err(OdooError::Fault(f)) = &result
            && f.kind() == "AccessDenied"
        {
            // The key may have been revoked or replaced: resolve the uid afresh next time.
            self.client.forget_uid(&self.key);
        }
        result
    }

    /// Whether this user holds the model-level right `operation` (create, write, unlink, read) on `model`:
    /// `has_access` on Odoo 18+, `check_access_rights(raise_exception=False)` before. Record rules are not
    /// consulted. Servers that raise an AccessError instead of answering count as "no".
    pub async fn has_model_access(&self, model: &str, operation: &str) -> Result<bool, OdooError> {
        let answer = if self.version.has_has_access() {
            self.execute_kw(model, "has_access", vec![json!([]), json!(operation)], Map::new())
                .await
        } else {
            let mut kwargs = Map::new();
            kwargs.insert("raise_exception".into(), json!(false));
            self.execute_kw(model, "check_access_rights", vec![json!(operation)], kwargs)
                .await
        };
        match answer {
            Ok(Value::Bool(allowed)) => Ok(allowed),
            Ok(other) => Err(OdooError::Protocol(format!("access check answered {other}"))),
            Err(OdooError::Fault(f)) if f.kind() == "AccessError" => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn fields_get(&self, model: &crate::config::ModelName) -> Result<ModelFields, OdooError> {
        let mut kwargs = Map::new();
        kwargs.insert("attributes".into(), json!(FIELD_ATTRIBUTES));
        let answer = self
            .execute_kw(model.as_str(), "fields_get", vec![], kwargs)
            .await?;
        Ok(ModelFields::from_fields_get(model.clone(), &answer))
    }
}

#[cfg(test)]
pub(crate) use catalog::fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_info_or_label() {
        let v18 = ServerVersion::from_version_info(
            &json!({"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""]}),
        );
        assert_eq!(v18.major, 18);
        assert!(v18.has_specification_reads() && v18.has_has_access());
        let v16 = ServerVersion::from_version_info(&json!({"server_version": "16.0"}));
        assert_eq!(v16.major, 16);
        assert!(!v16.has_specification_reads());
        assert_eq!(
            ServerVersion::from_version_info(&json!({"server_version": "saas~17.2"})).major,
            17
        );
    }

    #[test]
    fn login_keys_differ_by_api_key_without_holding_it() {
        let conn = OdooConnection {
            url: "u".into(),
            db: "d".into(),
            login: "l".into(),
            api_key: "k1".into(),
        };
        let other = OdooConnection {
            api_key: "k2".into(),
            ..conn.clone()
        };
        assert_ne!(LoginKey::of(&conn), LoginKey::of(&other));
        assert!(!format!("{:?}", LoginKey::of(&conn)).contains("k1"));
    }
}
