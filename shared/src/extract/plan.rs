//! Turns a parsed spec into what to fetch (one tree of fields per model level) and how to shape each record.

use std::collections::BTreeMap;

use super::spec::SpecItem;
use crate::config::ModelName;
use crate::odoo::{Catalog, FieldCheck, FieldKind};

/// One output key of a shaped record.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// `"name"`: the value as `read` gives it (many2one `[id, "name"]`, x2many ids).
    Field { key: String, kind: FieldKind },
    /// `"a.b.c"`: the value at the end of the path; a list when the path goes through an x2many.
    Path {
        key: String,
        steps: Vec<String>,
        last: FieldKind,
        to_many: bool,
    },
    /// `{"m2o": [..]}`: an object with the listed keys (`{"id": N}` when none are listed), or `false`.
    Object { key: String, outputs: Vec<Output> },
    /// `{"x2m": [..]}`: a list of such objects, in Odoo's order for that relation.
    List { key: String, outputs: Vec<Output> },
}

impl Output {
    pub fn key(&self) -> &str {
        match self {
            Self::Field { key, .. }
            | Self::Path { key, .. }
            | Self::Object { key, .. }
            | Self::List { key, .. } => key,
        }
    }
}

/// The fields to fetch on one model, with the relations to follow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FetchNode {
    pub fields: BTreeMap<String, FetchField>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FetchField {
    pub kind: FieldKind,
    pub relation: Option<ModelName>,
    pub children: FetchNode,
}

impl FetchField {
    /// Whether the comodel must be read: the ids (and a many2one's display name) come with the parent.
    pub fn needs_read(&self) -> bool {
        self.children
            .fields
            .keys()
            .any(|k| k != "id" && !(self.kind == FieldKind::Many2one && k == "display_name"))
    }
}

impl FetchNode {
    /// This level, made to prove that its records exist: Odoo 18's `read` and `web_read` answer `{"id": N}` for
    /// an id that does not exist when only `id` is asked for, and drop it when any other field is.
    pub fn proving_existence(&self) -> std::borrow::Cow<'_, FetchNode> {
        if self.fields.keys().any(|name| name != "id") {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut node = self.clone();
        node.entry("display_name", FieldKind::Scalar, None);
        std::borrow::Cow::Owned(node)
    }

    fn entry(&mut self, name: &str, kind: FieldKind, relation: Option<&ModelName>) -> &mut FetchField {
        self.fields.entry(name.to_owned()).or_insert_with(|| FetchField {
            kind,
            relation: relation.cloned(),
            children: FetchNode::default(),
        })
    }

    /// How many model levels must be read (1 when no relation needs a read of its own).
    pub fn read_levels(&self) -> usize {
        1 + self
            .fields
            .values()
            .filter(|f| f.needs_read())
            .map(|f| f.children.read_levels())
            .max()
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub outputs: Vec<Output>,
    pub fetch: FetchNode,
}

/// Validates `spec` against `model`'s fields (and the field rules) and plans it.
pub fn plan(spec: &[SpecItem], model: &ModelName, catalog: &Catalog<'_>) -> Result<Plan, FieldCheck> {
    let mut fetch = FetchNode::default();
    let outputs = level(spec, model, catalog, &mut fetch)?;
    Ok(Plan { outputs, fetch })
}

fn level(
    spec: &[SpecItem],
    model: &ModelName,
    catalog: &Catalog<'_>,
    node: &mut FetchNode,
) -> Result<Vec<Output>, FieldCheck> {
    let mut outputs: Vec<Output> = Vec::with_capacity(spec.len());
    for item in spec {
        let output = match item {
            SpecItem::Name(name) => {
                let def = catalog.read_value(model, name)?;
                let field = node.entry(name, def.kind, def.relation.as_ref());
                if def.kind == FieldKind::Many2one {
                    field.children.entry("display_name", FieldKind::Scalar, None);
                }
                Output::Field {
                    key: name.clone(),
                    kind: def.kind,
                }
            }
            SpecItem::Path(steps) => {
                let key = steps.join(".");
                let (last, through) = steps.split_last().ok_or_else(|| FieldCheck::Unknown {
                    model: model.clone(),
                    field: key.clone(),
                })?;
                let mut current = model.clone();
                let mut cursor = &mut *node;
                let mut to_many = false;
                for step in through {
                    let (def, comodel) = catalog.relation(&current, step, &key)?;
                    to_many |= def.kind.is_x2many();
                    let comodel = comodel.clone();
                    cursor = &mut cursor.entry(step, def.kind, Some(&comodel)).children;
                    current = comodel;
                }
                let def = catalog.read_value(&current, last)?;
                cursor.entry(last, def.kind, def.relation.as_ref());
                Output::Path {
                    key,
                    steps: steps.clone(),
                    last: def.kind,
                    to_many,
                }
            }
            SpecItem::Nested { field, sub } => {
                let def = catalog.read_field(model, field)?;
                if !def.kind.is_relational() {
                    if sub.is_empty() {
                        node.entry(field, def.kind, None);
                        Output::Field {
                            key: field.clone(),
                            kind: def.kind,
                        }
                    } else {
                        return Err(FieldCheck::NotRelational {
                            model: model.clone(),
                            field: field.clone(),
                            path: field.clone(),
                        });
                    }
                } else {
                    // `{"m2o": []}` is only the id, part of this record: the comodel need not be readable.
                    let (def, comodel) = match (&def.relation, sub.is_empty()) {
                        (Some(comodel), true) => (def, comodel),
                        _ => catalog.relation(model, field, field)?,
                    };
                    let (kind, comodel) = (def.kind, comodel.clone());
                    let child = node.entry(field, kind, Some(&comodel));
                    let outputs = level(sub, &comodel, catalog, &mut child.children)?;
                    if kind == FieldKind::Many2one {
                        Output::Object {
                            key: field.clone(),
                            outputs,
                        }
                    } else {
                        Output::List {
                            key: field.clone(),
                            outputs,
                        }
                    }
                }
            }
        };
        // A repeated key keeps its first position and takes the last value, as the original does.
        match outputs.iter_mut().find(|o| o.key() == output.key()) {
            Some(earlier) => *earlier = output,
            None => outputs.push(output),
        }
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FieldRule;
    use crate::extract::spec;
    use crate::odoo::fixtures;
    use serde_json::json;

    fn plan_of(v: serde_json::Value) -> Result<Plan, FieldCheck> {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        plan(
            &spec::parse(&v).unwrap(),
            &"sale.order".parse().unwrap(),
            &catalog,
        )
    }

    #[test]
    fn merges_names_paths_and_nested_specs_into_one_fetch_tree() {
        let p = plan_of(json!(["name", "partner_id", "partner_id.country_id.code",
            {"order_line": ["name", {"product_id": ["default_code"]}]}, "order_line.price_unit"]))
        .unwrap();
        let partner = &p.fetch.fields["partner_id"];
        assert!(partner.children.fields.contains_key("display_name"));
        assert!(
            partner.children.fields["country_id"]
                .children
                .fields
                .contains_key("code")
        );
        let lines = &p.fetch.fields["order_line"].children;
        assert_eq!(
            lines.fields.keys().collect::<Vec<_>>(),
            ["name", "price_unit", "product_id"]
        );
        assert!(matches!(
            &p.outputs[2],
            Output::Path {
                to_many: false,
                last: FieldKind::Scalar,
                ..
            }
        ));
        assert!(matches!(&p.outputs[4], Output::Path { to_many: true, .. }));
        assert!(matches!(&p.outputs[3], Output::List { outputs, .. } if outputs.len() == 2));
    }

    #[test]
    fn unknown_fields_anywhere_are_named() {
        for (spec, field) in [
            (json!(["nope"]), "nope"),
            (json!(["partner_id.nope"]), "nope"),
            (
                json!([{"order_line": ["name", {"product_id": ["nope"]}]}]),
                "nope",
            ),
        ] {
            assert!(matches!(plan_of(spec), Err(FieldCheck::Unknown { field: f, .. }) if f == field));
        }
        assert!(matches!(
            plan_of(json!([{"name": ["x"]}])),
            Err(FieldCheck::NotRelational { .. })
        ));
        assert!(matches!(
            plan_of(json!(["name.x"])),
            Err(FieldCheck::NotRelational { .. })
        ));
    }

    #[test]
    fn field_rules_apply_at_every_level() {
        let rules = [(
            "res.country".parse().unwrap(),
            FieldRule {
                allow: Some(["name".into()].into()),
                deny: Default::default(),
            },
        )]
        .into();
        let catalog = fixtures::full(&rules);
        let model = "sale.order".parse().unwrap();
        let spec = spec::parse(&json!(["partner_id.country_id.code"])).unwrap();
        assert!(matches!(
            plan(&spec, &model, &catalog),
            Err(FieldCheck::Denied { .. })
        ));
        let spec = spec::parse(&json!([{"partner_id": [{"country_id": ["name"]}]}])).unwrap();
        assert!(plan(&spec, &model, &catalog).is_ok());
    }

    #[test]
    fn reads_are_needed_only_beyond_ids_and_display_names() {
        let p = plan_of(json!(["partner_id", {"tag_ids": []}, {"order_line": ["name"]}])).unwrap();
        assert!(!p.fetch.fields["partner_id"].needs_read());
        assert!(!p.fetch.fields["tag_ids"].needs_read());
        assert!(p.fetch.fields["order_line"].needs_read());
    }
}
