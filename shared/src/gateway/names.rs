//! Relations given by reference instead of id: a many2one as `{"name": …}`, `{"xmlid": …}` or `{"domain": […]}`,
//! an x2many as `{"set" | "add" | "remove": [ids or references]}`. Each distinct reference costs one lookup, must
//! match exactly one record of a comodel the webhook may read, and becomes plain ids and relation commands that
//! are then checked like any others.

use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};

use super::Gateway;
use super::commands::MAX_COMMAND_DEPTH;
use super::schemas::{At, Checked, Place};
use crate::config::{ModelName, WebhookConfig};
use crate::domain;
use crate::error::GatewayError;
use crate::odoo::{Catalog, FieldCheck, FieldKind, OdooSession};
use crate::request::Xmlid;

/// Most distinct references one request may resolve (each is one Odoo call).
pub const MAX_REFERENCES: usize = 100;
/// Records a lookup asks for: one more than the matches an ambiguity message lists.
const LOOKUP_LIMIT: usize = 11;
/// Longest name a `{"name": …}` reference may give.
const MAX_NAME_LEN: usize = 512;

/// A record named by something other than its id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    /// Exactly this display name (`name_search` with `=`).
    Name(String),
    Xmlid(Xmlid),
    /// A domain on the comodel, kept as its JSON text so that equal domains are looked up once.
    Domain(String),
}

impl Reference {
    fn describe(&self) -> String {
        match self {
            Self::Name(n) => format!("the name {n:?}"),
            Self::Xmlid(x) => format!("the external id {x}"),
            Self::Domain(d) => format!("the domain {d}"),
        }
    }
}

type Key = (ModelName, Reference);

/// References resolved so far, and those still to look up.
#[derive(Default)]
struct Lookups {
    known: HashMap<Key, i64>,
    missing: BTreeSet<Key>,
}

impl Gateway {
    /// `values` with every reference replaced by the id it names (unchanged when there is none).
    pub(super) async fn named_values(
        &self,
        session: &OdooSession<'_>,
        config: &WebhookConfig,
        model: &ModelName,
        values: Vec<Map<String, Value>>,
    ) -> Result<Vec<Map<String, Value>>, GatewayError> {
        let mut lookups = Lookups::default();
        // Every reference is found in the first pass; the second only writes the ids in.
        for _ in 0..2 {
            lookups.missing.clear();
            let rewritten = self
                .schemas
                .resolve(session, config, |c| {
                    lookups.missing.clear();
                    values
                        .iter()
                        .map(|v| rewrite(c, model, v, 0, &mut lookups))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
            if lookups.missing.is_empty() {
                return Ok(rewritten
                    .into_iter()
                    .zip(values)
                    .map(|(new, old)| new.unwrap_or(old))
                    .collect());
            }
            if lookups.missing.len() + lookups.known.len() > MAX_REFERENCES {
                return Err(GatewayError::invalid_payload(
                    "too_many_references",
                    format!("a call may name at most {MAX_REFERENCES} distinct records by reference"),
                ));
            }
            for key in std::mem::take(&mut lookups.missing) {
                let id = look_up(session, &key.0, &key.1).await?;
                lookups.known.insert(key, id);
            }
        }
        Err(GatewayError::invalid_payload(
            "too_complex",
            "the references of this call could not be resolved",
        ))
    }
}

/// One lookup: exactly one record of `model` must match.
async fn look_up(
    session: &OdooSession<'_>,
    model: &ModelName,
    reference: &Reference,
) -> Result<i64, GatewayError> {
    let limit = json!(LOOKUP_LIMIT);
    let ids: Vec<i64> = match reference {
        Reference::Name(name) => {
            let mut kwargs = Map::new();
            kwargs.insert("name".into(), json!(name));
            kwargs.insert("operator".into(), json!("="));
            kwargs.insert("limit".into(), limit);
            let answer = session
                .execute_kw(model.as_str(), "name_search", vec![], kwargs)
                .await?;
            answer
                .as_array()
                .map(|pairs| {
                    pairs
                        .iter()
                        .filter_map(|p| p.get(0).and_then(Value::as_i64))
                        .collect()
                })
                .unwrap_or_default()
        }
        Reference::Domain(text) => {
            let domain: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let mut kwargs = Map::new();
            kwargs.insert("limit".into(), limit);
            let answer = session
                .execute_kw(model.as_str(), "search", vec![domain], kwargs)
                .await?;
            answer
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default()
        }
        Reference::Xmlid(xmlid) => match xmlid_target(session, xmlid).await? {
            Some((target, id)) if target == model.as_str() => vec![id],
            Some((target, _)) => {
                return Err(GatewayError::invalid_payload(
                    "unknown_reference",
                    format!("the external id {xmlid} names a {target} record, not a {model} one"),
                ));
            }
            None => vec![],
        },
    };
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(GatewayError::invalid_payload(
            "unknown_reference",
            format!("no {model} record matches {}", reference.describe()),
        )),
        many => {
            let count = if many.len() >= LOOKUP_LIMIT {
                format!("more than {}", LOOKUP_LIMIT - 1)
            } else {
                many.len().to_string()
            };
            Err(GatewayError::invalid_payload(
                "ambiguous_reference",
                format!(
                    "{count} {model} records match {} (ids {:?}); it must match exactly one",
                    reference.describe(),
                    &many[..many.len().min(LOOKUP_LIMIT - 1)]
                ),
            ))
        }
    }
}

/// The (model, id) an external id stands for, from `ir.model.data`.
pub(super) async fn xmlid_target(
    session: &OdooSession<'_>,
    xmlid: &Xmlid,
) -> Result<Option<(String, i64)>, GatewayError> {
    let domain = json!([["module", "=", xmlid.module], ["name", "=", xmlid.name]]);
    let mut kwargs = Map::new();
    kwargs.insert("fields".into(), json!(["model", "res_id"]));
    kwargs.insert("limit".into(), json!(1));
    let answer = session
        .execute_kw("ir.model.data", "search_read", vec![domain], kwargs)
        .await?;
    Ok(answer.as_array().and_then(|rows| rows.first()).and_then(|row| {
        let model = row.get("model")?.as_str()?.to_owned();
        let id = row.get("res_id")?.as_i64()?;
        Some((model, id))
    }))
}

/// `values` with references replaced by known ids, or `None` when it holds no reference. Unknown references are
/// added to `lookups.missing` (and left as they are until known).
fn rewrite(
    catalog: &Catalog<'_>,
    model: &ModelName,
    values: &Map<String, Value>,
    depth: usize,
    lookups: &mut Lookups,
) -> Result<Option<Map<String, Value>>, Checked> {
    let mut changed: Option<Map<String, Value>> = None;
    for (key, value) in values {
        let replacement = match value {
            Value::Object(o) => {
                let def = catalog.field(model, key).at(Place::Values)?;
                let Some(comodel) = def.relation.clone() else {
                    continue;
                };
                match def.kind {
                    FieldKind::Many2one => {
                        let reference = reference(o, key)?;
                        Value::from(resolve(catalog, &comodel, key, reference, lookups)?)
                    }
                    kind if kind.is_x2many() => x2many(catalog, &comodel, key, o, lookups)?,
                    _ => continue,
                }
            }
            Value::Array(commands) if commands.iter().any(|c| c.get(2).is_some_and(Value::is_object)) => {
                let def = catalog.field(model, key).at(Place::Values)?;
                let (true, Some(comodel)) = (def.kind.is_x2many(), def.relation.clone()) else {
                    continue;
                };
                if depth >= MAX_COMMAND_DEPTH {
                    continue;
                }
                let mut out: Option<Vec<Value>> = None;
                for (i, command) in commands.iter().enumerate() {
                    let Some(Value::Object(sub)) = command.get(2) else {
                        continue;
                    };
                    if let Some(new_sub) = rewrite(catalog, &comodel, sub, depth + 1, lookups)? {
                        let list = out.get_or_insert_with(|| commands.clone());
                        list[i][2] = Value::Object(new_sub);
                    }
                }
                match out {
                    Some(list) => Value::Array(list),
                    None => continue,
                }
            }
            _ => continue,
        };
        changed
            .get_or_insert_with(|| values.clone())
            .insert(key.clone(), replacement);
    }
    Ok(changed)
}

/// The id a reference stands for when known; 0 (a placeholder never sent to Odoo) while it is being looked up.
fn resolve(
    catalog: &Catalog<'_>,
    comodel: &ModelName,
    field: &str,
    reference: Reference,
    lookups: &mut Lookups,
) -> Result<i64, Checked> {
    if !catalog.rights().readable(comodel) {
        return Err(FieldCheck::ModelNotAllowed {
            model: comodel.clone(),
            path: field.to_owned(),
            access: "read",
        })
        .at(Place::Values);
    }
    match &reference {
        // Finding a record by its name reads its name: the rules on the comodel's display name apply.
        // A model without `display_name` in its fields_get is named by `name`.
        Reference::Name(_) => match catalog.read_field(comodel, "display_name") {
            Err(FieldCheck::Unknown { .. }) => match catalog.read_field(comodel, "name") {
                Err(FieldCheck::Unknown { .. }) => {}
                other => {
                    other.at(Place::Values)?;
                }
            },
            other => {
                other.at(Place::Values)?;
            }
        },
        Reference::Domain(text) => {
            let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let parsed = domain::parse(&value).map_err(|e| {
                Checked::Refused(GatewayError::InvalidDomain(format!("in '{field}': {}", e.0)))
            })?;
            domain::validate(&parsed, comodel, catalog).at(Place::Domain)?;
        }
        Reference::Xmlid(_) => {}
    }
    let key = (comodel.clone(), reference);
    match lookups.known.get(&key) {
        Some(id) => Ok(*id),
        None => {
            lookups.missing.insert(key);
            Ok(0)
        }
    }
}

fn invalid(reason: &'static str, message: String) -> Checked {
    Checked::Refused(GatewayError::invalid_payload(reason, message))
}

/// `{"name": …}`, `{"xmlid": …}` or `{"domain": […]}`.
fn reference(object: &Map<String, Value>, field: &str) -> Result<Reference, Checked> {
    let bad = || {
        invalid(
            "invalid_reference",
            format!(
                "'{field}' takes a record id or one of {{\"name\": \"…\"}}, {{\"xmlid\": \"module.name\"}}, {{\"domain\": [...]}}"
            ),
        )
    };
    let mut entries = object.iter();
    let (Some((kind, value)), None) = (entries.next(), entries.next()) else {
        return Err(bad());
    };
    match (kind.as_str(), value) {
        ("name", Value::String(n)) if !n.trim().is_empty() && n.len() <= MAX_NAME_LEN => {
            Ok(Reference::Name(n.trim().to_owned()))
        }
        ("xmlid", Value::String(x)) => Xmlid::parse(x).map(Reference::Xmlid).map_err(Checked::Refused),
        ("domain", Value::Array(_)) => {
            domain::parse(value).map_err(|e| {
                Checked::Refused(GatewayError::InvalidDomain(format!("in '{field}': {}", e.0)))
            })?;
            Ok(Reference::Domain(value.to_string()))
        }
        _ => Err(bad()),
    }
}

/// `{"set": […]}` → `[[6, 0, ids]]`; `{"add": […]}` → `[4, id]` each; `{"remove": […]}` → `[3, id]` each.
fn x2many(
    catalog: &Catalog<'_>,
    comodel: &ModelName,
    field: &str,
    object: &Map<String, Value>,
    lookups: &mut Lookups,
) -> Result<Value, Checked> {
    let bad = || {
        invalid(
            "invalid_reference",
            format!(
                "'{field}' takes relation commands, or {{\"set\": [...]}}, {{\"add\": [...]}} and/or {{\"remove\": [...]}} with ids or references"
            ),
        )
    };
    if object.is_empty()
        || object
            .keys()
            .any(|k| !matches!(k.as_str(), "set" | "add" | "remove"))
        || (object.contains_key("set") && object.len() > 1)
    {
        return Err(bad());
    }
    let mut ids_of = |list: &Value| -> Result<Vec<i64>, Checked> {
        let list = list.as_array().ok_or_else(bad)?;
        if list.len() > crate::request::MAX_IDS {
            return Err(invalid(
                "too_many_ids",
                format!("'{field}' may name at most {} records", crate::request::MAX_IDS),
            ));
        }
        list.iter()
            .map(|item| match item {
                Value::Object(o) => resolve(catalog, comodel, field, reference(o, field)?, lookups),
                other => other.as_i64().filter(|id| *id > 0).ok_or_else(bad),
            })
            .collect()
    };
    if let Some(set) = object.get("set") {
        return Ok(json!([[6, 0, ids_of(set)?]]));
    }
    let mut commands = Vec::new();
    for (kind, code) in [("add", 4), ("remove", 3)] {
        if let Some(list) = object.get(kind) {
            commands.extend(ids_of(list)?.into_iter().map(|id| json!([code, id])));
        }
    }
    Ok(Value::Array(commands))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odoo::fixtures;
    use std::collections::BTreeMap;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn references_are_gathered_once_then_replaced() {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let order: ModelName = "sale.order".parse().unwrap();
        let values = object(json!({
            "name": "S1",
            "partner_id": {"name": "Deco Addict"},
            "tag_ids": {"add": [{"name": "Deco Addict"}, 3], "remove": [4]},
            "order_line": [[0, 0, {"product_id": {"xmlid": "product.desk"}}], [4, 9]]
        }));
        let mut lookups = Lookups::default();
        rewrite(&catalog, &order, &values, 0, &mut lookups).unwrap();
        let partner = (
            "res.partner".parse().unwrap(),
            Reference::Name("Deco Addict".into()),
        );
        let tag = ("crm.tag".parse().unwrap(), Reference::Name("Deco Addict".into()));
        let product = (
            "product.product".parse().unwrap(),
            Reference::Xmlid(Xmlid::parse("product.desk").unwrap()),
        );
        assert_eq!(
            lookups.missing,
            [partner.clone(), tag.clone(), product.clone()].into()
        );
        lookups.missing.clear();
        lookups.known = [(partner, 10), (tag, 7), (product, 5)].into();
        let out = rewrite(&catalog, &order, &values, 0, &mut lookups)
            .unwrap()
            .unwrap();
        assert!(lookups.missing.is_empty());
        assert_eq!(
            Value::Object(out),
            json!({"name": "S1", "partner_id": 10, "tag_ids": [[4, 7], [4, 3], [3, 4]],
                   "order_line": [[0, 0, {"product_id": 5}], [4, 9]]})
        );
        let plain = object(json!({"name": "S1", "partner_id": 3, "order_line": [[0, 0, {"name": "x"}]]}));
        assert_eq!(rewrite(&catalog, &order, &plain, 0, &mut lookups).unwrap(), None);
    }

    #[test]
    fn malformed_references_are_refused() {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let order: ModelName = "sale.order".parse().unwrap();
        for bad in [
            json!({"partner_id": {}}),
            json!({"partner_id": {"name": ""}}),
            json!({"partner_id": {"name": "a", "xmlid": "b.c"}}),
            json!({"partner_id": {"id": 3}}),
            json!({"tag_ids": {"set": [1], "remove": [2]}}),
            json!({"tag_ids": {"add": "1"}}),
            json!({"tag_ids": {"add": [0]}}),
        ] {
            let result = rewrite(&catalog, &order, &object(bad.clone()), 0, &mut Lookups::default());
            assert!(
                matches!(result, Err(Checked::Refused(GatewayError::InvalidPayload { .. }))),
                "{bad}: {result:?}"
            );
        }
        assert!(matches!(
            rewrite(
                &catalog,
                &order,
                &object(json!({"partner_id": {"domain": [["a", "~", 1]]}})),
                0,
                &mut Lookups::default()
            ),
            Err(Checked::Refused(GatewayError::InvalidDomain(_)))
        ));
    }
}
