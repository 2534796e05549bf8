//! Conformance of the simulator's native webhook POSTs with the captures, continued: timeouts and receiver
//! failures, batch writes, unreachable targets, actions run over RPC, retried transactions and deletions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::native::*;
use common::receiver::Mode;
use odoo_sim::{Fault, FaultPlan, FaultTimes};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_receiver_costs_the_user_one_second_as_capture_08() {
    let (o, rx) = started().await;
    partner_capture_rule(&o, &rx, "[('name', '=like', 'WHCAP%')]").await;
    o.ok(
        "res.partner",
        "create",
        json!([{"name": "WHCAP Alice", "email": "alice@example.com"}]),
        json!({}),
    )
    .await;
    rx.clear();
    rx.set_mode(Mode {
        delay: Duration::from_secs(3),
        ..Mode::default()
    });
    let started = Instant::now();
    o.ok(
        "res.partner",
        "write",
        json!([[44], {"email": "slow@example.com"}]),
        json!({}),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(990) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    assert_conforms(&rx.requests()[0], &rx, &capture("08-slow-receiver-3s"), &[]);
    let last = o.sim.sim.webhook_calls().pop().unwrap();
    assert_eq!(last.status, None);
    assert!(
        last.warning
            .unwrap()
            .starts_with("Webhook call timed out after 1s - it may or may not have failed.")
    );
    let r = o
        .ok("res.partner", "read", json!([[44], ["email"]]), json!({}))
        .await;
    assert_eq!(r[0]["email"], "slow@example.com", "the write committed anyway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linked_action_is_renamed_and_batch_writes_post_per_record_as_capture_09() {
    let (o, rx) = started().await;
    let action = rule(
        &o,
        "res.partner",
        "WHUI first name",
        "http://127.0.0.1:9/",
        &["name", "email"],
        json!({"trigger": "on_create_or_write"}),
        &["name"],
        "[('name', '=like', 'WHUI%')]",
    )
    .await;
    o.ok(
        "ir.actions.server",
        "write",
        json!([[action], {"webhook_url": format!("{}/odoo/ui", rx.url)}]),
        json!({}),
    )
    .await;
    let a = o
        .ok(
            "res.partner",
            "create",
            json!([[{"name": "WHUI one"}, {"name": "WHUI two"}]]),
            json!({}),
        )
        .await;
    let ids: Vec<i64> = serde_json::from_value(a).unwrap();
    rx.clear();
    o.ok(
        "res.partner",
        "write",
        json!([ids, {"name": "WHUI renamed"}]),
        json!({}),
    )
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 2, "one POST per record");
    let subs = |id: i64| {
        [
            ("(#403)", format!("(#{action})")),
            ("\"_id\": 52", format!("\"_id\": {id}")),
            ("\"id\": 52", format!("\"id\": {id}")),
        ]
    };
    for (g, id) in got.iter().zip(&ids) {
        assert_conforms(g, &rx, &capture("09-ui-style-action-name"), &subs(*id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receiver_errors_are_only_warnings_as_capture_10() {
    let (o, rx) = started().await;
    partner_capture_rule(&o, &rx, "[('name', '=like', 'WHCAP%')]").await;
    let url = format!("{}/odoo/res.partner?src=odoo-native", rx.url);
    o.ok(
        "res.partner",
        "create",
        json!([{"name": "WHCAP Alice", "email": "alice@example.com"}]),
        json!({}),
    )
    .await;
    rx.clear();
    rx.set_mode(Mode {
        status: 500,
        ..Mode::default()
    });
    o.ok(
        "res.partner",
        "write",
        json!([[44], {"email": "e500@example.com"}]),
        json!({}),
    )
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 1, "no retry");
    assert_conforms(&got[0], &rx, &capture("10-receiver-answers-500"), &[]);
    let last = o.sim.sim.webhook_calls().pop().unwrap();
    assert_eq!(last.status, Some(500));
    assert_eq!(
        last.warning.unwrap(),
        format!("Webhook call failed: 500 Server Error: Internal Server Error for url: {url}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_or_foreign_targets_never_fail_the_call() {
    let (o, _rx) = started().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (url, warning) in [
        (format!("http://127.0.0.1:{closed}/down"), "Connection refused".to_owned()),
        ("not a url".to_owned(), "Webhook call failed: Invalid URL 'not a url': No scheme supplied. Perhaps you meant https://not a url?".to_owned()),
        ("http://10.255.255.1:81/blackhole".to_owned(), "is not a loopback address".to_owned()),
    ] {
        let o2 = &o;
        let action = rule(o2, "res.partner", "WHDOWN", &url, &["name"], json!({"trigger": "on_create"}), &[], "").await;
        let id = o.ok("res.partner", "create", json!([{"name": "WHDOWN x"}]), json!({})).await;
        assert!(id.is_i64(), "the user's create succeeds");
        let last = o.sim.sim.webhook_calls().pop().unwrap();
        assert_eq!(last.url, url);
        assert_eq!(last.status, None);
        // Failing fast: nothing waited for the 1 s timeout.
        assert!(last.elapsed_ms < 900, "{url}: {last:?}");
        assert!(last.warning.as_deref().unwrap_or_default().contains(&warning), "{url}: {last:?}");
        o.ok("ir.actions.server", "write", json!([[action], {"webhook_url": false}]), json!({})).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_action_run_over_rpc_posts_for_the_active_records() {
    let (o, rx) = started().await;
    let mid = model_id(&o, "res.partner").await;
    let payload = fields(&o, "res.partner", &["name"]).await;
    let action = o
        .ok(
            "ir.actions.server",
            "create",
            json!([{"name": "WHRUN", "state": "webhook", "model_id": mid,
                    "webhook_url": format!("{}/odoo/run", rx.url), "webhook_field_ids": [[6, 0, payload]]}]),
            json!({}),
        )
        .await;
    let r = o
        .ok(
            "ir.actions.server",
            "run",
            json!([[action]]),
            json!({"context": {"active_model": "res.partner", "active_ids": [15, 3]}}),
        )
        .await;
    assert_eq!(r, json!(false));
    let bodies: Vec<String> = rx.requests().into_iter().map(|c| c.body).collect();
    assert_eq!(
        bodies,
        [
            "{\"_action\": \"WHRUN(#395)\", \"_id\": 15, \"_model\": \"res.partner\", \"id\": 15, \"name\": \"Azure Interior\"}",
            "{\"_action\": \"WHRUN(#395)\", \"_id\": 3, \"_model\": \"res.partner\", \"id\": 3, \"name\": \"Mitchell Admin\"}",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_retries_rerun_the_call_and_resend_its_webhooks() {
    let (o, rx) = started().await;
    partner_capture_rule(&o, &rx, "[('name', '=like', 'WHCAP%')]").await;
    let retries = |n| FaultPlan {
        fault: Fault::ConcurrencyRetries(n),
        times: FaultTimes::Next(1),
    };
    o.sim.sim.inject_fault(retries(2));
    let id = o
        .ok(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Retry"}]),
            json!({}),
        )
        .await;
    assert_eq!(id, 46, "each try consumed an id");
    let ids: Vec<String> = rx
        .requests()
        .iter()
        .map(|c| c.body[c.body.find("\"_id\"").unwrap()..][..10].to_owned())
        .collect();
    assert_eq!(
        ids,
        ["\"_id\": 44,", "\"_id\": 45,", "\"_id\": 46,"],
        "two phantom events, then the real one"
    );
    assert_eq!(
        o.ok(
            "res.partner",
            "search",
            json!([[["name", "=", "WHCAP Retry"]]]),
            json!({})
        )
        .await,
        json!([46])
    );

    rx.clear();
    o.sim.sim.inject_fault(retries(9));
    let (name, _) = o
        .err(
            "res.partner",
            "create",
            json!([{"name": "WHCAP Never"}]),
            json!({}),
        )
        .await;
    assert_eq!(name, "psycopg2.errors.SerializationFailure");
    assert_eq!(rx.requests().len(), 5, "Odoo gives up after 5 tries");
    assert_eq!(
        o.ok(
            "res.partner",
            "search",
            json!([[["name", "=", "WHCAP Never"]]]),
            json!({})
        )
        .await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletion_rules_post_before_the_record_goes() {
    let (o, rx) = started().await;
    rule(
        &o,
        "res.partner",
        "WHDEL",
        &format!("{}/odoo/unlink", rx.url),
        &["name"],
        json!({"trigger": "on_unlink"}),
        &[],
        "[('name', '=like', 'WHDEL%')]",
    )
    .await;
    let id = o
        .ok("res.partner", "create", json!([{"name": "WHDEL Ivy"}]), json!({}))
        .await
        .as_i64()
        .unwrap();
    assert!(rx.requests().is_empty());
    o.ok("res.partner", "unlink", json!([[id]]), json!({})).await;
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body,
        format!(
            "{{\"_action\": \"WHDEL(#395)\", \"_id\": {id}, \"_model\": \"res.partner\", \"id\": {id}, \"name\": \"WHDEL Ivy\"}}"
        )
    );
    assert_eq!(
        o.ok("res.partner", "search", json!([[["id", "=", id]]]), json!({}))
            .await,
        json!([])
    );
}
