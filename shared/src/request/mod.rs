//! Inbound request parsing: the body (strict JSON or JSON5), the envelope, and each method's typed arguments.

mod body;
mod business;
pub mod json5;
mod order;
mod payload;

pub use body::{parse_json, payload_object};
pub use business::{Call, MAX_MATCH_FIELDS, Match, Upsert, Xmlid};
pub use order::{Order, OrderTerm};
pub use payload::{Envelope, MAX_CREATE_BATCH, MAX_IDS, Method, Operation, Target};
