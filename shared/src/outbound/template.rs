//! Placeholders in outbound payload templates and URLs: `{{ path }}` (spaces optional) and `${path}`, filled from
//! one record. A string that is exactly one placeholder keeps the value's JSON type; placeholders inside a longer
//! string are interpolated as text; in a URL every value is percent-encoded, so it cannot add a path or query.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

/// Deepest nesting of a template's arrays and objects.
pub const MAX_TEMPLATE_DEPTH: usize = 32;
/// Most placeholders in one template (all strings together).
pub const MAX_PLACEHOLDERS: usize = 1000;
/// Characters left as they are in a URL value: RFC 3986's unreserved ones.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a placeholder is not closed in {0:?}")]
    Unclosed(String),
    #[error("{0:?} is not a field path (names and indexes joined by dots, e.g. partner_id.name)")]
    BadPath(String),
    #[error("a template may nest at most {MAX_TEMPLATE_DEPTH} levels")]
    TooDeep,
    #[error("a template may hold at most {MAX_PLACEHOLDERS} placeholders")]
    TooMany,
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Path(&'a str),
}

/// Splits `text` into literal text and placeholder paths, rejecting an unclosed `{{` or `${`.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = next_open(rest) {
        let (open, close) = if rest[start..].starts_with("{{") {
            ("{{", "}}")
        } else {
            ("${", "}")
        };
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let inner_start = start + open.len();
        let end = rest[inner_start..]
            .find(close)
            .ok_or_else(|| TemplateError::Unclosed(text.chars().take(80).collect()))?;
        let path = rest[inner_start..inner_start + end].trim();
        if !is_path(path) {
            return Err(TemplateError::BadPath(path.chars().take(80).collect()));
        }
        out.push(Piece::Path(path));
        rest = &rest[inner_start + end + close.len()..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn next_open(text: &str) -> Option<usize> {
    match (text.find("{{"), text.find("${")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn is_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 512
        && path.split('.').all(|segment| {
            crate::domain::parse::is_field_name(segment)
                || (!segment.is_empty() && segment.len() <= 9 && segment.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The value at `path` in `record`: the literal dotted key first (what a `"a.b"` spec item produces), then
/// one segment at a time through objects, list indexes, and a many2one's `[id, name]` (`.id`, `.name`).
pub fn lookup<'r>(record: &'r Value, path: &str) -> Option<&'r Value> {
    if let Some(value) = record.as_object().and_then(|o| o.get(path)) {
        return Some(value);
    }
    let mut current = record;
    for segment in path.split('.') {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(pair) if pair.len() == 2 && pair[0].is_i64() && pair[1].is_string() => match segment
            {
                "id" => &pair[0],
                "name" | "display_name" => &pair[1],
                _ => return None,
            },
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// A value as text inside a longer string: strings as they are, Odoo's empty `false` and `null` as nothing,
/// anything else as compact JSON.
fn as_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Fills every string of `template` from `record`; keys are kept as literals.
pub fn render(template: &Value, record: &Value) -> Result<Value, TemplateError> {
    let mut budget = MAX_PLACEHOLDERS;
    render_at(template, record, 0, &mut budget)
}

fn render_at(
    template: &Value,
    record: &Value,
    depth: usize,
    budget: &mut usize,
) -> Result<Value, TemplateError> {
    if depth > MAX_TEMPLATE_DEPTH {
        return Err(TemplateError::TooDeep);
    }
    Ok(match template {
        Value::String(text) => render_string(text, record, budget)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_at(v, record, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_at(v, record, depth + 1, budget)?)))
                .collect::<Result<Map<_, _>, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

fn render_string(text: &str, record: &Value, budget: &mut usize) -> Result<Value, TemplateError> {
    let pieces = pieces(text)?;
    *budget = budget
        .checked_sub(pieces.iter().filter(|p| matches!(p, Piece::Path(_))).count())
        .ok_or(TemplateError::TooMany)?;
    Ok(match pieces.as_slice() {
        [Piece::Path(path)] => lookup(record, path).cloned().unwrap_or(Value::Null),
        _ => Value::String(
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => (*t).to_owned(),
                    Piece::Path(path) => as_text(lookup(record, path)),
                })
                .collect(),
        ),
    })
}

/// Every placeholder path in `template` (strings at any depth), in order, for deciding which fields to read.
pub fn placeholder_paths(template: &Value) -> Result<Vec<String>, TemplateError> {
    fn walk(value: &Value, depth: usize, out: &mut Vec<String>) -> Result<(), TemplateError> {
        if depth > MAX_TEMPLATE_DEPTH {
            return Err(TemplateError::TooDeep);
        }
        match value {
            Value::String(text) => {
                for piece in pieces(text)? {
                    if let Piece::Path(path) = piece {
                        if out.len() >= MAX_PLACEHOLDERS {
                            return Err(TemplateError::TooMany);
                        }
                        out.push(path.to_owned());
                    }
                }
            }
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, depth + 1, out))?,
            Value::Object(map) => map.values().try_for_each(|v| walk(v, depth + 1, out))?,
            _ => {}
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(template, 0, &mut out)?;
    Ok(out)
}

/// Whether `text` holds any placeholder (a URL with one sends one delivery per record).
pub fn has_placeholders(text: &str) -> bool {
    pieces(text).is_ok_and(|p| p.iter().any(|p| matches!(p, Piece::Path(_))))
}

/// A URL with each placeholder replaced by its percent-encoded value.
pub fn render_url(url: &str, record: &Value) -> Result<String, TemplateError> {
    Ok(pieces(url)?
        .iter()
        .map(|p| match p {
            Piece::Text(t) => (*t).to_owned(),
            Piece::Path(path) => utf8_percent_encode(&as_text(lookup(record, path)), URL_VALUE).to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> Value {
        json!({"id": 7, "name": "S00007", "amount_total": 1500.5, "partner_id": [10, "Deco Addict"],
               "partner_id.email": "deco@example.com", "order_line": [{"id": 1, "name": "Desk"}],
               "date_order": "2026-12-01 10:00:00", "note": false})
    }

    #[test]
    fn whole_string_placeholders_keep_their_type() {
        let template = json!({"event": "sale.confirmed", "id": "{{ id }}", "total": "${amount_total}",
                              "customer": "{{partner_id}}", "first_line": "{{ order_line.0.name }}",
                              "missing": "{{ nope }}", "nested": {"email": "{{ partner_id.email }}"}});
        assert_eq!(
            render(&template, &order()).unwrap(),
            json!({"event": "sale.confirmed", "id": 7, "total": 1500.5, "customer": [10, "Deco Addict"],
                   "first_line": "Desk", "missing": null, "nested": {"email": "deco@example.com"}})
        );
    }

    #[test]
    fn partial_placeholders_interpolate_as_text() {
        let template = json!("Order {{ name }} for ${partner_id.name} ({{amount_total}}){{ note }}");
        assert_eq!(
            render(&template, &order()).unwrap(),
            json!("Order S00007 for Deco Addict (1500.5)")
        );
        assert_eq!(
            render(&json!("no placeholder"), &order()).unwrap(),
            json!("no placeholder")
        );
    }

    #[test]
    fn urls_percent_encode_every_value() {
        let record = json!({"name": "a/b?c=d&e f", "id": 3});
        assert_eq!(
            render_url("https://hooks.example.com/orders/{{ id }}?ref=${name}", &record).unwrap(),
            "https://hooks.example.com/orders/3?ref=a%2Fb%3Fc%3Dd%26e%20f"
        );
        assert!(has_placeholders("https://x/{{id}}") && !has_placeholders("https://x/plain"));
    }

    #[test]
    fn bad_templates_are_named_and_bounded() {
        assert!(matches!(
            render(&json!("{{ name"), &order()),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            render(&json!("${a b}"), &order()),
            Err(TemplateError::BadPath(_))
        ));
        assert!(matches!(
            render(&json!("{{ }}"), &order()),
            Err(TemplateError::BadPath(_))
        ));
        let mut deep = json!("{{ id }}");
        for _ in 0..=MAX_TEMPLATE_DEPTH {
            deep = json!([deep]);
        }
        assert_eq!(render(&deep, &order()), Err(TemplateError::TooDeep));
        let many = Value::String("{{id}}".repeat(MAX_PLACEHOLDERS + 1));
        assert_eq!(render(&many, &order()), Err(TemplateError::TooMany));
    }
}
