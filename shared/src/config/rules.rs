//! What a webhook may do: permission flags, allowed models, field lists, limits and HTTP verbs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::ModelName;

/// The original module's defaults: create and write allowed, unlink not; reads and searches always allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub can_create: bool,
    pub can_write: bool,
    pub can_unlink: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Self {
            can_create: true,
            can_write: true,
            can_unlink: false,
        }
    }
}

/// Which models a webhook may touch. There is no implicit "everything": `All` must be chosen explicitly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "models", rename_all = "snake_case")]
pub enum ModelAccess {
    All,
    Only(BTreeSet<ModelName>),
}

impl ModelAccess {
    pub fn allows(&self, model: &ModelName) -> bool {
        match self {
            Self::All => true,
            Self::Only(models) => models.contains(model),
        }
    }
}

/// Field visibility for one model: with `allow`, only those fields; `deny` always wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub deny: BTreeSet<String>,
}

impl FieldRule {
    pub fn permits(&self, field: &str) -> bool {
        !self.deny.contains(field) && self.allow.as_ref().is_none_or(|allow| allow.contains(field))
    }
}

/// Odoo's own default page size for searches.
pub const DEFAULT_SEARCH_LIMIT: u32 = 80;
/// Largest page a caller may ask for unless the operator raises it.
pub const DEFAULT_MAX_SEARCH_LIMIT: u32 = 1000;
/// Most records one write or unlink may touch unless the operator raises it.
pub const DEFAULT_MAX_RECORDS_PER_CHANGE: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub default_search_limit: u32,
    pub max_search_limit: u32,
    pub max_records_per_change: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            default_search_limit: DEFAULT_SEARCH_LIMIT,
            max_search_limit: DEFAULT_MAX_SEARCH_LIMIT,
            max_records_per_change: DEFAULT_MAX_RECORDS_PER_CHANGE,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpVerb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpVerb {
    pub fn parse(method: &str) -> Option<Self> {
        match method.to_ascii_uppercase().as_str() {
            "GET" => Some(Self::Get),
            "POST" => Some(Self::Post),
            "PUT" => Some(Self::Put),
            "PATCH" => Some(Self::Patch),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}
