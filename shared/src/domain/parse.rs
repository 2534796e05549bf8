//! A cursor over a domain's JSON items (prefix notation, implicit AND at the top) that rejects leftovers.

use serde_json::Value;

use super::{Domain, Leaf, LeafValue, Operator};

/// Deepest nesting of `any` sub-domains and prefix operators accepted.
const MAX_DEPTH: usize = 32;
/// Most items in one domain (leaves and operators together).
const MAX_ITEMS: usize = 1000;
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
    parse_at(value, 0)
}

fn parse_at(value: &Value, depth: usize) -> Result<Domain, DomainError> {
    let Some(items) = value.as_array() else {
        return err("a domain must be a list, such as [[\"name\", \"=\", \"x\"]]");
    };
    if items.len() > MAX_ITEMS {
        return err(format!("a domain may hold at most {MAX_ITEMS} items"));
    }
    let mut cursor = Cursor { items, pos: 0 };
    let mut domain: Option<Domain> = None;
    while cursor.pos < items.len() {
        let next = cursor.expression(depth)?;
        domain = Some(match domain {
            None => next,
            Some(prev) => Domain::And(Box::new(prev), Box::new(next)),
        });
    }
    Ok(domain.unwrap_or(Domain::True))
}

struct Cursor<'a> {
    items: &'a [Value],
    pos: usize,
}

impl Cursor<'_> {
    fn expression(&mut self, depth: usize) -> Result<Domain, DomainError> {
        if depth > MAX_DEPTH {
            return err(format!("a domain may nest at most {MAX_DEPTH} levels"));
        }
        let Some(item) = self.items.get(self.pos) else {
            return err("the domain is not complete: an operator ('&', '|' or '!') is missing its terms");
        };
        self.pos += 1;
        match item {
            Value::String(op) if op == "&" || op == "|" => {
                let a = self.expression(depth + 1)?;
                let b = self.expression(depth + 1)?;
                Ok(if op == "&" {
                    Domain::And(Box::new(a), Box::new(b))
                } else {
                    Domain::Or(Box::new(a), Box::new(b))
                })
            }
            Value::String(op) if op == "!" => Ok(Domain::Not(Box::new(self.expression(depth + 1)?))),
            Value::String(op) => err(format!(
                "unknown domain operator {op:?}: use '&', '|', '!' or a [field, operator, value] term"
            )),
            Value::Array(term) => leaf(term, depth),
            other => err(format!(
                "a domain item must be '&', '|', '!' or a [field, operator, value] term, not {other}"
            )),
        }
    }
}

fn leaf(term: &[Value], depth: usize) -> Result<Domain, DomainError> {
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
        Operator::Any | Operator::NotAny => LeafValue::Domain(Box::new(parse_at(value, depth + 1)?)),
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
    fn depth_is_bounded() {
        let mut v = json!([["a", "=", 1]]);
        for _ in 0..40 {
            v = json!([["rel", "any", v]]);
        }
        assert!(bad(v).contains("nest"));
    }
}
