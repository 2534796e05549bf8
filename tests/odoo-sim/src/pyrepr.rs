//! Python `repr()` of JSON values, for error messages that quote domains and leaves like Odoo does.

use serde_json::Value;

/// `repr()` of a JSON value as Python would print the decoded object.
pub fn repr(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&str_repr(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(k));
                out.push_str(": ");
                write(item, out);
            }
            out.push('}');
        }
    }
}

/// Python string repr: single quotes unless the text contains one and no double quote.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A domain leaf as the tuple Odoo prints: `('name', '=', 'x')`.
pub fn leaf_tuple(left: &Value, op: &str, right: &Value) -> String {
    format!("({}, {}, {})", repr(left), str_repr(op), repr(right))
}

/// Record ids as the tuple of a recordset repr: `(7,)` or `(1, 2)`.
pub fn id_tuple(ids: &[i64]) -> String {
    match ids {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reprs_like_python() {
        assert_eq!(repr(&json!(["&", ["id", "=", 1]])), "['&', ['id', '=', 1]]");
        assert_eq!(repr(&json!([true, null, "it's"])), "[True, None, \"it's\"]");
        assert_eq!(leaf_tuple(&json!("name"), "=", &json!("x")), "('name', '=', 'x')");
        assert_eq!(id_tuple(&[999]), "(999,)");
        assert_eq!(id_tuple(&[1, 2]), "(1, 2)");
    }
}
