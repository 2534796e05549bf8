//! The AWS path of outbound deliveries: the trigger as the `trigger` function runs it (the committed API
//! Gateway fixture through `bitconn_lambda::handle`) queues on SQS (moto); SQS event batches built from the
//! committed fixture and the real queued messages go through the `dispatch` function's handler to a receiver on
//! port 0; partial batch failures, retries by visibility, the dead-letter queue and FIFO order are checked on
//! the queues themselves.
#![allow(clippy::unwrap_used)]

mod storage;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::MessageSystemAttributeName as Attr;
use axum::http::{HeaderMap, StatusCode};
use bitconn::config::{
    ModelAccess, NewWebhook, OdooConnection, OutboundTarget, Permissions, RetrySchedule, WebhookConfig,
};
use bitconn::execution_log::MemoryExecutionLog;
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::outbound::deliveries::MemoryDeliveryLog;
use bitconn::outbound::queue::{Queue, SqsQueue};
use bitconn::outbound::{DispatchSettings, Dispatcher};
use bitconn::secret::SecretHash;
use bitconn::store::{ConfigStore, MemoryConfigStore};
use bitconn_lambda::{DispatchHost, LambdaGateway};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use storage::Moto;
use storage::sqs::sqs_queue;

const FIXTURE_ID: &str = "6f1c2a4e-8b3d-4c5e-9a7f-0d1e2f3a4b5c";
const FIXTURE_SECRET: &str = "bcw_fixture-secret-do-not-use-outside-tests-000";
/// Visibility of the messages this test receives itself, standing in for the queue's visibility timeout.
const EVENT_SOURCE_VISIBILITY: i32 = 4;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/lambda")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// A receiver answering the scripted statuses in order (200 once they run out), recording `webhook-id`s.
struct Receiver {
    url: String,
    answers: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(answers: &[u16]) -> Self {
        let queue = Arc::new(Mutex::new(answers.iter().copied().collect::<VecDeque<_>>()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (q, g) = (queue.clone(), got.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let (q, g) = (q.clone(), g.clone());
            async move {
                g.lock().unwrap().push(headers);
                StatusCode::from_u16(q.lock().unwrap().pop_front().unwrap_or(200)).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            answers: queue,
            got,
            task,
        }
    }

    fn ids(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|h| h["webhook-id"].to_str().unwrap().to_owned())
            .collect()
    }
}

struct Setup {
    _sim: odoo_sim::RunningSim,
    trigger: LambdaGateway,
    host: DispatchHost,
    queue: Arc<SqsQueue>,
    sqs: aws_sdk_sqs::Client,
}

/// The fixture webhook (as the sim's admin) delivering to `receiver`, retrying after 1 s, `attempts` in all.
async fn setup(receiver: &Receiver, attempts: usize, ordered: bool) -> Setup {
    let sim = odoo_sim::start(odoo_sim::SimConfig::default()).await.unwrap();
    let new = NewWebhook {
        name: "outbound".into(),
        odoo: OdooConnection {
            url: sim.url.clone(),
            db: odoo_sim::DEFAULT_DB.into(),
            login: "admin".into(),
            api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.into(),
        },
        models: ModelAccess::All,
        permissions: Permissions::default(),
    };
    let (mut config, _) = WebhookConfig::create(new, time::OffsetDateTime::now_utc());
    config.id = FIXTURE_ID.parse().unwrap();
    config.secret.current = SecretHash::of(FIXTURE_SECRET);
    let mut target = OutboundTarget::new(receiver.url.clone());
    target.allow_cidrs = vec!["127.0.0.0/8".into()];
    target.retry = RetrySchedule(vec![1; attempts - 1]);
    target.ordered = ordered;
    config.outbound = Some(target);
    let store = Arc::new(MemoryConfigStore::new());
    store.create(&config).await.unwrap();
    let queue = Arc::new(sqs_queue().await);
    let idempotency = Arc::new(bitconn::idempotency::MemoryIdempotencyStore::new());
    let log = Arc::new(MemoryExecutionLog::new());
    let trigger = LambdaGateway::new(
        store.clone(),
        log.clone(),
        idempotency.clone(),
        GatewaySettings::default(),
    )
    .with_queue(queue.clone());
    let gateway = Arc::new(Gateway::new(
        store.clone(),
        log,
        idempotency,
        GatewaySettings::default(),
    ));
    let dispatcher = Dispatcher::new(
        store,
        queue.clone(),
        Arc::new(MemoryDeliveryLog::new()),
        gateway,
        DispatchSettings::default(),
    );
    Setup {
        _sim: sim,
        trigger,
        host: DispatchHost {
            dispatcher,
            queue: queue.clone(),
        },
        queue,
        sqs: aws_sdk_sqs::Client::new(&Moto::shared().sdk_config().await),
    }
}

impl Setup {
    /// The trigger fixture, as the `trigger` function handles it; returns the event id.
    async fn trigger(&self) -> String {
        let request = lambda_http::request::from_str(&fixture("apigw-v2-outbound-trigger.json")).unwrap();
        let response = bitconn_lambda::handle(&self.trigger, request).await.unwrap();
        assert_eq!(response.status(), 202);
        let lambda_http::Body::Text(text) = response.body() else {
            panic!("no body")
        };
        serde_json::from_str::<Value>(text).unwrap()["event_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn url(&self, fifo: bool) -> String {
        let spec = self.queue.spec();
        if fifo {
            spec.fifo.clone().unwrap()
        } else {
            spec.standard.clone()
        }
    }

    /// What the event source does: receive (up to 10) and hand the records over as an SQS event.
    async fn event(&self, fifo: bool) -> SqsEvent {
        let url = self.url(fifo);
        let received = self
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(EVENT_SOURCE_VISIBILITY)
            .message_system_attribute_names(Attr::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let mut event: Value = serde_json::from_str(&fixture("sqs-dispatch.json")).unwrap();
        let template = event["Records"][0].clone();
        let records: Vec<Value> = received
            .messages()
            .iter()
            .map(|m| {
                let mut record = template.clone();
                record["messageId"] = json!(m.message_id().unwrap());
                record["receiptHandle"] = json!(m.receipt_handle().unwrap());
                record["body"] = json!(m.body().unwrap());
                record["eventSourceARN"] = json!(format!(
                    "arn:aws:sqs:us-east-1:123456789012:{}",
                    bitconn::outbound::queue::queue_name(&url)
                ));
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                    .collect();
                record["attributes"] = Value::Object(attributes);
                record
            })
            .collect();
        event["Records"] = json!(records);
        serde_json::from_value(event).unwrap()
    }

    async fn dispatch(&self, event: SqsEvent) -> Vec<String> {
        let deadline = SystemTime::now() + Duration::from_secs(60);
        bitconn_lambda::handle_sqs_event(&self.host, event, Some(deadline))
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    async fn visible(&self, fifo: bool) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.url(fifo))
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let count = |name| attributes.attributes().unwrap()[&name].parse::<usize>().unwrap();
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }
}

fn ids(event: &SqsEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.message_id.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn a_triggered_job_is_delivered_from_an_sqs_batch_and_deleted() {
    let receiver = Receiver::start(&[]).await;
    let setup = setup(&receiver, 3, false).await;
    let event_id = setup.trigger().await;
    let event = setup.event(false).await;
    assert_eq!(event.records.len(), 1);
    assert!(
        setup.dispatch(event).await.is_empty(),
        "nothing left for Lambda to keep"
    );
    assert_eq!(receiver.ids(), [event_id]);
    assert_eq!(setup.visible(false).await, 0, "the delivered job is deleted");
}

#[tokio::test]
async fn a_failed_delivery_stays_on_the_queue_and_its_last_attempt_goes_to_the_dead_letter_queue() {
    let receiver = Receiver::start(&[500, 500]).await;
    let setup = setup(&receiver, 2, false).await;
    let event_id = setup.trigger().await;
    let first = setup.event(false).await;
    let expected = ids(&first);
    assert_eq!(
        setup.dispatch(first).await,
        expected,
        "a retried job is a batch item failure"
    );
    assert_eq!(setup.visible(false).await, 1);
    assert!(
        setup.event(false).await.records.is_empty(),
        "hidden until the retry is due"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = setup.event(false).await;
    assert_eq!(second.records[0].attributes["ApproximateReceiveCount"], "2");
    assert!(
        setup.dispatch(second).await.is_empty(),
        "a dead job left the queue"
    );
    assert_eq!(setup.visible(false).await, 0);
    let dead = setup.queue.dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].job.event_id(), dead[0].attempts, dead[0].reason.as_str()),
        (event_id.as_str(), 2, "HTTP 500 on the last attempt")
    );
    assert_eq!(receiver.answers.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn an_ordered_webhook_goes_through_the_fifo_queue_and_a_failed_head_holds_its_group_in_a_batch() {
    let receiver = Receiver::start(&[500]).await;
    let setup = setup(&receiver, 3, true).await;
    let first = setup.trigger().await;
    let second = setup.trigger().await;
    assert_eq!(setup.visible(false).await, 0, "nothing on the standard queue");
    let batch = setup.event(true).await;
    assert_eq!(batch.records.len(), 2, "one batch holds both jobs of the group");
    let expected = ids(&batch);
    assert_eq!(
        setup.dispatch(batch).await,
        expected,
        "the failed head and the job behind it stay"
    );
    assert_eq!(
        receiver.ids(),
        std::slice::from_ref(&first),
        "the job behind a failed head is not sent"
    );
    // The head is due again after 1 s; the job behind it was handed back and waits for it.
    let mut delivered = Vec::new();
    for _ in 0..40 {
        let batch = setup.event(true).await;
        if !batch.records.is_empty() {
            assert!(setup.dispatch(batch).await.is_empty());
            delivered = receiver.ids();
            if delivered.len() == 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        delivered,
        [first.clone(), first, second],
        "in order, the head retried first"
    );
    assert_eq!(setup.visible(true).await, 0);
}

#[tokio::test]
async fn a_record_that_is_not_a_job_is_dead_lettered_not_retried() {
    let receiver = Receiver::start(&[]).await;
    let setup = setup(&receiver, 3, false).await;
    setup
        .sqs
        .send_message()
        .queue_url(setup.url(false))
        .message_body("{\"type\":\"unknown\"}")
        .send()
        .await
        .unwrap();
    let event = setup.event(false).await;
    assert!(setup.dispatch(event).await.is_empty());
    assert_eq!(setup.visible(false).await, 0);
    assert!(receiver.ids().is_empty());
    let dead = setup
        .sqs
        .receive_message()
        .queue_url(&setup.queue.spec().dlq)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let reason = dead.messages()[0].message_attributes().unwrap()["dead_reason"]
        .string_value()
        .unwrap()
        .to_owned();
    assert!(reason.starts_with("undecodable"), "{reason}");
}

#[tokio::test]
async fn a_batch_reports_only_the_jobs_that_stay_on_the_queue() {
    let receiver = Receiver::start(&[500]).await;
    let setup = setup(&receiver, 3, false).await;
    let mut triggered = vec![setup.trigger().await, setup.trigger().await];
    let batch = setup.event(false).await;
    assert_eq!(batch.records.len(), 2);
    let failed = setup.dispatch(batch).await;
    assert_eq!(failed.len(), 1, "the delivered one is not reported: {failed:?}");
    assert_eq!(setup.visible(false).await, 1, "only the failed one is left");
    let mut sent = receiver.ids();
    sent.sort();
    triggered.sort();
    assert_eq!(sent, triggered, "both were sent once");
}
