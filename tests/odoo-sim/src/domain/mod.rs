//! Odoo domains: parsing with Odoo's normalisation and errors, and evaluation over in-memory rows.

mod eval;
mod like;
mod parse;
#[cfg(test)]
mod proptests;

pub use eval::{Evaluator, has_active_leaf, leaves};
pub use like::like_match;
pub use parse::parse;

use serde_json::Value;

/// Domain operators Odoo 18 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    EqOpt,
    Like,
    NotLike,
    ILike,
    NotILike,
    EqLike,
    EqILike,
    In,
    NotIn,
    ChildOf,
    ParentOf,
    Any,
    NotAny,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "=?" => Op::EqOpt,
            "like" => Op::Like,
            "not like" => Op::NotLike,
            "ilike" => Op::ILike,
            "not ilike" => Op::NotILike,
            "=like" => Op::EqLike,
            "=ilike" => Op::EqILike,
            "in" => Op::In,
            "not in" => Op::NotIn,
            "child_of" => Op::ChildOf,
            "parent_of" => Op::ParentOf,
            "any" => Op::Any,
            "not any" => Op::NotAny,
            _ => return None,
        })
    }
    /// The positive operator of a negative one (`!=` -> `=`), if it is negative.
    pub fn positive(self) -> Option<Op> {
        Some(match self {
            Op::Ne => Op::Eq,
            Op::NotLike => Op::Like,
            Op::NotILike => Op::ILike,
            Op::NotIn => Op::In,
            Op::NotAny => Op::Any,
            _ => return None,
        })
    }
}

/// A parsed domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    True,
    False,
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Leaf(Leaf),
}

/// One `(path, operator, value)` term; `sub` is the parsed value of `any`/`not any`.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub path: String,
    pub op: Op,
    pub op_text: String,
    pub value: Value,
    pub sub: Option<Box<Node>>,
}

impl Leaf {
    /// The leaf as Odoo prints it in errors.
    pub fn repr(&self) -> String {
        crate::pyrepr::leaf_tuple(&Value::String(self.path.clone()), &self.op_text, &self.value)
    }
}

impl Node {
    pub fn and(nodes: Vec<Node>) -> Node {
        Node::And(nodes)
    }
}
