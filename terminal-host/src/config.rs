//! The host's one typed configuration, read once from the environment (docs/terminal.md lists every variable).

use std::path::PathBuf;
use std::time::Duration;

use crate::admission::MAX_PENDING;
use crate::shell::{self, OdooHints};
use crate::shell_user::ShellUser;
use crate::token::{Secret, TokenError};

pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 8765;
pub const DEFAULT_MAX_SESSIONS: usize = 4;
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_MAX_SESSION_LENGTH: Duration = Duration::from_secs(4 * 3600);
/// From the upgrade to the `auth` message: the page sends it at once, so idle sockets cannot pile up.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// From accept to the end of the WebSocket upgrade (or of a page response).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Unauthenticated connections one address may hold at once; a page load opens up to six.
pub const DEFAULT_MAX_PENDING_PER_PEER: usize = 8;
/// Between SIGHUP and SIGKILL: enough for a shell to save its history, not enough to linger.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);
pub const DEFAULT_BASH_COMMAND: &str = "/bin/bash --noprofile --norc -i";
/// The original module's prompt, so operators recognise the terminal.
pub const DEFAULT_PS1: &str = r"\[\033[1;34m\][bitconn]\[\033[0m\]:\w$ ";
/// Host variables a shell gets by default; everything else must be asked for in `WS_SHELL_ENV`.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "USER", "LOGNAME", "SHELL"];
const FALLBACK_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Upper bound for `WS_MAX_SESSIONS`: each session is a process tree and two threads.
const MAX_SESSIONS_LIMIT: usize = 256;

#[derive(Debug, Clone)]
pub struct Config {
    pub secret: Secret,
    pub host: String,
    pub port: u16,
    /// Exact `Origin` values accepted; empty means "the origin this host's page is served from".
    pub allowed_origins: Vec<String>,
    pub max_sessions: usize,
    pub idle_timeout: Duration,
    pub max_session_length: Duration,
    pub auth_timeout: Duration,
    pub handshake_timeout: Duration,
    /// At most [`MAX_PENDING`] (the cap on all unauthenticated connections together).
    pub max_pending_per_peer: usize,
    pub kill_grace: Duration,
    pub bash_command: Vec<String>,
    /// `None` when no Odoo was found and none was configured: odoo tokens are then refused.
    pub odoo_command: Option<Vec<String>>,
    pub workdir: PathBuf,
    /// The complete environment of every shell (never the host's own environment).
    pub shell_env: Vec<(String, String)>,
    /// `WS_SHELL_USER`: both commands above already run through setpriv as this user.
    pub shell_user: Option<ShellUser>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Secret(#[from] TokenError),
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable source; tests pass a map instead of mutating the process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let secret = Secret::new(get("WS_SECRET_KEY").ok_or(TokenError::SecretMissing)?)?;
        let host = get("WS_HOST").unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let port = match get("WS_PORT") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| invalid("WS_PORT", &v, "not a port number"))?,
            None => DEFAULT_PORT,
        };
        let allowed_origins = get("WS_ALLOWED_ORIGINS")
            .map(|v| {
                split_list(&v)
                    .map(|o| o.trim_end_matches('/').to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let count = |name: &'static str, default: usize, max: usize| -> Result<usize, ConfigError> {
            match get(name) {
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(invalid(name, &v, format!("expected 1..={max}"))),
                },
                None => Ok(default),
            }
        };
        let max_sessions = count("WS_MAX_SESSIONS", DEFAULT_MAX_SESSIONS, MAX_SESSIONS_LIMIT)?;
        let max_pending_per_peer = count(
            "WS_MAX_PENDING_PER_PEER",
            DEFAULT_MAX_PENDING_PER_PEER,
            MAX_PENDING,
        )?;
        let duration = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            match get(name) {
                Some(v) => match humantime::parse_duration(v.trim()) {
                    Ok(d) if !d.is_zero() => Ok(d),
                    _ => Err(invalid(
                        name,
                        &v,
                        "expected a positive duration such as 90s or 15m",
                    )),
                },
                None => Ok(default),
            }
        };
        let idle_timeout = duration("WS_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)?;
        let max_session_length = duration("WS_MAX_SESSION_LENGTH", DEFAULT_MAX_SESSION_LENGTH)?;
        let auth_timeout = duration("WS_AUTH_TIMEOUT", DEFAULT_AUTH_TIMEOUT)?;
        let handshake_timeout = duration("WS_HANDSHAKE_TIMEOUT", DEFAULT_HANDSHAKE_TIMEOUT)?;
        let kill_grace = duration("WS_KILL_GRACE", DEFAULT_KILL_GRACE)?;

        let shell_user = match get("WS_SHELL_USER") {
            Some(v) => {
                Some(ShellUser::resolve(v.trim()).map_err(|e| invalid("WS_SHELL_USER", &v, e.to_string()))?)
            }
            None => None,
        };
        let bash_command = get("WS_BASH_COMMAND").unwrap_or_else(|| DEFAULT_BASH_COMMAND.to_owned());
        let bash_command = words(&bash_command);
        if bash_command.is_empty() {
            return Err(invalid("WS_BASH_COMMAND", "", "empty command"));
        }
        let odoo_root = get("WS_ODOO_ROOT").map(PathBuf::from);
        let odoo_command = match get("WS_ODOO_COMMAND") {
            Some(v) => Some(words(&v)),
            None => shell::detect_odoo(&OdooHints {
                root: odoo_root.clone(),
                config: get("WS_ODOO_CONFIG")
                    .or_else(|| get("ODOO_RC"))
                    .map(PathBuf::from),
                python: get("WS_ODOO_PYTHON").map(PathBuf::from),
                virtual_env: get("VIRTUAL_ENV").map(PathBuf::from),
                path: get("PATH"),
            }),
        };
        let (bash_command, odoo_command) = match &shell_user {
            Some(user) => (user.wrap(&bash_command), odoo_command.map(|c| user.wrap(&c))),
            None => (bash_command, odoo_command),
        };
        let workdir = get("WS_WORKDIR")
            .map(PathBuf::from)
            .or(odoo_root)
            .or_else(|| shell_user.as_ref().map(|u| u.home.clone()).filter(|h| h.is_dir()))
            .or_else(|| get("HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/"));
        if !workdir.is_dir() {
            return Err(invalid(
                "WS_WORKDIR",
                &workdir.display().to_string(),
                "not a directory",
            ));
        }
        let shell_env = shell_env(&get, shell_user.as_ref(), get("WS_SHELL_ENV").as_deref())?;
        Ok(Config {
            secret,
            host,
            port,
            allowed_origins,
            max_sessions,
            idle_timeout,
            max_session_length,
            auth_timeout,
            handshake_timeout,
            max_pending_per_peer,
            kill_grace,
            bash_command,
            odoo_command,
            workdir,
            shell_env,
            shell_user,
        })
    }
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn words(value: &str) -> Vec<String> {
    value.split_whitespace().map(str::to_owned).collect()
}

/// The allow-listed host variables (the shell user's `HOME`, `USER`, `LOGNAME` when there is one), fixed
/// terminal settings, then `WS_SHELL_ENV` (`NAME=value` sets, a bare `NAME` copies the host's value). No
/// `WS_*` variable can be passed: the secret stays in the host.
fn shell_env(
    get: &impl Fn(&str) -> Option<String>,
    user: Option<&ShellUser>,
    extra: Option<&str>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |name: &str, value: String| {
        env.retain(|(n, _)| n != name);
        env.push((name.to_owned(), value));
    };
    for name in INHERITED_ENV {
        if let Some(value) = get(name) {
            set(name, value);
        }
    }
    if get("PATH").is_none() {
        set("PATH", FALLBACK_PATH.to_owned());
    }
    if let Some(user) = user {
        set("HOME", user.home.display().to_string());
        set("USER", user.name.clone());
        set("LOGNAME", user.name.clone());
    }
    set("TERM", "xterm-256color".to_owned());
    set("COLORTERM", "truecolor".to_owned());
    set("PS1", DEFAULT_PS1.to_owned());
    for item in extra.map(split_list).into_iter().flatten() {
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.to_owned())),
            None => (item, None),
        };
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_name {
            return Err(invalid("WS_SHELL_ENV", item, "not a variable name"));
        }
        if name.starts_with("WS_") {
            return Err(invalid("WS_SHELL_ENV", item, "WS_* variables stay in the host"));
        }
        if let Some(value) = value.or_else(|| get(name)) {
            set(name, value);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const KEY: (&str, &str) = ("WS_SECRET_KEY", "0123456789abcdef0123456789abcdef");

    #[test]
    fn refuses_missing_or_short_secret() {
        assert!(matches!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Secret(TokenError::SecretMissing))
        ));
        assert!(matches!(
            Config::from_lookup(lookup(&[("WS_SECRET_KEY", "too-short")])),
            Err(ConfigError::Secret(TokenError::SecretTooShort(9)))
        ));
    }

    #[test]
    fn defaults() {
        let c =
            Config::from_lookup(lookup(&[KEY, ("HOME", "/"), ("WS_ODOO_COMMAND", "/bin/false")])).unwrap();
        assert_eq!((c.host.as_str(), c.port), (DEFAULT_HOST, DEFAULT_PORT));
        assert_eq!(c.max_sessions, DEFAULT_MAX_SESSIONS);
        assert_eq!(c.bash_command, ["/bin/bash", "--noprofile", "--norc", "-i"]);
        assert_eq!(c.odoo_command, Some(vec!["/bin/false".to_owned()]));
        assert!(c.allowed_origins.is_empty());
        assert_eq!(c.shell_user, None);
        assert_eq!(c.max_pending_per_peer, DEFAULT_MAX_PENDING_PER_PEER);
    }

    #[test]
    fn an_unknown_shell_user_is_refused() {
        let refused = Config::from_lookup(lookup(&[KEY, ("HOME", "/"), ("WS_SHELL_USER", "no-such-user-x")]));
        assert!(
            matches!(&refused, Err(ConfigError::Invalid { name: "WS_SHELL_USER", reason, .. }) if reason == "no such user"),
            "{refused:?}"
        );
    }

    #[test]
    fn shell_env_is_an_allow_list_without_the_secret() {
        let c = Config::from_lookup(lookup(&[
            KEY,
            ("HOME", "/"),
            ("PATH", "/bin"),
            ("PGPASSWORD", "db-secret"),
            ("ODOO_DB", "prod"),
            ("WS_SHELL_ENV", "ODOO_DB, EDITOR=vi"),
        ]))
        .unwrap();
        let names: Vec<&str> = c.shell_env.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"ODOO_DB") && names.contains(&"EDITOR") && names.contains(&"PATH"));
        assert!(!names.iter().any(|n| *n == "PGPASSWORD" || n.starts_with("WS_")));
        let refused = Config::from_lookup(lookup(&[KEY, ("HOME", "/"), ("WS_SHELL_ENV", "WS_SECRET_KEY")]));
        assert!(matches!(
            refused,
            Err(ConfigError::Invalid {
                name: "WS_SHELL_ENV",
                ..
            })
        ));
    }

    #[test]
    fn rejects_bad_numbers_and_durations() {
        for (name, value) in [
            ("WS_PORT", "http"),
            ("WS_MAX_SESSIONS", "0"),
            ("WS_MAX_PENDING_PER_PEER", "65"),
            ("WS_HANDSHAKE_TIMEOUT", "0s"),
            ("WS_IDLE_TIMEOUT", "soon"),
        ] {
            let result = Config::from_lookup(lookup(&[KEY, ("HOME", "/"), (name, value)]));
            assert!(
                matches!(result, Err(ConfigError::Invalid { .. })),
                "{name}={value}"
            );
        }
    }
}
