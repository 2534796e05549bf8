//! Demo mode changes only the webhook it marked as its own: never one that merely has the demo's name, and
//! never the demo webhook once an operator has pointed it at another Odoo.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, json, serve};
use serde_json::Value;

const DEMO_NAME: &str = "demo (bundled Odoo simulator)";

fn show(store: &TempStore, id: &str) -> Value {
    json({
        let mut cmd = bitconn(&store.spec);
        cmd.args(["webhook", "show", id, "--json"]);
        cmd
    })
}

fn started_demo(lines: &[String]) -> bool {
    lines.iter().any(|l| l.contains("DEMO MODE"))
}

#[test]
fn a_webhook_that_only_has_the_demo_name_is_never_touched() {
    let store = TempStore::new();
    let created = json({
        let mut cmd = bitconn(&store.spec);
        cmd.args([
            "webhook",
            "create",
            "--name",
            DEMO_NAME,
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
        .env("BITCONN_ODOO_API_KEY", "real-key");
        cmd
    });
    let id = created["id"].as_str().unwrap();
    let before = show(&store, id);
    assert_eq!(before["demo"], false);

    let served = serve(&store.spec, &["--no-execution-log"]);
    assert!(!started_demo(&served.lines), "{:#?}", served.lines);
    drop(served);
    assert_eq!(show(&store, id), before, "the webhook is unchanged");
}

#[test]
fn the_demo_webhook_repointed_at_a_real_odoo_is_left_alone() {
    let store = TempStore::new();
    let served = serve(&store.spec, &["--no-execution-log"]);
    assert!(started_demo(&served.lines), "{:#?}", served.lines);
    let url = served.printed("url:").unwrap();
    drop(served);
    let id = url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(show(&store, &id)["demo"], true, "demo mode marks its webhook");

    let updated = json({
        let mut cmd = bitconn(&store.spec);
        cmd.args([
            "webhook",
            "update",
            &id,
            "--odoo-url",
            "https://odoo.example.com",
            "--json",
        ]);
        cmd
    });
    assert_eq!(updated["demo"], false, "a new Odoo connection clears the mark");
    let before = show(&store, &id);

    let served = serve(&store.spec, &["--no-execution-log"]);
    assert!(!started_demo(&served.lines), "{:#?}", served.lines);
    drop(served);
    let after = show(&store, &id);
    assert_eq!(after, before, "neither re-pointed nor re-keyed");
    assert_eq!(after["odoo"]["url"], "https://odoo.example.com");
}
