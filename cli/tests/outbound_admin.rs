//! `bitconn webhook outbound …` end to end: the built binary over a temporary SQLite store. Header values and
//! signing secrets are never printed back; a new signing secret is printed once.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, fails, json};

const HEADER_VALUE: &str = "Bearer receiver-token-that-must-never-be-printed";

fn created(store: &TempStore) -> String {
    let mut cmd = bitconn(&store.spec);
    cmd.args([
        "webhook",
        "create",
        "--name",
        "out",
        "--odoo-url",
        "https://odoo.example.com",
    ])
    .args([
        "--odoo-db",
        "prod",
        "--odoo-login",
        "integrator",
        "--models",
        "res.partner",
        "--json",
    ])
    .env("BITCONN_ODOO_API_KEY", "k");
    json(cmd)["id"].as_str().unwrap().to_owned()
}

fn outbound(store: &TempStore, args: &[&str]) -> std::process::Command {
    let mut cmd = bitconn(&store.spec);
    cmd.args(["--json", "webhook", "outbound"]).args(args);
    cmd
}

#[test]
fn set_show_and_rotate_never_print_credentials_back() {
    let store = TempStore::new();
    let id = created(&store);
    let auth = format!("Authorization: {HEADER_VALUE}");
    let set = json(outbound(
        &store,
        &[
            "set",
            &id,
            "--url",
            "https://hooks.example.com/{{ id }}",
            "--verb",
            "PUT",
            "--header",
            &auth,
            "--timeout",
            "5s",
            "--allow-cidr",
            "10.1.0.0/16",
            "--fields",
            "name,email",
            "--retry",
            "1s,1m",
        ],
    ));
    let target = &set["outbound"];
    assert_eq!(target["verb"], "PUT");
    assert_eq!(target["timeout_ms"], 5000);
    assert_eq!(target["header_names"], serde_json::json!(["Authorization"]));
    assert_eq!(target["retry_seconds"], serde_json::json!([1, 60]));
    assert_eq!(
        target["payload"],
        serde_json::json!({"mode": "fields", "fields": ["name", "email"]})
    );
    assert!(!set.to_string().contains(HEADER_VALUE));

    let rotated = json(outbound(&store, &["rotate-secret", &id, "--grace", "1h"]));
    let secret = rotated["signing_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let shown = json(outbound(&store, &["show", &id]));
    assert_eq!(shown["outbound"]["signed"], true);
    let text = shown.to_string();
    assert!(
        !text.contains(HEADER_VALUE) && !text.contains(&secret[6..]),
        "{text}"
    );
    let raw = std::fs::read(&store.path).unwrap();
    assert!(
        !raw.windows(secret.len() - 6)
            .any(|w| w == &secret.as_bytes()[6..]),
        "sealed at rest"
    );

    assert!(fails(outbound(&store, &["set", &id, "--url", "ftp://x"])).contains("http:// or https://"));
    assert!(fails(outbound(&store, &["set", &id, "--allow-cidr", "nope"])).contains("CIDR"));
}
