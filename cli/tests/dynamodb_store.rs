//! The CLI against DynamoDB and KMS (moto): `store init`, a missing table, sealing, and the webhook commands.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Moto, bitconn, fails, json, ok};
use std::process::Command;

fn cli(moto: &Moto, store: &str, args: &[&str]) -> Command {
    let mut cmd = bitconn(store);
    moto.configure(&mut cmd);
    cmd.args(args);
    cmd
}

fn create(moto: &Moto, store: &str) -> Command {
    let mut create = cli(
        moto,
        store,
        &[
            "webhook",
            "create",
            "--name",
            "dynamo",
            "--odoo-url",
            "https://odoo.example.com",
            "--odoo-db",
            "prod",
        ],
    );
    create.args(["--odoo-login", "integrator", "--models", "res.partner", "--json"]);
    create.env("BITCONN_ODOO_API_KEY", "key-in-dynamodb");
    create
}

#[test]
fn missing_table_is_named_then_init_creates_it() {
    let moto = Moto::start().expect("moto_server is not installed; run scripts/ensure-tools.sh");
    let store = "dynamodb:cli-webhooks";
    for args in [
        &["webhook", "list"][..],
        &["webhook", "show", "0f0e0d0c-0b0a-4908-8706-050403020100"],
        &["logs"],
    ] {
        let error = fails(cli(&moto, store, args));
        assert!(
            error.contains("does not exist") && error.contains("bitconn store init"),
            "{args:?}: {error}"
        );
    }

    let init = ok(cli(&moto, store, &["store", "init"]));
    assert!(init.contains("ready"), "{init}");
    ok(cli(&moto, store, &["store", "init"]));

    let error = fails(create(&moto, store));
    assert!(error.contains("BITCONN_SEAL=kms:"), "no key, no write: {error}");
    let key = moto.create_kms_key();
    let mut create = create(&moto, store);
    create.env("BITCONN_SEAL", format!("kms:{key}"));
    let created = json(create);
    let keyed = |args: &[&str]| {
        let mut cmd = cli(&moto, store, args);
        cmd.env("BITCONN_SEAL", format!("kms:{key}"));
        cmd
    };
    let id = created["id"].as_str().unwrap();

    let error = fails(cli(&moto, store, &["webhook", "list"]));
    assert!(
        error.contains("BITCONN_SEAL=kms:"),
        "a sealed credential needs the key: {error}"
    );
    let listed = ok(keyed(&["webhook", "list", "--json"]));
    assert!(!listed.contains("key-in-dynamodb"));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["id"], id);

    let updated = json(keyed(&[
        "webhook",
        "update",
        id,
        "--can-unlink",
        "true",
        "--json",
    ]));
    assert_eq!(updated["permissions"]["can_unlink"], true);
    assert_eq!(
        json(keyed(&["webhook", "disable", id, "--json"]))["enabled"],
        false
    );
    assert_eq!(ok(keyed(&["logs", "--json"])), "", "no entries yet");
    ok(keyed(&["webhook", "delete", id]));
    let error = fails(keyed(&["webhook", "show", id]));
    assert!(error.contains("not found"), "{error}");
}

#[test]
fn deliveries_read_the_deliveries_table_that_init_creates() {
    let moto = Moto::start().expect("moto_server is not installed; run scripts/ensure-tools.sh");
    let store = "dynamodb:cli2-webhooks";
    let error = fails(cli(&moto, store, &["deliveries", "list"]));
    assert!(
        error.contains("cli2-deliveries") && error.contains("bitconn store init"),
        "{error}"
    );
    ok(cli(&moto, store, &["store", "init"]));
    let listed = json(cli(
        &moto,
        store,
        &["--json", "deliveries", "list", "--status", "dead"],
    ));
    assert_eq!(listed, serde_json::json!([]));
    let error = fails(cli(&moto, store, &["deliveries", "show", "evt_absent"]));
    assert!(error.contains("no delivery evt_absent"), "{error}");
    let error = fails(cli(&moto, store, &["deliveries", "replay", "--dead"]));
    assert!(error.contains("set BITCONN_QUEUE"), "{error}");
}
