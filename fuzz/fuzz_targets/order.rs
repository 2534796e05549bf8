//! A search `order` string: parsed, and what is accepted rebuilt from field names and directions only.
#![no_main]

use bitconn::request::Order;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(order) = Order::parse(text) {
        let rebuilt = order.to_odoo();
        assert!(rebuilt.bytes().all(|b| b.is_ascii_alphanumeric() || b" _,".contains(&b)), "{rebuilt}");
    }
});
