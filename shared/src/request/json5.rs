//! A JSON5 reader (comments, trailing commas, single quotes, hex, unquoted keys) whose nesting bound is its own.
//!
//! The original module accepts JSON5 bodies. A general JSON5 crate recurses once per level without limit, and a
//! pre-scan that counts brackets must agree with that parser byte for byte (line comments end at `\r`, U+2028
//! and U+2029 too) or a crafted body overflows the stack. Here the depth check is part of the one parser.

use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays and objects accepted: serde_json's own limit, so both readers agree.
pub const MAX_NESTING: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct Json5Error {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Parses one JSON5 value; anything but whitespace and comments after it is an error.
pub fn from_str(text: &str) -> Result<Value, Json5Error> {
    let mut reader = Reader { text, pos: 0 };
    reader.skip_blank()?;
    let value = reader.value(0)?;
    reader.skip_blank()?;
    if reader.pos < text.len() {
        return Err(reader.error("unexpected characters after the value"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    /// Byte offset of the next character; always on a character boundary.
    pos: usize,
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// JSON5 white space: ECMAScript's, i.e. the listed controls, BOM, line terminators and Unicode `Zs`.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | ' ' | '\u{a0}' | '\u{feff}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    ) || is_line_terminator(c)
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '$' || c == '_'
}

fn is_identifier_part(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '$' | '_' | '\u{200c}' | '\u{200d}')
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn error(&self, message: impl Into<String>) -> Json5Error {
        let before = &self.text[..self.pos];
        let line = before.chars().filter(|&c| c == '\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Json5Error {
            message: message.into(),
            line,
            column,
        }
    }

    /// Skips white space and comments.
    fn skip_blank(&mut self) -> Result<(), Json5Error> {
        loop {
            match self.peek() {
                Some(c) if is_blank(c) => {
                    self.bump();
                }
                Some('/') if self.text[self.pos..].starts_with("//") => {
                    self.pos += 2;
                    while let Some(c) = self.peek() {
                        if is_line_terminator(c) {
                            break;
                        }
                        self.bump();
                    }
                }
                Some('/') if self.text[self.pos..].starts_with("/*") => {
                    let rest = &self.text[self.pos + 2..];
                    let Some(end) = rest.find("*/") else {
                        return Err(self.error("a /* comment is not closed"));
                    };
                    self.pos += 2 + end + 2;
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Json5Error> {
        match self.peek() {
            Some('{') | Some('[') if depth >= MAX_NESTING => Err(self.error(format!(
                "arrays and objects nest deeper than {MAX_NESTING} levels"
            ))),
            Some('{') => self.object(depth + 1),
            Some('[') => self.array(depth + 1),
            Some(q @ ('"' | '\'')) => {
                self.bump();
                self.string(q).map(Value::String)
            }
            Some(c) if c.is_ascii_digit() || matches!(c, '+' | '-' | '.') => self.number(),
            Some(c) if is_identifier_start(c) => {
                let start = self.pos;
                let word = self.identifier()?;
                match word.as_str() {
                    "null" => Ok(Value::Null),
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "Infinity" | "NaN" => {
                        self.pos = start;
                        Err(self.error("Infinity and NaN have no JSON representation"))
                    }
                    _ => {
                        self.pos = start;
                        Err(self.error(format!("unexpected word {word:?}; expected a value")))
                    }
                }
            }
            Some(c) => Err(self.error(format!("unexpected character {c:?}; expected a value"))),
            None => Err(self.error("unexpected end of input; expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Json5Error> {
        self.bump();
        let mut map = Map::new();
        loop {
            self.skip_blank()?;
            if self.eat('}') {
                return Ok(Value::Object(map));
            }
            let key = match self.peek() {
                Some(q @ ('"' | '\'')) => {
                    self.bump();
                    self.string(q)?
                }
                Some(c) if is_identifier_start(c) || c == '\\' => self.identifier()?,
                _ => return Err(self.error("expected a key (a string or an identifier) or '}'")),
            };
            self.skip_blank()?;
            if !self.eat(':') {
                return Err(self.error("expected ':' after an object key"));
            }
            self.skip_blank()?;
            let value = self.value(depth)?;
            map.insert(key, value);
            self.skip_blank()?;
            if self.eat('}') {
                return Ok(Value::Object(map));
            }
            if !self.eat(',') {
                return Err(self.error("expected ',' or '}' in an object"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Json5Error> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.eat(']') {
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth)?);
            self.skip_blank()?;
            if self.eat(']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(',') {
                return Err(self.error("expected ',' or ']' in an array"));
            }
        }
    }

    /// An unquoted key or a literal word; `\uXXXX` escapes are allowed as in ECMAScript identifiers.
    fn identifier(&mut self) -> Result<String, Json5Error> {
        let mut word = String::new();
        loop {
            let c = match self.peek() {
                Some('\\') => {
                    self.bump();
                    if !self.eat('u') {
                        return Err(self.error("only \\u escapes are allowed in an identifier"));
                    }
                    self.unicode_escape()?
                }
                Some(c) if is_identifier_part(c) => {
                    self.bump();
                    c
                }
                _ => break,
            };
            let valid = if word.is_empty() {
                is_identifier_start(c)
            } else {
                is_identifier_part(c)
            };
            if !valid {
                return Err(self.error(format!("{c:?} cannot appear in an identifier")));
            }
            word.push(c);
        }
        if word.is_empty() {
            return Err(self.error("expected an identifier"));
        }
        Ok(word)
    }

    /// The rest of a string after its opening quote `quote`.
    fn string(&mut self, quote: char) -> Result<String, Json5Error> {
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error("a string is not closed"));
            };
            match c {
                c if c == quote => return Ok(out),
                '\\' => self.escape(&mut out)?,
                '\n' | '\r' => return Err(self.error("a string cannot span lines unescaped")),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), Json5Error> {
        let Some(c) = self.bump() else {
            return Err(self.error("a string is not closed"));
        };
        match c {
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '0' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => out.push('\0'),
            '0'..='9' => return Err(self.error("octal and digit escapes are not allowed")),
            'x' => {
                let code = self.hex_digits(2)?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            'u' => out.push(self.unicode_escape()?),
            '\r' => {
                self.eat('\n');
            }
            '\n' | '\u{2028}' | '\u{2029}' => {}
            other => out.push(other),
        }
        Ok(())
    }

    fn hex_digits(&mut self, count: usize) -> Result<u32, Json5Error> {
        let digits = self.text[self.pos..]
            .get(..count)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(self.error(format!("expected {count} hexadecimal digits")));
        };
        self.pos += count;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid hexadecimal digits"))
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` when the first is a high surrogate.
    fn unicode_escape(&mut self) -> Result<char, Json5Error> {
        let first = self.hex_digits(4)?;
        let code = match first {
            0xd800..=0xdbff => {
                if !self.text[self.pos..].starts_with("\\u") {
                    return Err(self.error("a lone surrogate cannot be a character"));
                }
                self.pos += 2;
                let second = self.hex_digits(4)?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(self.error("a lone surrogate cannot be a character"));
                }
                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.error("a lone surrogate cannot be a character")),
            code => code,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid character escape"))
    }

    fn number(&mut self) -> Result<Value, Json5Error> {
        let start = self.pos;
        let negative = self.eat('-');
        if !negative {
            self.eat('+');
        }
        if self.peek().is_some_and(is_identifier_start) {
            let word = self.identifier()?;
            self.pos = start;
            return Err(self.error(match word.as_str() {
                "Infinity" | "NaN" => "Infinity and NaN have no JSON representation".to_owned(),
                _ => format!("unexpected word {word:?}; expected a number"),
            }));
        }
        let rest = &self.text[self.pos..];
        if rest.starts_with("0x") || rest.starts_with("0X") {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let digits = &self.text[digits_start..self.pos];
            if digits.is_empty() {
                return Err(self.error("expected hexadecimal digits after 0x"));
            }
            return self.finish_number(hex_number(digits, negative));
        }
        let body_start = self.pos;
        let int_digits = self.digits();
        if int_digits > 1 && self.text[body_start..].starts_with('0') {
            return Err(self.error("a number cannot start with 0 followed by digits"));
        }
        let mut integral = true;
        let mut frac_digits = 0;
        if self.eat('.') {
            integral = false;
            frac_digits = self.digits();
        }
        if int_digits == 0 && frac_digits == 0 {
            return Err(self.error("expected digits in a number"));
        }
        if self.eat('e') || self.eat('E') {
            integral = false;
            if !self.eat('+') {
                self.eat('-');
            }
            if self.digits() == 0 {
                return Err(self.error("expected digits in a number's exponent"));
            }
        }
        let text = &self.text[body_start..self.pos];
        let number = if integral {
            int_number(text, negative)
        } else {
            None
        };
        let number = number.or_else(|| {
            let sign = if negative { "-" } else { "" };
            format!("{sign}{text}")
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
        });
        self.finish_number(number)
    }

    fn finish_number(&self, number: Option<Number>) -> Result<Value, Json5Error> {
        let number = number.ok_or_else(|| self.error("the number is out of range"))?;
        if self.peek().is_some_and(is_identifier_part) {
            return Err(self.error("unexpected characters after a number"));
        }
        Ok(Value::Number(number))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }
}

fn int_number(digits: &str, negative: bool) -> Option<Number> {
    let magnitude: u64 = digits.parse().ok()?;
    if !negative {
        return Some(Number::from(magnitude));
    }
    0i64.checked_sub_unsigned(magnitude).map(Number::from)
}

fn hex_number(digits: &str, negative: bool) -> Option<Number> {
    match u64::from_str_radix(digits, 16) {
        Ok(magnitude) if !negative => Some(Number::from(magnitude)),
        Ok(magnitude) => match 0i64.checked_sub_unsigned(magnitude) {
            Some(n) => Some(Number::from(n)),
            None => Number::from_f64(-(magnitude as f64)),
        },
        Err(_) => {
            let value = digits.bytes().try_fold(0f64, |acc, b| {
                Some(acc * 16.0 + f64::from((b as char).to_digit(16)?))
            })?;
            Number::from_f64(if negative { -value } else { value })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        from_str(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn the_json5_spec_example_parses() {
        let text = "// comment\n{\n  unquoted: 'and you can quote me on that',\n  singleQuotes: 'I can use \"double quotes\" here',\n  lineBreaks: \"Look, Mom! \\\nNo \\\\n's!\",\n  hexadecimal: 0xdecaf,\n  leadingDecimalPoint: .8675309, andTrailing: 8675309.,\n  positiveSign: +1,\n  trailingComma: 'in objects', andIn: ['arrays',],\n  \"backwardsCompatible\": \"with JSON\",\n}";
        assert_eq!(
            ok(text),
            json!({
                "unquoted": "and you can quote me on that",
                "singleQuotes": "I can use \"double quotes\" here",
                "lineBreaks": "Look, Mom! No \\n's!",
                "hexadecimal": 912559,
                "leadingDecimalPoint": 0.8675309, "andTrailing": 8675309.0,
                "positiveSign": 1,
                "trailingComma": "in objects", "andIn": ["arrays"],
                "backwardsCompatible": "with JSON",
            })
        );
    }

    #[test]
    fn every_line_terminator_ends_a_line_comment() {
        for end in ["\n", "\r", "\u{2028}", "\u{2029}"] {
            assert_eq!(ok(&format!("[1, // c{end} 2]")), json!([1, 2]), "{end:?}");
        }
        assert_eq!(ok("[1 /* ] */, 2]"), json!([1, 2]));
    }

    #[test]
    fn escapes_and_numbers() {
        assert_eq!(ok(r#"'\x41\u00e9\uD83D\uDE00\v\0\q'"#), json!("Aé😀\u{b}\0q"));
        assert_eq!(ok("-0x10"), json!(-16));
        assert_eq!(ok("18446744073709551615"), json!(18446744073709551615u64));
        assert_eq!(ok("-9223372036854775808"), json!(i64::MIN));
        assert_eq!(ok("1e3"), json!(1000.0));
        assert_eq!(ok("{\\u0061b: 1}"), json!({"ab": 1}));
    }

    #[test]
    fn invalid_input_is_an_error() {
        for text in [
            "",
            "[",
            "{a 1}",
            "[1 2]",
            "'abc",
            "\"a\nb\"",
            "/* open",
            "01",
            "1e",
            ".",
            "+",
            "0x",
            "Infinity",
            "-NaN",
            "1e999",
            r"'\uD800'",
            r"'\uDC00'",
            r"'\1'",
            "undefined",
            "[1]]",
            "{,}",
            "[,]",
            "nul",
        ] {
            assert!(from_str(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn nesting_is_bounded_by_the_parser() {
        let within = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(from_str(&within).is_ok());
        let beyond = format!("{}{}", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
        assert!(from_str(&beyond).unwrap_err().message.contains("nest"));
        for open in ["[", "{a:", "{'a':[", "[// c\r"] {
            assert!(from_str(&open.repeat(200_000)).is_err(), "{open:?}");
        }
    }
}
