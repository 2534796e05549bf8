//! The DynamoDB delivery log's table: its keys, the `by_webhook` index of summaries, and TTL.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use super::{BY_WEBHOOK_INDEX, INDEX_PARTITION, INDEX_SORT, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use crate::store::StoreError;
use crate::store::dynamodb::{created_or_existing, enable_ttl};

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
    created_or_existing(client, table, created).await?;
    enable_ttl(client, table, TTL_ATTRIBUTE).await
}
