//! Create and write values, relation commands included (`[0, 0, {…}]`, `[2, id]`, …): each command obeys the rules
//! of the direct call on the comodel, and every record it creates, updates, deletes or re-links is counted.

use serde_json::{Map, Value};

use super::schemas::{At, Checked, Place};
use crate::config::{ModelName, Permissions};
use crate::error::GatewayError;
use crate::odoo::{Catalog, FieldCheck, FieldKind};

/// Deepest nesting of relation commands inside relation commands' values.
pub const MAX_COMMAND_DEPTH: usize = 8;

/// What one command does to the comodel, in the terms of the direct call it amounts to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Create,
    Update,
    Delete,
    /// Links or unlinks an existing record; on a one2many that rewrites the record's inverse field.
    Relink,
}

/// Checks every key of every record (and of records created or updated through commands, at any depth) and
/// answers how many records the values change besides the ones the call itself targets.
pub(super) fn check_values(
    catalog: &Catalog<'_>,
    permissions: &Permissions,
    model: &ModelName,
    values: &[Map<String, Value>],
) -> Result<usize, Checked> {
    let mut changed = 0usize;
    for record in values {
        check_record(catalog, permissions, model, record, 0, &mut changed)?;
    }
    Ok(changed)
}

fn check_record(
    catalog: &Catalog<'_>,
    permissions: &Permissions,
    model: &ModelName,
    values: &Map<String, Value>,
    depth: usize,
    changed: &mut usize,
) -> Result<(), Checked> {
    for (key, value) in values {
        let def = catalog.field(model, key).at(Place::Values)?;
        let (kind, Some(comodel)) = (def.kind, def.relation.clone()) else {
            continue;
        };
        if !kind.is_x2many() || matches!(value, Value::Bool(false) | Value::Null) {
            continue;
        }
        if depth >= MAX_COMMAND_DEPTH {
            return Err(invalid(format!(
                "relation commands may nest at most {MAX_COMMAND_DEPTH} levels (at '{key}')"
            )));
        }
        let Value::Array(commands) = value else {
            return Err(invalid(format!(
                "'{key}' takes a list of relation commands such as [[0, 0, {{...}}], [4, id]]"
            )));
        };
        let at = Site {
            catalog,
            permissions,
            field: key,
            comodel: &comodel,
            one2many: kind == FieldKind::One2many,
        };
        if !commands.is_empty() && commands.iter().all(|c| c.is_i64() || c.is_u64()) {
            let ids = ids_list(commands, key)?;
            at.set(ids.len(), changed)?;
            continue;
        }
        for command in commands {
            at.command(command, depth, changed)?;
        }
    }
    Ok(())
}

/// One x2many field of one record: where its commands land.
struct Site<'c, 'a> {
    catalog: &'c Catalog<'a>,
    permissions: &'c Permissions,
    field: &'c str,
    comodel: &'c ModelName,
    one2many: bool,
}

impl Site<'_, '_> {
    fn command(&self, command: &Value, depth: usize, changed: &mut usize) -> Result<(), Checked> {
        let field = self.field;
        let items = command.as_array().filter(|c| (1..=3).contains(&c.len())).ok_or_else(|| {
            invalid(format!(
                "each command of '{field}' is a list such as [0, 0, {{...}}], [1, id, {{...}}], [2, id], [4, id] or [6, 0, [ids]], not {command}"
            ))
        })?;
        let code = items[0].as_u64().filter(|c| *c <= 6).ok_or_else(|| {
            invalid(format!(
                "unknown relation command {} on '{field}': use 0 to 6",
                items[0]
            ))
        })?;
        match code {
            0 | 1 => {
                let sub = match items.get(2) {
                    Some(Value::Object(sub)) => sub,
                    _ => {
                        return Err(invalid(format!(
                            "command {code} on '{field}' needs values: [{code}, id, {{...}}]"
                        )));
                    }
                };
                if code == 1 {
                    record_id(items.get(1), field, code)?;
                }
                let effect = if code == 0 { Effect::Create } else { Effect::Update };
                self.allow(effect, code)?;
                *changed += 1;
                check_record(
                    self.catalog,
                    self.permissions,
                    self.comodel,
                    sub,
                    depth + 1,
                    changed,
                )
            }
            2..=4 => {
                record_id(items.get(1), field, code)?;
                let effect = match code {
                    2 => Effect::Delete,
                    // Removing a line from a one2many deletes it in Odoo when its inverse field is required.
                    3 if self.one2many => Effect::Delete,
                    _ => Effect::Relink,
                };
                self.allow(effect, code)?;
                *changed += 1;
                Ok(())
            }
            5 => self.set(0, changed),
            _ => {
                let ids = match items.get(2) {
                    Some(Value::Array(ids)) => ids_list(ids, field)?,
                    _ => return Err(invalid(format!("command 6 on '{field}' is [6, 0, [ids]]"))),
                };
                self.set(ids.len(), changed)
            }
        }
    }

    /// Replacing every link (`[6, 0, ids]`, `[5]`, a bare id list): fine on a many2many, where only links change;
    /// on a one2many it would delete an unknown number of records, so it is refused.
    fn set(&self, linked: usize, changed: &mut usize) -> Result<(), Checked> {
        if self.one2many {
            return Err(invalid(format!(
                "'{}' is a one2many: replacing all its records ([5], [6, 0, ids] or a bare id list) may delete an unknown number of {} records; use [2, id], [3, id] or [4, id] per record",
                self.field, self.comodel
            )));
        }
        self.allow(Effect::Relink, 6)?;
        *changed += linked.max(1);
        Ok(())
    }

    fn allow(&self, effect: Effect, code: u64) -> Result<(), Checked> {
        if !self.catalog.rights().writable(self.comodel) {
            return Err(FieldCheck::ModelNotAllowed {
                model: self.comodel.clone(),
                path: self.field.to_owned(),
                access: "change",
            })
            .at(Place::Values);
        }
        let p = self.permissions;
        let (allowed, reason, verb) = match effect {
            Effect::Create => (p.can_create, "create_not_allowed", "creates"),
            Effect::Update | Effect::Relink => (p.can_write, "write_not_allowed", "changes"),
            Effect::Delete => (p.can_unlink, "unlink_not_allowed", "deletes"),
        };
        if allowed {
            return Ok(());
        }
        Err(Checked::Refused(GatewayError::PermissionDenied {
            reason,
            field: Some(self.field.to_owned()),
            message: Some(format!(
                "command {code} on '{}' {verb} {} records, which this webhook may not do",
                self.field, self.comodel
            )),
        }))
    }
}

fn record_id(value: Option<&Value>, field: &str, code: u64) -> Result<i64, Checked> {
    value
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid(format!("command {code} on '{field}' needs a positive record id")))
}

fn ids_list(ids: &[Value], field: &str) -> Result<Vec<i64>, Checked> {
    ids.iter()
        .map(|v| v.as_i64().filter(|id| *id > 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid(format!("the ids given for '{field}' must be positive record ids")))
}

fn invalid(message: String) -> Checked {
    Checked::Refused(GatewayError::invalid_payload("invalid_command", message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FieldRule;
    use crate::odoo::fixtures;
    use serde_json::json;
    use std::collections::BTreeMap;

    const ALL: Permissions = Permissions {
        can_create: true,
        can_write: true,
        can_unlink: true,
    };

    fn check(values: Value, permissions: Permissions) -> Result<usize, Checked> {
        let rules = BTreeMap::new();
        let catalog = fixtures::full(&rules);
        let values = values.as_object().unwrap().clone();
        check_values(&catalog, &permissions, &"sale.order".parse().unwrap(), &[values])
    }

    fn refused(result: Result<usize, Checked>) -> &'static str {
        match result {
            Err(Checked::Refused(GatewayError::PermissionDenied { reason, .. })) => reason,
            Err(Checked::Refused(GatewayError::InvalidPayload { reason, .. })) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_record_a_command_touches_is_counted() {
        let lines = json!({"order_line": [[0, 0, {"name": "A"}], [1, 3, {"name": "B"}], [2, 4], [4, 5]],
                           "tag_ids": [[6, 0, [1, 2, 3]]]});
        assert_eq!(check(lines, ALL).unwrap(), 7);
        assert_eq!(check(json!({"tag_ids": [1, 2]}), ALL).unwrap(), 2);
        assert_eq!(check(json!({"name": "x", "order_line": []}), ALL).unwrap(), 0);
    }

    #[test]
    fn commands_need_the_permission_of_the_direct_call() {
        let create_only = Permissions {
            can_create: true,
            can_write: false,
            can_unlink: false,
        };
        assert_eq!(
            check(json!({"order_line": [[0, 0, {"name": "A"}]]}), create_only).unwrap(),
            1
        );
        assert_eq!(
            refused(check(json!({"order_line": [[1, 3, {"name": "B"}]]}), create_only)),
            "write_not_allowed"
        );
        assert_eq!(
            refused(check(json!({"order_line": [[2, 3]]}), create_only)),
            "unlink_not_allowed"
        );
        assert_eq!(
            refused(check(json!({"order_line": [[3, 3]]}), create_only)),
            "unlink_not_allowed"
        );
        assert_eq!(
            refused(check(json!({"order_line": [[4, 3]]}), create_only)),
            "write_not_allowed"
        );
        assert_eq!(
            refused(check(json!({"order_line": [[5]]}), ALL)),
            "invalid_command"
        );
        assert_eq!(
            refused(check(json!({"order_line": [[6, 0, [1]]]}), ALL)),
            "invalid_command"
        );
        assert_eq!(
            refused(check(json!({"order_line": [1, 2]}), ALL)),
            "invalid_command"
        );
        for bad in [
            json!([[9, 1]]),
            json!([[2]]),
            json!([[2, -1]]),
            json!([[0, 0, 5]]),
            json!(["x"]),
            json!(5),
        ] {
            assert_eq!(
                refused(check(json!({"order_line": bad}), ALL)),
                "invalid_command",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_comodel_must_be_allowed_for_changes_and_its_field_rules_apply() {
        let rules: BTreeMap<ModelName, FieldRule> = [(
            "sale.order.line".parse().unwrap(),
            FieldRule {
                allow: None,
                deny: ["price_unit".into()].into(),
            },
        )]
        .into();
        let only_orders = crate::config::ModelAccess::Only(["sale.order".parse().unwrap()].into());
        let read_only = ["sale.order.line".parse().unwrap()].into();
        let mut catalog = Catalog::new(
            &rules,
            crate::odoo::ModelRights {
                models: &only_orders,
                read_only: &read_only,
            },
        );
        for m in fixtures::models() {
            catalog.insert(m);
        }
        let order: ModelName = "sale.order".parse().unwrap();
        let values = |v: Value| [v.as_object().unwrap().clone()];
        assert!(matches!(
            check_values(&catalog, &ALL, &order, &values(json!({"order_line": [[2, 7]]}))),
            Err(Checked::Field(FieldCheck::ModelNotAllowed { .. }, Place::Values))
        ));
        let all_rules = fixtures::full(&rules);
        assert!(matches!(
            check_values(
                &all_rules,
                &ALL,
                &order,
                &values(json!({"order_line": [[0, 0, {"price_unit": 1}]]}))
            ),
            Err(Checked::Field(FieldCheck::Denied { .. }, Place::Values))
        ));
        let mut deep = json!({"name": "x"});
        for _ in 0..=MAX_COMMAND_DEPTH {
            deep = json!({"child_ids": [[0, 0, deep]]});
        }
        let partner: ModelName = "res.partner".parse().unwrap();
        assert!(matches!(
            check_values(&all_rules, &ALL, &partner, &values(deep)),
            Err(Checked::Refused(GatewayError::InvalidPayload {
                reason: "invalid_command",
                ..
            }))
        ));
    }
}
