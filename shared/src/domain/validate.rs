//! Checks a parsed domain against the model's fields (names, paths, relations) and the webhook's field rules.

use serde_json::Value;

use super::{Domain, LeafValue, Operator};
use crate::config::ModelName;
use crate::odoo::{Catalog, FieldCheck, FieldKind};

/// Fine when every path exists, passes only through relational fields and is allowed by the field rules.
/// `FieldCheck::NeedModel` asks the caller to load a model's fields and call again.
pub fn validate(domain: &Domain, model: &ModelName, catalog: &Catalog<'_>) -> Result<(), FieldCheck> {
    match domain {
        Domain::True | Domain::False => Ok(()),
        Domain::Not(inner) => validate(inner, model, catalog),
        Domain::And(parts) | Domain::Or(parts) => parts.iter().try_for_each(|p| validate(p, model, catalog)),
        Domain::Leaf(leaf) => {
            let dotted = leaf.dotted();
            let mut current = model.clone();
            let (last, through) = leaf.path.split_last().ok_or_else(|| FieldCheck::Unknown {
                model: model.clone(),
                field: String::new(),
            })?;
            for segment in through {
                current = catalog.relation(&current, segment, &dotted)?.1.clone();
            }
            // A many2one compared with text is matched against the comodel's display name, so that must be
            // readable too; compared with ids it reveals nothing more than the id.
            let def = if names_records(&leaf.value) {
                catalog.read_value(&current, last)?
            } else {
                catalog.read_field(&current, last)?
            };
            match (&leaf.value, leaf.operator) {
                (LeafValue::Domain(sub), Operator::Any | Operator::NotAny) => {
                    let (_, comodel) = catalog.relation(&current, last, &dotted)?;
                    validate(sub, &comodel.clone(), catalog)
                }
                (_, Operator::ChildOf | Operator::ParentOf)
                    if def.kind == FieldKind::Scalar && last != "id" =>
                {
                    Err(FieldCheck::NotRelational {
                        model: current.clone(),
                        field: last.clone(),
                        path: dotted,
                    })
                }
                _ => Ok(()),
            }
        }
    }
}

fn names_records(value: &LeafValue) -> bool {
    match value {
        LeafValue::Value(Value::String(_)) => true,
        LeafValue::Value(Value::Array(items)) => items.iter().any(Value::is_string),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FieldRule;
    use crate::domain::parse;
    use crate::odoo::fixtures;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn check(v: Value, rules: &BTreeMap<ModelName, FieldRule>) -> Result<(), FieldCheck> {
        let catalog = fixtures::full(rules);
        validate(&parse(&v).unwrap(), &"sale.order".parse().unwrap(), &catalog)
    }

    #[test]
    fn known_paths_pass() {
        let none = BTreeMap::new();
        check(json!([["name", "=", "S00001"]]), &none).unwrap();
        check(json!([["partner_id.country_id.code", "=", "US"]]), &none).unwrap();
        check(
            json!([["order_line.product_id.default_code", "ilike", "FURN"]]),
            &none,
        )
        .unwrap();
        check(
            json!([["order_line", "any", [["product_id.name", "ilike", "chair"]]]]),
            &none,
        )
        .unwrap();
        check(
            json!(["|", ["id", "child_of", 1], ["partner_id", "child_of", 3]]),
            &none,
        )
        .unwrap();
    }

    #[test]
    fn unknown_denied_and_non_relational_paths_fail() {
        let none = BTreeMap::new();
        assert!(
            matches!(check(json!([["nope", "=", 1]]), &none), Err(FieldCheck::Unknown { field, .. }) if field == "nope")
        );
        assert!(matches!(
            check(json!([["partner_id.country_id.nope", "=", 1]]), &none),
            Err(FieldCheck::Unknown { model, .. }) if model.as_str() == "res.country"
        ));
        assert!(matches!(
            check(json!([["name.x", "=", 1]]), &none),
            Err(FieldCheck::NotRelational { .. })
        ));
        assert!(matches!(
            check(json!([["name", "any", []]]), &none),
            Err(FieldCheck::NotRelational { .. })
        ));
        assert!(matches!(
            check(json!([["order_line", "any", [["nope", "=", 1]]]]), &none),
            Err(FieldCheck::Unknown { .. })
        ));
        let rules = [(
            "res.partner".parse().unwrap(),
            FieldRule {
                allow: None,
                deny: ["email".into()].into(),
            },
        )]
        .into();
        assert!(matches!(
            check(json!([["partner_id.email", "=", "a@b"]]), &rules),
            Err(FieldCheck::Denied { .. })
        ));
    }

    #[test]
    fn missing_models_are_requested() {
        let none = BTreeMap::new();
        let catalog = Catalog::new(&none, crate::odoo::ModelRights::everything());
        let d = parse(&json!([["name", "=", "x"]])).unwrap();
        let model: ModelName = "sale.order".parse().unwrap();
        assert_eq!(validate(&d, &model, &catalog), Err(FieldCheck::NeedModel(model)));
    }
}
