//! Our Standard Webhooks signatures, checked by the reference verifier (`standardwebhooks` from PyPI, installed by
//! scripts/ensure-tools.sh), never by our own code: a fresh secret, a rotation pair, and a tampered body.
#![allow(clippy::unwrap_used)]

use bitconn::outbound::{SigningSecret, signature_headers};
use std::io::Write as _;
use std::process::{Command, Stdio};

const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
case = json.load(sys.stdin)
try:
    Webhook(case["secret"]).verify(case["body"].encode(), case["headers"])
    print("verified")
except Exception as e:
    print("refused: %s" % e)
"#;

fn verify(secret: &SigningSecret, body: &str, headers: &[(&str, String)]) -> String {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone().into()))
        .collect();
    let case = serde_json::json!({"secret": secret.expose(), "body": body, "headers": headers});
    let mut child = Command::new("python3")
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(case.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn the_reference_verifier_accepts_our_signatures_and_refuses_tampering() {
    let secret = SigningSecret::generate();
    let body = r#"{"model": "sale.order", "count": 1, "records": [{"id": 7, "name": "S00007 – ünïcode"}]}"#;
    let headers = signature_headers("evt_01JD3", now(), body.as_bytes(), &[&secret]);
    assert_eq!(verify(&secret, body, &headers), "verified");
    let tampered = body.replace("S00007", "S00008");
    assert!(verify(&secret, &tampered, &headers).starts_with("refused"));
    let other = SigningSecret::generate();
    assert!(verify(&other, body, &headers).starts_with("refused"));
}

#[test]
fn during_a_rotation_receivers_with_either_secret_verify() {
    let (new, old) = (SigningSecret::generate(), SigningSecret::generate());
    let body = r#"{"event": "rotation"}"#;
    let headers = signature_headers("evt_02", now(), body.as_bytes(), &[&new, &old]);
    assert_eq!(verify(&new, body, &headers), "verified");
    assert_eq!(verify(&old, body, &headers), "verified");
}
