//! `bitconn webhook …` and `bitconn logs` end to end: the built binary over a temporary SQLite store.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, fails, json, ok};
use std::process::Command;

const API_KEY: &str = "odoo-api-key-that-must-never-be-printed";

fn create(store: &TempStore, extra: &[&str]) -> Command {
    let mut cmd = bitconn(&store.spec);
    cmd.args([
        "webhook",
        "create",
        "--name",
        "n8n",
        "--odoo-url",
        "https://odoo.example.com/",
    ])
    .args(["--odoo-db", "prod", "--odoo-login", "integrator"])
    .env("BITCONN_ODOO_API_KEY", API_KEY)
    .args(extra);
    cmd
}

fn webhook(store: &TempStore, args: &[&str]) -> Command {
    let mut cmd = bitconn(&store.spec);
    cmd.arg("webhook").args(args);
    cmd
}

fn assert_no_secrets(text: &str, secret: &str) {
    assert!(!text.contains(API_KEY), "API key printed: {text}");
    assert!(!text.contains(secret), "secret printed again: {text}");
    let hash = bitconn::secret::SecretHash::of(secret);
    assert!(!text.contains(hash.as_str()), "secret hash printed: {text}");
}

#[test]
fn webhook_lifecycle_with_json_output() {
    let store = TempStore::new();
    let created = json({
        let mut cmd = create(&store, &["--models", "res.partner,sale.order", "--json"]);
        cmd.env("BITCONN_PUBLIC_URL", "https://hooks.example.com");
        cmd
    });
    let object = created.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["id", "url", "secret"]);
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        created["url"],
        format!("https://hooks.example.com/bitconn/webhook/{id}")
    );
    assert!(secret.starts_with("bcw_") && secret.len() > 40, "{secret}");

    let listed = ok(webhook(&store, &["list", "--json"]));
    assert_no_secrets(&listed, &secret);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(
        listed[0]["models"],
        serde_json::json!(["res.partner", "sale.order"])
    );
    assert_eq!(
        listed[0]["url"],
        format!("http://127.0.0.1:8080/bitconn/webhook/{id}")
    );
    assert_eq!(
        listed[0]["odoo"],
        serde_json::json!({"url": "https://odoo.example.com", "db": "prod", "login": "integrator"})
    );
    assert_eq!(
        listed[0]["permissions"],
        serde_json::json!({"can_create": true, "can_write": true, "can_unlink": false})
    );
    assert_eq!(listed[0]["enabled"], true);

    let shown = ok(webhook(&store, &["show", &id]));
    assert_no_secrets(&shown, &secret);
    assert!(
        shown.contains("res.partner, sale.order") && shown.contains("unlink=no"),
        "{shown}"
    );

    let updated = json(webhook(
        &store,
        &[
            "update",
            &id,
            "--name",
            "n8n prod",
            "--models",
            "crm.lead",
            "--can-unlink",
            "true",
            "--max-search-limit",
            "200",
            "--max-records-per-change",
            "5",
            "--deny-fields",
            "res.partner:email,phone",
            "--json",
        ],
    ));
    assert_eq!(updated["name"], "n8n prod");
    assert_eq!(updated["models"], serde_json::json!(["crm.lead"]));
    assert_eq!(updated["permissions"]["can_unlink"], true);
    assert_eq!(updated["limits"]["max_search_limit"], 200);
    assert_eq!(updated["limits"]["max_records_per_change"], 5);
    assert_eq!(
        updated["field_rules"]["res.partner"]["deny"],
        serde_json::json!(["email", "phone"])
    );
    assert_eq!(updated["version"], 2);

    let readers = json(webhook(
        &store,
        &["update", &id, "--read-models", "res.country,res.users", "--json"],
    ));
    assert_eq!(
        readers["read_models"],
        serde_json::json!(["res.country", "res.users"])
    );
    assert_eq!(readers["models"], serde_json::json!(["crm.lead"]));
    let cleared = json(webhook(&store, &["update", &id, "--read-models", "", "--json"]));
    assert_eq!(cleared["read_models"], serde_json::json!([]));

    let callers = json(webhook(
        &store,
        &[
            "update",
            &id,
            "--allow-call",
            "sale.order:action_confirm,*:message_post",
            "--json",
        ],
    ));
    assert_eq!(
        callers["callable"],
        serde_json::json!(["*:message_post", "sale.order:action_confirm"])
    );
    let refused = webhook(&store, &["update", &id, "--allow-call", "sale.order:write"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "an ORM method is never callable");
    let cleared = json(webhook(&store, &["update", &id, "--allow-call", "", "--json"]));
    assert_eq!(cleared["callable"], serde_json::json!([]));

    let all = json(webhook(&store, &["update", &id, "--all-models", "--json"]));
    assert_eq!(all["models"], "all");
    assert_eq!(
        all["limits"]["max_search_limit"], 200,
        "unrelated settings are kept"
    );

    let rotated = json(webhook(
        &store,
        &["rotate-secret", &id, "--grace", "10m", "--json"],
    ));
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["id"], id.as_str());
    assert!(rotated["previous_secret_valid_until"].is_string());
    let shown = json(webhook(&store, &["show", &id, "--json"]));
    assert!(shown["previous_secret_valid_until"].is_string());
    assert_no_secrets(&shown.to_string(), new_secret);

    let disabled = json(webhook(&store, &["disable", &id, "--json"]));
    assert_eq!(disabled, serde_json::json!({"id": id, "enabled": false}));
    assert_eq!(json(webhook(&store, &["show", &id, "--json"]))["enabled"], false);
    let enabled = json(webhook(&store, &["enable", &id, "--json"]));
    assert_eq!(enabled["enabled"], true);

    let deleted = json(webhook(&store, &["delete", &id, "--json"]));
    assert_eq!(deleted, serde_json::json!({"id": id, "deleted": true}));
    assert_eq!(json(webhook(&store, &["list", "--json"])), serde_json::json!([]));
    let error = fails(webhook(&store, &["delete", &id]));
    assert!(error.contains("not found"), "{error}");
}

#[test]
fn human_output_shows_url_and_secret_once() {
    let store = TempStore::new();
    let out = ok(create(&store, &["--all-models", "--can-unlink", "--no-write"]));
    let url = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("url:"))
        .unwrap()
        .trim();
    let secret = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:8080/bitconn/webhook/"), "{out}");
    assert!(!out.contains(API_KEY));
    let listed = ok(webhook(&store, &["list"]));
    assert!(listed.contains("n8n") && listed.contains("enabled"), "{listed}");
    assert_no_secrets(&listed, &secret);
    let id = url.rsplit('/').next().unwrap();
    let shown = json(webhook(&store, &["show", id, "--json"]));
    assert_eq!(shown["models"], "all");
    assert_eq!(
        shown["permissions"],
        serde_json::json!({"can_create": true, "can_write": false, "can_unlink": true})
    );
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let store = TempStore::new();
    let unknown = "0f0e0d0c-0b0a-4908-8706-050403020100";
    for args in [
        ["show", unknown],
        ["enable", unknown],
        ["disable", unknown],
        ["delete", unknown],
    ] {
        let error = fails(webhook(&store, &args));
        assert!(error.contains(unknown) && error.contains("not found"), "{error}");
    }
    let error = fails(webhook(&store, &["rotate-secret", unknown]));
    assert!(error.contains("not found"), "{error}");
    let error = fails(webhook(&store, &["update", unknown, "--name", "x"]));
    assert!(error.contains("not found"), "{error}");

    let error = fails(webhook(&store, &["show", "not-a-uuid"]));
    assert!(error.contains("not-a-uuid") && error.contains("UUID"), "{error}");

    let error = fails(create(&store, &["--models", "res.partner,Sale Order"]));
    assert!(error.contains("Sale Order"), "{error}");
    let error = fails(create(&store, &[]));
    assert!(
        error.contains("--models") && error.contains("--all-models"),
        "{error}"
    );
    let error = fails(create(&store, &["--models", "res.partner", "--all-models"]));
    assert!(error.contains("--all-models"), "{error}");
    let error = fails({
        let mut cmd = create(&store, &["--models", "res.partner"]);
        cmd.env_remove("BITCONN_ODOO_API_KEY");
        cmd
    });
    assert!(error.contains("--odoo-api-key"), "{error}");
    let error = fails({
        let mut cmd = bitconn(&store.spec);
        cmd.args([
            "webhook",
            "create",
            "--name",
            "x",
            "--odoo-url",
            "odoo.example.com",
            "--odoo-db",
            "d",
        ])
        .args(["--odoo-login", "l", "--odoo-api-key", "k", "--all-models"]);
        cmd
    });
    assert!(error.contains("--odoo-url"), "{error}");
    for blank in ["--odoo-db", "--odoo-login", "--odoo-api-key"] {
        let mut cmd = bitconn(&store.spec);
        cmd.args(["webhook", "create", "--name", "x", "--all-models"])
            .args(["--odoo-url", "https://odoo.example.com"]);
        for option in ["--odoo-db", "--odoo-login", "--odoo-api-key"] {
            cmd.args([option, if option == blank { " " } else { "v" }]);
        }
        let error = fails(cmd);
        assert!(
            error.contains(blank) && error.contains("must not be empty"),
            "{error}"
        );
    }
    let error = fails(webhook(&store, &["rotate-secret", unknown, "--grace", "a while"]));
    assert!(error.contains("a while"), "{error}");
    let error = fails({
        let mut cmd = bitconn("nosuchbackend:x");
        cmd.args(["webhook", "list"]);
        cmd
    });
    assert!(error.contains("nosuchbackend"), "{error}");
    assert_eq!(
        json(webhook(&store, &["list", "--json"])),
        serde_json::json!([]),
        "nothing was stored"
    );
}

#[test]
fn blank_odoo_settings_are_refused_on_update() {
    let store = TempStore::new();
    let created = json(create(&store, &["--all-models", "--json"]));
    let id = created["id"].as_str().unwrap().to_owned();
    for blank in ["--odoo-db", "--odoo-login", "--odoo-api-key", "--name"] {
        let error = fails(webhook(&store, &["update", &id, blank, ""]));
        assert!(
            error.contains(blank) && error.contains("must not be empty"),
            "{error}"
        );
    }
    let error = fails({
        let mut cmd = webhook(&store, &["update", &id, "--odoo-api-key-from-env"]);
        cmd.env("BITCONN_ODOO_API_KEY", "  ");
        cmd
    });
    assert!(error.contains("must not be empty"), "{error}");
    let shown = json(webhook(&store, &["show", &id, "--json"]));
    assert_eq!(shown["odoo"]["login"], "integrator");
    assert_eq!(shown["version"], 1, "nothing was stored");
}

#[test]
fn logs_on_an_empty_store() {
    let store = TempStore::new();
    let out = ok({
        let mut cmd = bitconn(&store.spec);
        cmd.args(["logs", "--since", "2h", "--json"]);
        cmd
    });
    assert_eq!(out.trim(), "");
    let error = fails({
        let mut cmd = bitconn(&store.spec);
        cmd.args(["logs", "--since", "last tuesday"]);
        cmd
    });
    assert!(error.contains("last tuesday"), "{error}");
}
