//! Text from callers made safe for a terminal: control and direction-changing characters become visible escapes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters a terminal would act on or that would make a line read differently from what it holds: C0 controls
/// (escape sequences, carriage return, backspace…), DEL, C1 controls (8-bit CSI), line and paragraph separators,
/// and the bidirectional embeddings, overrides, isolates and marks ("Trojan Source" reordering).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` as it may be printed to a terminal: every character above is shown as `\x1b` or `\u{202e}`, and a
/// backslash as `\\`, so the printed form maps back to exactly one string. Borrowed when nothing needs escaping.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) && u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            printable("res.partner é 名前"),
            Cow::Borrowed("res.partner é 名前")
        ));
    }

    #[test]
    fn every_control_and_direction_character_is_escaped() {
        let cases = [
            ("\u{1b}]0;owned\u{7}", "\\x1b]0;owned\\x07"),
            ("a\rb\nc\td\u{8}", "a\\x0db\\x0ac\\x09d\\x08"),
            ("\u{7f}\u{9b}31m", "\\x7f\\x9b31m"),
            ("x\u{2028}y\u{2029}", "x\\u{2028}y\\u{2029}"),
            (
                "abc\u{202e}fed\u{2066}\u{2069}\u{200f}\u{61c}",
                "abc\\u{202e}fed\\u{2066}\\u{2069}\\u{200f}\\u{061c}",
            ),
            ("back\\slash", "back\\\\slash"),
        ];
        for (raw, shown) in cases {
            assert_eq!(printable(raw), shown, "{raw:?}");
        }
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let shown = printable(&c.to_string()).into_owned();
            assert!(shown.chars().all(|s| !s.is_control()), "{c:?} -> {shown:?}");
        }
    }
}
