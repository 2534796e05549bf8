//! The `object` service: `execute_kw`/`execute`, credential checks, model and method resolution.

use serde_json::{Map, Value};

use crate::Sim;
use crate::access::LOGINS;
use crate::error::{OdooError, OdooResult};

pub fn call(sim: &Sim, method: &str, args: &[Value], retries: u32) -> OdooResult<Option<Value>> {
    if method != "execute" && method != "execute_kw" {
        return Err(OdooError::new(
            "builtins.NameError",
            format!("Method not available {method}"),
        ));
    }
    if args.len() < 5 {
        return Err(OdooError::type_error(format!(
            "{method}() missing {} required positional arguments",
            5 - args.len()
        )));
    }
    let uid = authenticate(sim, &args[1], &args[2])?;
    let model = args[3].as_str().unwrap_or_default();
    let name = args[4].as_str().unwrap_or_default();
    let (margs, kwargs): (Vec<Value>, Map<String, Value>) = if method == "execute_kw" {
        let margs = args.get(5).and_then(Value::as_array).cloned().unwrap_or_default();
        let kwargs = args
            .get(6)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        (margs, kwargs)
    } else {
        (args[5..].to_vec(), Map::new())
    };
    if sim.inner.registry.model(model).is_none()
        || !crate::automation::model_available(&sim.committed(), model)
    {
        return Err(OdooError::user(format!("Object {model} doesn't exist")));
    }
    if name.starts_with('_') {
        return Err(OdooError::access(format!(
            "Private methods (such as {name}) cannot be called remotely."
        )));
    }
    super::call::run(sim, uid, model, name, &margs, kwargs, retries)
}

/// Checks `uid` + password/API key as `res.users.check` does; returns the uid.
fn authenticate(sim: &Sim, uid: &Value, secret: &Value) -> OdooResult<i64> {
    let secret = secret.as_str().unwrap_or_default();
    if secret.is_empty() {
        return Err(OdooError::access_denied());
    }
    let uid = match uid {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(OdooError::access_denied)?;
    let exists = sim
        .inner
        .db
        .read()
        .map(|db| db.exists("res.users", uid))
        .unwrap_or(false);
    if !exists {
        return Err(OdooError::missing("res.users", &[uid], uid));
    }
    let Some((_, login, password)) = LOGINS.iter().find(|(u, _, _)| *u == uid) else {
        return Err(OdooError::access_denied());
    };
    if secret == *password || sim.api_key(login).is_some_and(|k| k == secret) {
        Ok(uid)
    } else {
        Err(OdooError::access_denied())
    }
}
