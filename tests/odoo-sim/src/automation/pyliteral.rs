//! Parses the Python literals stored in `filter_domain`/`filter_pre_domain` (`[('name', '=like', 'X%')]`) into
//! JSON; lists and tuples become arrays. Names other than `True`/`False`/`None` are refused (no evaluation).

use serde_json::{Number, Value};

/// Longest domain text parsed.
pub const MAX_LITERAL_LEN: usize = 100_000;
/// Deepest nesting of lists and tuples.
pub const MAX_LITERAL_DEPTH: usize = 32;

/// The JSON value of a Python literal, or why it is not one.
pub fn parse(text: &str) -> Result<Value, String> {
    if text.len() > MAX_LITERAL_LEN {
        return Err(format!("longer than {MAX_LITERAL_LEN} characters"));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at offset {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_LITERAL_DEPTH {
            return Err(format!("nested deeper than {MAX_LITERAL_DEPTH} levels"));
        }
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err("unexpected end".into());
        };
        match c {
            b'[' | b'(' => self.sequence(if c == b'[' { b']' } else { b')' }, depth),
            b'\'' | b'"' => self.string(c).map(Value::String),
            b'-' | b'+' | b'.' | b'0'..=b'9' => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.i += 1;
                }
                match &self.text[start..self.i] {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    name => Err(format!("name {name:?} cannot be evaluated")),
                }
            }
            _ => Err(format!("unexpected character at offset {}", self.i)),
        }
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Value, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&close) {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(c) if *c == close => {}
                _ => return Err(format!("expected ',' at offset {}", self.i)),
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let Some(c) = rest.chars().next() else {
                return Err("unterminated string".into());
            };
            self.i += c.len_utf8();
            match c {
                c if c as u32 == u32::from(quote) => return Ok(out),
                '\\' => {
                    let Some(e) = self.text[self.i..].chars().next() else {
                        return Err("unterminated string".into());
                    };
                    self.i += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.i += 1;
        }
        let t = &self.text[start..self.i];
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Value::from(i));
        }
        t.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("invalid number {t:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn domains_parse_into_json() {
        assert_eq!(
            parse("[('name', '=like', 'WHCAP%'), '|', (\"a\", 'in', [1, 2.5, True, None])]").unwrap(),
            json!([
                ["name", "=like", "WHCAP%"],
                "|",
                ["a", "in", [1, 2.5, true, null]]
            ])
        );
        assert_eq!(parse("[]").unwrap(), json!([]));
        assert!(parse("[('create_uid', '=', uid)]").is_err());
        assert!(parse("[('a', '=', 'x')").is_err());
        assert!(parse(&"[".repeat(100)).is_err());
    }
}
