//! A `domain` as JSON: parsed, and what is accepted written back for Odoo and parsed again to the same tree.
#![no_main]

use bitconn::domain;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(parsed) = domain::parse(&value) {
        let written = parsed.to_json();
        assert_eq!(domain::parse(&written).ok(), Some(parsed));
    }
});
