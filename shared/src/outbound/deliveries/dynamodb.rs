//! DynamoDB adapter of the delivery log (`<prefix>-deliveries`): under each event's partition one item per
//! attempt plus one summary item, the summaries indexed by webhook and latest attempt; everything expires
//! through DynamoDB TTL after the execution log's retention.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType,
};
use std::collections::HashMap;
use std::time::Duration as StdDuration;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::{
    Attempt, AttemptOutcome, DeliveryLog, DeliveryLogError, DeliveryQuery, EventSummary, newest_first,
};
use crate::config::WebhookId;
use crate::execution_log::DEFAULT_RETENTION;
use crate::store::StoreError;
use crate::store::dynamodb::{Failure, classify, enable_ttl};

/// Partition key (the event id), sort key, TTL attribute (epoch seconds).
const PARTITION_KEY: &str = "event_id";
const SORT_KEY: &str = "sk";
const TTL_ATTRIBUTE: &str = "expires_at";
/// The sort key of an event's summary item; attempts' sort keys start with `ATTEMPT_PREFIX`.
const SUMMARY_SK: &str = "event";
const ATTEMPT_PREFIX: &str = "a#";
/// The index of summaries by webhook, newest last: only summary items carry `last_at`, so it is sparse.
pub const BY_WEBHOOK_INDEX: &str = "by_webhook";
const INDEX_PARTITION: &str = "webhook_id";
const INDEX_SORT: &str = "last_at";
/// Pages one read goes through at most (a page is up to 1 MB), so a listing never runs unbounded.
const MAX_PAGES: usize = 50;
const TABLE_ACTIVE_TIMEOUT: StdDuration = StdDuration::from_secs(120);

/// Sort keys hold the UTC time at fixed width, so string order is time order.
const SORT_TIME: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

pub struct DynamoDeliveryLog {
    client: Client,
    table: String,
    retention: Duration,
}

fn message(text: impl Into<String>) -> DeliveryLogError {
    DeliveryLogError(text.into())
}

impl DynamoDeliveryLog {
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

    fn error<E, R>(&self, operation: &str, error: SdkError<E, R>) -> DeliveryLogError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match classify(operation, &self.table, error) {
            Failure::MissingTable => message(format!(
                "the DynamoDB table {} does not exist; create it with `bitconn store init`",
                self.table
            )),
            Failure::ConditionFailed => message(format!("unexpected condition failure in {operation}")),
            Failure::Other(text) => message(text),
        }
    }

    fn expires_at(&self, at: OffsetDateTime) -> AttributeValue {
        AttributeValue::N((at + self.retention).unix_timestamp().to_string())
    }

    fn attempt_item(&self, a: &Attempt) -> Result<HashMap<String, AttributeValue>, DeliveryLogError> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let headers = serde_json::to_string(&a.request_headers).map_err(|e| message(e.to_string()))?;
        let mut item = HashMap::from([
            (PARTITION_KEY.to_owned(), s(&a.event_id)),
            (
                SORT_KEY.to_owned(),
                s(&format!("{ATTEMPT_PREFIX}{}#{}", sort_time(a.at), &suffix[..12])),
            ),
            ("webhook_id".to_owned(), s(&a.webhook_id.to_string())),
            ("attempt".to_owned(), n(a.attempt)),
            ("at".to_owned(), s(&rfc3339(a.at))),
            ("url".to_owned(), s(&a.url)),
            ("outcome".to_owned(), s(a.outcome.as_str())),
            ("duration_ms".to_owned(), n(a.duration_ms)),
            ("test".to_owned(), AttributeValue::Bool(a.test)),
            ("request_headers".to_owned(), s(&headers)),
            (TTL_ATTRIBUTE.to_owned(), self.expires_at(a.at)),
        ]);
        if let Some(status) = a.status {
            item.insert("status".to_owned(), n(status));
        }
        let job = a.job.as_ref().map(|j| j.to_string());
        for (name, value) in [
            ("error", &a.error),
            ("response", &a.response),
            ("payload", &a.payload),
            ("job", &job),
        ] {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        Ok(item)
    }

    /// Brings the event's summary to this attempt: latest outcome, one more attempt, first time kept.
    async fn update_summary(&self, a: &Attempt) -> Result<(), DeliveryLogError> {
        let mut names = HashMap::from([
            ("#w".to_owned(), "webhook_id".to_owned()),
            ("#l".to_owned(), INDEX_SORT.to_owned()),
            ("#at".to_owned(), "at".to_owned()),
            ("#f".to_owned(), "first_at".to_owned()),
            ("#o".to_owned(), "outcome".to_owned()),
            ("#t".to_owned(), "test".to_owned()),
            ("#u".to_owned(), "url".to_owned()),
            ("#e".to_owned(), TTL_ATTRIBUTE.to_owned()),
            ("#n".to_owned(), "attempts".to_owned()),
            ("#s".to_owned(), "status".to_owned()),
            ("#err".to_owned(), "error".to_owned()),
        ]);
        let mut values = HashMap::from([
            (":w".to_owned(), s(&a.webhook_id.to_string())),
            (":l".to_owned(), s(&sort_time(a.at))),
            (":at".to_owned(), s(&rfc3339(a.at))),
            (":o".to_owned(), s(a.outcome.as_str())),
            (":t".to_owned(), AttributeValue::Bool(a.test)),
            (":u".to_owned(), s(&a.url)),
            (":e".to_owned(), self.expires_at(a.at)),
            (":one".to_owned(), n(1)),
        ]);
        let mut set = vec![
            "#w = :w",
            "#l = :l",
            "#at = :at",
            "#f = if_not_exists(#f, :at)",
            "#o = :o",
            "#t = :t",
            "#u = :u",
            "#e = :e",
        ];
        let mut remove = Vec::new();
        match a.status {
            Some(status) => {
                values.insert(":s".to_owned(), n(status));
                set.push("#s = :s");
            }
            None => remove.push("#s"),
        }
        match &a.error {
            Some(error) => {
                values.insert(":err".to_owned(), s(error));
                set.push("#err = :err");
            }
            None => remove.push("#err"),
        }
        if let Some(job) = &a.job {
            names.insert("#j".to_owned(), "job".to_owned());
            values.insert(":j".to_owned(), s(&job.to_string()));
            set.push("#j = :j");
        }
        let mut expression = format!("SET {} ADD #n :one", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&a.event_id))
            .key(SORT_KEY, s(SUMMARY_SK))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", e))?;
        Ok(())
    }

    /// Summaries of one webhook from the index, newest first, until `query`'s limit is met.
    async fn webhook_events(
        &self,
        webhook: WebhookId,
        query: &DeliveryQuery,
        from: &str,
        now: i64,
    ) -> Result<Vec<EventSummary>, DeliveryLogError> {
        let values = HashMap::from([
            (":w".to_owned(), s(&webhook.to_string())),
            (":from".to_owned(), s(from)),
            (":now".to_owned(), AttributeValue::N(now.to_string())),
        ]);
        let mut events = Vec::new();
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_WEBHOOK_INDEX)
                .key_condition_expression("webhook_id = :w AND last_at >= :from")
                .filter_expression("expires_at > :now")
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                let event = decode_summary(&item).map_err(message)?;
                if query.keeps(&event) {
                    events.push(event);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() || events.len() >= query.capped_limit() {
                break;
            }
        }
        Ok(events)
    }

    /// Summaries of every webhook: a scan of the summary items (an operator's listing, bounded by `MAX_PAGES`).
    async fn all_events(
        &self,
        query: &DeliveryQuery,
        from: &str,
        now: i64,
    ) -> Result<Vec<EventSummary>, DeliveryLogError> {
        let values = HashMap::from([
            (":event".to_owned(), s(SUMMARY_SK)),
            (":from".to_owned(), s(from)),
            (":now".to_owned(), AttributeValue::N(now.to_string())),
        ]);
        let mut events = Vec::new();
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :event AND last_at >= :from AND expires_at > :now")
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Scan", e))?;
            for item in output.items.unwrap_or_default() {
                let event = decode_summary(&item).map_err(message)?;
                if query.keeps(&event) {
                    events.push(event);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(events)
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn sort_time(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC).format(SORT_TIME).unwrap_or_default()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

type Item = HashMap<String, AttributeValue>;

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn required(item: &Item, name: &str) -> Result<String, String> {
    text(item, name).ok_or_else(|| format!("a stored delivery has no `{name}` attribute"))
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, String> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("a stored delivery's `{name}` is not a number"))
}

fn optional_number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn time_of(item: &Item, name: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(&required(item, name)?, &Rfc3339).map_err(|e| format!("`{name}`: {e}"))
}

fn outcome_of(item: &Item) -> Result<AttemptOutcome, String> {
    let outcome = required(item, "outcome")?;
    AttemptOutcome::parse(&outcome).ok_or_else(|| format!("unknown delivery outcome `{outcome}`"))
}

fn webhook_of(item: &Item) -> Result<WebhookId, String> {
    required(item, "webhook_id")?
        .parse()
        .map_err(|e: crate::config::InvalidId| e.to_string())
}

fn decode_attempt(item: &Item) -> Result<Attempt, String> {
    Ok(Attempt {
        event_id: required(item, PARTITION_KEY)?,
        webhook_id: webhook_of(item)?,
        attempt: number(item, "attempt")?,
        at: time_of(item, "at")?,
        url: required(item, "url")?,
        outcome: outcome_of(item)?,
        status: optional_number(item, "status"),
        duration_ms: number(item, "duration_ms")?,
        error: text(item, "error"),
        response: text(item, "response"),
        test: item
            .get("test")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        payload: text(item, "payload"),
        request_headers: text(item, "request_headers")
            .and_then(|h| serde_json::from_str(&h).ok())
            .unwrap_or_default(),
        job: text(item, "job").and_then(|j| serde_json::from_str(&j).ok()),
    })
}

fn decode_summary(item: &Item) -> Result<EventSummary, String> {
    Ok(EventSummary {
        event_id: required(item, PARTITION_KEY)?,
        webhook_id: webhook_of(item)?,
        status: outcome_of(item)?,
        test: item
            .get("test")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        attempts: number(item, "attempts")?,
        first_at: time_of(item, "first_at")?,
        last_at: time_of(item, "at")?,
        url: required(item, "url")?,
        last_status: optional_number(item, "status"),
        last_error: text(item, "error"),
    })
}

#[async_trait]
impl DeliveryLog for DynamoDeliveryLog {
    async fn record(&self, attempt: Attempt) -> Result<(), DeliveryLogError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.attempt_item(&attempt)?))
            .send()
            .await
            .map_err(|e| self.error("PutItem", e))?;
        self.update_summary(&attempt).await
    }

    async fn list(&self, webhook: Option<WebhookId>, limit: usize) -> Result<Vec<Attempt>, DeliveryLogError> {
        let query = DeliveryQuery {
            webhook,
            limit,
            ..DeliveryQuery::default()
        };
        let mut attempts = Vec::new();
        for event in self.events(&query).await? {
            attempts.extend(self.event(&event.event_id).await?);
        }
        attempts.sort_by_key(|a| std::cmp::Reverse(a.at));
        attempts.truncate(limit);
        Ok(attempts)
    }

    async fn events(&self, query: &DeliveryQuery) -> Result<Vec<EventSummary>, DeliveryLogError> {
        let now = OffsetDateTime::now_utc();
        let from = sort_time(query.oldest_kept(self.retention, now));
        let events = match query.webhook {
            Some(webhook) => {
                self.webhook_events(webhook, query, &from, now.unix_timestamp())
                    .await?
            }
            None => self.all_events(query, &from, now.unix_timestamp()).await?,
        };
        Ok(newest_first(events, query.capped_limit()))
    }

    async fn event(&self, event_id: &str) -> Result<Vec<Attempt>, DeliveryLogError> {
        let now = OffsetDateTime::now_utc();
        let from = format!("{ATTEMPT_PREFIX}{}", sort_time(now - self.retention));
        let values = HashMap::from([
            (":id".to_owned(), s(event_id)),
            (":from".to_owned(), s(&from)),
            (":end".to_owned(), s(&format!("{ATTEMPT_PREFIX}~"))),
            (
                ":now".to_owned(),
                AttributeValue::N(now.unix_timestamp().to_string()),
            ),
        ]);
        let mut attempts = Vec::new();
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("event_id = :id AND sk BETWEEN :from AND :end")
                .filter_expression("expires_at > :now")
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                attempts.push(decode_attempt(&item).map_err(message)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(attempts)
    }
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

/// The deliveries table: partition key `event_id`, sort key `sk`, the `by_webhook` index (`webhook_id`,
/// `last_at`) and TTL on `expires_at`. Safe to call when it exists.
pub async fn create_deliveries_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(BY_WEBHOOK_INDEX)
        .key_schema(key(INDEX_PARTITION, KeyType::Hash)?)
        .key_schema(key(INDEX_SORT, KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(build_error)?;
    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(string_attribute(PARTITION_KEY)?)
        .attribute_definitions(string_attribute(SORT_KEY)?)
        .attribute_definitions(string_attribute(INDEX_PARTITION)?)
        .attribute_definitions(string_attribute(INDEX_SORT)?)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .global_secondary_indexes(index)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(error) = created
        && error.code() != Some("ResourceInUseException")
    {
        let text = format!("DynamoDB CreateTable {table}: {}", DisplayErrorContext(&error));
        return Err(StoreError::Backend(text.into()));
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(TABLE_ACTIVE_TIMEOUT)
        .await
        .map_err(|e| {
            let text = format!(
                "DynamoDB table {table} did not become active: {}",
                DisplayErrorContext(&e)
            );
            StoreError::Backend(text.into())
        })?;
    enable_ttl(client, table, TTL_ATTRIBUTE).await
}
