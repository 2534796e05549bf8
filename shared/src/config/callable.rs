//! The business methods a webhook may run through `call`: `model:function` entries, `*` for any allowed model.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::{InvalidId, ModelName};

/// Longest method name accepted; Odoo's public methods are far shorter.
const MAX_FUNCTION_LEN: usize = 96;

/// ORM and low-level methods that reach around the gateway's checks (CRUD, raw reads and searches, environment
/// switches, imports and exports): never callable, whatever an allow-list says. Private methods (leading `_`)
/// are refused too, as Odoo itself refuses them over RPC.
pub const NEVER_CALLABLE: &[&str] = &[
    "browse",
    "check_access",
    "check_access_rights",
    "check_access_rule",
    "copy",
    "copy_data",
    "create",
    "default_get",
    "ensure_one",
    "exists",
    "export_data",
    "fetch",
    "fields_get",
    "filtered",
    "filtered_domain",
    "flush_model",
    "flush_recordset",
    "get_metadata",
    "has_access",
    "invalidate_model",
    "invalidate_recordset",
    "load",
    "mapped",
    "modified",
    "name_create",
    "name_get",
    "name_search",
    "new",
    "onchange",
    "read",
    "read_group",
    "search",
    "search_count",
    "search_fetch",
    "search_read",
    "sorted",
    "sudo",
    "toggle_active",
    "unlink",
    "update",
    "web_read",
    "web_read_group",
    "web_save",
    "web_search_read",
    "with_company",
    "with_context",
    "with_env",
    "with_prefetch",
    "with_user",
    "write",
];

/// Why a method name can never be called, or `None` when an allow-list may name it.
pub fn refusal(function: &str) -> Option<&'static str> {
    if function.starts_with('_') {
        Some("private methods (leading '_') are never callable")
    } else if NEVER_CALLABLE.contains(&function) {
        Some("ORM and low-level methods are never callable; use the gateway's own methods")
    } else if function.is_empty()
        || function.len() > MAX_FUNCTION_LEN
        || !function
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || function.as_bytes()[0].is_ascii_digit()
    {
        Some("a method name is lowercase letters, digits and '_'")
    } else {
        None
    }
}

/// One allow-list entry: `sale.order:action_confirm`, or `*:message_post` for every model the webhook may change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Callable {
    /// `None` for `*`.
    pub model: Option<ModelName>,
    pub function: String,
}

impl Callable {
    pub fn covers(&self, model: &ModelName, function: &str) -> bool {
        self.function == function && self.model.as_ref().is_none_or(|m| m == model)
    }
}

impl Callable {
    /// Splits `model:function`, checking only the shape of each part.
    fn split(s: &str) -> Result<Self, InvalidId> {
        let (model, function) = s.trim().split_once(':').ok_or(InvalidId(
            "a callable method is model:function, e.g. sale.order:action_confirm",
        ))?;
        let model = match model.trim() {
            "*" => None,
            m => Some(m.parse()?),
        };
        let function = function.trim();
        let shaped = !function.is_empty()
            && function.len() <= MAX_FUNCTION_LEN
            && function
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !function.as_bytes()[0].is_ascii_digit();
        if !shaped {
            return Err(InvalidId("a method name is lowercase letters, digits and '_'"));
        }
        Ok(Self {
            model,
            function: function.to_owned(),
        })
    }
}

/// What an operator types: private and ORM methods are refused here, so they never enter an allow-list.
impl FromStr for Callable {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let callable = Self::split(s)?;
        match refusal(&callable.function) {
            Some(why) => Err(InvalidId(why)),
            None => Ok(callable),
        }
    }
}

/// What a store holds: read by shape only, so that a method added to `NEVER_CALLABLE` later does not make stored
/// webhooks unreadable; `WebhookConfig::allows_call` refuses it on every call.
impl TryFrom<String> for Callable {
    type Error = InvalidId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::split(&s)
    }
}

impl From<Callable> for String {
    fn from(c: Callable) -> Self {
        c.to_string()
    }
}

impl fmt::Display for Callable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.model {
            Some(m) => write!(f, "{m}:{}", self.function),
            None => write!(f, "*:{}", self.function),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_dangerous_methods_never_do() {
        let c: Callable = "sale.order:action_confirm".parse().unwrap();
        assert!(c.covers(&"sale.order".parse().unwrap(), "action_confirm"));
        assert!(!c.covers(&"account.move".parse().unwrap(), "action_confirm"));
        let any: Callable = " *:message_post ".parse().unwrap();
        assert!(any.covers(&"res.partner".parse().unwrap(), "message_post"));
        assert_eq!(any.to_string(), "*:message_post");
        for bad in [
            "sale.order",
            "sale.order:",
            "sale.order:_action_confirm",
            "*:write",
            "*:sudo",
            "res.partner:with_user",
            "Sale Order:action_confirm",
            "sale.order:action-confirm",
            "sale.order:1x",
        ] {
            assert!(bad.parse::<Callable>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"sale.order:action_confirm\"");
        assert!(serde_json::from_str::<Callable>("\"sale.order\"").is_err());
    }
}
