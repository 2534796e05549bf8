//! res.partner: complete name, commercial entity, address display, defaults, name constraint, restricting keys.

use serde_json::{Map, Value, json};

use crate::db::Record;
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::orm::create::MutEnv;

/// Address fields a contact copies from its company on create.
const ADDRESS: &[&str] = &["street", "street2", "zip", "city", "state_id", "country_id"];

fn s<'r>(rec: &'r Record, f: &str) -> Option<&'r str> {
    rec.get(f).and_then(Value::as_str).filter(|v| !v.is_empty())
}

pub fn display_name(env: &Env<'_>, id: i64, rec: &Record) -> Value {
    let name = rec
        .get("complete_name")
        .and_then(Value::as_str)
        .map_or_else(|| complete_name(env, id, rec), str::to_owned);
    if !env
        .ctx
        .get("show_address")
        .is_some_and(crate::orm::convert::truthy)
    {
        return Value::String(name);
    }
    let country = rec.get("country_id").and_then(Value::as_i64);
    let country_code = country
        .and_then(|c| env.db.row("res.country", c))
        .and_then(|c| s(c, "code"))
        .unwrap_or_default()
        .to_owned();
    let country_name = country
        .map(|c| env.target_name("res.country", c))
        .and_then(|v| v.as_str().map(str::to_owned));
    let state_code = rec
        .get("state_id")
        .and_then(Value::as_i64)
        .and_then(|st| env.db.row("res.country.state", st))
        .and_then(|r| s(r, "code"))
        .map(str::to_owned);
    let (city, zip) = (
        s(rec, "city").unwrap_or_default(),
        s(rec, "zip").unwrap_or_default(),
    );
    let city_line = if country_code == "US" {
        [city, state_code.as_deref().unwrap_or_default(), zip]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        [zip, city]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut lines = vec![name];
    for l in [
        s(rec, "street").map(str::to_owned),
        s(rec, "street2").map(str::to_owned),
        Some(city_line),
        country_name,
    ]
    .into_iter()
    .flatten()
    {
        if !l.trim().is_empty() {
            lines.push(l);
        }
    }
    Value::String(lines.join("\n"))
}

/// `_get_complete_name`: "Company, Contact" for contacts of a company (or with a company name).
fn complete_name(env: &Env<'_>, _id: i64, rec: &Record) -> String {
    let name = s(rec, "name").unwrap_or_default().to_owned();
    let is_company = rec.get("is_company") == Some(&Value::Bool(true));
    let parent = rec.get("parent_id").and_then(Value::as_i64);
    let company_name = s(rec, "company_name");
    if is_company || (parent.is_none() && company_name.is_none()) {
        return name;
    }
    let prefix = match parent.and_then(|p| env.db.row("res.partner", p)) {
        Some(p) => commercial_name(env, p),
        None => company_name.unwrap_or_default().to_owned(),
    };
    format!("{prefix}, {name}").trim().to_owned()
}

fn commercial_name(env: &Env<'_>, rec: &Record) -> String {
    let mut cur = rec;
    for _ in 0..10 {
        if cur.get("is_company") == Some(&Value::Bool(true)) {
            break;
        }
        match cur
            .get("parent_id")
            .and_then(Value::as_i64)
            .and_then(|p| env.db.row("res.partner", p))
        {
            Some(p) => cur = p,
            None => break,
        }
    }
    s(cur, "name").unwrap_or_default().to_owned()
}

/// What a new partner gets besides `default_get`'s values.
pub fn create_defaults() -> Record {
    json!({"company_id": false, "user_id": false})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

pub fn before_create(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    if let Some(parent) = row
        .get("parent_id")
        .and_then(Value::as_i64)
        .and_then(|p| m.db.row("res.partner", p))
        .cloned()
    {
        for f in ADDRESS {
            let empty = row
                .get(*f)
                .is_none_or(|v| matches!(v, Value::Bool(false) | Value::Null));
            if empty && let Some(v) = parent.get(*f) {
                row.insert((*f).to_owned(), v.clone());
            }
        }
    }
    Ok(())
}

pub fn check_insert(row: &Record) -> OdooResult<()> {
    let contact = row.get("type").and_then(Value::as_str).unwrap_or("contact") == "contact";
    if contact
        && row
            .get("name")
            .is_none_or(|v| matches!(v, Value::Null | Value::Bool(false)))
    {
        return Err(OdooError::validation(
            "The operation cannot be completed: Contacts require a name",
        ));
    }
    Ok(())
}

/// Recomputes the stored names and commercial entity of a partner and of its contacts.
pub fn recompute(m: &mut MutEnv<'_>, id: i64) {
    let mut todo = vec![id];
    let mut depth = 0;
    while let Some(pid) = todo.pop() {
        depth += 1;
        if depth > 1000 {
            break;
        }
        let env = m.env();
        let Some(rec) = env.db.row("res.partner", pid) else {
            continue;
        };
        let complete = complete_name(&env, pid, rec);
        let is_company = rec.get("is_company") == Some(&Value::Bool(true));
        let mut commercial = pid;
        let mut cur = rec;
        for _ in 0..10 {
            if cur.get("is_company") == Some(&Value::Bool(true)) {
                break;
            }
            match cur.get("parent_id").and_then(Value::as_i64) {
                Some(p) => match env.db.row("res.partner", p) {
                    Some(pr) => {
                        commercial = p;
                        cur = pr;
                    }
                    None => break,
                },
                None => break,
            }
        }
        let commercial_name = env
            .db
            .row("res.partner", commercial)
            .and_then(|r| s(r, "name"))
            .map(str::to_owned);
        let email = s(rec, "email").map(str::to_owned);
        let name = s(rec, "name").unwrap_or_default().to_owned();
        let children: Vec<i64> = rec
            .get("child_ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        if let Some(row) = m.db.row_mut("res.partner", pid) {
            row.insert("complete_name".into(), json!(complete));
            row.insert("display_name".into(), json!(complete));
            row.insert(
                "company_type".into(),
                json!(if is_company { "company" } else { "person" }),
            );
            row.insert("commercial_partner_id".into(), json!(commercial));
            row.insert(
                "commercial_company_name".into(),
                commercial_name.map_or(json!(false), Value::String),
            );
            row.insert(
                "email_normalized".into(),
                email.as_ref().map_or(json!(false), |e| json!(e.to_lowercase())),
            );
            row.insert(
                "email_formatted".into(),
                email
                    .as_ref()
                    .map_or(json!(false), |e| json!(format!("\"{name}\" <{e}>"))),
            );
        }
        todo.extend(children);
    }
}

pub fn after_write(m: &mut MutEnv<'_>, id: i64, changed: &Map<String, Value>) {
    const NAMING: &[&str] = &["name", "parent_id", "is_company", "company_name", "email", "type"];
    if changed.keys().any(|k| NAMING.contains(&k.as_str())) {
        recompute(m, id);
    }
}

/// Most partners `address_get` looks at (a guard against parent cycles in hand-written data).
const MAX_ADDRESS_SCAN: usize = 10_000;

/// `address_get([kind])[kind]`: the first contact of type `kind` among the partner and its (non-company)
/// descendants, then among its ancestors' up to the commercial entity; else the first plain contact, else itself.
pub fn address_get(env: &Env<'_>, partner: i64, kind: &str) -> i64 {
    let row = |id: i64| env.db.row("res.partner", id);
    let typ = |id: i64| row(id).and_then(|r| s(r, "type")).unwrap_or("contact").to_owned();
    let model = env.model("res.partner");
    let child_ids = model.and_then(|m| m.field("child_ids"));
    let mut visited = std::collections::HashSet::new();
    let (mut found, mut contact) = (None, None);
    let mut current = Some(partner);
    while let Some(cur) = current {
        let mut to_scan = std::collections::VecDeque::from([cur]);
        while let Some(id) = to_scan.pop_front() {
            if visited.len() >= MAX_ADDRESS_SCAN {
                break;
            }
            visited.insert(id);
            let t = typ(id);
            if t == kind && found.is_none() {
                found = Some(id);
            }
            if t == "contact" && contact.is_none() {
                contact = Some(id);
            }
            if found.is_some() && (contact.is_some() || kind == "contact") {
                return found.unwrap_or(partner);
            }
            let children = match (model, child_ids, row(id)) {
                (Some(m), Some(f), Some(r)) => env.x2many_ids(m, id, r, f),
                _ => Vec::new(),
            };
            // Depth first: the children, in their order, are scanned before what was queued.
            for c in children.into_iter().rev() {
                let company = row(c).is_some_and(|r| r.get("is_company") == Some(&Value::Bool(true)));
                if !company && !visited.contains(&c) {
                    to_scan.push_front(c);
                }
            }
        }
        let Some(rec) = row(cur) else { break };
        let is_company = rec.get("is_company") == Some(&Value::Bool(true));
        current = match rec.get("parent_id").and_then(Value::as_i64) {
            Some(p) if !is_company && !visited.contains(&p) => Some(p),
            _ => None,
        };
    }
    found.or(contact).unwrap_or(partner)
}

/// Foreign keys to res.partner that forbid deleting a referenced partner: (model, field, constraint model label).
const RESTRICT: &[(&str, &str)] = &[
    ("sale.order", "partner_id"),
    ("sale.order", "partner_invoice_id"),
    ("sale.order", "partner_shipping_id"),
];

pub fn before_unlink(m: &mut MutEnv<'_>, ids: &[i64]) -> OdooResult<()> {
    for (model, field) in RESTRICT {
        let Some(table) = m.db.table(model) else { continue };
        let used = table.rows.values().any(|r| {
            r.get(*field)
                .and_then(Value::as_i64)
                .is_some_and(|p| ids.contains(&p))
        });
        if used {
            let desc = m.model(model).map_or(*model, |md| md.description.as_str());
            return Err(OdooError::validation(format!(
                "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {desc} ({model})\nConstraint: {}_{field}_fkey\n",
                model.replace('.', "_")
            )));
        }
    }
    Ok(())
}
