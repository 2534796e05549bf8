//! Reads an Odoo `filter_domain` (a Python literal such as `[('name', '=like', 'WHCAP%'), ('active', '=', True)]`)
//! as a JSON domain, so the poller searches the records the rule itself would fire on. Only literals: a domain
//! that names variables (`uid`, `context_today()`) is refused with a message saying so.

use serde_json::Value;

/// Longest domain read, and deepest nesting of lists and tuples in it.
const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 16;

/// The domain as a list of JSON terms.
pub fn to_json(text: &str) -> Result<Vec<Value>, String> {
    if text.len() > MAX_LEN {
        return Err(format!("the domain is longer than {MAX_LEN} bytes"));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '(' | '[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("the domain nests deeper than {MAX_DEPTH}"));
                }
                out.push('[');
            }
            ')' | ']' => {
                depth = depth.checked_sub(1).ok_or("unbalanced brackets")?;
                // A one-item tuple's trailing comma, or a list's, is not JSON.
                while out.ends_with(' ') {
                    out.pop();
                }
                if out.ends_with(',') {
                    out.pop();
                }
                out.push(']');
            }
            '\'' | '"' => {
                let quote = c;
                let mut literal = String::new();
                loop {
                    match chars.next() {
                        None => return Err("an unterminated string".into()),
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('\\' | '\'' | '"')) => literal.push(escaped),
                            Some('n') => literal.push('\n'),
                            Some('t') => literal.push('\t'),
                            _ => return Err("an escape other than \\\\ \\' \\\" \\n \\t".into()),
                        },
                        Some(q) if q == quote => break,
                        Some(other) => literal.push(other),
                    }
                }
                out.push_str(&Value::String(literal).to_string());
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' || next == '.' || next == '(' {
                        word.push(next);
                        chars.next();
                        if next == '(' {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                match word.as_str() {
                    "True" => out.push_str("true"),
                    "False" => out.push_str("false"),
                    "None" => out.push_str("null"),
                    _ => {
                        return Err(format!(
                            "`{}` is not a literal; the poller reads only literal domains",
                            word.trim_end_matches('(')
                        ));
                    }
                }
            }
            c if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | ',' | ' ' | '\n' | '\t' | '\r') => {
                out.push(c)
            }
            other => return Err(format!("unexpected {other:?} in the domain")),
        }
    }
    if depth != 0 {
        return Err("unbalanced brackets".into());
    }
    match serde_json::from_str::<Value>(&out) {
        Ok(Value::Array(terms)) => Ok(terms),
        Ok(_) => Err("a domain is a list".into()),
        Err(e) => Err(format!("not a domain: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_literals_become_json_terms() {
        assert_eq!(
            to_json("[('name', '=like', 'WHCAP%'), ('active', '=', True)]").unwrap(),
            vec![json!(["name", "=like", "WHCAP%"]), json!(["active", "=", true])]
        );
        assert_eq!(
            to_json("['|', ('a', 'in', (1, 2,)), (\"b\", '!=', None)]").unwrap(),
            vec![json!("|"), json!(["a", "in", [1, 2]]), json!(["b", "!=", null])]
        );
        assert_eq!(
            to_json("[('x', '=', 'it\\'s')]").unwrap(),
            vec![json!(["x", "=", "it's"])]
        );
        assert_eq!(to_json("[]").unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn anything_but_literals_is_refused() {
        for bad in [
            "[('user_id', '=', uid)]",
            "[('date', '<', context_today())]",
            "[('a', '=', 1)",
            "[('a', '=', 'x)]",
            "{'a': 1}",
            "1",
        ] {
            assert!(to_json(bad).is_err(), "{bad}");
        }
        assert!(to_json(&"[".repeat(40)).is_err());
    }
}
