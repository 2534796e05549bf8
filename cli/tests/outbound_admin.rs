//! `bitconn outbound …` end to end: the built binary over a temporary SQLite store. Header values and
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
    cmd.args(["--json", "outbound"]).args(args);
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

    let rotated = json(outbound(&store, &["rotate-signing-secret", &id, "--grace", "1h"]));
    assert_eq!(rotated["previous_valid_for_seconds"], 3600);
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

#[test]
fn disable_enable_and_ordered_change_only_what_they_name() {
    let store = TempStore::new();
    let id = created(&store);
    assert!(fails(outbound(&store, &["disable", &id])).contains("no outbound target yet"));
    let set = json(outbound(
        &store,
        &["set", &id, "--url", "https://hooks.example.com/in", "--ordered"],
    ));
    assert_eq!(set["outbound"]["ordered"], true);
    assert_eq!(set["outbound"]["enabled"], true);
    let off = json(outbound(&store, &["disable", &id]));
    assert_eq!(
        (&off["outbound"]["enabled"], &off["outbound"]["ordered"]),
        (&serde_json::json!(false), &serde_json::json!(true))
    );
    assert!(fails(outbound(&store, &["test", &id])).contains("outbound enable"));
    let on = json(outbound(&store, &["enable", &id]));
    assert_eq!(on["outbound"]["enabled"], true);
    let unordered = json(outbound(&store, &["set", &id, "--ordered", "false"]));
    assert_eq!(unordered["outbound"]["ordered"], false);
    assert_eq!(unordered["outbound"]["url"], "https://hooks.example.com/in");

    // The former place of the commands still works, the former name of the rotation too.
    let mut old = bitconn(&store.spec);
    old.args(["--json", "webhook", "outbound", "rotate-secret", &id]);
    assert!(
        json(old)["signing_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
}
