//! `bitconn logs` shows what callers sent without letting it steer the terminal; `--json` stays exact.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, http_post, ok, serve};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Turns text red, retitles the terminal, rings the bell, uses an 8-bit CSI and reverses the rest of the line.
const HOSTILE_METHOD: &str = "\u{1b}[31m\u{1b}]0;owned\u{7}\u{9b}31m\u{202e}hcraes";

#[test]
fn control_characters_from_a_request_are_escaped_in_text_and_exact_in_json() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let url = served.printed("url:").unwrap();
    let secret = served.printed("secret:").unwrap();
    let body = serde_json::json!({"model": "res.partner", "method": HOSTILE_METHOD}).to_string();
    let (status, answer) = http_post(&url, &secret, &body);
    assert_eq!(status, 400, "{answer}");

    // The server writes its log in the background: wait until the entry is there.
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = ok({
            let mut cmd = bitconn(&store.spec);
            cmd.arg("logs");
            cmd
        });
        if text.contains("res.partner") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(served);
    let line = text
        .lines()
        .find(|l| l.contains("res.partner"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "raw control characters reached the terminal: {line:?}"
    );
    assert!(
        line.contains("\\x1b[31m\\x1b]0;owned\\x07\\x9b31m\\u{202e}hcraes"),
        "{line:?}"
    );

    let json = ok({
        let mut cmd = bitconn(&store.spec);
        cmd.args(["logs", "--json"]);
        cmd
    });
    let entry: Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    assert_eq!(entry["method"], HOSTILE_METHOD, "{json}");
    assert!(
        !json.contains('\u{1b}'),
        "JSON escapes control characters itself: {json:?}"
    );
}
