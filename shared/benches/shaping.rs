//! Extraction shaping benchmark (filled in below).
fn main() {}
