//! Users, credentials, model ACLs and record rules (enough of them to reproduce the corpus's access errors).

use serde_json::{Value, json};

use crate::domain::{self, Evaluator, Node};
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;

/// Demo users that can log in: (uid, login, password).
pub const LOGINS: &[(i64, &str, &str)] = &[(2, "admin", "admin"), (8, "integrator", "integrator")];

/// Superuser-like users bypass ACLs and record rules.
pub fn is_admin(uid: i64) -> bool {
    uid <= 2
}

/// Operations of `ir.model.access` / `ir.rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Create,
    Unlink,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "read" => Op::Read,
            "write" => Op::Write,
            "create" => Op::Create,
            "unlink" => Op::Unlink,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Create => "create",
            Op::Unlink => "unlink",
        }
    }
    fn verb(self) -> &'static str {
        match self {
            Op::Read => "access",
            Op::Write => "modify",
            Op::Create => "create",
            Op::Unlink => "delete",
        }
    }
}

const INVOICING: &[&str] = &["Invoicing/Invoicing"];
const SETTINGS: &[&str] = &["Administration/Settings"];
const WRITES: &[Op] = &[Op::Write, Op::Create, Op::Unlink];
const PRODUCT_ADMIN: &[&str] = &["Extra Rights/Product Creation", "Sales/Administrator"];

/// ACL denials of the restricted demo user: (model, operations denied, groups that would allow them).
const DENIED: &[(&str, &[Op], &[&str])] = &[
    ("ir.model", WRITES, SETTINGS),
    ("ir.model.fields", WRITES, SETTINGS),
    ("ir.model.fields.selection", WRITES, SETTINGS),
    ("ir.actions.server", WRITES, SETTINGS),
    ("base.automation", WRITES, SETTINGS),
    ("ir.module.module", WRITES, SETTINGS),
    ("account.move", &[Op::Write, Op::Create, Op::Unlink], INVOICING),
    (
        "account.move.line",
        &[Op::Write, Op::Create, Op::Unlink],
        INVOICING,
    ),
    ("account.journal", &[Op::Write, Op::Create, Op::Unlink], INVOICING),
    (
        "account.payment",
        &[Op::Read, Op::Write, Op::Create, Op::Unlink],
        &[
            "Invoicing/Invoicing",
            "Technical/Show Accounting Features - Readonly",
        ],
    ),
    (
        "ir.config_parameter",
        &[Op::Read, Op::Write, Op::Create, Op::Unlink],
        &["Administration/Settings"],
    ),
    ("res.partner", &[Op::Unlink], &["Extra Rights/Contact Creation"]),
    (
        "product.template",
        &[Op::Write, Op::Create, Op::Unlink],
        PRODUCT_ADMIN,
    ),
    (
        "product.product",
        &[Op::Write, Op::Create, Op::Unlink],
        PRODUCT_ADMIN,
    ),
    (
        "res.users",
        &[Op::Write, Op::Create, Op::Unlink],
        &["Administration/Access Rights"],
    ),
    (
        "res.company",
        &[Op::Write, Op::Create, Op::Unlink],
        &["Administration/Settings"],
    ),
    (
        "ir.model.data",
        &[Op::Write, Op::Create, Op::Unlink],
        &["Administration/Access Rights"],
    ),
    (
        "crm.stage",
        &[Op::Write, Op::Create, Op::Unlink],
        &["Sales/Administrator"],
    ),
];

/// `check_access_rights`: the model ACL for `op`.
pub fn check_acl(env: &Env<'_>, model: &str, op: Op) -> OdooResult<()> {
    if is_admin(env.uid) {
        return Ok(());
    }
    let Some((_, _, groups)) = DENIED.iter().find(|(m, ops, _)| *m == model && ops.contains(&op)) else {
        return Ok(());
    };
    let desc = env.model(model).map_or(model, |m| m.description.as_str());
    let list: String = groups.iter().map(|g| format!("\n\t- {g}")).collect();
    Err(OdooError::access(format!(
        "You are not allowed to {} '{desc}' ({model}) records.\n\nThis operation is allowed for the following groups:{list}\n\nContact your administrator to request access if necessary.",
        op.verb()
    )))
}

/// The record-rule domain limiting what the user sees of `model`, if any.
pub fn rule_domain(env: &Env<'_>, model: &str) -> Option<Node> {
    if is_admin(env.uid) {
        return None;
    }
    let uid = env.uid;
    let rule = match model {
        "sale.order" | "crm.lead" => json!(["|", ["user_id", "=", uid], ["user_id", "=", false]]),
        "sale.order.line" => json!([
            "|",
            ["order_id.user_id", "=", uid],
            ["order_id.user_id", "=", false]
        ]),
        "account.move" => json!([
            ["move_type", "in", ["out_invoice", "out_refund"]],
            "|",
            ["invoice_user_id", "=", uid],
            ["invoice_user_id", "=", false]
        ]),
        _ => return None,
    };
    domain::parse(&rule).ok()
}

/// `check_access(op)` on records: ACL then record rules, failing with Odoo's messages.
pub fn check(env: &Env<'_>, model: &str, ids: &[i64], op: Op) -> OdooResult<()> {
    check_acl(env, model, op)?;
    check_rules(env, model, ids, op)
}

/// Record rules only.
pub fn check_rules(env: &Env<'_>, model: &str, ids: &[i64], op: Op) -> OdooResult<()> {
    if allowed_by_rules(env, model, ids) {
        return Ok(());
    }
    let user = env
        .db
        .row("res.users", env.uid)
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let desc = env.model(model).map_or(model, |m| m.description.as_str());
    Err(OdooError::access(format!(
        "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, {user} (id={}) doesn't have '{}' access to:\n- {desc} ({model})\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.",
        env.uid,
        op.name()
    )))
}

/// Whether every existing row of `ids` passes the user's record rules.
pub fn allowed_by_rules(env: &Env<'_>, model: &str, ids: &[i64]) -> bool {
    let Some(rule) = rule_domain(env, model) else {
        return true;
    };
    let Some(m) = env.model(model) else { return true };
    let ev = Evaluator::new(env);
    let Ok(compiled) = ev.compile(m, &rule) else {
        return true;
    };
    ids.iter().all(|id| match env.db.row(model, *id) {
        Some(rec) => ev.matches(m, *id, rec, &compiled),
        None => true,
    })
}
