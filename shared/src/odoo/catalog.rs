//! The field metadata one request has loaded so far, with the webhook's rights applied on every lookup: which
//! models it may reach, which fields its rules deny, and which fields are derived from denied ones.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::{FieldDef, FieldKind, ModelFields};
use crate::config::{FieldRule, ModelAccess, ModelName};

/// Most (model, field) pairs one derivation check follows before it refuses the field as too entangled.
const MAX_DEPENDENCY_FIELDS: usize = 4096;

/// Why a field reference was refused, or that a model's metadata must be loaded before deciding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldCheck {
    /// Not an error for the caller: load this model's fields (`fields_get`) and check again.
    #[error("the fields of {0} are not loaded")]
    NeedModel(ModelName),
    #[error("unknown field '{field}' on model '{model}'")]
    Unknown { model: ModelName, field: String },
    #[error("field '{field}' of model '{model}' is not allowed for this webhook{}", derived_note(.derived_from))]
    Denied {
        model: ModelName,
        field: String,
        /// For a field derived from a denied one: the denied field it comes from (`res.partner.email`).
        derived_from: Option<String>,
    },
    #[error("field '{field}' of model '{model}' is not relational, so '{path}' cannot go through it")]
    NotRelational {
        model: ModelName,
        field: String,
        path: String,
    },
    #[error("'{path}' reaches model '{model}', which this webhook may not {access}")]
    ModelNotAllowed {
        model: ModelName,
        path: String,
        access: &'static str,
    },
}

fn derived_note(source: &Option<String>) -> String {
    source
        .as_ref()
        .map(|s| format!(" (its value is derived from {s}, which is denied)"))
        .unwrap_or_default()
}

/// The models a webhook may reach: `models` for everything its permissions allow, `read_only` for reading.
#[derive(Clone, Copy, Debug)]
pub struct ModelRights<'a> {
    pub models: &'a ModelAccess,
    pub read_only: &'a BTreeSet<ModelName>,
}

static ALL_MODELS: ModelAccess = ModelAccess::All;
static NO_MODELS: BTreeSet<ModelName> = BTreeSet::new();

impl ModelRights<'static> {
    /// Every model, for tools that check field names only.
    pub fn everything() -> Self {
        Self {
            models: &ALL_MODELS,
            read_only: &NO_MODELS,
        }
    }
}

impl ModelRights<'_> {
    pub fn readable(&self, model: &ModelName) -> bool {
        self.models.allows(model) || self.read_only.contains(model)
    }

    pub fn writable(&self, model: &ModelName) -> bool {
        self.models.allows(model)
    }
}

type DerivedKey = (ModelName, String);

/// Lookups that validators run synchronously; the async caller loads whatever `NeedModel` asks for and retries.
#[derive(Debug)]
pub struct Catalog<'a> {
    models: HashMap<ModelName, Arc<ModelFields>>,
    rules: &'a BTreeMap<ModelName, FieldRule>,
    rights: ModelRights<'a>,
    /// Whether any rule denies anything; without one no field can be derived from a denied field.
    any_denial: bool,
    /// Settled answers of `derived_from_denied` (only answers that needed no further model).
    derived: Mutex<HashMap<DerivedKey, Option<String>>>,
}

impl<'a> Catalog<'a> {
    pub fn new(rules: &'a BTreeMap<ModelName, FieldRule>, rights: ModelRights<'a>) -> Self {
        Self {
            models: HashMap::new(),
            any_denial: rules.values().any(|r| !r.deny.is_empty() || r.allow.is_some()),
            rules,
            rights,
            derived: Mutex::default(),
        }
    }

    pub fn rights(&self) -> ModelRights<'a> {
        self.rights
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

    /// Whether the webhook's own rule for `model` lets `field` through (derivation not considered).
    pub fn permits(&self, model: &ModelName, field: &str) -> bool {
        self.rules.get(model).is_none_or(|rule| rule.permits(field))
    }

    /// A field of `model` that exists and that the rules do not deny: enough to write it.
    pub fn field(&self, model: &ModelName, name: &str) -> Result<&FieldDef, FieldCheck> {
        let def = self.model(model)?.get(name).ok_or_else(|| FieldCheck::Unknown {
            model: model.clone(),
            field: name.to_owned(),
        })?;
        if !self.permits(model, name) {
            return Err(FieldCheck::Denied {
                model: model.clone(),
                field: name.to_owned(),
                derived_from: None,
            });
        }
        Ok(def)
    }

    /// A field whose value may be read or searched: not denied, and not computed from or related to a denied
    /// field, transitively (`email_formatted` from `email`, `complete_name` from `name`).
    pub fn read_field(&self, model: &ModelName, name: &str) -> Result<&FieldDef, FieldCheck> {
        let def = self.field(model, name)?;
        if let Some(source) = self.derived_from_denied(model, name)? {
            return Err(FieldCheck::Denied {
                model: model.clone(),
                field: name.to_owned(),
                derived_from: Some(source),
            });
        }
        Ok(def)
    }

    /// A field read as Odoo's `read` shows it: a many2one also shows its comodel's `display_name`, so that
    /// must be readable too (the comodel itself need not be allowed: `[id, name]` belongs to the parent).
    pub fn read_value(&self, model: &ModelName, name: &str) -> Result<&FieldDef, FieldCheck> {
        let def = self.read_field(model, name)?;
        if let (FieldKind::Many2one, Some(comodel), true) = (def.kind, &def.relation, self.any_denial)
            && let Some(source) = self.derived_from_denied(comodel, "display_name")?
        {
            return Err(FieldCheck::Denied {
                model: model.clone(),
                field: name.to_owned(),
                derived_from: Some(source),
            });
        }
        Ok(def)
    }

    /// The comodel reached through `name` when a path continues past it; the comodel must be readable.
    pub fn relation(
        &self,
        model: &ModelName,
        name: &str,
        path: &str,
    ) -> Result<(&FieldDef, &ModelName), FieldCheck> {
        let def = self.read_field(model, name)?;
        match &def.relation {
            Some(comodel) if def.kind.is_relational() => {
                if !self.rights.readable(comodel) {
                    return Err(FieldCheck::ModelNotAllowed {
                        model: comodel.clone(),
                        path: path.to_owned(),
                        access: "read",
                    });
                }
                Ok((def, comodel))
            }
            _ => Err(FieldCheck::NotRelational {
                model: model.clone(),
                field: name.to_owned(),
                path: path.to_owned(),
            }),
        }
    }

    /// The denied field (`model.field`) that `model.name` is computed from or related to, if any. Walks
    /// `depends` with an explicit stack and a visited set, so cycles and long chains cost no recursion.
    fn derived_from_denied(&self, model: &ModelName, name: &str) -> Result<Option<String>, FieldCheck> {
        if !self.any_denial {
            return Ok(None);
        }
        let key = (model.clone(), name.to_owned());
        if let Some(answer) = self.memo().get(&key) {
            return Ok(answer.clone());
        }
        let mut stack: Vec<DerivedKey> = vec![key.clone()];
        let mut seen: HashSet<DerivedKey> = HashSet::new();
        let answer = loop {
            let Some((m, f)) = stack.pop() else { break None };
            if !seen.insert((m.clone(), f.clone())) {
                continue;
            }
            if seen.len() > MAX_DEPENDENCY_FIELDS {
                break Some(format!("more than {MAX_DEPENDENCY_FIELDS} fields it depends on"));
            }
            if !self.permits(&m, &f) {
                break Some(format!("{m}.{f}"));
            }
            // A dependency the user cannot see (group-restricted) is not in fields_get; nothing to follow.
            let Some(def) = self.followed(&m)?.and_then(|fields| fields.get(&f)) else {
                continue;
            };
            for dependency in &def.depends {
                let mut current = m.clone();
                let mut segments = dependency.split('.').peekable();
                while let Some(segment) = segments.next() {
                    stack.push((current.clone(), segment.to_owned()));
                    if segments.peek().is_none() {
                        break;
                    }
                    let next = self
                        .followed(&current)?
                        .and_then(|fields| fields.get(segment))
                        .and_then(|d| d.relation.clone());
                    match next {
                        Some(comodel) => current = comodel,
                        None => break,
                    }
                }
            }
        };
        self.memo().insert(key, answer.clone());
        Ok(answer)
    }

    /// The fields of a model that a derivation walk passes through: loaded on demand when the webhook has a
    /// rule for it (its fields may be denied, directly or through each other); otherwise used only if the
    /// request has loaded it anyway. A walk does not load every model Odoo's `depends` graph touches, which
    /// would cost a `fields_get` per model for a plain read: a dependency chain that leaves the loaded models
    /// through a model without rules is not followed further (each hop into a model with rules still is).
    fn followed(&self, model: &ModelName) -> Result<Option<&ModelFields>, FieldCheck> {
        match self.models.get(model) {
            Some(fields) => Ok(Some(fields)),
            None if self.rules.contains_key(model) => Err(FieldCheck::NeedModel(model.clone())),
            None => Ok(None),
        }
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<DerivedKey, Option<String>>> {
        self.derived
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let mut c = Catalog::new(rules, ModelRights::everything());
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
        let mut catalog = Catalog::new(&rules, ModelRights::everything());
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
