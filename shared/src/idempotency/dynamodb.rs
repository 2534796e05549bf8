//! DynamoDB adapter of the `IdempotencyStore` port: one item per webhook and key, reserved by a conditional put,
//! removed by DynamoDB TTL once expired.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use bytes::Bytes;
use std::collections::HashMap;
use time::OffsetDateTime;

use super::{
    IdempotencyKey, IdempotencyStore, Record, State, StoredResponse, from_millis, millis, state_name,
};
use crate::store::StoreError;
use crate::store::dynamodb::{Failure, classify, create_table, key_attribute};

/// Partition and sort key of the idempotency table.
pub(crate) const PARTITION_KEY: &str = "webhook_id";
pub(crate) const SORT_KEY: &str = "idempotency_key";
/// The TTL attribute (epoch seconds); `expires_ms` is the exact expiry the conditions compare.
pub(crate) const TTL_ATTRIBUTE: &str = "expires_at";
const EXPIRES_MS: &str = "expires_ms";
/// A reservation that finds an item, which is then released before it is read, tries again this many times.
const RESERVE_ATTEMPTS: usize = 3;

/// Keys in their own table (`<prefix>-idempotency`, see docs/storage.md).
#[derive(Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    fn failure(&self, failure: Failure) -> StoreError {
        match failure {
            Failure::MissingTable => StoreError::Missing(format!("DynamoDB table {}", self.table)),
            Failure::ConditionFailed => StoreError::Backend("unexpected condition failure".into()),
            Failure::Other(message) => StoreError::Backend(message.into()),
        }
    }

    fn key(record: &Record) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                PARTITION_KEY.to_owned(),
                AttributeValue::S(record.webhook_id.to_string()),
            ),
            (
                SORT_KEY.to_owned(),
                AttributeValue::S(record.key.as_str().to_owned()),
            ),
        ])
    }

    /// A conditional put of `record`; `false` when the condition failed.
    async fn put(
        &self,
        record: &Record,
        condition: &str,
        values: HashMap<String, AttributeValue>,
        names: Option<HashMap<String, String>>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .set_expression_attribute_names(names)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match classify("PutItem", &self.table, error) {
                Failure::ConditionFailed => Ok(false),
                other => Err(self.failure(other)),
            },
        }
    }

    async fn get(&self, claim: &Record) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(claim)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failure(classify("GetItem", &self.table, e)))?;
        output
            .item
            .map(|item| {
                decode(&item).map_err(|reason| StoreError::Corrupt {
                    id: format!("idempotency key {}", claim.key),
                    reason,
                })
            })
            .transpose()
    }
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn encode(record: &Record) -> HashMap<String, AttributeValue> {
    let expires_ms = millis(record.expires_at);
    let mut item = HashMap::from([
        (
            PARTITION_KEY.to_owned(),
            AttributeValue::S(record.webhook_id.to_string()),
        ),
        (
            SORT_KEY.to_owned(),
            AttributeValue::S(record.key.as_str().to_owned()),
        ),
        ("token".to_owned(), AttributeValue::S(record.token.clone())),
        (
            "fingerprint".to_owned(),
            AttributeValue::S(record.fingerprint.clone()),
        ),
        ("created_ms".to_owned(), number(millis(record.created_at))),
        (EXPIRES_MS.to_owned(), number(expires_ms)),
        // DynamoDB TTL reads whole seconds; rounding up never deletes an item before it expires.
        (TTL_ATTRIBUTE.to_owned(), number(expires_ms.div_euclid(1000) + 1)),
    ]);
    let state = match &record.state {
        State::InProgress => state_name::IN_PROGRESS,
        State::Done(response) => {
            item.insert("status".into(), number(i64::from(response.status)));
            item.insert(
                "content_type".into(),
                AttributeValue::S(response.content_type.clone()),
            );
            item.insert(
                "body".into(),
                AttributeValue::B(Blob::new(response.body.to_vec())),
            );
            state_name::DONE
        }
        State::Blocked { code, message } => {
            item.insert("code".into(), AttributeValue::S(code.clone()));
            item.insert("message".into(), AttributeValue::S(message.clone()));
            state_name::BLOCKED
        }
    };
    item.insert("state".into(), AttributeValue::S(state.to_owned()));
    item
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<Record, String> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| format!("no `{name}` attribute"))
    };
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| format!("`{name}` is not a number"))
    };
    let state = match text("state")?.as_str() {
        state_name::IN_PROGRESS => State::InProgress,
        state_name::DONE => State::Done(StoredResponse {
            status: u16::try_from(number("status")?).map_err(|e| e.to_string())?,
            content_type: text("content_type")?,
            body: item
                .get("body")
                .and_then(|v| v.as_b().ok())
                .map(|b| Bytes::copy_from_slice(b.as_ref()))
                .ok_or("no `body` attribute")?,
        }),
        state_name::BLOCKED => State::Blocked {
            code: text("code")?,
            message: text("message")?,
        },
        other => return Err(format!("unknown state {other:?}")),
    };
    let webhook_id = text(PARTITION_KEY)?;
    Ok(Record {
        webhook_id: webhook_id
            .parse()
            .map_err(|_| format!("bad webhook id {webhook_id:?}"))?,
        key: IdempotencyKey::parse(text(SORT_KEY)?.as_bytes()).map_err(|e| e.to_string())?,
        token: text("token")?,
        fingerprint: text("fingerprint")?,
        state,
        created_at: from_millis(number("created_ms")?),
        expires_at: from_millis(number(EXPIRES_MS)?),
    })
}

/// `token` is a reserved word of DynamoDB expressions: conditions name it `#token`.
const SAME_TOKEN: &str = "#token = :token";

fn token_value(record: &Record) -> HashMap<String, AttributeValue> {
    HashMap::from([(":token".to_owned(), AttributeValue::S(record.token.clone()))])
}

fn token_name() -> HashMap<String, String> {
    HashMap::from([("#token".to_owned(), "token".to_owned())])
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn reserve(&self, claim: &Record) -> Result<Option<Record>, StoreError> {
        for _ in 0..RESERVE_ATTEMPTS {
            let now = HashMap::from([(":now".to_owned(), number(millis(OffsetDateTime::now_utc())))]);
            // TTL deletes expired items only eventually: until then an expired item counts as absent.
            let condition = format!("attribute_not_exists({PARTITION_KEY}) OR {EXPIRES_MS} <= :now");
            if self.put(claim, &condition, now, None).await? {
                return Ok(None);
            }
            if let Some(existing) = self.get(claim).await? {
                return Ok(Some(existing));
            }
        }
        Err(StoreError::Backend(
            "the idempotency key kept changing while it was reserved".into(),
        ))
    }

    async fn settle(&self, record: &Record) -> Result<(), StoreError> {
        self.put(record, SAME_TOKEN, token_value(record), Some(token_name()))
            .await
            .map(drop)
    }

    async fn release(&self, record: &Record) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(record)))
            .condition_expression(SAME_TOKEN)
            .set_expression_attribute_values(Some(token_value(record)))
            .set_expression_attribute_names(Some(token_name()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match classify("DeleteItem", &self.table, error) {
                Failure::ConditionFailed => Ok(()),
                other => Err(self.failure(other)),
            },
        }
    }
}

/// The idempotency table: partition key `webhook_id`, sort key `idempotency_key`, TTL on `expires_at`. Safe to
/// call when it exists.
pub async fn create_idempotency_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let keys = vec![
        key_attribute(PARTITION_KEY, KeyType::Hash)?,
        key_attribute(SORT_KEY, KeyType::Range)?,
    ];
    create_table(client, table, keys).await?;
    crate::store::dynamodb::enable_ttl(client, table, TTL_ATTRIBUTE).await
}
