//! ORM methods callable over RPC: argument binding, context, locking (read vs write) and rollback on error.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::args::{Param, bind, class_of, ids};
use crate::Sim;
use crate::access::{self, Op as AccessOp};
use crate::automation;
use crate::db::{Db, SEQ_IR_SEQUENCE};
use crate::error::{OdooError, OdooResult};
use crate::models::{self, defaults, defaults::Extra};
use crate::orm::create::{MutEnv, create_one};
use crate::orm::{Env, read, search, unlink, web, write};
use crate::registry::Model;

const READ_ONLY: &[&str] = &[
    "search",
    "search_count",
    "read",
    "search_read",
    "fields_get",
    "default_get",
    "name_search",
    "web_search_read",
    "web_read",
    "check_access_rights",
    "check_access",
    "has_access",
    "exists",
];

fn no_method(model: &str, method: &str) -> OdooError {
    OdooError::new(
        "builtins.AttributeError",
        format!("The method '{method}' does not exist on the model '{model}'"),
    )
}

fn major(sim: &Sim) -> i64 {
    sim.server_version()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(18)
}

pub fn run(
    sim: &Sim,
    uid: i64,
    model_name: &str,
    method: &str,
    args: &[Value],
    mut kwargs: Map<String, Value>,
    retries: u32,
) -> OdooResult<Option<Value>> {
    let ctx = match kwargs.remove("context") {
        Some(Value::Object(c)) => c,
        _ => Map::new(),
    };
    if let Some(lang) = ctx.get("lang").and_then(Value::as_str)
        && lang != "en_US"
    {
        return Err(OdooError::user(format!("Invalid language code: {lang}")));
    }
    let reg = sim.inner.registry.clone();
    let Some(model) = reg.model(model_name) else {
        return Err(OdooError::user(format!("Object {model_name} doesn't exist")));
    };
    if major(sim) < 17 && method == "web_read" {
        return Err(no_method(model_name, method));
    }
    if major(sim) < 17 && method == "web_search_read" {
        return Err(OdooError::type_error(
            "BaseModel.web_search_read() got an unexpected keyword argument 'specification'",
        ));
    }
    // res.company's defaults create a sequence, so its default_get takes the write lock.
    let read_only = READ_ONLY.contains(&method) && !(method == "default_get" && model_name == "res.company");
    if read_only {
        let db = sim.committed();
        if !automation::model_available(&db, model_name) {
            return Err(automation::unknown_model(model_name));
        }
        let env = Env {
            reg: &reg,
            db: &db,
            uid,
            ctx: &ctx,
        };
        return read_method(&env, model, method, args, &kwargs);
    }
    // One writer at a time; readers keep seeing the committed state until this call publishes its own.
    let _writer = sim
        .inner
        .writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut tries = 0;
    loop {
        tries += 1;
        let base = sim.committed();
        if !automation::model_available(&base, model_name) {
            return Err(automation::unknown_model(model_name));
        }
        let mut work = (*base).clone();
        let mut m = MutEnv::new(&reg, &mut work, uid, &ctx);
        let mut out = write_method(&mut m, model, method, args, &kwargs);
        let outbox = std::mem::take(&mut m.outbox);
        // Odoo POSTs inside the transaction: the change is not visible to anyone while the receiver works, and a
        // call that fails afterwards rolls back a change whose event already went out.
        for call in &outbox {
            sim.record_webhook(automation::outbound::send(call));
        }
        let conflict = out.is_ok() && tries <= retries;
        if conflict {
            out = Err(OdooError::new(
                "psycopg2.errors.SerializationFailure",
                "could not serialize access due to concurrent update\n",
            ));
        }
        match &out {
            Ok(_) => sim.publish(Arc::new(work)),
            Err(_) => {
                if let Some(kept) = rollback(&base, &work) {
                    sim.publish(Arc::new(kept));
                }
            }
        }
        // `odoo/service/model.py` re-runs the whole call on a serialization failure (its random back-off, up to
        // 2^n seconds, is not waited for).
        if !(conflict && tries < MAX_TRIES_ON_CONCURRENCY_FAILURE) {
            return out;
        }
    }
}

/// Tries of a call whose transaction keeps failing on concurrency (`odoo/service/model.py`).
const MAX_TRIES_ON_CONCURRENCY_FAILURE: u32 = 5;

/// The state before a failed call with the sequence values it consumed kept, as PostgreSQL does (`None`: it
/// consumed none, the committed state stays as it is).
fn rollback(before: &Db, failed: &Db) -> Option<Db> {
    let moved = failed.counters != before.counters
        || failed
            .tables
            .iter()
            .any(|(name, t)| before.tables.get(name).is_some_and(|b| b.next_id != t.next_id));
    if !moved {
        return None;
    }
    let mut kept = before.clone();
    for (name, t) in &failed.tables {
        if let Some(s) = kept.tables.get_mut(name) {
            s.next_id = t.next_id;
        }
    }
    kept.counters = failed.counters.clone();
    Some(kept)
}

fn first_ids(args: &[Value], class: &str, method: &str) -> OdooResult<(Vec<i64>, Vec<Value>)> {
    match args.split_first() {
        Some((first, rest)) => Ok((ids(first), rest.to_vec())),
        None => Err(OdooError::type_error(format!(
            "{class}.{method}() missing 1 required positional argument: 'ids'"
        ))),
    }
}

fn read_method(
    env: &Env<'_>,
    model: &Model,
    method: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Option<Value>> {
    let name = &model.name;
    let class = class_of(name, method);
    let b = |params: &[Param], a: &[Value]| bind(&class, method, params, a, kwargs, None).map(|(v, _)| v);
    let out = match method {
        "search" => {
            let v = b(
                &[
                    ("domain", None),
                    ("offset", Some(json!(0))),
                    ("limit", Some(Value::Null)),
                    ("order", Some(Value::Null)),
                ],
                args,
            )?;
            access::check_acl(env, name, AccessOp::Read)?;
            json!(search::search(env, model, &v[0], &v[1], &v[2], &v[3])?)
        }
        "search_count" => {
            let v = b(&[("domain", None), ("limit", Some(Value::Null))], args)?;
            access::check_acl(env, name, AccessOp::Read)?;
            let n = search::filter(env, model, &v[0])?.len();
            json!(v[1].as_u64().map_or(n, |l| n.min(l as usize)))
        }
        "read" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            let v = b(
                &[
                    ("fields", Some(Value::Null)),
                    ("load", Some(json!("_classic_read"))),
                ],
                &rest,
            )?;
            access::check(env, name, &ids, AccessOp::Read)?;
            let fields = field_list(model, &v[0]);
            json!(read::read(env, model, &ids, &fields, !v[1].is_null())?)
        }
        "search_read" => {
            let (v, extra) = bind(
                &class,
                method,
                &[
                    ("domain", Some(Value::Null)),
                    ("fields", Some(Value::Null)),
                    ("offset", Some(json!(0))),
                    ("limit", Some(Value::Null)),
                    ("order", Some(Value::Null)),
                ],
                args,
                kwargs,
                Some("read_kwargs"),
            )?;
            let (rk, _) = bind(
                "BaseModel",
                "_read_format",
                &[("load", Some(json!("_classic_read")))],
                &[],
                &extra,
                None,
            )?;
            access::check_acl(env, name, AccessOp::Read)?;
            let fields = field_list(model, &v[1]);
            read::check_fields(model, &fields)?;
            let domain = if v[0].is_null() { json!([]) } else { v[0].clone() };
            let ids = search::search(env, model, &domain, &v[2], &v[3], &v[4])?;
            json!(read::read(env, model, &ids, &fields, !rk[0].is_null())?)
        }
        "fields_get" => {
            let v = b(
                &[
                    ("allfields", Some(Value::Null)),
                    ("attributes", Some(Value::Null)),
                ],
                args,
            )?;
            fields_get(env.db, model, &v[0], &v[1])
        }
        "default_get" => {
            let fields = default_get_fields(&class, method, model, args, kwargs)?;
            Value::Object(models::default_get(env, model, &fields, Extra::default())?)
        }
        "name_search" => {
            let v = b(
                &[
                    ("name", Some(json!(""))),
                    ("args", Some(Value::Null)),
                    ("operator", Some(json!("ilike"))),
                    ("limit", Some(json!(100))),
                ],
                args,
            )?;
            access::check_acl(env, name, AccessOp::Read)?;
            let mut domain = v[1].as_array().cloned().unwrap_or_default();
            let text = v[0].as_str().unwrap_or_default();
            let op = v[2].as_str().unwrap_or("ilike");
            if !text.is_empty() || !matches!(op, "ilike" | "like") {
                domain.push(json!(["display_name", op, text]));
            }
            let ids = search::search(env, model, &Value::Array(domain), &json!(0), &v[3], &Value::Null)?;
            Value::Array(
                ids.iter()
                    .map(|id| json!([id, env.target_name(name, *id)]))
                    .collect(),
            )
        }
        "web_search_read" => {
            let v = b(
                &[
                    ("domain", None),
                    ("specification", None),
                    ("offset", Some(json!(0))),
                    ("limit", Some(Value::Null)),
                    ("order", Some(Value::Null)),
                    ("count_limit", Some(Value::Null)),
                ],
                args,
            )?;
            access::check_acl(env, name, AccessOp::Read)?;
            let spec = v[1].as_object().cloned().unwrap_or_default();
            web::web_search_read(
                env,
                model,
                &v[0],
                &spec,
                &web::Page {
                    offset: &v[2],
                    limit: &v[3],
                    order: &v[4],
                    count_limit: &v[5],
                },
            )?
        }
        "web_read" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            let v = b(&[("specification", None)], &rest)?;
            access::check(env, name, &ids, AccessOp::Read)?;
            let spec = v[0].as_object().cloned().unwrap_or_default();
            json!(web::web_read(env, model, &ids, &spec)?)
        }
        "check_access_rights" => {
            let v = b(
                &[("operation", None), ("raise_exception", Some(json!(true)))],
                args,
            )?;
            let op = operation(&v[0])?;
            let res = access::check_acl(env, name, op);
            if crate::orm::convert::truthy(&v[1]) {
                res?;
                return Ok(None);
            }
            json!(res.is_ok())
        }
        "check_access" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            let v = b(&[("operation", None)], &rest)?;
            access::check(env, name, &ids, operation(&v[0])?)?;
            return Ok(None);
        }
        "has_access" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            let v = b(&[("operation", None)], &rest)?;
            json!(access::check(env, name, &ids, operation(&v[0])?).is_ok())
        }
        "exists" => {
            let (ids, _) = first_ids(args, &class, method)?;
            json!(
                ids.into_iter()
                    .filter(|i| env.db.exists(name, *i))
                    .collect::<Vec<_>>()
            )
        }
        other => return Err(no_method(name, other)),
    };
    Ok(Some(out))
}

/// The field list of `default_get`; models whose override is not an `@api.model` method take the ids first.
fn default_get_fields(
    class: &str,
    method: &str,
    model: &Model,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Vec<String>> {
    let rest = if defaults::takes_ids(&model.name) {
        first_ids(args, class, method)?.1
    } else {
        args.to_vec()
    };
    let (v, _) = bind(class, method, &[("fields_list", None)], &rest, kwargs, None)?;
    Ok(v[0]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default())
}

fn operation(v: &Value) -> OdooResult<AccessOp> {
    v.as_str()
        .and_then(AccessOp::parse)
        .ok_or_else(|| OdooError::value(format!("Invalid access mode: {}", crate::pyrepr::repr(v))))
}

fn field_list(model: &Model, v: &Value) -> Vec<String> {
    match v.as_array() {
        Some(a) if !a.is_empty() => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => read::all_fields(model),
    }
}

fn fields_get(db: &Db, model: &Model, allfields: &Value, attributes: &Value) -> Value {
    let wanted: Option<Vec<&str>> = allfields
        .as_array()
        .filter(|a| !a.is_empty())
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let attrs: Option<Vec<&str>> = attributes
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let mut out = Map::new();
    for f in &model.fields {
        if f.attrs.is_empty()
            || wanted.as_ref().is_some_and(|w| !w.contains(&f.name.as_str()))
            || !automation::field_available(db, &model.name, &f.name)
        {
            continue;
        }
        let desc: Map<String, Value> = match &attrs {
            Some(list) => f
                .attrs
                .iter()
                .filter(|(k, _)| list.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            None => f.attrs.clone(),
        };
        out.insert(f.name.clone(), Value::Object(desc));
    }
    Value::Object(out)
}

fn write_method(
    m: &mut MutEnv<'_>,
    model: &Model,
    method: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Option<Value>> {
    let name = model.name.clone();
    let class = class_of(&name, method);
    let b = |params: &[Param], a: &[Value]| bind(&class, method, params, a, kwargs, None).map(|(v, _)| v);
    let out = match method {
        "create" => {
            if args.is_empty() {
                return Err(OdooError::index("tuple index out of range"));
            }
            let v = b(&[("vals_list", None)], args)?;
            access::check_acl(&m.env(), &name, AccessOp::Create)?;
            match &v[0] {
                Value::Array(list) => {
                    let mut ids = Vec::with_capacity(list.len());
                    for vals in list {
                        ids.push(create_checked(m, model, vals)?);
                    }
                    json!(ids)
                }
                vals => json!(create_checked(m, model, vals)?),
            }
        }
        "write" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            let v = b(&[("vals", None)], &rest)?;
            let vals = v[0].as_object().cloned().unwrap_or_default();
            existing(m, &name, &ids)?;
            access::check(&m.env(), &name, &ids, AccessOp::Read)?;
            access::check(&m.env(), &name, &ids, AccessOp::Write)?;
            write::write(m, model, &ids, &vals)?;
            json!(true)
        }
        "unlink" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            b(&[], &rest)?;
            access::check_acl(&m.env(), &name, AccessOp::Unlink)?;
            existing(m, &name, &ids)?;
            access::check_rules(&m.env(), &name, &ids, AccessOp::Unlink)?;
            unlink::unlink(m, model, &ids)?;
            json!(true)
        }
        "copy" => {
            let (ids, rest) = first_ids(args, &class, method)?;
            let v = b(&[("default", Some(Value::Null))], &rest)?;
            access::check(&m.env(), &name, &ids, AccessOp::Read)?;
            access::check_acl(&m.env(), &name, AccessOp::Create)?;
            let mut new_ids = Vec::new();
            for id in ids {
                let vals = models::copy_data(&m.env(), model, id, v[0].as_object());
                new_ids.push(create_one(m, model, &vals)?);
            }
            json!(new_ids)
        }
        "default_get" => {
            let fields = default_get_fields(&class, method, model, args, kwargs)?;
            let extra = Extra {
                new_sequence: defaults::creates_records(&name, &fields)
                    .then(|| m.db.next_id(SEQ_IR_SEQUENCE)),
            };
            Value::Object(models::default_get(&m.env(), model, &fields, extra)?)
        }
        "name_create" => {
            let v = b(&[("name", None)], args)?;
            access::check_acl(&m.env(), &name, AccessOp::Create)?;
            let vals = models::name_create_vals(model, v[0].as_str().unwrap_or_default());
            let id = create_one(m, model, &vals)?;
            json!([id, m.env().target_name(&name, id)])
        }
        "action_archive" | "action_unarchive" if model.has_active() => {
            let (ids, rest) = first_ids(args, &class, method)?;
            b(&[], &rest)?;
            existing(m, &name, &ids)?;
            access::check(&m.env(), &name, &ids, AccessOp::Write)?;
            let mut vals = Map::new();
            vals.insert("active".into(), Value::Bool(method == "action_unarchive"));
            write::write(m, model, &ids, &vals)?;
            return Ok(None);
        }
        other => {
            let (ids, rest) = first_ids(args, &class, method)?;
            existing(m, &name, &ids)?;
            access::check(&m.env(), &name, &ids, AccessOp::Write)?;
            return models::call_method(m, model, other, &ids, &rest, kwargs)
                .unwrap_or_else(|| Err(no_method(&name, other)));
        }
    };
    Ok(Some(out))
}

fn create_checked(m: &mut MutEnv<'_>, model: &Model, vals: &Value) -> OdooResult<i64> {
    let vals = vals.as_object().cloned().unwrap_or_default();
    let id = create_one(m, model, &vals)?;
    access::check_rules(&m.env(), &model.name, &[id], AccessOp::Create)?;
    Ok(id)
}

/// `MissingError` when some of `ids` do not exist.
fn existing(m: &MutEnv<'_>, model: &str, ids: &[i64]) -> OdooResult<()> {
    let missing: Vec<i64> = ids.iter().copied().filter(|i| !m.db.exists(model, *i)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(OdooError::missing(model, &missing, m.uid))
    }
}
