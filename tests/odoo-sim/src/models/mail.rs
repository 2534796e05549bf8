//! The mail thread: creation notes, followers, field tracking, `message_post` and mail.message defaults.

use serde_json::{Map, Value, json};

use crate::db::{Record, SEQ_FOLLOWERS, SEQ_TRACKING};
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::orm::create::MutEnv;
use crate::registry::{Field, Model};

/// `mail.message.subtype` ids of the demo database.
const SUBTYPE_DISCUSSIONS: i64 = 1;
const SUBTYPE_NOTE: i64 = 2;
const SUBTYPE_ORDER_CONFIRMED: i64 = 19;

/// Fields with `tracking=True` per model (a change posts a tracking message).
const TRACKED: &[(&str, &[&str])] = &[
    (
        "res.partner",
        &["name", "email", "phone", "website", "parent_id", "user_id", "vat"],
    ),
    (
        "sale.order",
        &[
            "state",
            "partner_id",
            "user_id",
            "team_id",
            "amount_untaxed",
            "amount_total",
            "client_order_ref",
            "validity_date",
        ],
    ),
    (
        "crm.lead",
        &[
            "stage_id",
            "user_id",
            "team_id",
            "partner_id",
            "expected_revenue",
            "date_deadline",
            "active",
        ],
    ),
    (
        "account.move",
        &["state", "partner_id", "amount_total", "payment_state"],
    ),
];

pub fn is_thread(model: &Model) -> bool {
    model.field("message_ids").is_some() && model.name != "mail.message"
}

pub fn display_name(rec: &Record) -> Value {
    for k in ["subject", "record_name"] {
        if let Some(Value::String(s)) = rec.get(k)
            && !s.is_empty()
        {
            return Value::String(s.clone());
        }
    }
    Value::Bool(false)
}

fn ids(v: Option<&Value>) -> Vec<i64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// The thread's lists the simulator keeps (messages, followers).
const THREAD_LISTS: &[&str] = &["message_ids", "message_follower_ids", "message_partner_ids"];

/// Whether the simulator keeps the values of `field` of a thread model itself.
pub fn computes(model: &Model, field: &str) -> bool {
    is_thread(model) && THREAD_LISTS.contains(&field)
}

pub fn x2many(env: &Env<'_>, model: &Model, id: i64, rec: &Record, field: &Field) -> Option<Vec<i64>> {
    if !is_thread(model) {
        return None;
    }
    match field.name.as_str() {
        "message_ids" => {
            let mut out = ids(rec.get("message_ids"));
            if let Some(t) = env.db.table("mail.message") {
                for (mid, m) in &t.rows {
                    if m.get("model").and_then(Value::as_str) == Some(&model.name)
                        && m.get("res_id").and_then(Value::as_i64) == Some(id)
                        && !out.contains(mid)
                    {
                        out.push(*mid);
                    }
                }
            }
            out.sort_unstable_by(|a, b| b.cmp(a));
            Some(out)
        }
        "message_follower_ids" | "message_partner_ids" => Some(ids(rec.get(&field.name))),
        _ => None,
    }
}

/// (partner id, `"Name" <email>`) of the acting user.
fn author(m: &MutEnv<'_>) -> (Value, Value) {
    let partner =
        m.db.row("res.users", m.uid)
            .and_then(|u| u.get("partner_id"))
            .and_then(Value::as_i64);
    let formatted = partner.and_then(|p| m.db.row("res.partner", p)).and_then(|p| {
        let name = p.get("name").and_then(Value::as_str)?;
        let email = p.get("email").and_then(Value::as_str)?;
        Some(json!(format!("\"{name}\" <{email}>")))
    });
    (
        partner.map_or(json!(false), Value::from),
        formatted.unwrap_or(json!(false)),
    )
}

pub fn before_create(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    let (author_id, from) = author(m);
    let record_name = match (
        row.get("model").and_then(Value::as_str),
        row.get("res_id").and_then(Value::as_i64),
    ) {
        (Some(model), Some(res_id)) => m.env().target_name(model, res_id),
        _ => json!(false),
    };
    for (k, v) in [
        ("author_id", author_id),
        ("email_from", from.clone()),
        ("reply_to", from),
        ("date", json!(m.now)),
        ("message_type", json!("comment")),
        ("subtype_id", json!(false)),
        ("subject", json!(false)),
        ("record_name", record_name),
        ("is_internal", json!(false)),
        ("parent_id", json!(false)),
        ("body", json!("")),
        ("partner_ids", json!([])),
        ("tracking_value_ids", json!([])),
        ("attachment_ids", json!([])),
    ] {
        row.entry(k).or_insert(v);
    }
    Ok(())
}

fn new_message(m: &mut MutEnv<'_>, vals: Value) -> OdooResult<i64> {
    let Some(mm) = m.model("mail.message") else {
        return Err(OdooError::user("Object mail.message doesn't exist"));
    };
    let vals = vals.as_object().cloned().unwrap_or_default();
    crate::orm::create::create_one(m, mm, &vals)
}

/// Creation note and creator subscription of a new thread record.
pub fn after_create(m: &mut MutEnv<'_>, model: &Model, id: i64) {
    if !is_thread(model)
        || m.ctx
            .get("tracking_disable")
            .is_some_and(crate::orm::convert::truthy)
    {
        return;
    }
    if !m
        .ctx
        .get("mail_create_nolog")
        .is_some_and(crate::orm::convert::truthy)
    {
        let body = format!("<p>{} created</p>", model.description);
        let _ = new_message(
            m,
            json!({"model": model.name, "res_id": id, "body": body, "message_type": "notification",
            "subtype_id": SUBTYPE_NOTE, "record_name": false}),
        );
    }
    if !m
        .ctx
        .get("mail_create_nosubscribe")
        .is_some_and(crate::orm::convert::truthy)
    {
        let partner =
            m.db.row("res.users", m.uid)
                .and_then(|u| u.get("partner_id"))
                .and_then(Value::as_i64);
        if let Some(p) = partner {
            subscribe(m, &model.name, id, p);
        }
    }
}

/// Adds a follower (a mail.followers id) unless the partner already follows.
pub fn subscribe(m: &mut MutEnv<'_>, model: &str, id: i64, partner: i64) {
    let follows =
        m.db.row(model, id)
            .is_some_and(|r| ids(r.get("message_partner_ids")).contains(&partner));
    if follows || !m.db.exists(model, id) {
        return;
    }
    let fid = m.db.next_id(SEQ_FOLLOWERS);
    if let Some(row) = m.db.row_mut(model, id) {
        for (k, v) in [("message_follower_ids", fid), ("message_partner_ids", partner)] {
            let mut list = ids(row.get(k));
            list.push(v);
            row.insert(k.into(), json!(list));
        }
    }
}

/// Posts a tracking message for changed tracked fields (`changed` holds old values).
pub fn track(m: &mut MutEnv<'_>, model: &Model, id: i64, changed: &Map<String, Value>) {
    if m.creating > 0
        || !is_thread(model)
        || m.ctx
            .get("tracking_disable")
            .is_some_and(crate::orm::convert::truthy)
    {
        return;
    }
    let Some((_, fields)) = TRACKED.iter().find(|(n, _)| *n == model.name) else {
        return;
    };
    let tracked: Vec<&String> = changed.keys().filter(|k| fields.contains(&k.as_str())).collect();
    if tracked.is_empty() {
        return;
    }
    let mut values: Vec<i64> = tracked.iter().map(|_| m.db.next_id(SEQ_TRACKING)).collect();
    values.sort_unstable_by(|a, b| b.cmp(a));
    let confirmed = model.name == "sale.order"
        && changed.contains_key("state")
        && m.db
            .row(&model.name, id)
            .and_then(|r| r.get("state"))
            .and_then(Value::as_str)
            == Some("sale");
    let subtype = if confirmed {
        SUBTYPE_ORDER_CONFIRMED
    } else {
        SUBTYPE_NOTE
    };
    let _ = new_message(
        m,
        json!({"model": model.name, "res_id": id, "body": "", "message_type": "notification",
        "subtype_id": subtype, "tracking_value_ids": values, "record_name": false}),
    );
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// `message_post(**kwargs)` on one record; returns the new message id.
pub fn message_post(
    m: &mut MutEnv<'_>,
    model: &Model,
    ids: &[i64],
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<i64> {
    let [id] = ids else {
        return Err(OdooError::value(format!(
            "Expected singleton: {}{}",
            model.name,
            crate::pyrepr::id_tuple(ids)
        )));
    };
    let get = |k: &str| kwargs.get(k).cloned().unwrap_or(Value::Null);
    let message_type = get("message_type").as_str().unwrap_or("notification").to_owned();
    if message_type == "user_notification" {
        return Err(OdooError::value(
            "Use message_notify to send a notification to an user.",
        ));
    }
    let raw = kwargs
        .get("body")
        .or_else(|| args.first())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let body = if crate::orm::convert::truthy(&get("body_is_html")) || raw.is_empty() {
        raw
    } else {
        format!("<p>{}</p>", escape(&raw))
    };
    let subtype = match (get("subtype_xmlid").as_str(), get("subtype_id").as_i64()) {
        (Some("mail.mt_comment"), _) => SUBTYPE_DISCUSSIONS,
        (Some(_), _) => SUBTYPE_NOTE,
        (None, Some(s)) => s,
        (None, None) => SUBTYPE_NOTE,
    };
    let record_name = m.env().target_name(&model.name, *id);
    let subject = match get("subject") {
        Value::String(s) => json!(s),
        _ if message_type == "comment" => record_name.clone(),
        _ => json!(false),
    };
    let parent = match get("parent_id").as_i64() {
        Some(p) => json!(p),
        None => {
            m.db.table("mail.message")
                .and_then(|t| {
                    t.rows
                        .iter()
                        .find(|(_, r)| {
                            r.get("model").and_then(Value::as_str) == Some(&model.name)
                                && r.get("res_id").and_then(Value::as_i64) == Some(*id)
                        })
                        .map(|(k, _)| json!(k))
                })
                .unwrap_or(json!(false))
        }
    };
    let partner_ids = get("partner_ids").as_array().cloned().unwrap_or_default();
    new_message(
        m,
        json!({"model": model.name, "res_id": id, "body": body, "message_type": message_type, "subtype_id": subtype,
        "subject": subject, "record_name": record_name, "parent_id": parent, "partner_ids": partner_ids}),
    )
}
