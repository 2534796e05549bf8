//! The outbound queue and delivery log the operator's commands read and write, beside the store `--store`
//! names: `<store>.outbound.db` for an SQLite file (what `bitconn serve` delivers from), the `<prefix>-deliveries`
//! table for DynamoDB, whose queue is the deployment's SQS queues named by `BITCONN_QUEUE` (the functions'
//! variable). Unlike `serve`, nothing here releases leases: a running dispatcher keeps its jobs.

use anyhow::Context as _;
use bitconn::outbound::deliveries::{DeliveryLog, MemoryDeliveryLog, SqliteDeliveryLog};
use bitconn::outbound::queue::{MemoryQueue, Queue, QueueSpec, SqliteQueue, open_queue};
use bitconn::store::{SqliteLocation, StoreSpec};
use std::sync::Arc;

use crate::{Global, stores};

pub struct Outbound {
    pub log: Arc<dyn DeliveryLog>,
    /// `None` where this process cannot reach the queue (a DynamoDB store without `BITCONN_QUEUE`).
    pub queue: Option<Arc<dyn Queue>>,
}

pub async fn open(global: &Global) -> anyhow::Result<Outbound> {
    let retention = bitconn::execution_log::DEFAULT_RETENTION;
    let location = match stores::parse_spec(&global.store)? {
        StoreSpec::Sqlite(SqliteLocation::File(path)) => {
            SqliteLocation::File(path.with_extension("outbound.db"))
        }
        StoreSpec::Sqlite(SqliteLocation::InMemory) | StoreSpec::Memory => {
            return Ok(Outbound {
                log: Arc::new(MemoryDeliveryLog::new()),
                queue: Some(Arc::new(MemoryQueue::new())),
            });
        }
        StoreSpec::DynamoDb { webhooks_table, .. } => return open_dynamodb(&webhooks_table, retention).await,
    };
    let log = SqliteDeliveryLog::open(&location, retention)
        .await
        .context("cannot open the delivery log")?;
    Ok(Outbound {
        log: Arc::new(log),
        queue: Some(open_local_queue(&location).await?),
    })
}

/// Names the SQS queues of a DynamoDB deployment (`sqs:<url>?dlq=…`), as for the functions.
pub const QUEUE_VARIABLE: &str = "BITCONN_QUEUE";

/// The one place the operator's commands open a local queue.
async fn open_local_queue(location: &SqliteLocation) -> anyhow::Result<Arc<dyn Queue>> {
    let queue = SqliteQueue::open(location)
        .await
        .context("cannot open the outbound queue")?;
    Ok(Arc::new(queue))
}

async fn open_dynamodb(webhooks_table: &str, retention: time::Duration) -> anyhow::Result<Outbound> {
    let options = bitconn::store::StoreOptions {
        log_retention: retention,
        ..bitconn::store::StoreOptions::default()
    };
    let log = bitconn::store::open_dynamodb_deliveries(webhooks_table, &options).await;
    let queue = match std::env::var(QUEUE_VARIABLE) {
        Ok(spec) if !spec.trim().is_empty() => {
            let spec: QueueSpec = spec.trim().parse()?;
            let opened = open_queue(&spec, &options)
                .await
                .context("cannot open the outbound queue")?;
            Some(opened.queue())
        }
        _ => None,
    };
    Ok(Outbound {
        log: Arc::new(log),
        queue,
    })
}
