//! Domain parsing: Odoo's `normalize_domain` (implicit `&`, arity check) and leaf checks, with its errors.
//!
//! The tree is built without recursion: same-operator chains become one n-ary node, double negations cancel, and
//! what still nests is refused past [`MAX_DOMAIN_DEPTH`], so no walk over a parsed domain can exhaust the stack.

use serde_json::Value;

use super::{Leaf, Node, Op};
use crate::error::{OdooError, OdooResult};
use crate::pyrepr;

/// Most items (operators and terms, those of `any` sub-domains included) one domain may hold.
pub const MAX_DOMAIN_ITEMS: usize = 10_000;
/// Deepest nesting of operators, `any` sub-domains and dotted-path segments.
pub const MAX_DOMAIN_DEPTH: usize = 32;

/// One token of a normalised (prefix) domain.
enum Token<'a> {
    And,
    Or,
    Not,
    Term(&'a Value),
}

/// What is left to read of a domain and of its sub-domains.
struct Budget {
    items: usize,
}

impl Budget {
    fn take(&mut self, n: usize) -> OdooResult<()> {
        self.items = self.items.saturating_add(n);
        if self.items > MAX_DOMAIN_ITEMS {
            return Err(OdooError::value(format!(
                "Domain too long: {} items, at most {MAX_DOMAIN_ITEMS} are accepted",
                self.items
            )));
        }
        Ok(())
    }
}

fn too_deep() -> OdooError {
    OdooError::value(format!(
        "Domain nested too deeply: more than {MAX_DOMAIN_DEPTH} levels of operators, 'any' sub-domains or dotted paths"
    ))
}

/// Parses a domain as sent over RPC into a tree.
pub fn parse(domain: &Value) -> OdooResult<Node> {
    let mut budget = Budget { items: 0 };
    parse_at(domain, 0, &mut budget)
}

fn parse_at(domain: &Value, depth: usize, budget: &mut Budget) -> OdooResult<Node> {
    let Value::Array(items) = domain else {
        return Err(OdooError::assertion(
            "Domains to normalize must have a 'domain' form: a list or tuple of domain components",
        ));
    };
    if items.is_empty() {
        return Ok(Node::True);
    }
    budget.take(items.len())?;
    let (implicit_ands, tokens) = normalize(domain, items)?;
    build(implicit_ands, &tokens, depth, budget)
}

/// Odoo's `normalize_domain`: the number of `&` it would insert in front, and the tokens.
fn normalize<'a>(domain: &Value, items: &'a [Value]) -> OdooResult<(usize, Vec<Token<'a>>)> {
    let mut out: Vec<Token<'a>> = Vec::with_capacity(items.len());
    let mut implicit_ands = 0usize;
    let mut expected: i64 = 1;
    for item in items {
        if expected == 0 {
            implicit_ands += 1;
            expected = 1;
        }
        let tok = match item.as_str() {
            Some("&") => Token::And,
            Some("|") => Token::Or,
            Some("!") => Token::Not,
            _ => Token::Term(item),
        };
        expected += match tok {
            Token::And | Token::Or => 1,
            Token::Not => 0,
            Token::Term(_) => -1,
        };
        out.push(tok);
    }
    if expected != 0 {
        return Err(OdooError::value(format!(
            "Domain {} is syntactically not correct.",
            pyrepr::repr(domain)
        )));
    }
    Ok((implicit_ands, out))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameOp {
    And,
    Or,
    Not,
}

/// An operator still waiting for operands.
struct Frame {
    op: FrameOp,
    need: usize,
    children: Vec<Node>,
}

impl Frame {
    fn into_node(mut self) -> Node {
        match self.op {
            FrameOp::And => Node::And(self.children),
            FrameOp::Or => Node::Or(self.children),
            FrameOp::Not => match self.children.pop() {
                Some(child) => Node::Not(Box::new(child)),
                None => Node::True,
            },
        }
    }
}

/// Builds the tree of a prefix token list with an explicit stack.
fn build(implicit_ands: usize, tokens: &[Token<'_>], depth: usize, budget: &mut Budget) -> OdooResult<Node> {
    let mut stack: Vec<Frame> = Vec::new();
    if implicit_ands > 0 {
        stack.push(Frame {
            op: FrameOp::And,
            need: implicit_ands + 1,
            children: Vec::new(),
        });
    }
    let mut done: Option<Node> = None;
    for tok in tokens {
        let op = match tok {
            Token::And => FrameOp::And,
            Token::Or => FrameOp::Or,
            Token::Not => FrameOp::Not,
            Token::Term(v) => {
                let level = depth + stack.len() + 1;
                let mut node = term(v, level, budget)?;
                loop {
                    let Some(top) = stack.last_mut() else {
                        done = Some(node);
                        break;
                    };
                    top.children.push(node);
                    if top.children.len() < top.need {
                        break;
                    }
                    let Some(frame) = stack.pop() else { break };
                    node = frame.into_node();
                }
                continue;
            }
        };
        match stack.last_mut() {
            // A child of the same n-ary operator only adds operands: (a & (b & c)) is (a & b & c).
            Some(top) if top.op == op && op != FrameOp::Not => top.need += 1,
            // Two negations in a row cancel out.
            Some(top) if top.op == FrameOp::Not && op == FrameOp::Not => {
                stack.pop();
            }
            _ => {
                if depth + stack.len() + 1 > MAX_DOMAIN_DEPTH {
                    return Err(too_deep());
                }
                stack.push(Frame {
                    op,
                    need: if op == FrameOp::Not { 1 } else { 2 },
                    children: Vec::new(),
                });
            }
        }
    }
    // normalize() checked the arity, so every operator got its operands.
    done.ok_or_else(|| OdooError::index("list index out of range"))
}

fn term(v: &Value, depth: usize, budget: &mut Budget) -> OdooResult<Node> {
    let items = match v {
        Value::Array(items) => items,
        Value::String(_) => return Err(OdooError::index("string index out of range")),
        other => return Err(OdooError::value(format!("Invalid leaf {}", pyrepr::repr(other)))),
    };
    match items.len() {
        3 => {}
        n if n < 3 => {
            return Err(OdooError::value(format!(
                "not enough values to unpack (expected 3, got {n})"
            )));
        }
        _ => return Err(OdooError::value("too many values to unpack (expected 3)")),
    }
    let (left, op_v, right) = (&items[0], &items[1], &items[2]);
    if let (Some(l), Some("="), Some(r)) = (left.as_i64(), op_v.as_str(), right.as_i64())
        && r == 1
        && (l == 1 || l == 0)
    {
        return Ok(if l == 1 { Node::True } else { Node::False });
    }
    let invalid = || {
        OdooError::value(format!(
            "Invalid leaf ({}, {}, {})",
            pyrepr::repr(left),
            pyrepr::repr(op_v),
            pyrepr::repr(right)
        ))
    };
    let Some(op_text) = op_v.as_str().map(str::to_lowercase) else {
        return Err(invalid());
    };
    let Some(op) = Op::parse(&op_text) else {
        return Err(invalid());
    };
    let Some(path) = left.as_str() else {
        return Err(invalid());
    };
    // Every segment after the first is one more level of sub-domain.
    let depth = depth + path.matches('.').count();
    if depth > MAX_DOMAIN_DEPTH {
        return Err(too_deep());
    }
    let leaf_repr = || pyrepr::leaf_tuple(left, &op_text, right);
    let sub = match op {
        Op::Any | Op::NotAny => Some(Box::new(parse_at(right, depth, budget)?)),
        Op::In | Op::NotIn if !right.is_array() => {
            return Err(OdooError::value(format!("Invalid domain term {}", leaf_repr())));
        }
        _ => None,
    };
    Ok(Node::Leaf(Leaf {
        path: path.to_owned(),
        op,
        op_text,
        value: right.clone(),
        sub,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        match parse(&v) {
            Err(e) => format!("{}: {}", e.name, e.message),
            Ok(n) => format!("ok {n:?}"),
        }
    }

    #[test]
    fn implicit_and_and_prefix_operators() {
        let n = parse(&json!([["a", "=", 1], ["b", "=", 2]])).unwrap();
        assert!(matches!(n, Node::And(ref v) if v.len() == 2));
        let n = parse(&json!(["|", ["a", "=", 1], "!", ["b", "=", 2]])).unwrap();
        match n {
            Node::Or(v) => assert!(matches!(v[1], Node::Not(_))),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&json!([])).unwrap(), Node::True);
        assert_eq!(parse(&json!([[1, "=", 1]])).unwrap(), Node::True);
    }

    #[test]
    fn chains_of_one_operator_are_flat() {
        let n = parse(&json!(["|", "|", ["a", "=", 1], ["b", "=", 2], ["c", "=", 3]])).unwrap();
        assert!(matches!(n, Node::Or(ref v) if v.len() == 3), "{n:?}");
        let n = parse(&json!([
            "&",
            ["a", "=", 1],
            "&",
            ["b", "=", 2],
            ["c", "=", 3],
            ["d", "=", 4]
        ]))
        .unwrap();
        assert!(matches!(n, Node::And(ref v) if v.len() == 4), "{n:?}");
        let n = parse(&json!(["!", "!", "!", ["a", "=", 1]])).unwrap();
        assert!(
            matches!(n, Node::Not(ref l) if matches!(**l, Node::Leaf(_))),
            "{n:?}"
        );
        let n = parse(&json!(["!", "!", ["a", "=", 1]])).unwrap();
        assert!(matches!(n, Node::Leaf(_)), "{n:?}");
        // Operands keep their order.
        let n = parse(&json!([
            "|",
            ["a", "=", 1],
            "|",
            "!",
            ["b", "=", 2],
            ["c", "=", 3]
        ]))
        .unwrap();
        let Node::Or(v) = n else { panic!() };
        assert!(matches!(&v[0], Node::Leaf(l) if l.path == "a"));
        assert!(matches!(&v[1], Node::Not(_)));
        assert!(matches!(&v[2], Node::Leaf(l) if l.path == "c"));
    }

    #[test]
    fn limits() {
        let long = Value::Array(vec![json!(["id", "=", 1]); MAX_DOMAIN_ITEMS + 1]);
        assert!(err(long).contains("Domain too long: 10001 items"));
        let mut deep = Vec::new();
        for _ in 0..MAX_DOMAIN_DEPTH {
            deep.extend([json!("!"), json!("&"), json!(["a", "=", 1])]);
        }
        deep.push(json!(["a", "=", 1]));
        assert!(err(Value::Array(deep)).contains("nested too deeply"));
        let path = format!("{}name", "parent_id.".repeat(MAX_DOMAIN_DEPTH));
        assert!(err(json!([[path, "=", 1]])).contains("nested too deeply"));
        let path = format!("{}name", "parent_id.".repeat(MAX_DOMAIN_DEPTH - 1));
        assert!(parse(&json!([[path, "=", 1]])).is_ok());
    }

    #[test]
    fn odoo_errors() {
        assert_eq!(
            err(json!("x")),
            "builtins.AssertionError: Domains to normalize must have a 'domain' form: a list or tuple of domain components"
        );
        assert_eq!(
            err(json!(["&", ["id", "=", 1]])),
            "builtins.ValueError: Domain ['&', ['id', '=', 1]] is syntactically not correct."
        );
        assert_eq!(
            err(json!(["|"])),
            "builtins.ValueError: Domain ['|'] is syntactically not correct."
        );
        assert_eq!(
            err(json!(["^", ["id", "=", 1], ["id", "=", 2]])),
            "builtins.IndexError: string index out of range"
        );
        assert_eq!(
            err(json!([["name", "=ilike"]])),
            "builtins.ValueError: not enough values to unpack (expected 3, got 2)"
        );
        assert_eq!(
            err(json!([["id", "=", 1, 2]])),
            "builtins.ValueError: too many values to unpack (expected 3)"
        );
        assert_eq!(
            err(json!([["name", "bogus_op", "x"]])),
            "builtins.ValueError: Invalid leaf ('name', 'bogus_op', 'x')"
        );
        assert_eq!(
            err(json!([["id", "in", 15]])),
            "builtins.ValueError: Invalid domain term ('id', 'in', 15)"
        );
    }
}
