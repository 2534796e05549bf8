//! The `common` and `db` services: version, about, login, authenticate, server_version.

use serde_json::{Value, json};

use crate::Sim;
use crate::access::LOGINS;
use crate::error::{OdooError, OdooResult};

fn version_info(version: &str) -> Value {
    let mut parts = version.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let major = parts.next().unwrap_or(18);
    let minor = parts.next().unwrap_or(0);
    json!({
        "server_version": version,
        "server_version_info": [major, minor, 0, "final", 0, ""],
        "server_serie": format!("{major}.{minor}"),
        "protocol_version": 1,
    })
}

/// The uid of `login` when `secret` is its password or one of its API keys.
pub fn check_login(sim: &Sim, db: &Value, login: &Value, secret: &Value) -> Option<i64> {
    if db.as_str() != Some(crate::DEFAULT_DB) {
        return None;
    }
    let (login, secret) = (login.as_str()?, secret.as_str()?);
    if secret.is_empty() {
        return None;
    }
    let (uid, _, password) = LOGINS.iter().find(|(_, l, _)| *l == login)?;
    if secret == *password || sim.api_key(login).is_some_and(|k| k == secret) {
        Some(*uid)
    } else {
        None
    }
}

fn missing_arg(func: &str, names: &[&str], got: usize) -> OdooError {
    super::args::missing_positional(&format!("{func}()"), &names[got.min(names.len())..])
}

pub fn call(sim: &Sim, method: &str, args: &[Value]) -> OdooResult<Value> {
    match method {
        "version" => Ok(version_info(&sim.server_version())),
        "about" => Ok(if args.first().is_some_and(crate::orm::convert::truthy) {
            json!(["See http://openerp.com", sim.server_version()])
        } else {
            json!("See http://openerp.com")
        }),
        "login" => {
            const NAMES: &[&str] = &["db", "login", "password"];
            if args.len() < NAMES.len() {
                return Err(missing_arg("exp_login", NAMES, args.len()));
            }
            Ok(check_login(sim, &args[0], &args[1], &args[2]).map_or(Value::Bool(false), Value::from))
        }
        "authenticate" => {
            const NAMES: &[&str] = &["db", "login", "password", "user_agent_env"];
            if args.len() < NAMES.len() {
                return Err(missing_arg("exp_authenticate", NAMES, args.len()));
            }
            Ok(check_login(sim, &args[0], &args[1], &args[2]).map_or(Value::Bool(false), Value::from))
        }
        other => Err(OdooError::new(
            "builtins.Exception",
            format!("Method not found: {other}"),
        )),
    }
}

pub fn db(sim: &Sim, method: &str, _args: &[Value]) -> OdooResult<Value> {
    match method {
        "server_version" => Ok(Value::String(sim.server_version())),
        "list" => Ok(json!([crate::DEFAULT_DB])),
        "db_exist" => Ok(Value::Bool(
            _args.first().and_then(Value::as_str) == Some(crate::DEFAULT_DB),
        )),
        other => Err(OdooError::new(
            "builtins.Exception",
            format!("Method not found: {other}"),
        )),
    }
}
