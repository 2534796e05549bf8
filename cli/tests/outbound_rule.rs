//! `bitconn outbound rule add|list|check|remove` against the Odoo simulator, which fires its native
//! webhooks as Odoo 18 does (before its change is visible, many identical posts for an "on save" rule that
//! watches no field), through `bitconn serve` to a receiver on port 0.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, bitconn, fails, json, ok, serve};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::AtomicU16;
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// `bitconn serve` reads webhooks through a cache of this age: a rule added by another process is seen after it.
const CACHE_TTL: Duration = Duration::from_millis(5500);

/// A delivery the receiver got: its headers (lower-case names) and body.
type Got = (HashMap<String, String>, Value);

fn receiver() -> (String, mpsc::Receiver<Got>) {
    let (url, raw) = common::receiver(Arc::new(AtomicU16::new(200)));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for got in raw {
            let body = serde_json::from_slice(&got.body).unwrap_or(Value::Null);
            if tx.send((got.headers, body)).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// Everything received until nothing more comes for `quiet`.
fn drain(rx: &mpsc::Receiver<Got>, first_within: Duration, quiet: Duration) -> Vec<Got> {
    let mut got = Vec::new();
    if let Ok(one) = rx.recv_timeout(first_within) {
        got.push(one);
    }
    while let Ok(one) = rx.recv_timeout(quiet) {
        got.push(one);
    }
    got
}

struct Odoo {
    runtime: tokio::runtime::Runtime,
    sim: odoo_sim::RunningSim,
    http: reqwest::Client,
}

impl Odoo {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sim = runtime
            .block_on(odoo_sim::start(odoo_sim::SimConfig::default()))
            .unwrap();
        Self {
            runtime,
            sim,
            http: bitconn::odoo::tls::http_client_builder().build().unwrap(),
        }
    }

    fn rpc(&self, model: &str, method: &str, args: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [odoo_sim::DEFAULT_DB, 2, odoo_sim::DEFAULT_ADMIN_API_KEY, model, method, args,
                     {"context": {"active_test": false}}]}});
        let answer: Value = self.runtime.block_on(async {
            self.http
                .post(format!("{}/jsonrpc", self.sim.url))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        assert!(answer.get("error").is_none(), "{answer}");
        answer["result"].clone()
    }

    fn native_posts(&self) -> usize {
        let answer: Value = self.runtime.block_on(async {
            self.http
                .get(format!("{}/__sim/webhooks", self.sim.url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        answer["count"].as_u64().unwrap() as usize
    }
}

/// A webhook on the sim as admin, every model, delivering `fields` to `receiver` signed; (id, signing secret).
fn webhook(store: &TempStore, odoo: &Odoo, receiver: &str, fields: &str) -> String {
    let mut cmd = bitconn(&store.spec);
    cmd.args(["--json", "webhook", "create", "--name", "rules", "--all-models"])
        .args(["--odoo-url", &odoo.sim.url, "--odoo-db", odoo_sim::DEFAULT_DB])
        .args(["--odoo-login", "admin"])
        .env("BITCONN_ODOO_API_KEY", odoo_sim::DEFAULT_ADMIN_API_KEY);
    let id = json(cmd)["id"].as_str().unwrap().to_owned();
    let mut set = bitconn(&store.spec);
    set.args(["--json", "outbound", "set", &id, "--url", receiver])
        .args(["--allow-cidr", "127.0.0.0/8", "--fields", fields]);
    json(set);
    let mut rotate = bitconn(&store.spec);
    rotate.args(["--json", "outbound", "rotate-signing-secret", &id]);
    json(rotate);
    id
}

fn rule(store: &TempStore, args: &[&str]) -> Command {
    let mut cmd = bitconn(&store.spec);
    cmd.args(["outbound", "rule"])
        .args(args)
        .env("BITCONN_ODOO_ADMIN_KEY", odoo_sim::DEFAULT_ADMIN_API_KEY);
    cmd
}

#[test]
fn a_rule_added_by_one_command_delivers_a_created_partner_once_and_check_and_remove_keep_odoo_in_step() {
    let odoo = Odoo::start();
    let store = TempStore::new();
    let (receiver_url, got) = receiver();
    let id = webhook(&store, &odoo, &format!("{receiver_url}/in"), "id,name,email");
    let served = serve(&store.spec, &[]);
    let public = served.base_url.clone();
    // Odoo's post carries no field, and the rule watches none: the 13-post storm of a real create.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("payload.json");
    std::fs::write(&empty, "[]").unwrap();
    let empty = empty.to_str().unwrap();
    let add = [
        "add",
        &id,
        "--model",
        "res.partner",
        "--on",
        "create_or_write",
        "--payload",
        empty,
        "--public-url",
        &public,
    ];

    let error = fails(rule(&store, &add));
    assert!(
        error.contains("base_automation") && error.contains("--install-module"),
        "{error}"
    );
    let mut without_key = rule(&store, &add);
    without_key.env_remove("BITCONN_ODOO_ADMIN_KEY");
    assert!(fails(without_key).contains("BITCONN_ODOO_ADMIN_KEY"));

    let mut cmd = rule(&store, &add);
    cmd.args(["--install-module", "--json"]);
    let added = json(cmd);
    let notes = added["notes"].to_string();
    assert!(
        notes.contains("installed") && notes.contains("no watched fields"),
        "{notes}"
    );
    let (action, rule_id) = (
        added["odoo_action"].as_i64().unwrap(),
        added["odoo_rule"].as_i64().unwrap(),
    );
    let trigger = added["trigger"].as_str().unwrap().to_owned();
    let odoo_rule = &odoo.rpc(
        "base.automation",
        "read",
        json!([[rule_id], ["trigger", "action_server_ids", "active"]]),
    )[0];
    assert_eq!(odoo_rule["trigger"], "on_create_or_write");
    assert_eq!(odoo_rule["action_server_ids"], json!([action]));
    let url = odoo.rpc(
        "ir.actions.server",
        "read",
        json!([[action], ["webhook_url", "state"]]),
    )[0]
    .clone();
    assert_eq!(url["state"], "webhook");
    assert!(
        url["webhook_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{public}/bitconn/outbound/{id}/bcw_")),
        "{url}"
    );
    let key = url["webhook_url"].as_str().unwrap().rsplit('/').next().unwrap();
    let printed = added["url"].as_str().unwrap();
    assert!(
        !printed.contains(key) && printed.ends_with('…'),
        "the key is not printed: {printed}"
    );

    std::thread::sleep(CACHE_TTL);
    let partner = odoo
        .rpc(
            "res.partner",
            "create",
            json!([{"name": "Rule Alice", "email": "alice@rule.example"}]),
        )
        .as_i64()
        .unwrap();
    let deliveries = drain(&got, Duration::from_secs(20), Duration::from_secs(3));
    let posts = odoo.native_posts();
    assert!(posts > 1, "Odoo posted {posts} times");
    println!(
        "one partner create: {posts} native posts from Odoo, {} delivery",
        deliveries.len()
    );
    assert_eq!(
        deliveries.len(),
        1,
        "{posts} posts from Odoo, {} deliveries",
        deliveries.len()
    );
    let (headers, body) = &deliveries[0];
    assert!(headers["webhook-signature"].starts_with("v1,"), "{headers:?}");
    assert_eq!(body["event"], "create_or_write");
    assert_eq!(
        body["records"][0],
        json!({"id": partner, "name": "Rule Alice", "email": "alice@rule.example"})
    );

    let mut list = rule(&store, &["list", &id, "--json", "--public-url", &public]);
    list.env("BITCONN_PUBLIC_URL", &public);
    let listed = json(list);
    assert_eq!(listed["rules"][0]["trigger"], trigger.as_str());
    assert_eq!(listed["rules"][0]["drift"], json!([]), "{listed}");
    ok(rule(&store, &["check", &id, "--public-url", &public]));

    // Archived, then deleted in Odoo: `check` says so and fails.
    odoo.rpc("base.automation", "write", json!([[rule_id], {"active": false}]));
    let mut check = rule(&store, &["check", &id, "--public-url", &public]);
    check.stdin(std::process::Stdio::null());
    let out = check.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("archived"));
    odoo.rpc("base.automation", "unlink", json!([[rule_id]]));
    let out = rule(&store, &["check", &id, "--public-url", &public])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("deleted in Odoo"), "{printed}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("drifted"));
    ok(rule(&store, &["remove", &id, &trigger]));

    // A second rule, removed: nothing of it is left in Odoo, nor in the store.
    let mut cmd = rule(
        &store,
        &[
            "add",
            &id,
            "--model",
            "res.partner",
            "--on",
            "write",
            "--watch",
            "email",
            "--public-url",
            &public,
        ],
    );
    cmd.arg("--json");
    let second = json(cmd);
    assert_eq!(second["watch"], json!(["email"]));
    let (action, rule_id) = (
        second["odoo_action"].as_i64().unwrap(),
        second["odoo_rule"].as_i64().unwrap(),
    );
    ok(rule(
        &store,
        &["remove", &id, second["trigger"].as_str().unwrap()],
    ));
    assert_eq!(
        odoo.rpc("base.automation", "search_count", json!([[["id", "=", rule_id]]])),
        0
    );
    assert_eq!(
        odoo.rpc(
            "ir.actions.server",
            "search_count",
            json!([[["id", "=", action]]])
        ),
        0
    );
    assert_eq!(odoo.rpc("base.automation", "search_count", json!([[]])), 0);
    let listed = json(rule(&store, &["list", &id, "--json"]));
    assert_eq!(listed["rules"], json!([]));
    drop(served);
}

#[test]
fn a_state_rule_fires_on_confirmation_only_and_the_payload_fields_are_watched_by_default() {
    let odoo = Odoo::start();
    let store = TempStore::new();
    let (receiver_url, got) = receiver();
    let id = webhook(&store, &odoo, &format!("{receiver_url}/in"), "id,name,state");
    let served = serve(&store.spec, &[]);
    let public = served.base_url.clone();
    let mut cmd = rule(
        &store,
        &[
            "add",
            &id,
            "--model",
            "sale.order",
            "--on",
            "state:sale",
            "--install-module",
            "--json",
        ],
    );
    cmd.args(["--public-url", &public]);
    let added = json(cmd);
    assert_eq!(added["fields"], json!(["name", "state"]));
    let odoo_rule = &odoo.rpc(
        "base.automation",
        "read",
        json!([[added["odoo_rule"]], ["trigger", "filter_domain"]]),
    )[0];
    assert_eq!(odoo_rule["trigger"], "on_state_set");
    let mut bad = rule(
        &store,
        &[
            "add",
            &id,
            "--model",
            "sale.order",
            "--on",
            "state:nonsense",
            "--public-url",
            &public,
        ],
    );
    bad.arg("--json");
    let error = fails(bad);
    assert!(error.contains("nonsense") && error.contains("sale"), "{error}");

    // An "on save" rule defaults its watched fields to the payload's and says so.
    let mut cmd = rule(
        &store,
        &[
            "add",
            &id,
            "--model",
            "sale.order",
            "--on",
            "create_or_write",
            "--json",
            "--public-url",
            &public,
        ],
    );
    cmd.args(["--filter", "[('name', '=like', 'NOBODY%')]"]);
    let saved = json(cmd);
    assert_eq!(saved["watch"], json!(["name", "state"]));
    assert!(
        saved["notes"]
            .to_string()
            .contains("watching the payload's fields")
    );
    let filter = &odoo.rpc(
        "base.automation",
        "read",
        json!([[saved["odoo_rule"]], ["filter_domain"]]),
    )[0];
    assert_eq!(
        filter["filter_domain"], "[('name', '=like', 'NOBODY%')]",
        "the filter survives Odoo's recompute"
    );

    // A poller can only search with a literal domain: refused before anything is created in Odoo.
    let rules = odoo.rpc("base.automation", "search_count", json!([[]]));
    let mut cmd = rule(
        &store,
        &[
            "add",
            &id,
            "--model",
            "sale.order",
            "--on",
            "write",
            "--poll",
            "60s",
            "--public-url",
            &public,
        ],
    );
    cmd.args(["--filter", "[('user_id', '=', uid)]"]);
    let error = fails(cmd);
    assert!(error.contains("uid") && error.contains("literal"), "{error}");
    assert_eq!(odoo.rpc("base.automation", "search_count", json!([[]])), rules);

    std::thread::sleep(CACHE_TTL);
    let order = odoo
        .rpc(
            "sale.order",
            "create",
            json!([{"partner_id": 10, "client_order_ref": "RULE"}]),
        )
        .as_i64()
        .unwrap();
    odoo.rpc(
        "sale.order",
        "write",
        json!([[order], {"client_order_ref": "RULE later"}]),
    );
    assert!(
        drain(&got, Duration::from_secs(3), Duration::from_millis(500)).is_empty(),
        "a draft sends nothing"
    );
    odoo.rpc("sale.order", "action_confirm", json!([[order]]));
    let deliveries = drain(&got, Duration::from_secs(20), Duration::from_secs(3));
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let body = &deliveries[0].1;
    assert_eq!(body["event"], "state:sale");
    assert_eq!(body["records"][0]["id"], order);
    assert_eq!(
        body["records"][0]["state"], "sale",
        "the committed state, read after Odoo's commit"
    );
    drop(served);
}

#[test]
fn changes_made_while_the_gateway_is_stopped_are_delivered_by_the_poller_and_invented_by_nothing_else() {
    let odoo = Odoo::start();
    let store = TempStore::new();
    let (polled_url, polled) = receiver();
    let (plain_url, plain) = receiver();
    let with_poll = webhook(&store, &odoo, &format!("{polled_url}/in"), "id,name,email");
    let without = webhook(&store, &odoo, &format!("{plain_url}/in"), "id,name,email");
    let served = serve(&store.spec, &[]);
    let public = served.base_url.clone();
    for (id, poll) in [(&with_poll, true), (&without, false)] {
        let mut cmd = rule(
            &store,
            &[
                "add",
                id,
                "--model",
                "res.partner",
                "--on",
                "create_or_write",
                "--install-module",
            ],
        );
        cmd.args(["--public-url", &public, "--json"]);
        if poll {
            cmd.args(["--poll", "5s"]);
        }
        json(cmd);
    }
    drop(served);

    // The gateway is down: Odoo's posts are refused and lost; 100 partners created, every other one changed.
    const RECORDS: usize = 100;
    let mut expected = HashMap::new();
    for n in 0..RECORDS {
        let email = format!("p{n}@poll.example");
        let id = odoo
            .rpc(
                "res.partner",
                "create",
                json!([{"name": format!("POLL {n}"), "email": email}]),
            )
            .as_i64()
            .unwrap();
        expected.insert(id, email);
    }
    for (n, (id, email)) in expected.iter_mut().enumerate() {
        if n % 2 == 0 {
            *email = format!("changed{id}@poll.example");
            odoo.rpc("res.partner", "write", json!([[*id], {"email": email.clone()}]));
        }
    }
    let failed = odoo.native_posts();
    assert!(failed >= 2 * RECORDS, "{failed} posts tried");

    let served = serve(&store.spec, &[]);
    let mut seen: HashMap<i64, Vec<String>> = HashMap::new();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while expected
        .iter()
        .any(|(id, email)| !seen.get(id).is_some_and(|s| s.contains(email)))
        && std::time::Instant::now() < until
    {
        if let Ok((_, body)) = polled.recv_timeout(Duration::from_millis(200)) {
            let record = &body["records"][0];
            seen.entry(record["id"].as_i64().unwrap())
                .or_default()
                .push(record["email"].as_str().unwrap().to_owned());
        }
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|(id, email)| !seen.get(*id).is_some_and(|s| s.contains(email)))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let extra = drain(&polled, Duration::from_secs(2), Duration::from_secs(1)).len();
    let duplicates = seen.values().map(|s| s.len() - 1).sum::<usize>() + extra;
    println!("{RECORDS} records changed while stopped: all delivered by the poller, {duplicates} duplicates");
    assert!(
        drain(&plain, Duration::from_secs(1), Duration::from_millis(200)).is_empty(),
        "without --poll nothing is invented"
    );
    drop(served);
}
