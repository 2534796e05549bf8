//! The dispatcher reads one batch of jobs from Odoo in as few calls as it can: jobs for the same webhook, model
//! and field spec share one read (the simulator's call log counts them), and each job still sends only its own
//! records, in the order it asked, ending as it would alone (delivered, skipped, retried).
#![allow(clippy::unwrap_used)]

use axum::body::Bytes;
use axum::http::HeaderMap;
use bitconn::config::{
    ModelAccess, NewWebhook, OdooConnection, OutboundTarget, PayloadSpec, Permissions, RetrySchedule,
    WebhookConfig,
};
use bitconn::execution_log::MemoryExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::outbound::deliveries::{AttemptOutcome, DeliveryLog, MemoryDeliveryLog};
use bitconn::outbound::queue::{Job, Queue, SqliteQueue};
use bitconn::outbound::{DispatchSettings, Dispatcher};
use bitconn::store::{ConfigStore, MemoryConfigStore, SqliteLocation};
use odoo_sim::{Fault, FaultPlan, FaultTimes};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A receiver answering 200 that keeps each body by `webhook-id`.
struct Receiver {
    url: String,
    got: Arc<Mutex<HashMap<String, Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let shared = got.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let got = shared.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                got.lock()
                    .unwrap()
                    .insert(id, serde_json::from_slice(&body).unwrap());
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, got, task }
    }

    fn body(&self, event_id: &str) -> Option<Value> {
        self.got.lock().unwrap().get(event_id).cloned()
    }
}

struct Setup {
    sim: odoo_sim::RunningSim,
    store: Arc<MemoryConfigStore>,
    queue: Arc<SqliteQueue>,
    deliveries: Arc<MemoryDeliveryLog>,
    dispatcher: Dispatcher,
    receiver: Receiver,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Self {
        let sim = odoo_sim::start(odoo_sim::SimConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryConfigStore::new());
        let queue = Arc::new(
            SqliteQueue::open(&SqliteLocation::File(dir.path().join("outbound.db")))
                .await
                .unwrap(),
        );
        let deliveries = Arc::new(MemoryDeliveryLog::new());
        let gateway = Arc::new(Gateway::new(
            store.clone(),
            Arc::new(MemoryExecutionLog::new()),
            Arc::new(bitconn::idempotency::MemoryIdempotencyStore::new()),
            GatewaySettings::default(),
        ));
        let dispatcher = Dispatcher::new(
            store.clone(),
            queue.clone(),
            deliveries.clone(),
            gateway,
            DispatchSettings::default(),
        );
        Self {
            sim,
            store,
            queue,
            deliveries,
            dispatcher,
            receiver: Receiver::start().await,
            _dir: dir,
        }
    }

    /// A webhook as the sim's admin sending `fields` to the receiver, retrying at once.
    async fn hook(&self, fields: &[&str]) -> WebhookConfig {
        let new = NewWebhook {
            name: "batching".into(),
            odoo: OdooConnection {
                url: self.sim.url.clone(),
                db: odoo_sim::DEFAULT_DB.into(),
                login: "admin".into(),
                api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
            },
            models: ModelAccess::All,
            permissions: Permissions::default(),
        };
        let (mut config, _) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
        let mut target = OutboundTarget::new(self.receiver.url.clone());
        target.allow_cidrs = vec!["127.0.0.0/8".into()];
        target.retry = RetrySchedule(vec![0, 0, 0]);
        target.payload = PayloadSpec::Fields {
            fields: fields.iter().map(|f| json!(f)).collect(),
        };
        config.outbound = Some(target);
        self.store.create(&config).await.unwrap();
        config
    }

    async fn queue_job(&self, event_id: &str, hook: &WebhookConfig, model: &str, ids: &[i64]) {
        let job = Job::Deliver {
            event_id: event_id.into(),
            webhook_id: hook.id,
            model: model.parse().unwrap(),
            ids: ids.to_vec(),
            event: None,
            extra: None,
        };
        assert!(
            self.queue
                .enqueue(event_id, &job, SystemTime::now())
                .await
                .unwrap()
        );
    }

    /// Record reads the simulator answered since the last clear, per model.
    fn reads(&self) -> HashMap<String, usize> {
        let mut reads = HashMap::new();
        for call in self.sim.sim.calls() {
            if let (Some(model), Some("read" | "web_read")) = (call.model, call.model_method.as_deref()) {
                *reads.entry(model).or_default() += 1;
            }
        }
        reads
    }

    async fn outcome(&self, event_id: &str) -> Vec<AttemptOutcome> {
        let mut attempts: Vec<_> = self
            .deliveries
            .list(None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.event_id == event_id)
            .collect();
        attempts.reverse();
        attempts.into_iter().map(|a| a.outcome).collect()
    }
}

fn names(body: &Value) -> Vec<String> {
    body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn jobs_of_one_webhook_model_and_spec_are_read_in_one_odoo_call_and_split_back() {
    let setup = Setup::start().await;
    let names_only = setup.hook(&["name"]).await;
    let with_email = setup.hook(&["name", "email"]).await;
    setup.queue_job("evt_3", &names_only, "res.partner", &[3]).await;
    setup
        .queue_job("evt_7_3", &names_only, "res.partner", &[7, 3])
        .await;
    setup
        .queue_job("evt_gone", &names_only, "res.partner", &[999_999])
        .await;
    setup
        .queue_job("evt_gone_1", &names_only, "res.partner", &[999_998, 1])
        .await;
    setup
        .queue_job("evt_email", &with_email, "res.partner", &[3])
        .await;
    setup
        .queue_job("evt_order", &names_only, "sale.order", &[1])
        .await;
    setup.sim.sim.clear_calls();

    assert_eq!(setup.dispatcher.run_once().await.unwrap(), 6);

    let reads = setup.reads();
    assert_eq!(
        (reads.get("res.partner"), reads.get("sale.order")),
        (Some(&2), Some(&1)),
        "one read per (webhook, model, spec): {reads:?}"
    );
    let three = setup.receiver.body("evt_3").unwrap();
    assert_eq!(
        (three["count"].as_u64(), names(&three).len()),
        (Some(1), 1),
        "{three}"
    );
    let seven_three = setup.receiver.body("evt_7_3").unwrap();
    assert_eq!(names(&seven_three).len(), 2);
    assert_eq!(
        names(&seven_three)[1],
        names(&three)[0],
        "in the order asked: {seven_three}"
    );
    let one = setup.receiver.body("evt_gone_1").unwrap();
    assert_eq!(one["count"], 1, "only the record that exists: {one}");
    let email = setup.receiver.body("evt_email").unwrap();
    assert!(
        email["records"][0].get("email").is_some(),
        "its own spec: {email}"
    );
    assert!(three["records"][0].get("email").is_none(), "{three}");
    let order = setup.receiver.body("evt_order").unwrap();
    assert_eq!(order["model"], "sale.order");
    assert!(setup.receiver.body("evt_gone").is_none());
    assert_eq!(setup.outcome("evt_gone").await, [AttemptOutcome::Skipped]);
    for event in ["evt_3", "evt_7_3", "evt_gone_1", "evt_email", "evt_order"] {
        assert_eq!(setup.outcome(event).await, [AttemptOutcome::Delivered], "{event}");
    }
    assert_eq!(setup.queue.pending().await.unwrap(), 0, "every job settled");
}

#[tokio::test]
async fn a_grouped_read_odoo_refuses_is_read_again_job_by_job() {
    let setup = Setup::start().await;
    let hook = setup.hook(&["name"]).await;
    // A first delivery logs in and reads the field definitions, so the fault below hits record reads only.
    setup.queue_job("evt_warm", &hook, "res.partner", &[3]).await;
    setup.dispatcher.run_once().await.unwrap();
    for event in ["evt_a", "evt_b", "evt_c"] {
        setup.queue_job(event, &hook, "res.partner", &[3]).await;
    }
    setup.sim.sim.clear_calls();
    setup.sim.sim.inject_fault(FaultPlan {
        fault: Fault::OdooError {
            name: "odoo.exceptions.AccessError".into(),
            message: "not for you".into(),
        },
        times: FaultTimes::Next(2),
    });

    assert_eq!(setup.dispatcher.run_once().await.unwrap(), 3);

    assert_eq!(
        setup.reads().get("res.partner"),
        Some(&4),
        "the grouped read, then one per job"
    );
    let mut outcomes = Vec::new();
    for event in ["evt_a", "evt_b", "evt_c"] {
        outcomes.extend(setup.outcome(event).await);
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Delivered,
            AttemptOutcome::Delivered,
            AttemptOutcome::Retrying
        ],
        "only the job whose own read failed is retried"
    );
    assert_eq!(setup.queue.pending().await.unwrap(), 1);
}
