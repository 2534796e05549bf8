//! Odoo search domains as a typed tree: parsed from a caller's JSON, validated, and written back for Odoo.

pub(crate) mod parse;
mod validate;

pub use parse::{DomainError, MAX_ANY_DEPTH, MAX_DEPTH, MAX_TERMS, parse};
pub use validate::validate;

use serde_json::{Value, json};

/// Odoo 18's term operators (`TERM_OPERATORS`); `<>` is read as `!=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    EqOpt,
    Like,
    NotLike,
    Ilike,
    NotIlike,
    EqLike,
    EqIlike,
    In,
    NotIn,
    ChildOf,
    ParentOf,
    Any,
    NotAny,
}

impl Operator {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "=" => Self::Eq,
            "!=" | "<>" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "=?" => Self::EqOpt,
            "like" => Self::Like,
            "not like" => Self::NotLike,
            "ilike" => Self::Ilike,
            "not ilike" => Self::NotIlike,
            "=like" => Self::EqLike,
            "=ilike" => Self::EqIlike,
            "in" => Self::In,
            "not in" => Self::NotIn,
            "child_of" => Self::ChildOf,
            "parent_of" => Self::ParentOf,
            "any" => Self::Any,
            "not any" => Self::NotAny,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::EqOpt => "=?",
            Self::Like => "like",
            Self::NotLike => "not like",
            Self::Ilike => "ilike",
            Self::NotIlike => "not ilike",
            Self::EqLike => "=like",
            Self::EqIlike => "=ilike",
            Self::In => "in",
            Self::NotIn => "not in",
            Self::ChildOf => "child_of",
            Self::ParentOf => "parent_of",
            Self::Any => "any",
            Self::NotAny => "not any",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LeafValue {
    Value(Value),
    /// The sub-domain of `any` / `not any`, on the comodel.
    Domain(Box<Domain>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    /// The field path, one name per segment (`partner_id.country_id.code` has three).
    pub path: Vec<String>,
    pub operator: Operator,
    pub value: LeafValue,
}

impl Leaf {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// `[]` or `[1, "=", 1]`: every record.
    True,
    /// `[0, "=", 1]`: no record.
    False,
    Leaf(Leaf),
    Not(Box<Domain>),
    /// Every part matches: n-ary, so a long flat domain is one wide node, never a deep chain.
    And(Vec<Domain>),
    /// Some part matches; n-ary like `And`.
    Or(Vec<Domain>),
}

impl Domain {
    /// Every record whose id is in `ids`, and (when given) matching `self`.
    pub fn restrict_to_ids(self, ids: &[i64]) -> Domain {
        let by_id = Domain::Leaf(Leaf {
            path: vec!["id".into()],
            operator: Operator::In,
            value: LeafValue::Value(json!(ids)),
        });
        match self {
            Domain::True => by_id,
            Domain::And(mut parts) => {
                parts.insert(0, by_id);
                Domain::And(parts)
            }
            other => Domain::And(vec![by_id, other]),
        }
    }

    pub fn is_true(&self) -> bool {
        matches!(self, Domain::True)
    }

    /// The prefix-notation list Odoo expects.
    pub fn to_json(&self) -> Value {
        let mut items = Vec::new();
        if !self.is_true() {
            self.write_items(&mut items);
        }
        Value::Array(items)
    }

    /// Recursion here follows the tree's nesting, which the parser bounds (`MAX_DEPTH` levels of operators per
    /// domain, `MAX_ANY_DEPTH` levels of `any`); the width of an n-ary node is a loop.
    fn write_items(&self, out: &mut Vec<Value>) {
        match self {
            Domain::True => out.push(json!([1, "=", 1])),
            Domain::False => out.push(json!([0, "=", 1])),
            Domain::Leaf(leaf) => {
                let value = match &leaf.value {
                    LeafValue::Value(v) => v.clone(),
                    LeafValue::Domain(d) => d.to_json(),
                };
                out.push(json!([leaf.dotted(), leaf.operator.as_str(), value]));
            }
            Domain::Not(inner) => {
                out.push(json!("!"));
                inner.write_items(out);
            }
            Domain::And(parts) | Domain::Or(parts) => {
                let op = if matches!(self, Domain::And(..)) { "&" } else { "|" };
                // Prefix operators first: n parts need n - 1 binary operators.
                out.extend(std::iter::repeat_n(json!(op), parts.len().saturating_sub(1)));
                for part in parts {
                    part.write_items(out);
                }
            }
        }
    }

    /// Every leaf, at any depth of this domain (not inside `any` sub-domains), without recursion.
    pub fn leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match node {
                Domain::True | Domain::False => {}
                Domain::Leaf(leaf) => out.push(leaf),
                Domain::Not(inner) => stack.push(inner),
                Domain::And(parts) | Domain::Or(parts) => stack.extend(parts.iter().rev()),
            }
        }
        out
    }
}
