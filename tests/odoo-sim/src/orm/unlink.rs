//! `unlink`: model checks (restricting foreign keys, locked states), cascades and inverse list cleanup.

use serde_json::Value;

use crate::error::OdooResult;
use crate::models;
use crate::orm::create::{MutEnv, link_inverse};
use crate::registry::{Kind, Model};

/// Deletes existing rows `ids` (existence and access are checked by the caller).
pub fn unlink(m: &mut MutEnv<'_>, model: &Model, ids: &[i64]) -> OdooResult<()> {
    crate::automation::unlinking(m, model, ids)?;
    models::before_unlink(m, model, ids)?;
    for &id in ids {
        for (child_model, child_field) in models::cascades(&model.name) {
            let Some(cm) = m.model(child_model) else { continue };
            let children: Vec<i64> =
                m.db.table(child_model)
                    .map(|t| {
                        t.rows
                            .iter()
                            .filter(|(_, r)| r.get(*child_field).and_then(Value::as_i64) == Some(id))
                            .map(|(k, _)| *k)
                            .collect()
                    })
                    .unwrap_or_default();
            if !children.is_empty() {
                unlink(m, cm, &children)?;
            }
        }
        let Some(row) = m.db.tables.get_mut(&model.name).and_then(|t| t.rows.remove(&id)) else {
            continue;
        };
        for f in &model.fields {
            if f.kind == Kind::Many2one
                && let Some(t) = row.get(&f.name).and_then(Value::as_i64)
            {
                link_inverse(m, model, id, &f.name, Some(t), None);
            }
        }
        models::after_unlink(m, model, id, &row)?;
    }
    Ok(())
}
