//! DynamoDB adapter of the delivery log (`<prefix>-deliveries`): under each event's partition one item per
//! attempt plus one summary item, the summaries indexed by webhook and latest attempt; everything expires
//! through DynamoDB TTL after the execution log's retention.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::{
    Attempt, AttemptOutcome, DeliveryLog, DeliveryLogError, DeliveryQuery, EventSummary, newest_first,
    summary_rank,
};
use crate::config::WebhookId;
use crate::execution_log::DEFAULT_RETENTION;
use crate::store::dynamodb::{Failure, classify};

mod table;
pub use table::create_deliveries_table;

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
/// Summary attributes: the shown attempt's `summary_rank` (`<1 if delivered, else 0>#<sort time>`, so string
/// order is rank order) and the first attempt's sort time (`first_at` at fixed width, compared the same way).
const RANK: &str = "rank";
const FIRST_SORT: &str = "first_sk";
/// Pages one read goes through at most (a page is up to 1 MB), so a listing never runs unbounded.
const MAX_PAGES: usize = 50;

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

    /// Brings the event's summary to this attempt when it ranks at least as high as the one shown
    /// (`summary_rank`, kept as `rank`), else only counts it; then moves `first_at` back if it is older.
    async fn update_summary(&self, a: &Attempt) -> Result<(), DeliveryLogError> {
        let mut names = HashMap::from([
            ("#w".to_owned(), "webhook_id".to_owned()),
            ("#l".to_owned(), INDEX_SORT.to_owned()),
            ("#at".to_owned(), "at".to_owned()),
            ("#f".to_owned(), "first_at".to_owned()),
            ("#ff".to_owned(), FIRST_SORT.to_owned()),
            ("#r".to_owned(), RANK.to_owned()),
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
            (":r".to_owned(), s(&rank(a))),
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
            "#ff = if_not_exists(#ff, :l)",
            "#r = :r",
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
        // Summaries written before ranks were kept have none: the attempt recorded now takes them over.
        let newer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&a.event_id))
            .key(SORT_KEY, s(SUMMARY_SK))
            .update_expression(expression)
            .condition_expression("attribute_not_exists(#r) OR #r <= :r")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let before = match newer {
            Ok(output) => output.attributes,
            Err(error) if is_condition_failure(&error) => self.count_older(a).await?,
            Err(error) => return Err(self.error("UpdateItem", error)),
        };
        let first = before.as_ref().and_then(|item| text(item, FIRST_SORT));
        if first.is_some_and(|first| first > sort_time(a.at)) {
            self.move_first_back(a).await?;
        }
        Ok(())
    }

    /// Counts an attempt that ranks below the one the summary shows (and leaves the rest as it is); returns
    /// the summary as it is now.
    async fn count_older(&self, a: &Attempt) -> Result<Option<Item>, DeliveryLogError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&a.event_id))
            .key(SORT_KEY, s(SUMMARY_SK))
            .update_expression("ADD #n :one")
            .expression_attribute_names("#n", "attempts")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", e))?;
        Ok(output.attributes)
    }

    /// Makes this attempt the event's first when it is older than the first one kept (it was recorded late).
    async fn move_first_back(&self, a: &Attempt) -> Result<(), DeliveryLogError> {
        let moved = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&a.event_id))
            .key(SORT_KEY, s(SUMMARY_SK))
            .update_expression("SET #f = :at, #ff = :l")
            .condition_expression("#ff > :l")
            .expression_attribute_names("#f", "first_at")
            .expression_attribute_names("#ff", FIRST_SORT)
            .expression_attribute_values(":at", s(&rfc3339(a.at)))
            .expression_attribute_values(":l", s(&sort_time(a.at)))
            .send()
            .await;
        match moved {
            Ok(_) => Ok(()),
            // Another attempt, older still, got there first.
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(self.error("UpdateItem", error)),
        }
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

/// `summary_rank` as one string that compares the same way.
fn rank(a: &Attempt) -> String {
    let (delivered, at) = summary_rank(a);
    format!("{}#{}", u8::from(delivered), sort_time(at))
}

fn is_condition_failure<R>(error: &SdkError<UpdateItemError, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
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
