//! The dispatch function's handler: SQS event records become leased jobs, the dispatcher delivers and settles
//! them through the SQS queue, and whatever stays on the queue is reported back as a partial batch failure.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bitconn::outbound::Dispatcher;
use bitconn::outbound::queue::{Accepted, SqsQueue, SqsRecord, queue_name};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Lease assumed when the invocation carries no deadline (tests): the dispatcher's own default.
const DEFAULT_LEASE: Duration = bitconn::outbound::dispatch::DEFAULT_LEASE;

/// What the dispatch function holds across invocations.
pub struct DispatchHost {
    pub dispatcher: Dispatcher,
    pub queue: Arc<SqsQueue>,
}

/// One SQS event record as the queue adapter reads it.
pub fn record(message: &SqsMessage) -> SqsRecord {
    let attribute = |name: &str| message.attributes.get(name);
    SqsRecord {
        queue_name: queue_name(message.event_source_arn.as_deref().unwrap_or_default()).to_owned(),
        message_id: message.message_id.clone().unwrap_or_default(),
        receipt_handle: message.receipt_handle.clone().unwrap_or_default(),
        body: message.body.clone().unwrap_or_default(),
        receive_count: attribute("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        first_receive_ms: attribute("ApproximateFirstReceiveTimestamp").and_then(|t| t.parse().ok()),
        group: attribute("MessageGroupId").cloned(),
        not_before_ms: message
            .message_attributes
            .get(bitconn::outbound::queue::NOT_BEFORE_ATTRIBUTE)
            .and_then(|a| a.string_value.as_deref())
            .and_then(|t| t.parse().ok()),
    }
}

/// Handles one batch. Every record is accepted (leased to this invocation until `deadline`), delivered and
/// settled; a record whose job was retried (its visibility moved), deferred, or not settled is a batch item
/// failure, so Lambda leaves it on the queue. Records of one FIFO message group go one after the other, and
/// once one stays on the queue the rest of its group are not processed but handed back (visible again, so
/// the group waits only for its head) and reported too: the order is kept.
pub async fn handle_sqs_event(
    host: &DispatchHost,
    event: SqsEvent,
    deadline: Option<SystemTime>,
) -> SqsBatchResponse {
    let lease = deadline
        .and_then(|d| d.duration_since(SystemTime::now()).ok())
        .unwrap_or(DEFAULT_LEASE);
    let mut groups: BTreeMap<String, Vec<&SqsMessage>> = BTreeMap::new();
    let mut unordered = Vec::new();
    for message in &event.records {
        match message.attributes.get("MessageGroupId") {
            Some(group) => groups.entry(group.clone()).or_default().push(message),
            None => unordered.push(message),
        }
    }
    let ordered = futures_util::future::join_all(groups.into_values().map(|messages| async move {
        let mut left = Vec::new();
        for message in messages {
            if left.is_empty() {
                if !settle(host, message, lease).await {
                    left.push(message);
                }
                continue;
            }
            if let Err(error) = host.queue.hand_back(&record(message)).await {
                tracing::warn!(%error, "a job behind a waiting head stays hidden until its visibility ends");
            }
            left.push(message);
        }
        left
    }));
    let (unordered, ordered) = futures_util::join!(settle_together(host, &unordered, lease), ordered);
    let failed: Vec<String> = unordered
        .into_iter()
        .chain(ordered.into_iter().flatten())
        .map(|m| m.message_id.clone().unwrap_or_default())
        .collect();
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Unordered records go to the dispatcher as one batch (it may read the records of one model together);
/// returns those that stay on the queue.
async fn settle_together<'a>(
    host: &DispatchHost,
    messages: &[&'a SqsMessage],
    lease: Duration,
) -> Vec<&'a SqsMessage> {
    let accepted =
        futures_util::future::join_all(messages.iter().map(|m| host.queue.accept(record(m), lease))).await;
    let mut left = Vec::new();
    let (mut jobs, mut leased) = (Vec::new(), Vec::new());
    for (message, accepted) in messages.iter().zip(accepted) {
        match accepted {
            Ok(Accepted::Job(received)) => {
                jobs.push(*received);
                leased.push(*message);
            }
            Ok(Accepted::Discarded) => {}
            Ok(Accepted::Deferred) => left.push(*message),
            Err(error) => {
                tracing::warn!(message = message.message_id.as_deref().unwrap_or(""), %error, "cannot read a queued job");
                left.push(*message);
            }
        }
    }
    let done = host.dispatcher.process_received(jobs).await;
    left.extend(
        leased
            .into_iter()
            .zip(done)
            .filter(|(_, done)| !done)
            .map(|(m, _)| m),
    );
    left
}

/// Whether the record left the queue.
async fn settle(host: &DispatchHost, message: &SqsMessage, lease: Duration) -> bool {
    match host.queue.accept(record(message), lease).await {
        Ok(Accepted::Job(received)) => host
            .dispatcher
            .process_received(vec![*received])
            .await
            .first()
            .copied()
            .unwrap_or(false),
        Ok(Accepted::Discarded) => true,
        Ok(Accepted::Deferred) => false,
        Err(error) => {
            tracing::warn!(message = message.message_id.as_deref().unwrap_or(""), %error, "cannot read a queued job");
            false
        }
    }
}

/// Serves SQS events with `host` until the runtime stops the process.
pub async fn run_dispatch(host: DispatchHost) -> Result<(), lambda_runtime::Error> {
    let host = Arc::new(host);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let host = Arc::clone(&host);
            async move {
                let deadline =
                    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(event.context.deadline));
                let span = tracing::info_span!("batch", request_id = %event.context.request_id);
                let records = event.payload.records.len();
                let response = tracing::Instrument::instrument(
                    handle_sqs_event(&host, event.payload, deadline),
                    span.clone(),
                )
                .await;
                span.in_scope(|| {
                    tracing::info!(records, left = response.batch_item_failures.len(), "dispatched");
                });
                Ok::<_, Infallible>(response)
            }
        },
    ))
    .await
}
