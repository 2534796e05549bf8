//! Parsers for command-line values: durations (`10m`), points in time (`1h` ago or RFC 3339), `model:f1,f2`.

use bitconn::config::{Callable, ModelName};
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// A duration such as `90s`, `10m`, `1h 30m` or `2days`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let std =
        humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration like 10m: {e}"))?;
    Duration::try_from(std).map_err(|_| format!("`{text}` is too long a duration"))
}

/// A timeout such as `30s`: zero is refused, since it would fail every call at once.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(timeout) if timeout.is_zero() => Err(format!(
            "`{text}` is not a usable timeout: it must be longer than zero"
        )),
        Ok(timeout) => Ok(timeout),
        Err(e) => Err(format!("`{text}` is not a duration like 30s: {e}")),
    }
}

/// A point in time: RFC 3339 (`2025-01-02T10:00:00Z`) or a duration before now (`1h`).
pub fn parse_since(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let ago = parse_duration(text)
        .map_err(|_| format!("`{text}` is neither a duration like 1h nor an RFC 3339 time"))?;
    now.checked_sub(ago)
        .ok_or_else(|| format!("`{text}` reaches too far back"))
}

pub fn parse_model(text: &str) -> Result<ModelName, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("invalid model name `{text}`: {e}"))
}

/// `model:field1,field2` as used by `--deny-fields` and `--allow-fields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFields {
    pub model: ModelName,
    pub fields: BTreeSet<String>,
}

/// A model name, or nothing for an empty value (`--read-models ''` clears the list).
/// `model:function` (or `*:function`) for `--allow-call`; private and ORM methods are refused.
pub fn parse_callable(text: &str) -> Result<Callable, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("invalid callable method `{text}`: {e}"))
}

/// Like `parse_callable`, but an empty value (clearing the list) is `None`.
pub fn parse_optional_callable(text: &str) -> Result<Option<Callable>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_callable(text).map(Some)
}

pub fn parse_optional_model(text: &str) -> Result<Option<ModelName>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_model(text).map(Some)
}

pub fn parse_model_fields(text: &str) -> Result<ModelFields, String> {
    let (model, fields) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` must look like model:field1,field2"))?;
    let model = parse_model(model)?;
    let fields: BTreeSet<String> = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect();
    if let Some(bad) = fields
        .iter()
        .find(|f| !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(format!("invalid field name `{bad}` in `{text}`"));
    }
    Ok(ModelFields { model, fields })
}

pub fn format_time(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::minutes(10));
        assert!(parse_duration("ten minutes").is_err());
        let now = OffsetDateTime::now_utc();
        assert_eq!(parse_since("1h", now).unwrap(), now - Duration::hours(1));
        let at = parse_since("2025-01-02T10:00:00Z", now).unwrap();
        assert_eq!(at.unix_timestamp(), 1_735_812_000);
        assert!(parse_since("yesterday-ish", now).is_err());
        assert_eq!(parse_timeout("30s").unwrap(), std::time::Duration::from_secs(30));
        assert!(parse_timeout("0s").unwrap_err().contains("longer than zero"));
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn model_fields() {
        let parsed = parse_model_fields("res.partner:email, phone").unwrap();
        assert_eq!(parsed.model.as_str(), "res.partner");
        assert_eq!(parsed.fields.into_iter().collect::<Vec<_>>(), ["email", "phone"]);
        assert!(parse_model_fields("res.partner").is_err());
        assert!(parse_model_fields("Res Partner:email").is_err());
        assert!(parse_model_fields("res.partner:em ail").is_err());
    }
}
