//! Errors of the Odoo client: Odoo's own faults (typed by exception kind) and transport failures.

/// An exception Odoo raised and reported in a JSON-RPC `error` member. The traceback (`data.debug`) is never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OdooFault {
    /// Odoo's `data.name`, e.g. `odoo.exceptions.ValidationError` or `builtins.ValueError`.
    pub name: String,
    /// Odoo's `data.message` (the exception's arguments joined by newlines).
    pub message: String,
}

/// How a caller should read a fault: what the client got wrong, what it may not do, what does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultClass {
    /// UserError, ValidationError, ValueError, …: the request's data was refused.
    Invalid,
    /// AccessError, AccessDenied: the webhook's Odoo user may not do this.
    Access,
    /// MissingError: a record does not exist (any more).
    Missing,
    /// Anything else Odoo raised (a server-side failure).
    Server,
}

/// `builtins.*` and database exceptions that Odoo raises for bad input (unknown fields, bad values, SQL casts).
const INPUT_EXCEPTIONS: &[&str] = &[
    "ValueError",
    "TypeError",
    "KeyError",
    "AssertionError",
    "IndexError",
];

/// Longest fault message passed on to a caller.
const MAX_PUBLIC_MESSAGE_CHARS: usize = 2000;
/// Lines from which on a database message shows SQL or row contents (psycopg2's `LINE 1: …`, `DETAIL: …`).
const SQL_DETAIL_MARKERS: &[&str] = &["LINE ", "DETAIL:", "CONTEXT:", "HINT:", "QUERY:", "SQL:"];

impl OdooFault {
    /// The message as a caller may see it: the human part of Odoo's message, without SQL, row contents or
    /// internals. A server-side failure says only its kind; the whole fault goes to the gateway's own log.
    pub fn public_message(&self) -> String {
        if self.class() == FaultClass::Server {
            return format!(
                "Odoo failed while handling the call ({}); the details are in the gateway's log",
                self.kind()
            );
        }
        let mut kept: Vec<&str> = Vec::new();
        for line in self.message.lines() {
            let trimmed = line.trim_start();
            if SQL_DETAIL_MARKERS.iter().any(|m| trimmed.starts_with(m)) {
                break;
            }
            kept.push(line);
        }
        let text = kept.join("\n");
        let text = text.trim_end();
        match text.char_indices().nth(MAX_PUBLIC_MESSAGE_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }

    /// The exception's class name: the last segment of `data.name` (`ValidationError`, `AccessDenied`, …).
    pub fn kind(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    pub fn class(&self) -> FaultClass {
        let kind = self.kind();
        match kind {
            "AccessError" | "AccessDenied" => FaultClass::Access,
            "MissingError" => FaultClass::Missing,
            _ if self.name.starts_with("odoo.exceptions.") => FaultClass::Invalid,
            _ if self.name.starts_with("psycopg2.") => FaultClass::Invalid,
            _ if INPUT_EXCEPTIONS.contains(&kind) => FaultClass::Invalid,
            _ => FaultClass::Server,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OdooError {
    #[error("Odoo raised {}: {}", .0.kind(), .0.message)]
    Fault(OdooFault),
    /// `common.authenticate` answered `false`: wrong login or API key for the webhook's Odoo user.
    #[error("Odoo rejected the login {login:?} (wrong login or API key)")]
    AuthenticationFailed { login: String },
    #[error("Odoo is unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("Odoo did not answer in time: {0}")]
    Timeout(#[source] reqwest::Error),
    #[error("unexpected answer from Odoo: {0}")]
    Protocol(String),
}

impl OdooError {
    pub(crate) fn from_transport(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout(err)
        } else {
            Self::Unreachable(err)
        }
    }

    pub fn fault(&self) -> Option<&OdooFault> {
        match self {
            Self::Fault(f) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(name: &str) -> OdooFault {
        OdooFault {
            name: name.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn kind_is_the_last_segment() {
        assert_eq!(fault("odoo.exceptions.ValidationError").kind(), "ValidationError");
        assert_eq!(fault("builtins.ValueError").kind(), "ValueError");
        assert_eq!(fault("Weird").kind(), "Weird");
    }

    #[test]
    fn public_messages_keep_the_human_part_only() {
        let sql = OdooFault {
            name: "psycopg2.errors.NotNullViolation".into(),
            message: "null value in column \"name\" violates not-null constraint\nDETAIL:  Failing row contains (7, secret).\nLINE 1: INSERT INTO \"res_partner\" ...".into(),
        };
        assert_eq!(
            sql.public_message(),
            "null value in column \"name\" violates not-null constraint"
        );
        let cast = OdooFault {
            name: "psycopg2.errors.InvalidTextRepresentation".into(),
            message: "invalid input syntax for type integer: \"x\"\nLINE 1: ...FROM \"res_partner\" WHERE id = 'x'\n  ^".into(),
        };
        assert!(!cast.public_message().contains("FROM"));
        let server = OdooFault {
            name: "builtins.AttributeError".into(),
            message: "'NoneType' object has no attribute 'id' in /opt/odoo/addons/x.py".into(),
        };
        assert!(!server.public_message().contains("/opt/odoo"));
        assert!(server.public_message().contains("AttributeError"));
        let user = OdooFault {
            name: "odoo.exceptions.UserError".into(),
            message: "You cannot do that.\n\nReason: locked".into(),
        };
        assert_eq!(user.public_message(), user.message);
        let long = OdooFault {
            name: "odoo.exceptions.ValidationError".into(),
            message: "x".repeat(10_000),
        };
        assert!(long.public_message().chars().count() <= MAX_PUBLIC_MESSAGE_CHARS + 1);
    }

    #[test]
    fn classes_follow_odoo_exception_families() {
        assert_eq!(fault("odoo.exceptions.AccessError").class(), FaultClass::Access);
        assert_eq!(fault("odoo.exceptions.AccessDenied").class(), FaultClass::Access);
        assert_eq!(fault("odoo.exceptions.MissingError").class(), FaultClass::Missing);
        assert_eq!(fault("odoo.exceptions.UserError").class(), FaultClass::Invalid);
        assert_eq!(
            fault("odoo.exceptions.ValidationError").class(),
            FaultClass::Invalid
        );
        assert_eq!(fault("builtins.ValueError").class(), FaultClass::Invalid);
        assert_eq!(
            fault("psycopg2.errors.InvalidTextRepresentation").class(),
            FaultClass::Invalid
        );
        assert_eq!(fault("builtins.AttributeError").class(), FaultClass::Server);
        assert_eq!(fault("builtins.Exception").class(), FaultClass::Server);
    }
}
