//! Fetches what a plan needs: one `web_search_read`/`web_read` with a specification on Odoo ≥ 17, otherwise one
//! batched `read` per model per level for the whole result set (never one call per record).

use futures_util::future::try_join_all;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::plan::{FetchField, FetchNode};
use crate::config::ModelName;
use crate::odoo::{FieldKind, OdooError, OdooSession};

/// A search page request; `limit` is what Odoo is asked for (callers ask one more than they show).
#[derive(Clone, Debug)]
pub struct Page<'a> {
    pub domain: Value,
    pub offset: u32,
    pub limit: u32,
    pub order: Option<&'a str>,
}

/// The specification `web_read` takes. Relations always get `"fields"`, so they come back as objects.
pub fn web_specification(node: &FetchNode) -> Value {
    let mut spec = Map::with_capacity(node.fields.len());
    for (name, field) in &node.fields {
        let sub = if field.kind.is_relational() {
            json!({"fields": web_specification(&field.children)})
        } else {
            json!({})
        };
        spec.insert(name.clone(), sub);
    }
    Value::Object(spec)
}

/// Searches and fetches in as few calls as the server allows; records come in the fetched (nested) form.
pub async fn search(
    session: &OdooSession<'_>,
    model: &ModelName,
    node: &FetchNode,
    page: &Page<'_>,
) -> Result<Vec<Map<String, Value>>, OdooError> {
    let mut kwargs = Map::new();
    kwargs.insert("domain".into(), page.domain.clone());
    kwargs.insert("offset".into(), json!(page.offset));
    kwargs.insert("limit".into(), json!(page.limit));
    if let Some(order) = page.order {
        kwargs.insert("order".into(), json!(order));
    }
    if session.version().has_specification_reads() {
        kwargs.insert("specification".into(), web_specification(node));
        // Stops Odoo from counting the whole domain: the page size already tells whether more records exist.
        kwargs.insert(
            "count_limit".into(),
            json!(u64::from(page.offset) + u64::from(page.limit)),
        );
        let answer = session
            .execute_kw(model.as_str(), "web_search_read", vec![], kwargs)
            .await?;
        return Ok(records(answer.get("records").cloned().unwrap_or(Value::Null)));
    }
    kwargs.insert("fields".into(), json!(read_fields(node)));
    let roots = records(
        session
            .execute_kw(model.as_str(), "search_read", vec![], kwargs)
            .await?,
    );
    follow_relations(session, model, roots, node).await
}

/// Reads `ids` (in their order; missing ones are dropped by Odoo) with everything `node` needs.
pub async fn read(
    session: &OdooSession<'_>,
    model: &ModelName,
    ids: &[i64],
    node: &FetchNode,
) -> Result<Vec<Map<String, Value>>, OdooError> {
    let node = &*node.proving_existence();
    if session.version().has_specification_reads() {
        let mut kwargs = Map::new();
        kwargs.insert("specification".into(), web_specification(node));
        let answer = session
            .execute_kw(model.as_str(), "web_read", vec![json!(ids)], kwargs)
            .await?;
        return Ok(records(answer));
    }
    let roots = read_records(session, model, ids, node).await?;
    follow_relations(session, model, roots, node).await
}

fn records(answer: Value) -> Vec<Map<String, Value>> {
    match answer {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn read_fields(node: &FetchNode) -> Vec<&str> {
    let mut fields: Vec<&str> = node.fields.keys().map(String::as_str).collect();
    if fields.is_empty() {
        fields.push("id");
    }
    fields
}

async fn read_records(
    session: &OdooSession<'_>,
    model: &ModelName,
    ids: &[i64],
    node: &FetchNode,
) -> Result<Vec<Map<String, Value>>, OdooError> {
    let mut kwargs = Map::new();
    kwargs.insert("fields".into(), json!(read_fields(node)));
    Ok(records(
        session
            .execute_kw(model.as_str(), "read", vec![json!(ids)], kwargs)
            .await?,
    ))
}

/// Records read at one level, by model and id.
type LevelStore = HashMap<ModelName, HashMap<i64, Map<String, Value>>>;

fn by_id(records: Vec<Map<String, Value>>) -> HashMap<i64, Map<String, Value>> {
    records
        .into_iter()
        .filter_map(|r| Some((r.get("id")?.as_i64()?, r)))
        .collect()
}

/// Reads every level below the roots (one `read` per comodel per level, the comodels of a level concurrently),
/// then nests the results into the fetched form.
async fn follow_relations(
    session: &OdooSession<'_>,
    model: &ModelName,
    roots: Vec<Map<String, Value>>,
    node: &FetchNode,
) -> Result<Vec<Map<String, Value>>, OdooError> {
    let root_ids: Vec<i64> = roots.iter().filter_map(|r| r.get("id")?.as_i64()).collect();
    let mut stores: Vec<LevelStore> = vec![[(model.clone(), by_id(roots.clone()))].into()];
    let mut frontier: Vec<(&FetchNode, &ModelName, Vec<i64>)> = vec![(node, model, root_ids)];
    while !frontier.is_empty() {
        let Some(store) = stores.last() else { break };
        let mut wanted: BTreeMap<&ModelName, (BTreeSet<i64>, BTreeSet<&str>)> = BTreeMap::new();
        let mut next = Vec::new();
        for (node, model, ids) in &frontier {
            let Some(records) = store.get(*model) else {
                continue;
            };
            for (name, field) in node.fields.iter().filter(|(_, f)| f.needs_read()) {
                let Some(comodel) = &field.relation else { continue };
                let child_ids: Vec<i64> = ids
                    .iter()
                    .filter_map(|id| records.get(id))
                    .flat_map(|r| related_ids(r.get(name)))
                    .collect();
                let entry = wanted.entry(comodel).or_default();
                entry.0.extend(child_ids.iter().copied());
                entry.1.extend(field.children.fields.keys().map(String::as_str));
                next.push((&field.children, comodel, child_ids));
            }
        }
        wanted.retain(|_, (ids, _)| !ids.is_empty());
        if wanted.is_empty() {
            break;
        }
        let reads = wanted.into_iter().map(|(model, (ids, mut fields))| async move {
            fields.insert("id");
            let mut kwargs = Map::new();
            kwargs.insert("fields".into(), json!(fields));
            let ids: Vec<i64> = ids.into_iter().collect();
            let answer = session
                .execute_kw(model.as_str(), "read", vec![json!(ids)], kwargs)
                .await?;
            Ok::<_, OdooError>((model.clone(), by_id(records(answer))))
        });
        stores.push(try_join_all(reads).await?.into_iter().collect());
        frontier = next;
    }
    Ok(roots.iter().map(|r| nest(r, node, 0, &stores)).collect())
}

/// Ids held by a relational value as `read` gives it: `[id, "name"]`, `[ids…]` or `false`.
fn related_ids(value: Option<&Value>) -> Vec<i64> {
    match value {
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::Number(id), Value::String(_)] => id.as_i64().into_iter().collect(),
            _ => items.iter().filter_map(Value::as_i64).collect(),
        },
        Some(Value::Number(id)) => id.as_i64().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Rewrites a `read` record into the fetched form, pulling related records from the next level's store.
fn nest(
    record: &Map<String, Value>,
    node: &FetchNode,
    level: usize,
    stores: &[LevelStore],
) -> Map<String, Value> {
    let mut out = record.clone();
    for (name, field) in node.fields.iter().filter(|(_, f)| f.kind.is_relational()) {
        let Some(value) = record.get(name) else { continue };
        let related = |id: i64| related_object(id, field, level, stores);
        let nested = match (field.kind, value) {
            (FieldKind::Many2one, Value::Array(pair)) => match pair.as_slice() {
                [id, display_name] => {
                    let mut obj = id.as_i64().map(related).unwrap_or_default();
                    obj.insert("display_name".into(), display_name.clone());
                    Value::Object(obj)
                }
                _ => Value::Bool(false),
            },
            (FieldKind::Many2one, Value::Number(id)) => {
                Value::Object(id.as_i64().map(related).unwrap_or_default())
            }
            (FieldKind::Many2one, _) => Value::Bool(false),
            (_, Value::Array(ids)) => Value::Array(
                ids.iter()
                    .filter_map(Value::as_i64)
                    .map(|id| Value::Object(related(id)))
                    .collect(),
            ),
            _ => Value::Array(Vec::new()),
        };
        out.insert(name.clone(), nested);
    }
    out
}

fn related_object(id: i64, field: &FetchField, level: usize, stores: &[LevelStore]) -> Map<String, Value> {
    let found = field
        .relation
        .as_ref()
        .filter(|_| field.needs_read())
        .and_then(|m| stores.get(level + 1)?.get(m)?.get(&id));
    match found {
        Some(record) => nest(record, &field.children, level + 1, stores),
        None => {
            let mut obj = Map::new();
            obj.insert("id".into(), json!(id));
            obj
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::plan::plan;
    use crate::extract::spec;
    use crate::odoo::fixtures;

    #[test]
    fn web_specification_nests_relations_under_fields() {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let spec = spec::parse(&json!(["name", "partner_id", {"order_line": ["name", {"product_id": []}]}]))
            .unwrap();
        let p = plan(&spec, &"sale.order".parse().unwrap(), &catalog).unwrap();
        assert_eq!(
            web_specification(&p.fetch),
            json!({
                "name": {},
                "order_line": {"fields": {"name": {}, "product_id": {"fields": {}}}},
                "partner_id": {"fields": {"display_name": {}}}
            })
        );
    }

    #[test]
    fn nest_turns_read_values_into_objects() {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let spec = spec::parse(&json!(["partner_id", {"order_line": ["name"]}, {"tag_ids": []}])).unwrap();
        let p = plan(&spec, &"sale.order".parse().unwrap(), &catalog).unwrap();
        let root = json!({"id": 1, "partner_id": [10, "Deco"], "order_line": [2, 1], "tag_ids": [4]});
        let line = |id: i64, name: &str| (id, json!({"id": id, "name": name}).as_object().unwrap().clone());
        let lines: HashMap<i64, Map<String, Value>> = [line(1, "a"), line(2, "b")].into();
        let stores: Vec<LevelStore> = vec![
            LevelStore::new(),
            [("sale.order.line".parse().unwrap(), lines)].into(),
        ];
        let nested = nest(root.as_object().unwrap(), &p.fetch, 0, &stores);
        assert_eq!(
            Value::Object(nested),
            json!({"id": 1, "partner_id": {"id": 10, "display_name": "Deco"},
            "order_line": [{"id": 2, "name": "b"}, {"id": 1, "name": "a"}], "tag_ids": [{"id": 4}]})
        );
    }

    #[test]
    fn related_ids_reads_pairs_and_lists() {
        assert_eq!(related_ids(Some(&json!([3, "x"]))), [3]);
        assert_eq!(related_ids(Some(&json!([3, 4]))), [3, 4]);
        assert!(related_ids(Some(&json!(false))).is_empty());
    }
}
