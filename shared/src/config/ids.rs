//! Validated identifiers: a webhook's UUID and an Odoo model name.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub(super) &'static str);

/// A webhook's public identifier (UUID v4); it appears in the webhook's URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookId(Uuid);

impl WebhookId {
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl FromStr for WebhookId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| InvalidId("webhook id must be a UUID"))
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Longest model name accepted; Odoo's technical names are far shorter.
const MAX_MODEL_NAME_LEN: usize = 128;

/// An Odoo model's technical name (`res.partner`): lowercase letters, digits, `_` and `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelName(String);

impl ModelName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ModelName {
    type Error = InvalidId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let valid_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        let valid_ends = s.starts_with(|c: char| c.is_ascii_lowercase()) && !s.ends_with('.');
        if s.is_empty() || s.len() > MAX_MODEL_NAME_LEN || !valid_chars || !valid_ends || s.contains("..") {
            return Err(InvalidId(
                "model must be an Odoo technical name such as res.partner",
            ));
        }
        Ok(Self(s))
    }
}

impl FromStr for ModelName {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<ModelName> for String {
    fn from(m: ModelName) -> String {
        m.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
