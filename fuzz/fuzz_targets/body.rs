//! A request body (and a `/required?values=` value, read by the same parser): strict JSON, then JSON5, then
//! the envelope and the method's arguments. Nothing may panic or overflow the stack.
#![no_main]

use bitconn::config::Limits;
use bitconn::request::{Envelope, Operation, parse_json, payload_object};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse_json(data) else { return };
    let Ok(object) = payload_object(value) else { return };
    let Ok(envelope) = Envelope::parse(object) else { return };
    if let Ok(method) = envelope.require_method() {
        let _ = Operation::parse(method, envelope.rest, &Limits::default());
    }
});
