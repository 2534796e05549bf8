//! A cursor over a domain's JSON items (prefix notation, implicit AND at the top) that rejects leftovers.

use serde_json::Value;

use super::{Domain, Leaf, LeafValue, Operator};

/// Deepest nesting of prefix operators (`&`, `|`, `!`) in one domain, after runs of the same operator are
/// merged into one n-ary node (so `["|", "|", "|", a, b, c, d]` is one level, whatever its length).
pub const MAX_DEPTH: usize = 32;
/// Deepest nesting of `any` / `not any` sub-domains.
pub const MAX_ANY_DEPTH: usize = 8;
/// Most terms (`[field, operator, value]`) in one domain, its `any` sub-domains included.
pub const MAX_TERMS: usize = 1000;
/// Most items in one domain list (terms and operators together).
const MAX_ITEMS: usize = 4 * MAX_TERMS;
/// Most elements in an `in` / `not in` list.
const MAX_LIST_LEN: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, DomainError> {
    Err(DomainError(msg.into()))
}

/// Parses a JSON domain such as `["|", ["name", "ilike", "a"], ["id", "in", [1, 2]]]`.
pub fn parse(value: &Value) -> Result<Domain, DomainError> {
    let mut terms_left = MAX_TERMS;
    parse_at(value, 0, &mut terms_left)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    And,
    Or,
    Not,
}

/// An operator still reading its operands.
struct Pending {
    op: Op,
    needed: usize,
    parts: Vec<Domain>,
    /// The deepest operand so far, in operator levels.
    deepest: usize,
}

impl Pending {
    fn new(op: Op) -> Self {
        Self {
            op,
            needed: if op == Op::Not { 1 } else { 2 },
            parts: Vec::new(),
            deepest: 0,
        }
    }

    /// Adds an operand of `depth` levels; an operand of the same n-ary kind is merged into this node.
    fn push(&mut self, node: Domain, depth: usize) {
        self.needed -= 1;
        match (self.op, node) {
            (Op::And, Domain::And(parts)) | (Op::Or, Domain::Or(parts)) => {
                self.deepest = self.deepest.max(depth.saturating_sub(1));
                self.parts.extend(parts);
            }
            (_, node) => {
                self.deepest = self.deepest.max(depth);
                self.parts.push(node);
            }
        }
    }

    fn finish(self) -> Result<(Domain, usize), DomainError> {
        let depth = self.deepest + 1;
        if depth > MAX_DEPTH {
            return err(format!(
                "a domain may nest its operators ('&', '|', '!') at most {MAX_DEPTH} levels"
            ));
        }
        let node = match self.op {
            Op::And => Domain::And(self.parts),
            Op::Or => Domain::Or(self.parts),
            Op::Not => Domain::Not(Box::new(self.parts.into_iter().next().unwrap_or(Domain::True))),
        };
        Ok((node, depth))
    }
}

/// Reads prefix notation with an explicit stack (no recursion per operator), merging runs of one operator.
fn parse_at(value: &Value, any_depth: usize, terms_left: &mut usize) -> Result<Domain, DomainError> {
    let Some(items) = value.as_array() else {
        return err("a domain must be a list, such as [[\"name\", \"=\", \"x\"]]");
    };
    if items.len() > MAX_ITEMS {
        return err(format!("a domain may hold at most {MAX_ITEMS} items"));
    }
    let mut top = Pending::new(Op::And);
    let mut stack: Vec<Pending> = Vec::new();
    for item in items {
        let node = match item {
            Value::String(op) if op == "&" => {
                stack.push(Pending::new(Op::And));
                continue;
            }
            Value::String(op) if op == "|" => {
                stack.push(Pending::new(Op::Or));
                continue;
            }
            Value::String(op) if op == "!" => {
                stack.push(Pending::new(Op::Not));
                continue;
            }
            Value::String(op) => {
                return err(format!(
                    "unknown domain operator {op:?}: use '&', '|', '!' or a [field, operator, value] term"
                ));
            }
            Value::Array(term) => {
                *terms_left = terms_left.checked_sub(1).ok_or_else(|| {
                    DomainError(format!(
                        "a domain may hold at most {MAX_TERMS} terms, its 'any' sub-domains included"
                    ))
                })?;
                leaf(term, any_depth, terms_left)?
            }
            other => {
                return err(format!(
                    "a domain item must be '&', '|', '!' or a [field, operator, value] term, not {other}"
                ));
            }
        };
        let (mut node, mut depth) = (node, 0);
        loop {
            let Some(pending) = stack.last_mut() else {
                top.needed = usize::MAX;
                top.push(node, depth);
                break;
            };
            pending.push(node, depth);
            if pending.needed > 0 {
                break;
            }
            let done = stack.pop().map(Pending::finish).transpose()?;
            let Some(done) = done else { break };
            (node, depth) = done;
        }
    }
    if !stack.is_empty() {
        return err("the domain is not complete: an operator ('&', '|' or '!') is missing its terms");
    }
    Ok(match top.parts.len() {
        0 => Domain::True,
        1 => top.parts.into_iter().next().unwrap_or(Domain::True),
        _ => top.finish()?.0,
    })
}

fn leaf(term: &[Value], any_depth: usize, terms_left: &mut usize) -> Result<Domain, DomainError> {
    let [field, op, value] = term else {
        return err(format!(
            "a domain term has exactly 3 elements [field, operator, value], not {}",
            term.len()
        ));
    };
    let Some(op_str) = op.as_str() else {
        return err(format!(
            "the operator of a domain term must be a string, not {op}"
        ));
    };
    if op_str == "=" && value.as_i64() == Some(1) {
        match field.as_i64() {
            Some(1) => return Ok(Domain::True),
            Some(0) => return Ok(Domain::False),
            _ => {}
        }
    }
    let Some(path) = field.as_str() else {
        return err(format!(
            "the field of a domain term must be a string, not {field}"
        ));
    };
    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
    if segments.iter().any(|s| !is_field_name(s)) {
        return err(format!("invalid field path {path:?} in a domain term"));
    }
    let Some(operator) = Operator::parse(op_str) else {
        return err(format!(
            "unknown operator {op_str:?} in the domain term on {path:?}"
        ));
    };
    let value = match operator {
        Operator::Any | Operator::NotAny if any_depth >= MAX_ANY_DEPTH => {
            return err(format!(
                "'any' and 'not any' sub-domains may nest at most {MAX_ANY_DEPTH} levels"
            ));
        }
        Operator::Any | Operator::NotAny => {
            LeafValue::Domain(Box::new(parse_at(value, any_depth + 1, terms_left)?))
        }
        Operator::In | Operator::NotIn => match value {
            Value::Array(list) if list.len() <= MAX_LIST_LEN && list.iter().all(is_scalar) => {
                LeafValue::Value(value.clone())
            }
            Value::Array(list) if list.len() > MAX_LIST_LEN => {
                return err(format!("an 'in' list may hold at most {MAX_LIST_LEN} values"));
            }
            _ => {
                return err(format!(
                    "'{}' on {path:?} needs a list of values",
                    operator.as_str()
                ));
            }
        },
        _ if is_scalar(value) => LeafValue::Value(value.clone()),
        _ if matches!(operator, Operator::ChildOf | Operator::ParentOf)
            && value.as_array().is_some_and(|l| l.iter().all(is_scalar)) =>
        {
            LeafValue::Value(value.clone())
        }
        _ => {
            return err(format!(
                "the value of '{}' on {path:?} must be a string, number, boolean or null",
                operator.as_str()
            ));
        }
    };
    Ok(Domain::Leaf(Leaf {
        path: segments,
        operator,
        value,
    }))
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Odoo field names: ASCII letters, digits and `_`, not starting with a digit.
pub(crate) fn is_field_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> Domain {
        parse(&v).unwrap_or_else(|e| panic!("{v} should parse: {e}"))
    }

    fn bad(v: Value) -> String {
        parse(&v).expect_err(&format!("{v} should be refused")).0
    }

    #[test]
    fn empty_is_true_and_round_trips() {
        assert_eq!(ok(json!([])), Domain::True);
        assert_eq!(ok(json!([])).to_json(), json!([]));
        assert_eq!(ok(json!([[1, "=", 1]])), Domain::True);
        assert_eq!(ok(json!([[0, "=", 1]])), Domain::False);
    }

    #[test]
    fn prefix_operators_and_implicit_and() {
        let d = ok(json!(["|", ["a", "=", 1], ["b", "=", 2], ["c", "=", 3]]));
        assert_eq!(
            d.to_json(),
            json!(["&", "|", ["a", "=", 1], ["b", "=", 2], ["c", "=", 3]])
        );
        let d = ok(json!(["!", ["name", "ilike", "x"]]));
        assert!(matches!(d, Domain::Not(_)));
        let d = ok(json!([["a", "<>", 1]]));
        assert_eq!(d.to_json(), json!([["a", "!=", 1]]));
    }

    #[test]
    fn operators_are_case_insensitive_and_any_takes_a_domain() {
        let d = ok(json!([[
            "order_line",
            "ANY",
            [["product_id.default_code", "=", "X"]]
        ]]));
        let Domain::Leaf(leaf) = d else { panic!() };
        assert_eq!(leaf.operator, Operator::Any);
        assert!(matches!(leaf.value, LeafValue::Domain(_)));
        assert_eq!(
            ok(json!([["name", "Not Ilike", "x"]])).to_json(),
            json!([["name", "not ilike", "x"]])
        );
    }

    #[test]
    fn shape_errors_are_explained() {
        assert!(bad(json!("name = x")).contains("must be a list"));
        assert!(bad(json!(["&", ["a", "=", 1]])).contains("not complete"));
        assert!(bad(json!(["|"])).contains("not complete"));
        assert!(bad(json!([["a", "="]])).contains("exactly 3"));
        assert!(bad(json!([["a", "=", 1, 2]])).contains("exactly 3"));
        assert!(bad(json!([["a", "foo", 1]])).contains("unknown operator"));
        assert!(bad(json!(["^", ["a", "=", 1]])).contains("unknown domain operator"));
        assert!(bad(json!([["a", "in", 5]])).contains("needs a list"));
        assert!(bad(json!([["a", "=", {"x": 1}]])).contains("must be a string"));
        assert!(bad(json!([["a b", "=", 1]])).contains("invalid field path"));
        assert!(bad(json!([["a..b", "=", 1]])).contains("invalid field path"));
        assert!(bad(json!([[2, "=", 1]])).contains("must be a string"));
        assert!(bad(json!([42])).contains("domain item"));
    }

    #[test]
    fn restrict_to_ids_adds_an_id_term() {
        assert_eq!(
            Domain::True.restrict_to_ids(&[1, 2]).to_json(),
            json!([["id", "in", [1, 2]]])
        );
        let d = ok(json!([["name", "=", "x"]])).restrict_to_ids(&[3]);
        assert_eq!(d.to_json(), json!(["&", ["id", "in", [3]], ["name", "=", "x"]]));
    }

    #[test]
    fn long_runs_of_one_operator_are_one_wide_node() {
        let term = json!(["id", "!=", 0]);
        let flat = Value::Array(vec![term.clone(); MAX_TERMS]);
        let Domain::And(parts) = ok(flat.clone()) else {
            panic!()
        };
        assert_eq!(parts.len(), MAX_TERMS);
        let mut ored: Vec<Value> = vec![json!("|"); MAX_TERMS - 1];
        ored.extend(std::iter::repeat_n(term.clone(), MAX_TERMS));
        let Domain::Or(parts) = ok(Value::Array(ored.clone())) else {
            panic!()
        };
        assert_eq!(parts.len(), MAX_TERMS);
        assert_eq!(ok(Value::Array(ored.clone())).to_json(), Value::Array(ored));
        let mut right = Vec::new();
        for _ in 0..MAX_TERMS - 1 {
            right.push(json!("&"));
            right.push(term.clone());
        }
        right.push(term.clone());
        let Domain::And(parts) = ok(Value::Array(right)) else {
            panic!()
        };
        assert_eq!(parts.len(), MAX_TERMS);
    }

    #[test]
    fn caps_are_named() {
        let term = json!(["id", "!=", 0]);
        assert!(bad(Value::Array(vec![term.clone(); MAX_TERMS + 1])).contains("terms"));
        let mut alternating = Vec::new();
        for i in 0..MAX_DEPTH + 1 {
            alternating.push(json!(if i % 2 == 0 { "&" } else { "|" }));
        }
        alternating.extend(std::iter::repeat_n(term.clone(), MAX_DEPTH + 2));
        assert!(bad(Value::Array(alternating)).contains("nest its operators"));
        let nots: Vec<Value> = std::iter::repeat_n(json!("!"), 100_000)
            .chain([term.clone()])
            .collect();
        assert!(bad(Value::Array(nots)).contains("items"));
        let nots: Vec<Value> = std::iter::repeat_n(json!("!"), 1000)
            .chain([term.clone()])
            .collect();
        assert!(bad(Value::Array(nots)).contains("nest its operators"));
        let mut any = json!([term]);
        for _ in 0..3 {
            any = json!([
                ["child_ids", "any", any],
                term,
                term,
                term,
                term,
                term,
                term,
                term,
                term
            ]);
        }
        assert!(ok(any).leaves().len() >= 8);
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = json!([["a", "=", 1]]);
        for _ in 0..40 {
            v = json!([["rel", "any", v]]);
        }
        assert!(bad(v).contains("nest"));
    }
}
