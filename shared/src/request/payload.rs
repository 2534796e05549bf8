//! The typed inbound request: which method on which model, and each method's validated arguments.

use serde_json::{Map, Value};

use super::business::{Call, Upsert};
use super::order::Order;
use crate::config::{Limits, ModelName};
use crate::domain::{self, Domain};
use crate::error::GatewayError;
use crate::extract::{SpecItem, spec};

/// Keys a request body may hold; anything else is refused so that typos do not pass silently.
const KNOWN_KEYS: &[&str] = &[
    "model", "method", "values", "domain", "ids", "fields", "limit", "offset", "order", "match", "function",
    "args", "kwargs",
];
/// Most records one `create` call may make (the webhook's per-call cap applies too).
pub const MAX_CREATE_BATCH: usize = 1000;
/// Most ids one call may name.
pub const MAX_IDS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Create,
    Write,
    Unlink,
    Search,
    Read,
    Upsert,
    Call,
    DefaultPayload,
}

impl Method {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "create" => Self::Create,
            "write" => Self::Write,
            "unlink" => Self::Unlink,
            "search" => Self::Search,
            "read" => Self::Read,
            "upsert" => Self::Upsert,
            "call" => Self::Call,
            "default_payload" => Self::DefaultPayload,
            _ => return None,
        })
    }

    /// The keys besides `model` and `method` that this method reads; any other key is refused.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Create => &["values"],
            Self::Write => &["domain", "ids", "values"],
            Self::Unlink => &["domain", "ids"],
            Self::Search => &["domain", "fields", "limit", "offset", "order"],
            Self::Read => &["ids", "fields"],
            Self::Upsert => &["match", "values"],
            Self::Call => &["ids", "function", "args", "kwargs"],
            Self::DefaultPayload => &[],
        }
    }

    /// Refuses a key that `self` does not read, naming it and the keys it does read.
    pub fn check_keys(self, rest: &Map<String, Value>) -> Result<(), GatewayError> {
        let keys = self.keys();
        match rest.keys().find(|k| !keys.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(GatewayError::invalid_payload(
                "unused_key",
                format!(
                    "{key:?} has no meaning for {}; it takes model, method{}{}",
                    self.as_str(),
                    if keys.is_empty() { "" } else { ", " },
                    keys.join(", ")
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Write => "write",
            Self::Unlink => "unlink",
            Self::Search => "search",
            Self::Read => "read",
            Self::Upsert => "upsert",
            Self::Call => "call",
            Self::DefaultPayload => "default_payload",
        }
    }
}

/// The outer layer of a request, read before permissions are checked.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// As sent (trimmed, lower-cased), for logs; empty when absent. Required (see `require_method`).
    pub method_name: String,
    pub method: Option<Method>,
    pub model: Option<ModelName>,
    pub rest: Map<String, Value>,
}

impl Envelope {
    pub fn parse(mut payload: Map<String, Value>) -> Result<Self, GatewayError> {
        if let Some(key) = payload.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(GatewayError::invalid_payload(
                "unknown_key",
                format!("unknown key {key:?}; known keys: {}", KNOWN_KEYS.join(", ")),
            ));
        }
        let method_name = match payload.remove("method") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(m)) => m.trim().to_ascii_lowercase(),
            Some(other) => return Err(GatewayError::InvalidMethod(other.to_string())),
        };
        let model = match payload.remove("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) if m.is_empty() => None,
            Some(Value::String(m)) => Some(
                m.parse()
                    .map_err(|e| GatewayError::invalid_payload("invalid_model", format!("{m:?}: {e}")))?,
            ),
            Some(other) => {
                return Err(GatewayError::invalid_payload(
                    "invalid_model",
                    format!("model must be a string, not {other}"),
                ));
            }
        };
        Ok(Self {
            method: Method::parse(&method_name),
            method_name,
            model,
            rest: payload,
        })
    }
}

impl Envelope {
    /// The method, which must be present: the original defaulted to `create`, so a body that forgot it made a
    /// record. Checked after the model, as the original checks the model first.
    pub fn require_method(&self) -> Result<Method, GatewayError> {
        if self.method_name.is_empty() {
            return Err(GatewayError::invalid_payload(
                "missing_method",
                "method is required: create, write, unlink, search, read, upsert, call or default_payload",
            ));
        }
        self.method
            .ok_or_else(|| GatewayError::InvalidMethod(self.method_name.clone()))
    }
}

/// Records to change: a domain, ids, or both (then both must match). Never empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub domain: Domain,
    pub ids: Option<Vec<i64>>,
}

impl Target {
    pub fn domain(&self) -> Domain {
        match &self.ids {
            Some(ids) => self.domain.clone().restrict_to_ids(ids),
            None => self.domain.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    Create {
        values: Vec<Map<String, Value>>,
        batch: bool,
    },
    Write {
        target: Target,
        values: Map<String, Value>,
    },
    Unlink {
        target: Target,
    },
    Search {
        domain: Domain,
        fields: Option<Vec<SpecItem>>,
        limit: u32,
        offset: u32,
        order: Option<Order>,
    },
    Read {
        ids: Vec<i64>,
        fields: Option<Vec<SpecItem>>,
    },
    Upsert(Upsert),
    Call(Call),
}

impl Operation {
    /// Validates the keys `method` uses and refuses any other. Takes `rest` by value so that `values` (most of a
    /// create or write body) moves into the operation uncopied.
    pub fn parse(
        method: Method,
        mut rest: Map<String, Value>,
        limits: &Limits,
    ) -> Result<Self, GatewayError> {
        method.check_keys(&rest)?;
        let rest = &mut rest;
        Ok(match method {
            Method::Create => {
                let (values, batch) = values_list(rest.remove("values"), true)?;
                Operation::Create { values, batch }
            }
            Method::Upsert => Operation::Upsert(Upsert::parse(rest)?),
            Method::Call => {
                let ids = ids(rest)?.ok_or_else(|| {
                    GatewayError::invalid_payload(
                        "missing_ids",
                        "call needs ids: the records the method runs on",
                    )
                })?;
                Operation::Call(Call::parse(ids, rest)?)
            }
            Method::Write => Operation::Write {
                target: target(rest, "write")?,
                values: object(rest, "values")?,
            },
            Method::Unlink => Operation::Unlink {
                target: target(rest, "unlink")?,
            },
            Method::Search => {
                let limit = match uint(rest, "limit")? {
                    None | Some(0) => limits.default_search_limit,
                    Some(n) if n > u64::from(limits.max_search_limit) => {
                        return Err(GatewayError::invalid_payload(
                            "limit_too_large",
                            format!(
                                "limit {n} is above this webhook's maximum of {}",
                                limits.max_search_limit
                            ),
                        ));
                    }
                    Some(n) => u32::try_from(n).unwrap_or(limits.max_search_limit),
                };
                let offset = uint(rest, "offset")?.unwrap_or(0);
                let offset = u32::try_from(offset)
                    .map_err(|_| GatewayError::invalid_payload("invalid_offset", "offset is too large"))?;
                let order = match rest.get("order") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.trim().is_empty() => None,
                    Some(Value::String(s)) => Some(Order::parse(s)?),
                    Some(_) => {
                        return Err(GatewayError::invalid_payload(
                            "invalid_order",
                            "order must be a string such as \"id desc\"",
                        ));
                    }
                };
                Operation::Search {
                    domain: parse_domain(rest)?,
                    fields: fields(rest)?,
                    limit,
                    offset,
                    order,
                }
            }
            Method::Read => {
                let ids = ids(rest)?.ok_or_else(|| {
                    GatewayError::invalid_payload(
                        "missing_ids",
                        "read needs ids (a record id or a list of ids)",
                    )
                })?;
                if ids.len() > limits.max_search_limit as usize {
                    return Err(GatewayError::invalid_payload(
                        "too_many_ids",
                        format!("read takes at most {} ids", limits.max_search_limit),
                    ));
                }
                Operation::Read {
                    ids,
                    fields: fields(rest)?,
                }
            }
            Method::DefaultPayload => {
                return Err(GatewayError::InvalidMethod(method.as_str().into()));
            }
        })
    }
}

/// A single values object or a list of 1 to `MAX_CREATE_BATCH` of them; `true` when a list was given.
/// Absent values are an empty record when `absent_ok`.
pub(super) fn values_list(
    values: Option<Value>,
    absent_ok: bool,
) -> Result<(Vec<Map<String, Value>>, bool), GatewayError> {
    Ok(match values {
        None | Some(Value::Null) if absent_ok => (vec![Map::new()], false),
        Some(Value::Object(v)) => (vec![v], false),
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= MAX_CREATE_BATCH => {
            let values = list.into_iter().map(|v| match v {
                Value::Object(o) => Ok(o),
                _ => Err(GatewayError::invalid_payload(
                    "invalid_values",
                    "each item of a values list must be an object",
                )),
            });
            (values.collect::<Result<_, _>>()?, true)
        }
        _ => {
            return Err(GatewayError::invalid_payload(
                "invalid_values",
                format!("values must be an object or a list of 1 to {MAX_CREATE_BATCH} objects"),
            ));
        }
    })
}

fn object(rest: &mut Map<String, Value>, key: &str) -> Result<Map<String, Value>, GatewayError> {
    match rest.remove(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(GatewayError::invalid_payload(
            "invalid_values",
            format!("{key} must be an object"),
        )),
    }
}

fn uint(rest: &Map<String, Value>, key: &'static str) -> Result<Option<u64>, GatewayError> {
    match rest.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            GatewayError::invalid_payload(key_reason(key), format!("{key} must be a whole number ≥ 0"))
        }),
    }
}

fn key_reason(key: &str) -> &'static str {
    match key {
        "limit" => "invalid_limit",
        "offset" => "invalid_offset",
        _ => "invalid_value",
    }
}

fn parse_domain(rest: &Map<String, Value>) -> Result<Domain, GatewayError> {
    match rest.get("domain") {
        None | Some(Value::Null) => Ok(Domain::True),
        Some(v) => domain::parse(v).map_err(|e| GatewayError::InvalidDomain(e.0)),
    }
}

fn ids(rest: &Map<String, Value>) -> Result<Option<Vec<i64>>, GatewayError> {
    let bad = || {
        GatewayError::invalid_payload(
            "invalid_ids",
            "ids must be a positive record id or a list of them",
        )
    };
    let positive = |v: &Value| v.as_i64().filter(|id| *id > 0);
    match rest.get("ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) if list.is_empty() => Ok(None),
        Some(Value::Array(list)) if list.len() > MAX_IDS => Err(GatewayError::invalid_payload(
            "too_many_ids",
            format!("a call may name at most {MAX_IDS} ids"),
        )),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| positive(v).ok_or_else(bad))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(v) => positive(v).map(|id| Some(vec![id])).ok_or_else(bad),
    }
}

fn fields(rest: &Map<String, Value>) -> Result<Option<Vec<SpecItem>>, GatewayError> {
    match rest.get("fields") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => {
            let items = spec::parse(v).map_err(|e| GatewayError::InvalidField {
                field: e.field.clone().unwrap_or_default(),
                message: e.message,
            })?;
            Ok(Some(items).filter(|items| !items.is_empty()))
        }
    }
}

/// write and unlink refuse to run on everything: they need a non-empty domain or ids.
fn target(rest: &Map<String, Value>, method: &str) -> Result<Target, GatewayError> {
    let domain = parse_domain(rest)?;
    let ids = ids(rest)?;
    if domain.is_true() && ids.is_none() {
        return Err(GatewayError::invalid_payload(
            "missing_target",
            format!("{method} needs a non-empty domain or ids; it never applies to every record"),
        ));
    }
    Ok(Target { domain, ids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(v: Value) -> Result<Envelope, GatewayError> {
        Envelope::parse(v.as_object().unwrap().clone())
    }

    fn op(v: Value) -> Result<Operation, GatewayError> {
        let env = envelope(v)?;
        Operation::parse(env.require_method()?, env.rest, &Limits::default())
    }

    fn reason(r: Result<Operation, GatewayError>) -> &'static str {
        match r {
            Err(GatewayError::InvalidPayload { reason, .. }) => reason,
            other => panic!("expected invalid_payload, got {other:?}"),
        }
    }

    #[test]
    fn envelope_defaults_to_create_and_checks_keys() {
        assert!(matches!(
            envelope(json!({"model": "res.partner", "values": {"name": "A"}}))
                .unwrap()
                .require_method(),
            Err(GatewayError::InvalidPayload {
                reason: "missing_method",
                ..
            })
        ));
        let env = envelope(json!({"model": "res.partner", "method": "SEARCH"})).unwrap();
        assert_eq!(env.method, Some(Method::Search));
        assert_eq!(
            envelope(json!({"method": "search_advanced"})).unwrap().method,
            None
        );
        assert!(matches!(
            envelope(json!({"modle": "x"})),
            Err(GatewayError::InvalidPayload {
                reason: "unknown_key",
                ..
            })
        ));
        assert!(matches!(
            envelope(json!({"model": "Res Partner"})),
            Err(GatewayError::InvalidPayload {
                reason: "invalid_model",
                ..
            })
        ));
        assert!(matches!(
            envelope(json!({"method": 5})),
            Err(GatewayError::InvalidMethod(_))
        ));
    }

    #[test]
    fn create_takes_an_object_or_a_list() {
        assert!(matches!(
            op(json!({"method": "create", "values": {"name": "A"}})).unwrap(),
            Operation::Create { batch: false, .. }
        ));
        let Operation::Create { values, batch } =
            op(json!({"method": "create", "values": [{"name": "A"}, {"name": "B"}]})).unwrap()
        else {
            panic!()
        };
        assert!(batch && values.len() == 2);
        for values in [json!([]), json!([1]), json!("name=A")] {
            assert_eq!(
                reason(op(json!({"method": "create", "values": values}))),
                "invalid_values"
            );
        }
    }

    #[test]
    fn write_and_unlink_need_a_target() {
        assert_eq!(
            reason(op(json!({"method": "write", "values": {"name": "x"}}))),
            "missing_target"
        );
        assert_eq!(
            reason(op(json!({"method": "unlink", "domain": []}))),
            "missing_target"
        );
        assert_eq!(
            reason(op(json!({"method": "unlink", "ids": []}))),
            "missing_target"
        );
        let Operation::Write { target, .. } = op(json!({"method": "write", "ids": 5, "values": {}})).unwrap()
        else {
            panic!()
        };
        assert_eq!(target.domain().to_json(), json!([["id", "in", [5]]]));
        assert_eq!(
            reason(op(json!({"method": "unlink", "ids": [1, -2]}))),
            "invalid_ids"
        );
        assert!(matches!(
            op(json!({"method": "unlink", "domain": [["a", "~", 1]]})),
            Err(GatewayError::InvalidDomain(_))
        ));
    }

    #[test]
    fn search_limits_offsets_and_orders() {
        let Operation::Search {
            limit,
            offset,
            order,
            fields,
            ..
        } = op(json!({"method": "search"})).unwrap()
        else {
            panic!()
        };
        assert_eq!((limit, offset, order, fields), (80, 0, None, None));
        let Operation::Search { limit, .. } = op(json!({"method": "search", "limit": 0})).unwrap() else {
            panic!()
        };
        assert_eq!(limit, 80);
        assert_eq!(
            reason(op(json!({"method": "search", "limit": 100000}))),
            "limit_too_large"
        );
        assert_eq!(
            reason(op(json!({"method": "search", "limit": -1}))),
            "invalid_limit"
        );
        assert_eq!(
            reason(op(json!({"method": "search", "limit": "5"}))),
            "invalid_limit"
        );
        assert_eq!(
            reason(op(json!({"method": "search", "order": "id; drop"}))),
            "invalid_order"
        );
        let Operation::Search { fields, .. } = op(json!({"method": "search", "fields": []})).unwrap() else {
            panic!()
        };
        assert!(fields.is_none());
        assert!(
            matches!(op(json!({"method": "search", "fields": ["a b"]})), Err(GatewayError::InvalidField { field, .. }) if field == "a b")
        );
    }

    #[test]
    fn keys_a_method_does_not_read_are_refused() {
        for body in [
            json!({"method": "read", "ids": [1], "domain": [["id", "=", 1]]}),
            json!({"method": "create", "values": {}, "ids": [1]}),
            json!({"method": "unlink", "ids": [1], "values": {"name": "x"}}),
            json!({"method": "search", "values": {}}),
        ] {
            assert_eq!(reason(op(body.clone())), "unused_key", "{body}");
        }
        let many: Vec<i64> = (1..=MAX_IDS as i64 + 1).collect();
        assert_eq!(
            reason(op(json!({"method": "unlink", "ids": many}))),
            "too_many_ids"
        );
    }

    #[test]
    fn read_needs_ids() {
        assert_eq!(reason(op(json!({"method": "read"}))), "missing_ids");
        let Operation::Read { ids, .. } = op(json!({"method": "read", "ids": 3})).unwrap() else {
            panic!()
        };
        assert_eq!(ids, [3]);
        assert_eq!(reason(op(json!({"method": "read", "ids": ["a"]}))), "invalid_ids");
    }
}
