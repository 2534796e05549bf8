//! Builds each output record from fetched data (nested, `web_read`-like form) following the plan's outputs.
//!
//! Fetched form: many2one values are objects `{"id", "display_name"?, …}` or `false`; x2many values are lists
//! of such objects; other values are as `read` gives them.

use serde_json::{Map, Value, json};

use super::plan::Output;
use crate::odoo::FieldKind;

pub fn shape(record: &Map<String, Value>, outputs: &[Output]) -> Value {
    let mut out = Map::with_capacity(outputs.len());
    for output in outputs {
        let (key, value) = match output {
            Output::Field { key, kind } => (key, as_read(record.get(key), *kind)),
            Output::Path { key, steps, last, to_many } => (key, path_value(record, steps, *last, *to_many)),
            Output::Object { key, outputs } => (key, object(record.get(key), outputs)),
            Output::List { key, outputs } => {
                let items = match record.get(key) {
                    Some(Value::Array(items)) => items.iter().map(|item| object(Some(item), outputs)).collect(),
                    _ => Vec::new(),
                };
                (key, Value::Array(items))
            }
        };
        // A repeated key keeps its first position and takes the last value, as the original does.
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn id_of(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(o) => o.get("id"),
        Value::Number(_) => Some(value),
        _ => None,
    }
}

/// A value as Odoo's `read` gives it.
fn as_read(value: Option<&Value>, kind: FieldKind) -> Value {
    let Some(value) = value else { return Value::Null };
    match (kind, value) {
        (FieldKind::Many2one, Value::Object(o)) => {
            json!([o.get("id").cloned().unwrap_or(Value::Null), o.get("display_name").cloned().unwrap_or(Value::Bool(false))])
        }
        (FieldKind::One2many | FieldKind::Many2many, Value::Array(items)) => {
            Value::Array(items.iter().filter_map(id_of).cloned().collect())
        }
        _ => value.clone(),
    }
}

fn object(value: Option<&Value>, outputs: &[Output]) -> Value {
    match value {
        Some(Value::Object(o)) if outputs.is_empty() => json!({"id": o.get("id").cloned().unwrap_or(Value::Null)}),
        Some(Value::Object(o)) => shape(o, outputs),
        Some(Value::Number(id)) => json!({"id": id}),
        _ => Value::Bool(false),
    }
}

fn path_value(record: &Map<String, Value>, steps: &[String], last: FieldKind, to_many: bool) -> Value {
    let Some((last_step, through)) = steps.split_last() else { return Value::Bool(false) };
    let mut frontier: Vec<&Map<String, Value>> = vec![record];
    for step in through {
        let mut next = Vec::with_capacity(frontier.len());
        for item in frontier {
            match item.get(step) {
                Some(Value::Object(o)) => next.push(o),
                Some(Value::Array(items)) => next.extend(items.iter().filter_map(Value::as_object)),
                _ => {}
            }
        }
        frontier = next;
    }
    let mut values = Vec::with_capacity(frontier.len());
    for item in frontier {
        match (last, item.get(last_step)) {
            (FieldKind::Many2one, Some(v)) => values.push(id_of(v).cloned().unwrap_or(Value::Bool(false))),
            (FieldKind::One2many | FieldKind::Many2many, Some(Value::Array(items))) => {
                values.extend(items.iter().filter_map(id_of).cloned());
            }
            (_, Some(v)) => values.push(v.clone()),
            (_, None) => values.push(Value::Bool(false)),
        }
    }
    if to_many || last.is_x2many() {
        Value::Array(values)
    } else {
        values.into_iter().next().unwrap_or(Value::Bool(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::plan::plan;
    use crate::extract::spec;
    use crate::odoo::fixtures;
    use std::collections::BTreeMap;

    fn order() -> Map<String, Value> {
        let v = json!({
            "id": 7, "name": "S00007", "state": "sale", "date_order": "2026-10-28 00:46:00", "amount_total": 1740.0,
            "note": false,
            "partner_id": {"id": 10, "display_name": "Deco Addict", "name": "Deco Addict", "email": false,
                           "country_id": {"id": 233, "code": "US", "name": "United States"}},
            "order_line": [
                {"id": 1, "name": "Chair", "price_unit": 70.0, "product_id": {"id": 5, "default_code": "FURN_7777", "display_name": "[FURN_7777] Chair"}},
                {"id": 2, "name": "Desk", "price_unit": 300.0, "product_id": false}
            ],
            "tag_ids": []
        });
        v.as_object().unwrap().clone()
    }

    fn shaped(spec_json: Value) -> Value {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let p = plan(&spec::parse(&spec_json).unwrap(), &"sale.order".parse().unwrap(), &catalog).unwrap();
        shape(&order(), &p.outputs)
    }

    #[test]
    fn plain_names_come_as_read_gives_them() {
        let v = shaped(json!(["id", "name", "state", "date_order", "amount_total", "note", "partner_id", "order_line", "tag_ids"]));
        assert_eq!(v, json!({"id": 7, "name": "S00007", "state": "sale", "date_order": "2026-10-28 00:46:00",
            "amount_total": 1740.0, "note": false, "partner_id": [10, "Deco Addict"], "order_line": [1, 2], "tag_ids": []}));
    }

    #[test]
    fn dotted_paths_are_scalars_when_to_one_and_lists_through_x2many() {
        let v = shaped(json!(["partner_id.country_id.code", "partner_id.country_id", "order_line.name", "order_line.product_id.default_code", "order_line.product_id"]));
        assert_eq!(v["partner_id.country_id.code"], json!("US"));
        assert_eq!(v["partner_id.country_id"], json!(233));
        assert_eq!(v["order_line.name"], json!(["Chair", "Desk"]));
        assert_eq!(v["order_line.product_id.default_code"], json!(["FURN_7777"]));
        assert_eq!(v["order_line.product_id"], json!([5, false]));
    }

    #[test]
    fn nested_objects_have_exactly_the_listed_keys() {
        let v = shaped(json!([{"partner_id": []}, {"order_line": []}, {"partner_id": ["name", {"country_id": ["code"]}]}]));
        assert_eq!(v, json!({"partner_id": {"name": "Deco Addict", "country_id": {"code": "US"}}, "order_line": [{"id": 1}, {"id": 2}]}));
        let v = shaped(json!([{"order_line": ["name", {"product_id": ["default_code"]}]}, {"tag_ids": ["id"]}]));
        assert_eq!(v, json!({"order_line": [{"name": "Chair", "product_id": {"default_code": "FURN_7777"}},
                                            {"name": "Desk", "product_id": false}], "tag_ids": []}));
        let v = shaped(json!([{"partner_id": []}]));
        assert_eq!(v, json!({"partner_id": {"id": 10}}));
    }

    #[test]
    fn empty_relations_give_false_or_empty_lists() {
        let mut rec = order();
        rec.insert("partner_id".into(), json!(false));
        rec.insert("order_line".into(), json!([]));
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let spec = spec::parse(&json!(["partner_id", {"partner_id": ["name"]}, "partner_id.name", "order_line.name", {"order_line": ["name"]}])).unwrap();
        let p = plan(&spec, &"sale.order".parse().unwrap(), &catalog).unwrap();
        assert_eq!(shape(&rec, &p.outputs), json!({"partner_id": false, "partner_id.name": false, "order_line.name": [], "order_line": []}));
    }
}
