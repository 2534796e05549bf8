//! Inbound request parsing: the body (strict JSON or JSON5), the envelope, and each method's typed arguments.

mod body;
pub mod json5;
mod order;
mod payload;

pub use body::{parse_json, payload_object};
pub use order::{Order, OrderTerm};
pub use payload::{Envelope, MAX_CREATE_BATCH, Method, Operation, Target};
