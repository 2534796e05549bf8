//! Odoo server errors as the JSON-RPC `error` object carries them (`data.name` is the Python exception class).

use serde_json::{Value, json};

/// One Odoo exception: its Python class name and its message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct OdooError {
    pub name: String,
    pub message: String,
}

/// Result of anything that can fail the way an Odoo call fails.
pub type OdooResult<T> = Result<T, OdooError>;

impl OdooError {
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        OdooError {
            name: name.to_owned(),
            message: message.into(),
        }
    }
    pub fn value(message: impl Into<String>) -> Self {
        Self::new("builtins.ValueError", message)
    }
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new("builtins.TypeError", message)
    }
    pub fn index(message: impl Into<String>) -> Self {
        Self::new("builtins.IndexError", message)
    }
    pub fn assertion(message: impl Into<String>) -> Self {
        Self::new("builtins.AssertionError", message)
    }
    pub fn user(message: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.UserError", message)
    }
    pub fn access(message: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.AccessError", message)
    }
    pub fn access_denied() -> Self {
        Self::new("odoo.exceptions.AccessDenied", "Access Denied")
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.ValidationError", message)
    }
    /// `MissingError` for `model(ids)` as Odoo words it.
    pub fn missing(model: &str, ids: &[i64], uid: i64) -> Self {
        Self::new(
            "odoo.exceptions.MissingError",
            format!(
                "Record does not exist or has been deleted.\n(Record: {model}{}, User: {uid})",
                crate::pyrepr::id_tuple(ids)
            ),
        )
    }
    pub fn invalid_field(model: &str, field: &str) -> Self {
        Self::value(format!("Invalid field '{field}' on model '{model}'"))
    }

    /// The JSON-RPC `error` member.
    pub fn to_json(&self) -> Value {
        json!({
            "code": 200,
            "message": "Odoo Server Error",
            "data": {
                "name": self.name,
                "debug": format!("Traceback (most recent call last):\n  (simulated)\n{}: {}\n", self.name, self.message),
                "message": self.message,
                "arguments": [self.message],
                "context": {},
            }
        })
    }
}
