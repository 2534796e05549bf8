//! A `fields` spec, as the JSON list it usually is and as the string holding one that the original accepts.
#![no_main]

use bitconn::extract::spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = spec::parse(&value);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = spec::parse(&serde_json::Value::String(text.to_owned()));
    }
});
