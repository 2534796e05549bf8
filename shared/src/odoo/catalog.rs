//! The field metadata one request has loaded so far, with the webhook's field rules applied on every lookup.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{FieldDef, ModelFields};
use crate::config::{FieldRule, ModelName};

/// Why a field reference was refused, or that a model's metadata must be loaded before deciding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldCheck {
    /// Not an error for the caller: load this model's fields (`fields_get`) and check again.
    #[error("the fields of {0} are not loaded")]
    NeedModel(ModelName),
    #[error("unknown field '{field}' on model '{model}'")]
    Unknown { model: ModelName, field: String },
    #[error("field '{field}' of model '{model}' is not allowed for this webhook")]
    Denied { model: ModelName, field: String },
    #[error("field '{field}' of model '{model}' is not relational, so '{path}' cannot go through it")]
    NotRelational {
        model: ModelName,
        field: String,
        path: String,
    },
}

/// Lookups that validators run synchronously; the async caller loads whatever `NeedModel` asks for and retries.
#[derive(Clone, Debug)]
pub struct Catalog<'a> {
    models: HashMap<ModelName, Arc<ModelFields>>,
    rules: &'a BTreeMap<ModelName, FieldRule>,
}

impl<'a> Catalog<'a> {
    pub fn new(rules: &'a BTreeMap<ModelName, FieldRule>) -> Self {
        Self {
            models: HashMap::new(),
            rules,
        }
    }

    pub fn insert(&mut self, fields: Arc<ModelFields>) {
        self.models.insert(fields.model.clone(), fields);
    }

    pub fn model(&self, model: &ModelName) -> Result<&ModelFields, FieldCheck> {
        self.models
            .get(model)
            .map(|m| &**m)
            .ok_or_else(|| FieldCheck::NeedModel(model.clone()))
    }

    pub fn permits(&self, model: &ModelName, field: &str) -> bool {
        self.rules.get(model).is_none_or(|rule| rule.permits(field))
    }

    /// A field of `model` that exists and that the webhook may use.
    pub fn field(&self, model: &ModelName, name: &str) -> Result<&FieldDef, FieldCheck> {
        let def = self.model(model)?.get(name).ok_or_else(|| FieldCheck::Unknown {
            model: model.clone(),
            field: name.to_owned(),
        })?;
        if !self.permits(model, name) {
            return Err(FieldCheck::Denied {
                model: model.clone(),
                field: name.to_owned(),
            });
        }
        Ok(def)
    }

    /// The comodel reached through `name` when a path continues past it.
    pub fn relation(
        &self,
        model: &ModelName,
        name: &str,
        path: &str,
    ) -> Result<(&FieldDef, &ModelName), FieldCheck> {
        let def = self.field(model, name)?;
        match &def.relation {
            Some(comodel) if def.kind.is_relational() => Ok((def, comodel)),
            _ => Err(FieldCheck::NotRelational {
                model: model.clone(),
                field: name.to_owned(),
                path: path.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Small field sets shaped like the Odoo 18 demo models, for unit tests.
    use super::*;
    use serde_json::json;

    pub fn models() -> Vec<Arc<ModelFields>> {
        let m = |name: &str, answer: serde_json::Value| {
            Arc::new(ModelFields::from_fields_get(name.parse().unwrap(), &answer))
        };
        vec![
            m(
                "sale.order",
                json!({
                    "id": {"type": "integer", "string": "ID"},
                    "name": {"type": "char", "string": "Order Reference", "required": true},
                    "state": {"type": "selection", "string": "Status", "selection": [["draft", "Quotation"], ["sale", "Sales Order"]]},
                    "date_order": {"type": "datetime", "string": "Order Date"},
                    "amount_total": {"type": "monetary", "string": "Total"},
                    "partner_id": {"type": "many2one", "string": "Customer", "relation": "res.partner", "required": true},
                    "order_line": {"type": "one2many", "string": "Order Lines", "relation": "sale.order.line"},
                    "tag_ids": {"type": "many2many", "string": "Tags", "relation": "crm.tag"},
                    "note": {"type": "html", "string": "Terms"}
                }),
            ),
            m(
                "sale.order.line",
                json!({
                    "id": {"type": "integer", "string": "ID"},
                    "name": {"type": "text", "string": "Description"},
                    "price_unit": {"type": "float", "string": "Unit Price"},
                    "product_uom_qty": {"type": "float", "string": "Quantity"},
                    "product_id": {"type": "many2one", "string": "Product", "relation": "product.product"}
                }),
            ),
            m(
                "res.partner",
                json!({
                    "id": {"type": "integer", "string": "ID"},
                    "name": {"type": "char", "string": "Name"},
                    "email": {"type": "char", "string": "Email"},
                    "display_name": {"type": "char", "string": "Display Name"},
                    "country_id": {"type": "many2one", "string": "Country", "relation": "res.country"},
                    "parent_id": {"type": "many2one", "string": "Related Company", "relation": "res.partner"},
                    "child_ids": {"type": "one2many", "string": "Contact", "relation": "res.partner"},
                    "category_id": {"type": "many2many", "string": "Tags", "relation": "res.partner.category"}
                }),
            ),
            m(
                "res.country",
                json!({
                    "id": {"type": "integer", "string": "ID"},
                    "name": {"type": "char", "string": "Country Name"},
                    "code": {"type": "char", "string": "Country Code"}
                }),
            ),
            m(
                "crm.tag",
                json!({
                    "id": {"type": "integer", "string": "ID"},
                    "name": {"type": "char", "string": "Tag Name"}
                }),
            ),
            m(
                "product.product",
                json!({
                    "id": {"type": "integer", "string": "ID"},
                    "name": {"type": "char", "string": "Name"},
                    "default_code": {"type": "char", "string": "Internal Reference"},
                    "list_price": {"type": "float", "string": "Sales Price"}
                }),
            ),
        ]
    }

    pub fn full(rules: &BTreeMap<ModelName, FieldRule>) -> Catalog<'_> {
        let mut c = Catalog::new(rules);
        for m in models() {
            c.insert(m);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_need_load_refuse_unknown_and_denied() {
        let rules: BTreeMap<ModelName, FieldRule> = [(
            "res.partner".parse().unwrap(),
            FieldRule {
                allow: None,
                deny: ["email".into()].into(),
            },
        )]
        .into();
        let mut catalog = Catalog::new(&rules);
        let partner: ModelName = "res.partner".parse().unwrap();
        assert_eq!(
            catalog.field(&partner, "name"),
            Err(FieldCheck::NeedModel(partner.clone()))
        );
        for m in fixtures::models() {
            catalog.insert(m);
        }
        assert!(catalog.field(&partner, "name").is_ok());
        assert!(matches!(
            catalog.field(&partner, "nope"),
            Err(FieldCheck::Unknown { .. })
        ));
        assert!(matches!(
            catalog.field(&partner, "email"),
            Err(FieldCheck::Denied { .. })
        ));
        assert_eq!(
            catalog
                .relation(&partner, "country_id", "country_id.code")
                .unwrap()
                .1
                .as_str(),
            "res.country"
        );
        assert!(matches!(
            catalog.relation(&partner, "name", "name.x"),
            Err(FieldCheck::NotRelational { .. })
        ));
    }
}
