//! DynamoDB adapter of the execution log: one item per entry under its webhook, expiring through DynamoDB TTL.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use std::collections::HashMap;
use std::time::Duration as StdDuration;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::{DEFAULT_RETENTION, ExecutionLog, ExecutionLogEntry, LogError, LogQuery, Outcome};
use crate::store::dynamodb::{Failure, LOG_PARTITION_KEY, LOG_SORT_KEY, LOG_TTL_ATTRIBUTE, classify};

/// `BatchWriteItem` takes at most 25 items.
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of retrying the items a `BatchWriteItem` left unprocessed (throttling), with doubling pauses.
const UNPROCESSED_RETRIES: u32 = 5;
const UNPROCESSED_FIRST_PAUSE: StdDuration = StdDuration::from_millis(50);

/// Sort keys start with the UTC time at fixed width, so string order is time order.
const SORT_TIME: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

pub struct DynamoExecutionLog {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoExecutionLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_retention(client, table, DEFAULT_RETENTION)
    }

    pub fn with_retention(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            retention,
        }
    }

    /// For tests and tools that build their own AWS configuration (endpoint, region, credentials).
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
        retention: Duration,
    ) -> Self {
        Self::with_retention(Client::new(config), table, retention)
    }

    fn error<E, R>(&self, operation: &str, error: SdkError<E, R>) -> LogError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match classify(operation, &self.table, error) {
            Failure::MissingTable => LogError::Missing(format!("DynamoDB table {}", self.table)),
            Failure::ConditionFailed => {
                LogError::message(format!("unexpected condition failure in {operation}"))
            }
            Failure::Other(message) => LogError::message(message),
        }
    }

    fn item(&self, entry: &ExecutionLogEntry) -> HashMap<String, AttributeValue> {
        let expires_at = (entry.at + self.retention).unix_timestamp();
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut item = HashMap::from([
            (
                LOG_PARTITION_KEY.to_owned(),
                AttributeValue::S(entry.webhook_id.to_string()),
            ),
            (
                LOG_SORT_KEY.to_owned(),
                AttributeValue::S(format!("{}#{}", sort_time(entry.at), &suffix[..12])),
            ),
            (
                "at".to_owned(),
                AttributeValue::S(entry.at.format(&Rfc3339).unwrap_or_default()),
            ),
            ("http_verb".to_owned(), AttributeValue::S(entry.http_verb.clone())),
            (
                "outcome".to_owned(),
                AttributeValue::S(entry.outcome.as_str().to_owned()),
            ),
            ("status".to_owned(), AttributeValue::N(entry.status.to_string())),
            (
                "duration_ms".to_owned(),
                AttributeValue::N(entry.duration_ms.to_string()),
            ),
            (
                "odoo_calls".to_owned(),
                AttributeValue::N(entry.odoo_calls.to_string()),
            ),
            (
                "request_body".to_owned(),
                AttributeValue::S(entry.request_body.clone()),
            ),
            (
                LOG_TTL_ATTRIBUTE.to_owned(),
                AttributeValue::N(expires_at.to_string()),
            ),
        ]);
        let optional = [
            ("method", &entry.method),
            ("model", &entry.model),
            ("error_code", &entry.error_code),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_owned(), AttributeValue::S(value.clone()));
            }
        }
        item
    }

    /// Pages through a query or scan until `limit` matching items are read (or there are no more).
    async fn read(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        let now = OffsetDateTime::now_utc();
        let from = sort_time(query.oldest_kept(self.retention, now));
        let mut values = HashMap::from([
            (":from".to_owned(), AttributeValue::S(from)),
            (
                ":now".to_owned(),
                AttributeValue::N(now.unix_timestamp().to_string()),
            ),
        ]);
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let page = match query.webhook_id {
                Some(id) => {
                    values.insert(":webhook".to_owned(), AttributeValue::S(id.to_string()));
                    let output = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("webhook_id = :webhook AND sk >= :from")
                        .filter_expression("expires_at > :now")
                        .set_expression_attribute_values(Some(values.clone()))
                        .scan_index_forward(true)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| self.error("Query", e))?;
                    (output.items, output.last_evaluated_key)
                }
                None => {
                    let output = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .filter_expression("sk >= :from AND expires_at > :now")
                        .set_expression_attribute_values(Some(values.clone()))
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| self.error("Scan", e))?;
                    (output.items, output.last_evaluated_key)
                }
            };
            for item in page.0.unwrap_or_default() {
                entries.push(decode(&item).map_err(|reason| {
                    LogError::message(format!("stored execution log entry cannot be decoded: {reason}"))
                })?);
            }
            start = page.1;
            let enough =
                query.webhook_id.is_some() && query.limit.is_some_and(|limit| entries.len() >= limit);
            if start.is_none() || enough {
                break;
            }
        }
        // A scan returns partitions in hash order: sort across webhooks (a query is already in order).
        entries.sort_by_key(|entry| entry.at);
        entries.truncate(query.limit.unwrap_or(usize::MAX));
        Ok(entries)
    }
}

fn sort_time(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC).format(SORT_TIME).unwrap_or_default()
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<ExecutionLogEntry, String> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let required = |name: &str| text(name).ok_or_else(|| format!("no `{name}` attribute"));
    fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Result<T, String> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("`{name}` is not a number"))
    }
    let outcome = required("outcome")?;
    Ok(ExecutionLogEntry {
        at: OffsetDateTime::parse(&required("at")?, &Rfc3339).map_err(|e| e.to_string())?,
        webhook_id: required(LOG_PARTITION_KEY)?
            .parse()
            .map_err(|e: crate::config::InvalidId| e.to_string())?,
        http_verb: required("http_verb")?,
        method: text("method"),
        model: text("model"),
        outcome: Outcome::from_stored(&outcome).ok_or_else(|| format!("unknown outcome `{outcome}`"))?,
        status: number(item, "status")?,
        duration_ms: number(item, "duration_ms")?,
        odoo_calls: number(item, "odoo_calls")?,
        error_code: text("error_code"),
        request_body: text("request_body").unwrap_or_default(),
    })
}

#[async_trait]
impl ExecutionLog for DynamoExecutionLog {
    async fn record(&self, entry: ExecutionLogEntry) -> Result<(), LogError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(&entry)))
            .send()
            .await
            .map_err(|e| self.error("PutItem", e))?;
        Ok(())
    }

    async fn record_batch(&self, entries: Vec<ExecutionLogEntry>) -> Result<(), LogError> {
        for chunk in entries.chunks(BATCH_WRITE_MAX) {
            let mut requests = chunk
                .iter()
                .map(|entry| {
                    let put = PutRequest::builder()
                        .set_item(Some(self.item(entry)))
                        .build()
                        .map_err(LogError::backend)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, LogError>>()?;
            let mut pause = UNPROCESSED_FIRST_PAUSE;
            for attempt in 0..=UNPROCESSED_RETRIES {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| self.error("BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == UNPROCESSED_RETRIES {
                    return Err(LogError::message(format!(
                        "DynamoDB left {} execution log entries unprocessed (throttled)",
                        requests.len()
                    )));
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Ok(())
    }

    async fn query(&self, query: &LogQuery) -> Result<Vec<ExecutionLogEntry>, LogError> {
        self.read(query).await
    }
}
