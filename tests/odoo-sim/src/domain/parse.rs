//! Domain parsing: Odoo's `normalize_domain` (implicit `&`, arity check) and leaf checks, with its errors.

use serde_json::Value;

use super::{Leaf, Node, Op};
use crate::error::{OdooError, OdooResult};
use crate::pyrepr;

/// One token of a normalised (prefix) domain.
enum Token<'a> {
    And,
    Or,
    Not,
    Term(&'a Value),
}

/// Parses a domain as sent over RPC into a tree.
pub fn parse(domain: &Value) -> OdooResult<Node> {
    let Value::Array(items) = domain else {
        return Err(OdooError::assertion(
            "Domains to normalize must have a 'domain' form: a list or tuple of domain components",
        ));
    };
    if items.is_empty() {
        return Ok(Node::True);
    }
    let tokens = normalize(domain, items)?;
    let mut pos = 0;
    let node = build(&tokens, &mut pos)?;
    Ok(node)
}

fn normalize<'a>(domain: &Value, items: &'a [Value]) -> OdooResult<Vec<Token<'a>>> {
    let mut out: Vec<Token<'a>> = Vec::with_capacity(items.len() + 2);
    let mut expected: i64 = 1;
    for item in items {
        if expected == 0 {
            out.insert(0, Token::And);
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
    Ok(out)
}

fn build(tokens: &[Token<'_>], pos: &mut usize) -> OdooResult<Node> {
    let Some(tok) = tokens.get(*pos) else {
        return Err(OdooError::index("list index out of range"));
    };
    *pos += 1;
    match tok {
        Token::And | Token::Or => {
            let a = build(tokens, pos)?;
            let b = build(tokens, pos)?;
            Ok(if matches!(tok, Token::And) {
                Node::And(vec![a, b])
            } else {
                Node::Or(vec![a, b])
            })
        }
        Token::Not => Ok(Node::Not(Box::new(build(tokens, pos)?))),
        Token::Term(v) => term(v),
    }
}

fn term(v: &Value) -> OdooResult<Node> {
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
    let leaf_repr = || pyrepr::leaf_tuple(left, &op_text, right);
    let sub = match op {
        Op::Any | Op::NotAny => Some(Box::new(parse(right)?)),
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
