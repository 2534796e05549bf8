//! SQS on moto for the queue tests: a standard and a FIFO queue, each with a dead-letter queue and a redrive
//! policy, and the dedup table, as the SAM template deploys them.
#![allow(dead_code, clippy::unwrap_used)]

use bitconn::outbound::queue::{SqsQueue, SqsSpec};

use super::{Moto, unique_table};

/// `maxReceiveCount` of the test queues' redrive policy.
pub const MAX_RECEIVES: u32 = 3;

/// A queue (standard or FIFO) with its dead-letter queue and a redrive policy; returns both URLs.
pub async fn create_queue_pair(sqs: &aws_sdk_sqs::Client, name: &str, fifo: bool) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let suffix = if fifo { ".fifo" } else { "" };
    let mut dlq = sqs.create_queue().queue_name(format!("{name}-dlq{suffix}"));
    let mut queue = sqs.create_queue().queue_name(format!("{name}{suffix}"));
    if fifo {
        dlq = dlq.attributes(A::FifoQueue, "true");
        queue = queue.attributes(A::FifoQueue, "true");
    }
    let dlq_url = dlq.send().await.unwrap().queue_url().unwrap().to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&A::QueueArn]
        .clone();
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}).to_string();
    let url = queue
        .attributes(A::RedrivePolicy, policy)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    (url, dlq_url)
}

/// The deployment's shape on moto: a standard and a FIFO queue, their dead-letter queues, the dedup table.
pub async fn sqs_queue() -> SqsQueue {
    let sdk = Moto::shared().sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = unique_table("q");
    let (standard, dlq) = create_queue_pair(&sqs, &name, false).await;
    let (fifo, fifo_dlq) = create_queue_pair(&sqs, &name, true).await;
    let table = unique_table("dedup");
    bitconn::idempotency::create_idempotency_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    SqsQueue::from_sdk_config(
        &sdk,
        SqsSpec {
            standard,
            dlq,
            fifo: Some(fifo),
            fifo_dlq: Some(fifo_dlq),
            dedup_table: table,
        },
    )
}
