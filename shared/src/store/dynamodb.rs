//! DynamoDB adapter of the `ConfigStore` port, the tables' creation (`bitconn store init`) and error triage.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use std::collections::HashMap;
use std::time::Duration;

use super::{ConfigStore, StoreError, next_version, open_config, seal_config};
use crate::config::{WebhookConfig, WebhookId};
use crate::seal::Sealer;

/// Version of the item layout below, stored in every item's `format` attribute: 2 since credentials inside
/// `config` are sealed (format 1 items, credentials in clear, still read).
const ITEM_FORMAT: &str = "2";
/// Partition key of the webhooks table.
pub(crate) const WEBHOOK_KEY: &str = "id";
/// Partition and sort key of the execution-log table, and its TTL attribute (epoch seconds).
pub(crate) const LOG_PARTITION_KEY: &str = "webhook_id";
pub(crate) const LOG_SORT_KEY: &str = "sk";
pub(crate) const LOG_TTL_ATTRIBUTE: &str = "expires_at";
/// How long `bitconn store init` waits for a new table to become active.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// What a failed DynamoDB call means to the adapters.
pub(crate) enum Failure {
    MissingTable,
    ConditionFailed,
    Other(String),
}

/// Sorts an SDK error into what callers can act on; other errors keep the SDK's full explanation.
pub(crate) fn classify<E, R>(operation: &str, table: &str, error: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.code() {
        Some("ResourceNotFoundException") => Failure::MissingTable,
        Some("ConditionalCheckFailedException") => Failure::ConditionFailed,
        _ => Failure::Other(format!(
            "DynamoDB {operation} on table {table}: {}",
            DisplayErrorContext(&error)
        )),
    }
}

/// Webhook configurations, one item per webhook (see docs/storage.md for the layout), credentials sealed
/// by `sealer` (KMS in AWS).
#[derive(Clone)]
pub struct DynamoConfigStore {
    client: Client,
    table: String,
    sealer: Sealer,
}

impl DynamoConfigStore {
    pub fn new(client: Client, table: impl Into<String>, sealer: Sealer) -> Self {
        Self {
            client,
            table: table.into(),
            sealer,
        }
    }

    /// For tests and tools that build their own AWS configuration (endpoint, region, credentials).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: impl Into<String>, sealer: Sealer) -> Self {
        Self::new(Client::new(config), table, sealer)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn error<E, R>(&self, operation: &str, error: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match classify(operation, &self.table, error) {
            Failure::MissingTable => StoreError::Missing(format!("DynamoDB table {}", self.table)),
            Failure::ConditionFailed => {
                StoreError::Backend(format!("unexpected condition failure in {operation}").into())
            }
            Failure::Other(message) => StoreError::Backend(message.into()),
        }
    }

    fn key(id: &WebhookId) -> HashMap<String, AttributeValue> {
        HashMap::from([(WEBHOOK_KEY.to_owned(), AttributeValue::S(id.to_string()))])
    }

    async fn put(
        &self,
        config: &WebhookConfig,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(config, seal_config(&self.sealer, config).await?)))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match classify("PutItem", &self.table, error) {
                Failure::ConditionFailed => Ok(false),
                Failure::MissingTable => Err(StoreError::Missing(format!("DynamoDB table {}", self.table))),
                Failure::Other(message) => Err(StoreError::Backend(message.into())),
            },
        }
    }
}

/// The item of `config`, whose stored JSON (credentials sealed) is `json`.
fn encode(config: &WebhookConfig, json: String) -> HashMap<String, AttributeValue> {
    let updated_at = config
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    HashMap::from([
        (WEBHOOK_KEY.to_owned(), AttributeValue::S(config.id.to_string())),
        (
            "version".to_owned(),
            AttributeValue::N(config.version.to_string()),
        ),
        ("name".to_owned(), AttributeValue::S(config.name.clone())),
        ("enabled".to_owned(), AttributeValue::Bool(config.enabled)),
        ("updated_at".to_owned(), AttributeValue::S(updated_at)),
        ("format".to_owned(), AttributeValue::N(ITEM_FORMAT.to_owned())),
        ("config".to_owned(), AttributeValue::S(json)),
    ])
}

async fn decode(
    sealer: &Sealer,
    item: &HashMap<String, AttributeValue>,
) -> Result<WebhookConfig, StoreError> {
    let id = item
        .get(WEBHOOK_KEY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let json = item
        .get("config")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt {
            id: id.clone(),
            reason: "no `config` attribute".into(),
        })?;
    open_config(sealer, &id, json).await
}

#[async_trait]
impl ConfigStore for DynamoConfigStore {
    async fn create(&self, config: &WebhookConfig) -> Result<(), StoreError> {
        if self
            .put(config, "attribute_not_exists(id)", HashMap::new())
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(config.id))
        }
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<WebhookConfig>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        match &output.item {
            Some(item) => Ok(Some(decode(&self.sealer, item).await?)),
            None => Ok(None),
        }
    }

    async fn list(&self) -> Result<Vec<WebhookConfig>, StoreError> {
        let mut configs = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Scan", e))?;
            for item in page.items() {
                configs.push(decode(&self.sealer, item).await?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        configs.sort_by_key(|c| c.id);
        Ok(configs)
    }

    async fn update(&self, config: &WebhookConfig) -> Result<WebhookConfig, StoreError> {
        let next = next_version(config);
        let expected = HashMap::from([(
            ":expected".to_owned(),
            AttributeValue::N(config.version.to_string()),
        )]);
        if self
            .put(&next, "attribute_exists(id) AND version = :expected", expected)
            .await?
        {
            return Ok(next);
        }
        match self.get(&config.id).await? {
            Some(_) => Err(StoreError::Conflict {
                id: config.id,
                expected: config.version,
            }),
            None => Err(StoreError::NotFound(config.id)),
        }
    }

    async fn delete(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.error("DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

pub(crate) fn key_attribute(
    name: &str,
    key_type: KeyType,
) -> Result<(AttributeDefinition, KeySchemaElement), StoreError> {
    let definition = AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)?;
    let key = KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)?;
    Ok((definition, key))
}

/// Creates a table (on-demand billing) unless it exists, and waits until it is active.
pub(crate) async fn create_table(
    client: &Client,
    table: &str,
    keys: Vec<(AttributeDefinition, KeySchemaElement)>,
) -> Result<(), StoreError> {
    let (definitions, schema): (Vec<_>, Vec<_>) = keys.into_iter().unzip();
    let created = client
        .create_table()
        .table_name(table)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(schema))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    created_or_existing(client, table, created).await
}

/// What every table creation ends with: an existing table is fine, any other refusal is an error; then waits
/// until the table is active.
pub(crate) async fn created_or_existing<T>(
    client: &Client,
    table: &str,
    created: Result<T, SdkError<CreateTableError>>,
) -> Result<(), StoreError> {
    if let Err(error) = created
        && error.code() != Some("ResourceInUseException")
    {
        let message = format!("DynamoDB CreateTable {table}: {}", DisplayErrorContext(&error));
        return Err(StoreError::Backend(message.into()));
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(TABLE_ACTIVE_TIMEOUT)
        .await
        .map_err(|e| {
            StoreError::Backend(
                format!(
                    "DynamoDB table {table} did not become active: {}",
                    DisplayErrorContext(&e)
                )
                .into(),
            )
        })?;
    Ok(())
}

/// The webhooks table: partition key `id` (string). Safe to call when it exists.
pub async fn create_webhooks_table(client: &Client, table: &str) -> Result<(), StoreError> {
    create_table(client, table, vec![key_attribute(WEBHOOK_KEY, KeyType::Hash)?]).await
}

/// The execution-log table: partition key `webhook_id`, sort key `sk`, TTL on `expires_at`. Safe to call when it exists.
pub async fn create_log_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let keys = vec![
        key_attribute(LOG_PARTITION_KEY, KeyType::Hash)?,
        key_attribute(LOG_SORT_KEY, KeyType::Range)?,
    ];
    create_table(client, table, keys).await?;
    enable_ttl(client, table, LOG_TTL_ATTRIBUTE).await
}

/// Turns on TTL on `attribute` unless it is on already.
pub(crate) async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> Result<(), StoreError> {
    let backend = |operation: &str, error: &dyn std::error::Error| {
        StoreError::Backend(format!("DynamoDB {operation} {table}: {}", DisplayErrorContext(error)).into())
    };
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| backend("DescribeTimeToLive", &e))?;
    let status = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| backend("UpdateTimeToLive", &e))?;
    Ok(())
}
