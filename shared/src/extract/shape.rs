//! Builds each output record from fetched data (nested, `web_read`-like form) following the plan's outputs.
//!
//! Fetched form: many2one values are objects `{"id", "display_name"?, …}` or `false`; x2many values are lists
//! of such objects; other values are as `read` gives them.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde_json::{Map, Value};

use super::plan::Output;
use crate::odoo::FieldKind;

/// One output record, serialised straight from the fetched record (no intermediate JSON tree is built).
#[derive(Clone, Copy, Debug)]
pub struct Shaped<'a> {
    pub record: &'a Map<String, Value>,
    pub outputs: &'a [Output],
}

/// The shaped record as a JSON value (for callers that need one; responses serialise `Shaped` directly).
pub fn shape(record: &Map<String, Value>, outputs: &[Output]) -> Value {
    serde_json::to_value(Shaped { record, outputs }).unwrap_or(Value::Null)
}

impl Serialize for Shaped<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.outputs.len()))?;
        for output in self.outputs {
            match output {
                Output::Field { key, kind } => {
                    map.serialize_entry(key, &AsRead(self.record.get(key), *kind))?
                }
                Output::Path {
                    key,
                    steps,
                    last,
                    to_many,
                } => map.serialize_entry(
                    key,
                    &PathValue {
                        record: self.record,
                        steps,
                        last: *last,
                        to_many: *to_many,
                    },
                )?,
                Output::Object { key, outputs } => {
                    map.serialize_entry(key, &Object(self.record.get(key), outputs))?
                }
                Output::List { key, outputs } => {
                    map.serialize_entry(key, &List(self.record.get(key), outputs))?
                }
            }
        }
        map.end()
    }
}

fn id_of(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(o) => o.get("id"),
        Value::Number(_) => Some(value),
        _ => None,
    }
}

/// A value as Odoo's `read` gives it: many2one `[id, "name"]`, x2many ids, anything else as fetched.
struct AsRead<'a>(Option<&'a Value>, FieldKind);

impl Serialize for AsRead<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.1, self.0) {
            (_, None) => serializer.serialize_unit(),
            (FieldKind::Many2one, Some(Value::Object(o))) => {
                let mut pair = serializer.serialize_tuple(2)?;
                pair.serialize_element(o.get("id").unwrap_or(&Value::Null))?;
                pair.serialize_element(o.get("display_name").unwrap_or(&Value::Bool(false)))?;
                pair.end()
            }
            (FieldKind::One2many | FieldKind::Many2many, Some(Value::Array(items))) => {
                serializer.collect_seq(items.iter().filter_map(id_of))
            }
            (_, Some(value)) => value.serialize(serializer),
        }
    }
}

/// A to-one relation: an object with the listed keys (`{"id": N}` when none), or `false`.
struct Object<'a>(Option<&'a Value>, &'a [Output]);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(Value::Object(o)) if self.1.is_empty() => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("id", o.get("id").unwrap_or(&Value::Null))?;
                map.end()
            }
            Some(Value::Object(o)) => Shaped {
                record: o,
                outputs: self.1,
            }
            .serialize(serializer),
            Some(id @ Value::Number(_)) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("id", id)?;
                map.end()
            }
            _ => serializer.serialize_bool(false),
        }
    }
}

/// A to-many relation: a list of such objects, in the fetched (Odoo's) order.
struct List<'a>(Option<&'a Value>, &'a [Output]);

impl Serialize for List<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(Value::Array(items)) => {
                serializer.collect_seq(items.iter().map(|item| Object(Some(item), self.1)))
            }
            _ => serializer.serialize_seq(Some(0))?.end(),
        }
    }
}

/// The value at the end of a dotted path: a scalar (or `false`) when to-one, else the list of values reached.
struct PathValue<'a> {
    record: &'a Map<String, Value>,
    steps: &'a [String],
    last: FieldKind,
    to_many: bool,
}

impl Serialize for PathValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some((last_step, through)) = self.steps.split_last() else {
            return serializer.serialize_bool(false);
        };
        if !self.to_many {
            let mut item = Some(self.record);
            for step in through {
                item = item.and_then(|i| i.get(step)).and_then(Value::as_object);
            }
            let value = item.and_then(|i| i.get(last_step));
            return match (self.last, value) {
                (FieldKind::Many2one, Some(v)) => {
                    id_of(v).unwrap_or(&Value::Bool(false)).serialize(serializer)
                }
                (FieldKind::One2many | FieldKind::Many2many, Some(Value::Array(items))) => {
                    serializer.collect_seq(items.iter().filter_map(id_of))
                }
                (_, Some(v)) => v.serialize(serializer),
                (_, None) => serializer.serialize_bool(false),
            };
        }
        let mut frontier: Vec<&Map<String, Value>> = vec![self.record];
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
        let mut seq = serializer.serialize_seq(None)?;
        for item in frontier {
            match (self.last, item.get(last_step)) {
                (FieldKind::Many2one, Some(v)) => {
                    seq.serialize_element(id_of(v).unwrap_or(&Value::Bool(false)))?
                }
                (FieldKind::One2many | FieldKind::Many2many, Some(Value::Array(items))) => {
                    for id in items.iter().filter_map(id_of) {
                        seq.serialize_element(id)?;
                    }
                }
                (_, Some(v)) => seq.serialize_element(v)?,
                (_, None) => seq.serialize_element(&false)?,
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::plan::plan;
    use crate::extract::spec;
    use crate::odoo::fixtures;
    use serde_json::json;
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
        let p = plan(
            &spec::parse(&spec_json).unwrap(),
            &"sale.order".parse().unwrap(),
            &catalog,
        )
        .unwrap();
        shape(&order(), &p.outputs)
    }

    #[test]
    fn plain_names_come_as_read_gives_them() {
        let v = shaped(json!([
            "id",
            "name",
            "state",
            "date_order",
            "amount_total",
            "note",
            "partner_id",
            "order_line",
            "tag_ids"
        ]));
        assert_eq!(
            v,
            json!({"id": 7, "name": "S00007", "state": "sale", "date_order": "2026-10-28 00:46:00",
            "amount_total": 1740.0, "note": false, "partner_id": [10, "Deco Addict"], "order_line": [1, 2], "tag_ids": []})
        );
    }

    #[test]
    fn dotted_paths_are_scalars_when_to_one_and_lists_through_x2many() {
        let v = shaped(json!([
            "partner_id.country_id.code",
            "partner_id.country_id",
            "order_line.name",
            "order_line.product_id.default_code",
            "order_line.product_id"
        ]));
        assert_eq!(v["partner_id.country_id.code"], json!("US"));
        assert_eq!(v["partner_id.country_id"], json!(233));
        assert_eq!(v["order_line.name"], json!(["Chair", "Desk"]));
        assert_eq!(v["order_line.product_id.default_code"], json!(["FURN_7777"]));
        assert_eq!(v["order_line.product_id"], json!([5, false]));
    }

    #[test]
    fn nested_objects_have_exactly_the_listed_keys() {
        let v = shaped(
            json!([{"partner_id": []}, {"order_line": []}, {"partner_id": ["name", {"country_id": ["code"]}]}]),
        );
        assert_eq!(
            v,
            json!({"partner_id": {"name": "Deco Addict", "country_id": {"code": "US"}}, "order_line": [{"id": 1}, {"id": 2}]})
        );
        let v =
            shaped(json!([{"order_line": ["name", {"product_id": ["default_code"]}]}, {"tag_ids": ["id"]}]));
        assert_eq!(
            v,
            json!({"order_line": [{"name": "Chair", "product_id": {"default_code": "FURN_7777"}},
                                            {"name": "Desk", "product_id": false}], "tag_ids": []})
        );
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
        assert_eq!(
            shape(&rec, &p.outputs),
            json!({"partner_id": false, "partner_id.name": false, "order_line.name": [], "order_line": []})
        );
    }
}
