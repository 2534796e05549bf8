//! A model's field metadata as `fields_get` reports it, reduced to what validation and extraction need.

use serde_json::Value;
use std::collections::HashMap;

use crate::config::ModelName;

/// The `fields_get` attributes the gateway asks for (fewer attributes, smaller answers).
pub const FIELD_ATTRIBUTES: &[&str] = &[
    "type",
    "string",
    "relation",
    "required",
    "readonly",
    "selection",
    "related",
    "depends",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Many2one,
    One2many,
    Many2many,
    /// Any non-relational type (char, integer, date, selection, reference, …).
    Scalar,
}

impl FieldKind {
    pub fn is_relational(self) -> bool {
        !matches!(self, Self::Scalar)
    }

    pub fn is_x2many(self) -> bool {
        matches!(self, Self::One2many | Self::Many2many)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    pub name: String,
    /// Odoo's type name (`char`, `many2one`, …).
    pub type_name: String,
    pub kind: FieldKind,
    pub label: String,
    /// The comodel of a relational field.
    pub relation: Option<ModelName>,
    pub required: bool,
    pub readonly: bool,
    pub related: bool,
    pub selection: Option<Value>,
    /// The fields (dotted paths) this one is computed from or related to: its value reveals theirs.
    pub depends: Vec<String>,
}

/// Every field of one model that the webhook's Odoo user can see.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFields {
    pub model: ModelName,
    /// Field names in Odoo's order.
    pub order: Vec<String>,
    fields: HashMap<String, FieldDef>,
}

impl ModelFields {
    /// Builds from a `fields_get` answer; entries that are not objects are skipped.
    pub fn from_fields_get(model: ModelName, answer: &Value) -> Self {
        let mut order = Vec::new();
        let mut fields = HashMap::new();
        for (name, attrs) in answer.as_object().into_iter().flatten() {
            let type_name = attrs
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("char")
                .to_owned();
            let kind = match type_name.as_str() {
                "many2one" => FieldKind::Many2one,
                "one2many" => FieldKind::One2many,
                "many2many" => FieldKind::Many2many,
                _ => FieldKind::Scalar,
            };
            let relation = attrs
                .get("relation")
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok());
            let flag = |key: &str| attrs.get(key).and_then(Value::as_bool).unwrap_or(false);
            let def = FieldDef {
                name: name.clone(),
                kind: if kind.is_relational() && relation.is_none() {
                    FieldKind::Scalar
                } else {
                    kind
                },
                label: attrs
                    .get("string")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_owned(),
                relation,
                required: flag("required"),
                readonly: flag("readonly"),
                related: attrs
                    .get("related")
                    .is_some_and(|r| !r.is_null() && r != &Value::Bool(false)),
                depends: dependencies(attrs),
                selection: attrs
                    .get("selection")
                    .filter(|_| type_name == "selection")
                    .cloned(),
                type_name,
            };
            order.push(name.clone());
            fields.insert(name.clone(), def);
        }
        Self { model, order, fields }
    }

    pub fn get(&self, name: &str) -> Option<&FieldDef> {
        self.fields.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldDef> {
        self.order.iter().filter_map(|n| self.fields.get(n))
    }
}

/// Most dependency paths kept per field; Odoo's longest `depends` lists are a few dozen.
const MAX_DEPENDS: usize = 256;

/// `depends` plus the `related` path (a related field may also be reported without `depends`).
fn dependencies(attrs: &Value) -> Vec<String> {
    let mut out: Vec<String> = attrs
        .get("depends")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .take(MAX_DEPENDS)
        .map(str::to_owned)
        .collect();
    if let Some(related) = attrs.get("related").and_then(Value::as_str)
        && !out.iter().any(|d| d == related)
    {
        out.push(related.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_types_relations_and_flags() {
        let answer = json!({
            "name": {"type": "char", "string": "Name", "required": true, "readonly": false},
            "partner_id": {"type": "many2one", "string": "Customer", "relation": "res.partner", "required": true},
            "order_line": {"type": "one2many", "string": "Lines", "relation": "sale.order.line"},
            "state": {"type": "selection", "string": "Status", "selection": [["draft", "Quotation"]], "readonly": true},
            "currency_id": {"type": "many2one", "string": "Currency", "relation": "res.currency", "related": "pricelist_id.currency_id"}
        });
        let fields = ModelFields::from_fields_get("sale.order".parse().unwrap(), &answer);
        assert_eq!(
            fields.order,
            ["name", "partner_id", "order_line", "state", "currency_id"]
        );
        assert_eq!(fields.get("partner_id").unwrap().kind, FieldKind::Many2one);
        assert_eq!(
            fields
                .get("partner_id")
                .unwrap()
                .relation
                .as_ref()
                .unwrap()
                .as_str(),
            "res.partner"
        );
        assert!(fields.get("order_line").unwrap().kind.is_x2many());
        assert!(fields.get("name").unwrap().required);
        assert!(fields.get("state").unwrap().selection.is_some());
        assert!(fields.get("currency_id").unwrap().related);
        assert!(fields.get("nope").is_none());
    }
}
