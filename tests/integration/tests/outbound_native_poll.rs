//! The native triggers' poller backstop over real HTTP: changes made in the simulator while no post arrived
//! are found by `write_date` and delivered once, and a quiet poll costs one Odoo call.
#![allow(clippy::unwrap_used)]

mod common;

use bitconn::config::{PollCursor, PollSettings, TriggerOn};
use bitconn::outbound::poll::Poller;
use bitconn::store::ConfigStore;
use common::native::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn with_polling_every_change_made_while_no_post_arrived_is_delivered_and_none_without() {
    let setup = Setup::start().await;
    let polled = Receiver::start().await;
    let unpolled = Receiver::start().await;
    let hook = setup
        .hook_with(&polled, TriggerOn::CreateOrWrite, 1000, |t| {
            t.poll = Some(PollSettings {
                every_seconds: 60,
                cursor: PollCursor::default(),
            });
        })
        .await;
    setup.hook(&unpolled, TriggerOn::CreateOrWrite, 1000).await;
    let poller = Poller::new(setup.store.clone(), setup.queue.clone(), setup.gateway.clone());
    // The first poll only sets the cursor: records from before the rule are not sent.
    let first = poller.tick().await.unwrap();
    assert_eq!((first.len(), first[0].queued), (1, 0), "{first:?}");

    // No post reaches the gateway (it was down, or Odoo gave up): 100 records created, half changed again.
    let mut ids = Vec::new();
    for n in 0..100 {
        let id = setup
            .rpc(
                "res.partner",
                "create",
                json!([{"name": format!("WHPOLL {n}"), "email": format!("p{n}@example.com")}]),
            )
            .await
            .as_i64()
            .unwrap();
        ids.push(id);
    }
    for id in ids.iter().step_by(2) {
        setup
            .rpc(
                "res.partner",
                "write",
                json!([[id], {"email": format!("changed{id}@example.com")}]),
            )
            .await;
    }
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let report = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!(report.queued, 100, "{report:?}");
    assert!(report.calls <= 4, "{} Odoo calls for one poll", report.calls);
    let got = polled.wait_for(100, Duration::from_secs(30)).await;
    let mut delivered = std::collections::BTreeMap::new();
    for g in &got {
        let record = g.json()["records"][0].clone();
        delivered.insert(
            record["id"].as_i64().unwrap(),
            record["email"].as_str().unwrap().to_owned(),
        );
    }
    for (n, id) in ids.iter().enumerate() {
        let expected = if n % 2 == 0 {
            format!("changed{id}@example.com")
        } else {
            format!("p{n}@example.com")
        };
        assert_eq!(delivered.get(id), Some(&expected), "record {id}");
    }
    // Polled again over the same changes (the overlap): every version was delivered, nothing is queued.
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let again = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!(again.queued, 0, "{again:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let duplicates = polled.got().len() - 100;
    println!(
        "poll: {} deliveries for 100 changed records ({duplicates} duplicates), {} Odoo calls for that poll, \
         {} for the next one over the same records",
        polled.got().len(),
        report.calls,
        again.calls
    );
    assert_eq!(duplicates, 0);
    assert!(
        unpolled.got().is_empty(),
        "a webhook without polling invents nothing"
    );
    // A poll that is not yet due is not run again.
    assert!(poller.tick().await.unwrap().is_empty());
}

/// p50 and p99 of `samples`.

#[tokio::test]
async fn a_poll_with_nothing_changed_costs_one_odoo_call() {
    let setup = Setup::start().await;
    let receiver = Receiver::start().await;
    let hook = setup
        .hook_with(&receiver, TriggerOn::Write, 1000, |t| {
            t.poll = Some(PollSettings {
                every_seconds: 60,
                cursor: PollCursor::default(),
            });
        })
        .await;
    let poller = Poller::new(setup.store.clone(), setup.queue.clone(), setup.gateway.clone());
    poller.tick().await.unwrap();
    let config = setup.store.get(&hook.config.id).await.unwrap().unwrap();
    let quiet = poller.poll(&config, &config.triggers[0].id).await.unwrap();
    assert_eq!((quiet.seen, quiet.queued, quiet.calls), (0, 0, 1), "{quiet:?}");
}
