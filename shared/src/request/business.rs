//! The arguments of `upsert` (match fields or an external id, one or many values) and `call` (a method, ids,
//! positional and keyword arguments).

use serde_json::{Map, Value};
use std::fmt;

use super::payload::values_list;
use crate::error::GatewayError;

/// Most fields one upsert may match on.
pub const MAX_MATCH_FIELDS: usize = 8;
/// Longest external id (`module.name`) accepted.
const MAX_XMLID_LEN: usize = 256;
/// Longest method name `call` accepts before the allow-list is even consulted.
const MAX_FUNCTION_LEN: usize = 96;

/// An external id, `module.name` (`base.be`, `__import__.partner_42`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xmlid {
    pub module: String,
    pub name: String,
}

impl Xmlid {
    pub fn parse(text: &str) -> Result<Self, GatewayError> {
        let bad = || {
            GatewayError::invalid_payload(
                "invalid_xmlid",
                format!("{text:?} is not an external id such as \"base.be\" (module.name)"),
            )
        };
        let word = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if text.len() > MAX_XMLID_LEN {
            return Err(bad());
        }
        let (module, name) = text.split_once('.').ok_or_else(bad)?;
        if !word(module) || module.contains('.') || !word(name) {
            return Err(bad());
        }
        Ok(Self {
            module: module.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for Xmlid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

/// How an upsert finds the record it updates.
#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    /// Fields whose values (taken from each item's values) identify the record.
    Fields(Vec<String>),
    /// An external id; a record created under it is registered with it.
    Xmlid(Xmlid),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Upsert {
    pub matcher: Match,
    pub values: Vec<Map<String, Value>>,
    pub batch: bool,
}

impl Upsert {
    pub(super) fn parse(rest: &mut Map<String, Value>) -> Result<Self, GatewayError> {
        let bad_match = || {
            GatewayError::invalid_payload(
                "invalid_match",
                format!(
                    "match is a list of 1 to {MAX_MATCH_FIELDS} field names, e.g. [\"email\"], or {{\"xmlid\": \"module.name\"}}"
                ),
            )
        };
        let matcher = match rest.remove("match") {
            Some(Value::Array(fields)) if (1..=MAX_MATCH_FIELDS).contains(&fields.len()) => {
                let mut names: Vec<String> = Vec::with_capacity(fields.len());
                for f in &fields {
                    let name = f.as_str().filter(|n| is_field_name(n)).ok_or_else(bad_match)?;
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_owned());
                    }
                }
                Match::Fields(names)
            }
            Some(Value::String(field)) if is_field_name(&field) => Match::Fields(vec![field]),
            Some(Value::Object(o)) if o.len() == 1 => match o.get("xmlid") {
                Some(Value::String(x)) => Match::Xmlid(Xmlid::parse(x)?),
                _ => return Err(bad_match()),
            },
            None | Some(Value::Null) => {
                return Err(GatewayError::invalid_payload(
                    "missing_match",
                    "upsert needs match: the fields that identify a record, e.g. [\"email\"], or {\"xmlid\": \"module.name\"}",
                ));
            }
            Some(_) => return Err(bad_match()),
        };
        let (values, batch) = values_list(rest.remove("values"), false)?;
        if batch && matches!(matcher, Match::Xmlid(_)) {
            return Err(GatewayError::invalid_payload(
                "invalid_match",
                "an external id names one record: match by xmlid takes one values object, not a list",
            ));
        }
        Ok(Self {
            matcher,
            values,
            batch,
        })
    }
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub ids: Vec<i64>,
    pub function: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
}

impl Call {
    pub(super) fn parse(ids: Vec<i64>, rest: &mut Map<String, Value>) -> Result<Self, GatewayError> {
        let function = match rest.remove("function") {
            Some(Value::String(f)) if !f.trim().is_empty() && f.len() <= MAX_FUNCTION_LEN => {
                f.trim().to_owned()
            }
            None | Some(Value::Null) => {
                return Err(GatewayError::invalid_payload(
                    "missing_function",
                    "call needs function: the method to run, e.g. \"action_confirm\"",
                ));
            }
            Some(_) => {
                return Err(GatewayError::invalid_payload(
                    "invalid_function",
                    "function must be a method name such as \"action_confirm\"",
                ));
            }
        };
        let args = match rest.remove("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(GatewayError::invalid_payload(
                    "invalid_args",
                    "args must be a list of the method's positional arguments after the ids",
                ));
            }
        };
        let kwargs = match rest.remove("kwargs") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(k)) => k,
            Some(_) => {
                return Err(GatewayError::invalid_payload(
                    "invalid_kwargs",
                    "kwargs must be an object of the method's keyword arguments",
                ));
            }
        };
        // A context can point a method at other records or models (`active_model`, `active_ids`) or switch off
        // checks (`tracking_disable`, `force_company`): the allow-list names a method, not a context.
        if kwargs.contains_key("context") {
            return Err(GatewayError::invalid_payload(
                "invalid_kwargs",
                "kwargs may not hold a context",
            ));
        }
        Ok(Self {
            ids,
            function,
            args,
            kwargs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason<T: fmt::Debug>(r: Result<T, GatewayError>) -> &'static str {
        match r {
            Err(GatewayError::InvalidPayload { reason, .. }) => reason,
            other => panic!("expected invalid_payload, got {other:?}"),
        }
    }

    #[test]
    fn upsert_matches_fields_or_an_xmlid() {
        let mut body = json!({"match": ["email", "email"], "values": {"email": "a@x"}})
            .as_object()
            .unwrap()
            .clone();
        let u = Upsert::parse(&mut body).unwrap();
        assert_eq!(u.matcher, Match::Fields(vec!["email".into()]));
        assert!(!u.batch);
        let mut body = json!({"match": {"xmlid": "base.be"}, "values": {}})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            Upsert::parse(&mut body).unwrap().matcher,
            Match::Xmlid(Xmlid {
                module: "base".into(),
                name: "be".into()
            })
        );
        for (body, expected) in [
            (json!({"values": {}}), "missing_match"),
            (json!({"match": [], "values": {}}), "invalid_match"),
            (json!({"match": ["a b"], "values": {}}), "invalid_match"),
            (
                json!({"match": {"xmlid": "nodot"}, "values": {}}),
                "invalid_xmlid",
            ),
            (
                json!({"match": {"xmlid": "base.be"}, "values": [{}]}),
                "invalid_match",
            ),
            (json!({"match": ["email"]}), "invalid_values"),
            (json!({"match": ["email"], "values": []}), "invalid_values"),
        ] {
            let mut body = body.as_object().unwrap().clone();
            assert_eq!(reason(Upsert::parse(&mut body)), expected, "{body:?}");
        }
    }

    #[test]
    fn call_takes_a_function_and_no_context() {
        let parse = |v: Value| Call::parse(vec![1], &mut v.as_object().unwrap().clone());
        let c = parse(json!({"function": "message_post", "kwargs": {"body": "x"}})).unwrap();
        assert_eq!((c.function.as_str(), c.args.len()), ("message_post", 0));
        assert_eq!(reason(parse(json!({}))), "missing_function");
        assert_eq!(reason(parse(json!({"function": 3}))), "invalid_function");
        assert_eq!(
            reason(parse(json!({"function": "f", "args": {}}))),
            "invalid_args"
        );
        assert_eq!(
            reason(parse(json!({"function": "f", "kwargs": []}))),
            "invalid_kwargs"
        );
        assert_eq!(
            reason(parse(
                json!({"function": "f", "kwargs": {"context": {"active_model": "res.users"}}})
            )),
            "invalid_kwargs"
        );
    }
}
