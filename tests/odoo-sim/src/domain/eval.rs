//! Domain evaluation: compiles a parsed domain against the registry (Odoo's field errors), then filters rows.

use std::cell::Cell;
use std::collections::HashSet;

use serde_json::Value;

use super::parse::MAX_DOMAIN_DEPTH;
use super::{Leaf, Node, Op, like_match};
use crate::db::Record;
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::pyrepr;
use crate::registry::{Field, Kind, Model};

/// A domain resolved against one model.
#[derive(Debug, Clone)]
pub enum CNode {
    True,
    False,
    /// A leaf Odoo ignores (a non-stored field without a search method); only a leaf compiles to it.
    Ignored,
    Not(Box<CNode>),
    And(Vec<CNode>),
    Or(Vec<CNode>),
    /// Compare the field's value with a constant.
    Cmp {
        field: Field,
        op: Op,
        value: Value,
    },
    /// The field's value (many2one id, x2many ids, or own id) is in a precomputed set.
    InSet {
        field: Field,
        ids: HashSet<i64>,
        negate: bool,
    },
}

/// Whether a domain has a leaf on `active` outside `any` sub-domains (which disables the implicit filter).
pub fn has_active_leaf(node: &Node) -> bool {
    match node {
        Node::Leaf(l) => l.path == "active",
        Node::Not(n) => has_active_leaf(n),
        Node::And(v) | Node::Or(v) => v.iter().any(has_active_leaf),
        Node::True | Node::False => false,
    }
}

/// Fields res.partner's display-name search looks at.
const PARTNER_NAME_FIELDS: &[&str] = &["complete_name", "email", "ref", "vat", "company_registry"];

/// Compiles and evaluates domains in one environment.
pub struct Evaluator<'e, 'a> {
    pub env: &'e Env<'a>,
    /// Row checks spent so far (see [`MAX_DOMAIN_WORK`]).
    work: Cell<usize>,
}

/// Most row checks (a leaf tested on a row, a name compared, a hierarchy step) one domain may cost; past it the
/// domain is refused rather than holding the server (5,000 name leaves over 1,765 states took 19 s in a debug
/// build).
pub const MAX_DOMAIN_WORK: usize = 1_000_000;

impl<'e, 'a> Evaluator<'e, 'a> {
    pub fn new(env: &'e Env<'a>) -> Self {
        Evaluator {
            env,
            work: Cell::new(0),
        }
    }

    /// Resolves fields and precomputes name and hierarchy matches.
    pub fn compile(&self, model: &Model, node: &Node) -> OdooResult<CNode> {
        self.compile_at(model, node, false)
    }

    /// `negated`: under an odd number of `!`, which Odoo pushes into the leaves before it reads them.
    fn compile_at(&self, model: &Model, node: &Node, negated: bool) -> OdooResult<CNode> {
        Ok(match node {
            Node::True => CNode::True,
            Node::False => CNode::False,
            Node::Not(n) => CNode::Not(Box::new(self.compile_at(model, n, !negated)?)),
            Node::And(v) => CNode::And(
                v.iter()
                    .map(|n| self.compile_at(model, n, negated))
                    .collect::<OdooResult<_>>()?,
            ),
            Node::Or(v) => CNode::Or(
                v.iter()
                    .map(|n| self.compile_at(model, n, negated))
                    .collect::<OdooResult<_>>()?,
            ),
            Node::Leaf(leaf) => match self.compile_leaf(model, leaf, 0)? {
                // Odoo drops the (negated) leaf: true once the negations above it are applied.
                CNode::Ignored if negated => CNode::False,
                CNode::Ignored => CNode::True,
                c => c,
            },
        })
    }

    fn comodel(&self, field: &Field) -> OdooResult<&'a Model> {
        let rel = field.relation.as_deref().unwrap_or_default();
        self.env
            .reg
            .model(rel)
            .ok_or_else(|| OdooError::value(format!("Unknown model {rel}")))
    }

    /// `hops`: fields followed so far (path segments and related fields), bounded like the domain's depth.
    fn compile_leaf(&self, model: &Model, leaf: &Leaf, hops: usize) -> OdooResult<CNode> {
        if hops > 2 * MAX_DOMAIN_DEPTH {
            return Err(OdooError::value(format!(
                "Domain nested too deeply: more than {} fields followed in leaf {}",
                2 * MAX_DOMAIN_DEPTH,
                leaf.repr()
            )));
        }
        let (head, rest) = match leaf.path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (leaf.path.as_str(), None),
        };
        let Some(field) = model.field(head) else {
            return Err(OdooError::value(format!(
                "Invalid field {}.{} in leaf {}",
                model.name,
                head,
                leaf.repr()
            )));
        };
        if !field.store && field.name != "id" {
            if !field.searchable {
                // Odoo logs "Non-stored field ... cannot be searched." and ignores the leaf.
                return Ok(CNode::Ignored);
            }
            if let Some(related) = &field.related_path {
                let path = rest.map_or_else(|| related.clone(), |r| format!("{related}.{r}"));
                let through = Leaf { path, ..leaf.clone() };
                return self.compile_leaf(model, &through, hops + 1);
            }
        }
        if !self.env.knows(model, field) {
            return Err(OdooError::value(format!(
                "Cannot search {}.{}: the simulator has no values for this field (the corpus does not record it)",
                model.name, field.name
            )));
        }
        if model.name == "res.partner" && head == "display_name" && rest.is_none() && names_value(&leaf.value)
        {
            return self.partner_name_search(model, leaf);
        }
        if let Some(rest) = rest {
            if !field.kind.is_relational() {
                return Err(OdooError::assertion(format!(
                    "Invalid field {} in domain term {}",
                    pyrepr::str_repr(&leaf.path),
                    leaf.repr()
                )));
            }
            let comodel = self.comodel(field)?;
            let sub_leaf = Leaf {
                path: rest.to_owned(),
                ..leaf.clone()
            };
            let sub = match self.compile_leaf(comodel, &sub_leaf, hops + 1)? {
                CNode::Ignored => CNode::True,
                c => c,
            };
            let sub = self.with_active(comodel, field, sub, false);
            return self.any(field, comodel, &sub, false);
        }
        match leaf.op {
            Op::Any | Op::NotAny => {
                if !field.kind.is_relational() {
                    return Err(OdooError::value(format!("Invalid leaf {}", leaf.repr())));
                }
                let comodel = self.comodel(field)?;
                let sub_node = leaf.sub.as_deref().cloned().unwrap_or(Node::True);
                let sub = self.compile(comodel, &sub_node)?;
                let sub = self.with_active(comodel, field, sub, has_active_leaf(&sub_node));
                self.any(field, comodel, &sub, leaf.op == Op::NotAny)
            }
            Op::ChildOf | Op::ParentOf => self.hierarchy(model, field, leaf),
            op if field.kind == Kind::Many2one && names_value(&leaf.value) => {
                let comodel = self.comodel(field)?;
                let pos = op.positive().unwrap_or(op);
                let ids = self.name_match(comodel, pos, &leaf.value)?;
                Ok(CNode::InSet {
                    field: field.clone(),
                    ids,
                    negate: op.positive().is_some(),
                })
            }
            op @ (Op::In | Op::NotIn) if field.kind.is_relational() || field.kind == Kind::Integer => {
                match int_set(&leaf.value) {
                    // Looked up in a set: a long id list costs one probe per row, not one comparison per id.
                    Some(ids) => Ok(CNode::InSet {
                        field: field.clone(),
                        ids,
                        negate: op == Op::NotIn,
                    }),
                    None => Ok(CNode::Cmp {
                        field: field.clone(),
                        op,
                        value: leaf.value.clone(),
                    }),
                }
            }
            op => Ok(CNode::Cmp {
                field: field.clone(),
                op,
                value: leaf.value.clone(),
            }),
        }
    }

    /// "Some related record matches `sub`" (dotted paths and `any`), resolved now to the set of matching comodel
    /// ids: each sub-domain is read over its table once, however often the outer rows reach the same records.
    fn any(&self, field: &Field, comodel: &Model, sub: &CNode, negate: bool) -> OdooResult<CNode> {
        let ids = match self.env.db.table(&comodel.name) {
            Some(t) => {
                self.charge(t.rows.len().saturating_mul(leaves(sub)))?;
                t.rows
                    .iter()
                    .filter(|(cid, crec)| self.matches(comodel, **cid, crec, sub))
                    .map(|(cid, _)| *cid)
                    .collect()
            }
            None => HashSet::new(),
        };
        Ok(CNode::InSet {
            field: field.clone(),
            ids,
            negate,
        })
    }

    /// Counts `n` row checks against [`MAX_DOMAIN_WORK`].
    pub fn charge(&self, n: usize) -> OdooResult<()> {
        let spent = self.work.get().saturating_add(n);
        self.work.set(spent);
        if spent > MAX_DOMAIN_WORK {
            return Err(OdooError::value(format!(
                "Domain too costly: more than {MAX_DOMAIN_WORK} row checks (leaves times the rows they test)"
            )));
        }
        Ok(())
    }

    /// res.partner `_search_display_name`: the complete name, email, reference or tax id matches.
    fn partner_name_search(&self, model: &Model, leaf: &Leaf) -> OdooResult<CNode> {
        let pos = leaf.op.positive().unwrap_or(leaf.op);
        let mut alts = Vec::new();
        for fname in PARTNER_NAME_FIELDS {
            if let Some(f) = model.field(fname) {
                alts.push(CNode::Cmp {
                    field: f.clone(),
                    op: pos,
                    value: leaf.value.clone(),
                });
            }
        }
        let any = CNode::Or(alts);
        Ok(if leaf.op.positive().is_some() {
            CNode::Not(Box::new(any))
        } else {
            any
        })
    }

    /// Adds the comodel's implicit `active` filter to an x2many sub-domain.
    fn with_active(&self, comodel: &Model, field: &Field, sub: CNode, explicit: bool) -> CNode {
        if field.kind == Kind::Many2one || explicit || !self.env.filters_active(comodel) {
            return sub;
        }
        match comodel.field("active") {
            Some(f) => CNode::And(vec![
                CNode::Cmp {
                    field: f.clone(),
                    op: Op::Eq,
                    value: Value::Bool(true),
                },
                sub,
            ]),
            None => sub,
        }
    }

    /// Ids of `model` whose display name matches (many2one compared with a name).
    fn name_match(&self, model: &Model, op: Op, value: &Value) -> OdooResult<HashSet<i64>> {
        let Some(table) = self.env.db.table(&model.name) else {
            return Ok(HashSet::new());
        };
        let names: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(v) => v.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        self.charge(table.rows.len().saturating_mul(names.len().max(1)))?;
        Ok(table
            .rows
            .iter()
            .filter(|(id, rec)| {
                let dn = self.env.display_name(&model.name, **id, rec);
                let dn = dn.as_str().unwrap_or_default();
                names.iter().any(|n| text_match(dn, op, n))
            })
            .map(|(id, _)| *id)
            .collect())
    }

    fn hierarchy(&self, model: &Model, field: &Field, leaf: &Leaf) -> OdooResult<CNode> {
        let target: &Model = if field.name == "id" {
            model
        } else {
            self.comodel(field)?
        };
        let roots: Vec<i64> = match &leaf.value {
            Value::String(s) => self
                .name_match(target, Op::ILike, &Value::String(s.clone()))?
                .into_iter()
                .collect(),
            Value::Array(v) => v.iter().filter_map(Value::as_i64).collect(),
            v => v.as_i64().into_iter().collect(),
        };
        let closure = self.closure(&target.name, &roots, leaf.op == Op::ChildOf)?;
        let on_self = field.name == "id"
            || (field.relation.as_deref() == Some(&model.name) && field.name == "parent_id");
        let id_field = model.field("id").cloned().unwrap_or_else(|| field.clone());
        Ok(CNode::InSet {
            field: if on_self { id_field } else { field.clone() },
            ids: closure,
            negate: false,
        })
    }

    /// Descendants (or ancestors) of `roots` through `parent_id`, roots included.
    fn closure(&self, model: &str, roots: &[i64], down: bool) -> OdooResult<HashSet<i64>> {
        let mut out: HashSet<i64> = roots.iter().copied().collect();
        let Some(table) = self.env.db.table(model) else {
            return Ok(out);
        };
        let parent_of = |rec: &Record| rec.get("parent_id").and_then(Value::as_i64);
        loop {
            self.charge(table.rows.len())?;
            let before = out.len();
            for (id, rec) in &table.rows {
                match parent_of(rec) {
                    Some(p) if down && out.contains(&p) => {
                        out.insert(*id);
                    }
                    Some(p) if !down && out.contains(id) => {
                        out.insert(p);
                    }
                    _ => {}
                }
            }
            if out.len() == before {
                return Ok(out);
            }
        }
    }

    /// Whether row `id` of `model` matches the compiled domain.
    pub fn matches(&self, model: &Model, id: i64, rec: &Record, node: &CNode) -> bool {
        match node {
            CNode::True | CNode::Ignored => true,
            CNode::False => false,
            CNode::Not(n) => !self.matches(model, id, rec, n),
            CNode::And(v) => v.iter().all(|n| self.matches(model, id, rec, n)),
            CNode::Or(v) => v.iter().any(|n| self.matches(model, id, rec, n)),
            CNode::InSet { field, ids, negate } => {
                let v = self.env.value_of(model, id, rec, field);
                let hit = if field.kind.is_x2many() {
                    v.as_array()
                        .is_some_and(|a| a.iter().filter_map(Value::as_i64).any(|i| ids.contains(&i)))
                } else {
                    set_key(field.kind, &v).is_some_and(|i| ids.contains(&i))
                };
                hit != *negate
            }
            CNode::Cmp { field, op, value } => {
                let v = self.env.value_of(model, id, rec, field);
                compare(field.kind, &v, *op, value)
            }
        }
    }
}

/// The ids of an `in` list made only of integers.
fn int_set(v: &Value) -> Option<HashSet<i64>> {
    v.as_array()?.iter().map(Value::as_i64).collect()
}

/// The integer a row's value compares as with `=` (integer columns read NULL as 0, as [`compare`] does).
fn set_key(kind: Kind, v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::Null | Value::Bool(false) if kind == Kind::Integer => Some(0),
        Value::Bool(true) if kind == Kind::Integer => Some(1),
        _ => None,
    }
}

/// Leaves a row is tested against (each costs a row check).
pub fn leaves(node: &CNode) -> usize {
    match node {
        CNode::Not(n) => leaves(n),
        CNode::And(v) | CNode::Or(v) => v.iter().map(leaves).sum(),
        CNode::True | CNode::False | CNode::Ignored => 0,
        CNode::Cmp { .. } | CNode::InSet { .. } => 1,
    }
}

fn names_value(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    }
}

fn text_match(text: &str, op: Op, pat: &str) -> bool {
    match op {
        Op::Eq => text == pat,
        Op::Like => like_match(text, &format!("%{pat}%"), false),
        Op::ILike | Op::In => like_match(text, &format!("%{pat}%"), true),
        Op::EqLike => like_match(text, pat, false),
        Op::EqILike => like_match(text, pat, true),
        _ => false,
    }
}

/// SQL NULL as the corpus shows it: `false`/`null` (booleans: `false` is a value, equal to NULL for `=`).
fn is_null(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false))
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Null | Value::Bool(false) => Some(0.0),
        Value::Bool(true) => Some(1.0),
        _ => None,
    }
}

fn eq(kind: Kind, v: &Value, t: &Value) -> bool {
    if is_null(t) {
        return match kind {
            k if k.is_x2many() => v.as_array().is_none_or(Vec::is_empty),
            k if k.is_numeric() => num(v) == Some(0.0),
            _ => is_null(v),
        };
    }
    match kind {
        k if k.is_x2many() => v.as_array().is_some_and(|a| {
            a.contains(t) || t.as_array().is_some_and(|ts| ts.iter().any(|x| a.contains(x)))
        }),
        k if k.is_numeric() => num(v).is_some_and(|a| num(t) == Some(a)),
        Kind::Boolean => v.as_bool().unwrap_or(false) == t.as_bool().unwrap_or(true),
        _ => match (v, t) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => v == t,
        },
    }
}

/// Evaluates `value op target` with PostgreSQL/Odoo NULL semantics.
pub fn compare(kind: Kind, v: &Value, op: Op, t: &Value) -> bool {
    match op {
        Op::Eq => eq(kind, v, t),
        Op::Ne => !eq(kind, v, t),
        Op::EqOpt => is_null(t) || eq(kind, v, t),
        Op::In => t.as_array().is_some_and(|ts| ts.iter().any(|x| eq(kind, v, x))),
        Op::NotIn => !compare(kind, v, Op::In, t),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = if kind.is_numeric() || kind == Kind::Boolean {
                match (num(v), num(t)) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                }
            } else {
                match (v.as_str(), t.as_str()) {
                    (Some(a), Some(b)) => Some(a.cmp(b)),
                    _ => match (v, t) {
                        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                        _ => None,
                    },
                }
            };
            let Some(ord) = ord else { return false };
            match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        Op::Like | Op::ILike | Op::EqLike | Op::EqILike => {
            let pat = value_text(t);
            if matches!(op, Op::Like | Op::ILike) && pat.is_empty() {
                return true;
            }
            let texts: Vec<String> = match v {
                Value::Array(a) => a.iter().map(value_text).collect(),
                v if is_null(v) && kind != Kind::Boolean => return false,
                v => vec![value_text(v)],
            };
            texts.iter().any(|s| text_match(s, op, &pat))
        }
        Op::NotLike | Op::NotILike => {
            let pos = if op == Op::NotLike { Op::Like } else { Op::ILike };
            if value_text(t).is_empty() {
                return false;
            }
            !compare(kind, v, pos, t)
        }
        Op::ChildOf | Op::ParentOf | Op::Any | Op::NotAny => false,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null | Value::Bool(false) => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_semantics() {
        assert!(compare(Kind::Char, &json!(false), Op::Ne, &json!("x")));
        assert!(compare(Kind::Char, &json!(false), Op::NotIn, &json!(["x"])));
        assert!(compare(
            Kind::Many2one,
            &json!(false),
            Op::In,
            &json!([false, 15])
        ));
        assert!(compare(Kind::Integer, &json!(false), Op::Ge, &json!(0)));
        assert!(!compare(Kind::Integer, &json!(0), Op::Gt, &json!(0)));
        assert!(compare(Kind::Char, &json!(false), Op::ILike, &json!("")));
        assert!(!compare(Kind::Char, &json!(false), Op::ILike, &json!("a")));
        assert!(compare(Kind::Char, &json!(false), Op::NotILike, &json!("a")));
        assert!(!compare(Kind::Integer, &json!(1), Op::In, &json!([])));
        assert!(compare(Kind::Integer, &json!(1), Op::NotIn, &json!([])));
        assert!(compare(Kind::Boolean, &json!(false), Op::Eq, &json!(false)));
        assert!(compare(Kind::One2many, &json!([]), Op::Eq, &json!(false)));
        assert!(compare(
            Kind::Datetime,
            &json!("2026-10-28 00:46:00"),
            Op::Lt,
            &json!("2026-11-01")
        ));
    }
}
