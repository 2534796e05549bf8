//! The `terminal-token` function: checks an Odoo login against Odoo and mints a terminal-host token only for
//! members of Settings / Administration (`base.group_system`).

use std::time::Duration;

use bitconn::config::OdooConnection;
use bitconn::odoo::{CallCounter, FaultClass, OdooClient, OdooError};
use serde::Deserialize;
use serde_json::{Value, json};
use terminal_host::token::{self, Secret, ShellMode, TokenError};

/// `ir.config_parameter` is readable only by Settings / Administration: its one access rule names
/// `base.group_system` (Odoo's own refusal in the golden corpus, case 204, names "Administration/Settings").
/// Asking Odoo whether the user may read it is a group check Odoo 18 answers over RPC (`has_group` is not
/// callable there), with implied groups taken into account by Odoo itself.
pub const ADMIN_PROBE_MODEL: &str = "ir.config_parameter";
const ODOO_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ODOO_TIMEOUT: Duration = Duration::from_secs(20);
/// Logins and passwords longer than this are not sent to Odoo.
const MAX_FIELD_LEN: usize = 1024;

/// The function's configuration, read once from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Odoo base URL (`ODOO_URL`), the client appends `/jsonrpc`.
    pub odoo_url: String,
    /// Odoo database (`ODOO_DB`).
    pub odoo_db: String,
    /// Shared with terminal-host (`WS_SECRET_KEY`).
    pub secret: Secret,
    /// Lifetime of minted tokens (`TERMINAL_TOKEN_TTL`, default 60s, at most 10m); never chosen by the caller.
    pub ttl: Duration,
    /// Where the browser should connect (`TERMINAL_WS_URL`), returned with the token when set.
    pub ws_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error(transparent)]
    Secret(#[from] TokenError),
    #[error("TERMINAL_TOKEN_TTL={0:?} is not a duration between 1s and 10m")]
    Ttl(String),
    #[error(transparent)]
    TlsRoots(#[from] bitconn::odoo::tls::InvalidRootSource),
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let odoo_url = get("ODOO_URL").ok_or(SettingsError::Missing("ODOO_URL"))?;
        let odoo_db = get("ODOO_DB").ok_or(SettingsError::Missing("ODOO_DB"))?;
        let secret = Secret::new(get("WS_SECRET_KEY").ok_or(TokenError::SecretMissing)?)?;
        let ttl = match get("TERMINAL_TOKEN_TTL") {
            Some(v) => humantime::parse_duration(v.trim())
                .ok()
                .filter(|d| *d >= Duration::from_secs(1) && *d <= token::MAX_TTL)
                .ok_or(SettingsError::Ttl(v))?,
            None => token::DEFAULT_TTL,
        };
        // Read by the TLS client itself on its first handshake; checked here so a bad value stops the start.
        if let Some(roots) = get(bitconn::odoo::tls::ROOTS_ENV) {
            roots.parse::<bitconn::odoo::tls::RootSource>()?;
        }
        Ok(Settings {
            odoo_url,
            odoo_db,
            secret,
            ttl,
            ws_url: get("TERMINAL_WS_URL"),
        })
    }
}

/// What a caller sends: an Odoo login with its password or API key, and the shell wanted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    login: String,
    password: String,
    #[serde(default)]
    mode: Option<String>,
}

/// The answer: an HTTP status and a JSON body (`{"ok":true,…}` or `{"ok":false,"error":…,"message":…}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    fn error(status: u16, error: &str, message: impl Into<String>) -> Self {
        Reply {
            status,
            body: json!({"ok": false, "error": error, "message": message.into()}),
        }
    }
}

/// Built once per execution environment: settings and one Odoo client.
pub struct TokenService {
    settings: Settings,
    odoo: OdooClient,
}

impl TokenService {
    pub fn new(settings: Settings) -> Self {
        TokenService {
            settings,
            odoo: OdooClient::new(ODOO_CONNECT_TIMEOUT, ODOO_TIMEOUT),
        }
    }

    /// Handles one `POST` body.
    pub async fn issue(&self, body: &[u8]) -> Reply {
        let request: TokenRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return Reply::error(
                    400,
                    "invalid_json",
                    format!("expected {{login, password, mode?}}: {e}"),
                );
            }
        };
        if request.login.trim().is_empty() || request.password.is_empty() {
            return Reply::error(400, "invalid_payload", "login and password must be non-empty");
        }
        if request.login.len() > MAX_FIELD_LEN || request.password.len() > MAX_FIELD_LEN {
            return Reply::error(
                400,
                "invalid_payload",
                format!("login and password must be at most {MAX_FIELD_LEN} bytes"),
            );
        }
        let mode = match request.mode.as_deref().unwrap_or("bash").parse::<ShellMode>() {
            Ok(mode) => mode,
            Err(e) => return Reply::error(400, "invalid_payload", e.to_string()),
        };
        let login = request.login.trim().to_owned();
        match self.is_administrator(&login, request.password).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(%login, "terminal token refused: not in Settings / Administration");
                return Reply::error(
                    403,
                    "forbidden",
                    "terminal access is for Settings / Administration members",
                );
            }
            Err(e) => return odoo_failure(&login, &e),
        }
        let minted = match token::mint(&self.settings.secret, &login, mode, self.settings.ttl) {
            Ok(minted) => minted,
            Err(e) => return Reply::error(400, "invalid_payload", e.to_string()),
        };
        tracing::info!(%login, %mode, jti = %minted.claims.jti, "terminal token issued");
        let mut body = json!({
            "ok": true,
            "token": minted.token,
            "mode": mode,
            "expires_at": minted.claims.exp,
        });
        if let Some(url) = &self.settings.ws_url {
            body["ws_url"] = json!(url);
        }
        Reply { status: 200, body }
    }

    /// Authenticates as the user and asks Odoo, as that user, whether they may read the admin-only model.
    async fn is_administrator(&self, login: &str, password: String) -> Result<bool, OdooError> {
        let conn = OdooConnection {
            url: self.settings.odoo_url.clone(),
            db: self.settings.odoo_db.clone(),
            login: login.to_owned(),
            api_key: password,
        };
        let calls = CallCounter::default();
        let session = self.odoo.session(&conn, &calls).await?;
        session.has_model_access(ADMIN_PROBE_MODEL, "read").await
    }
}

fn odoo_failure(login: &str, error: &OdooError) -> Reply {
    tracing::warn!(%login, %error, "terminal token refused");
    match error {
        OdooError::AuthenticationFailed { .. } => {
            Reply::error(401, "invalid_credentials", "wrong login, password or API key")
        }
        OdooError::Fault(f) if f.class() == FaultClass::Access => {
            Reply::error(401, "invalid_credentials", "wrong login, password or API key")
        }
        OdooError::Timeout(_) => Reply::error(504, "odoo_timeout", "Odoo did not answer in time"),
        OdooError::Unreachable(_) => Reply::error(502, "odoo_unreachable", "Odoo cannot be reached"),
        OdooError::Fault(_) | OdooError::Protocol(_) => {
            Reply::error(502, "odoo_error", "Odoo could not check the login")
        }
    }
}

/// The Lambda adapter: `POST` only, JSON in, JSON out, never cached.
pub async fn handle(
    service: &TokenService,
    request: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error> {
    let reply = if request.method() == lambda_http::http::Method::POST {
        service.issue(request.body().as_ref()).await
    } else {
        Reply::error(405, "invalid_method", "use POST")
    };
    let response = lambda_http::Response::builder()
        .status(reply.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(lambda_http::Body::Text(reply.body.to_string()))?;
    Ok(response)
}
