//! The dead-letter side of the SQS queue: listing the dead-letter queues' jobs, and removing one replayed.

use aws_sdk_sqs::types::MessageSystemAttributeName as Attr;
use std::collections::HashMap;

use super::{ATTEMPTS, DeadJob, Lane, QueueError, REASON, RECEIVE_BATCH, SqsQueue, sdk};

/// Most `ReceiveMessage` calls one `dead` listing makes per dead-letter queue.
const DEAD_LIST_CALLS: usize = 20;

impl SqsQueue {
    /// Lists `lane`'s dead-letter queue into `out` (with each message's sent time). The messages stay visible;
    /// a message received twice keeps the newer receipt handle, the one SQS deletes it by.
    pub(super) async fn dead_in(
        &self,
        lane: Lane,
        limit: usize,
        out: &mut Vec<(i64, DeadJob)>,
    ) -> Result<(), QueueError> {
        let dlq = self.dlq(lane);
        let mut seen: HashMap<String, usize> = HashMap::new();
        for _ in 0..DEAD_LIST_CALLS {
            if seen.len() >= limit {
                break;
            }
            let output = self
                .sqs
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(i32::try_from(RECEIVE_BATCH).unwrap_or(10))
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .message_system_attribute_names(Attr::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(sdk("ReceiveMessage"))?;
            let mut new = 0;
            for m in output.messages() {
                let id = m.message_id().unwrap_or_default().to_owned();
                let handle = format!("{}:{}", lane.tag(), m.receipt_handle().unwrap_or_default());
                if let Some(at) = seen.get(&id) {
                    if let Some((_, known)) = out.get_mut(*at) {
                        known.handle = handle;
                    }
                    continue;
                }
                new += 1;
                let custom = |name: &str| {
                    m.message_attributes()
                        .and_then(|attrs| attrs.get(name))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                let sent = m
                    .attributes()
                    .and_then(|a| a.get(&Attr::SentTimestamp))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let job = serde_json::from_str(m.body().unwrap_or_default())
                    .map_err(|e| QueueError::Corrupt(e.to_string()))?;
                let reason = custom(REASON).unwrap_or_else(|| {
                    "moved by the queue's redrive policy: received more often than its maxReceiveCount".into()
                });
                seen.insert(id.clone(), out.len());
                out.push((
                    sent,
                    DeadJob {
                        message_id: format!("dlq:{id}"),
                        handle,
                        job,
                        attempts: custom(ATTEMPTS).and_then(|a| a.parse().ok()).unwrap_or(0),
                        reason,
                    },
                ));
            }
            if new == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Deletes the dead-letter message `handle` (`<lane>:<receipt handle>`, as `dead_in` gives it) names.
    pub(super) async fn delete_dead(&self, handle: &str) -> Result<(), QueueError> {
        let Some((lane, receipt)) = handle
            .split_once(':')
            .and_then(|(tag, receipt)| Some((Lane::of_tag(tag)?, receipt)))
        else {
            return Err(QueueError::LeaseLost(format!(
                "not a dead-letter handle: {handle}"
            )));
        };
        self.sqs
            .delete_message()
            .queue_url(self.dlq(lane))
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(sdk("DeleteMessage"))?;
        Ok(())
    }
}
