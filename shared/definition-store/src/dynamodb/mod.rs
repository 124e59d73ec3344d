//! The DynamoDB `Definitions` table (`pk` S, `sk` S); item mapping in [`item`].

pub mod item;

use std::{collections::HashSet, time::Duration};

use aws_sdk_dynamodb::{
    client::Waiters,
    config::AsyncSleep,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
        PutRequest, ScalarAttributeType, WriteRequest,
    },
};

use crate::{DefinitionSource, Definitions, StoreError};
use item::{Item, ItemType, PK, ParsedItem, SK};

/// Items per BatchWriteItem call (the service's limit).
const BATCH_SIZE: usize = 25;
/// Retries of UnprocessedItems per batch before giving up.
const MAX_UNPROCESSED_RETRIES: u32 = 8;

/// The DynamoDB `Definitions` table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn dynamo_error(
    operation: &'static str,
    table: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Dynamo {
        operation,
        table: table.to_owned(),
        source: Box::new(source),
    }
}

impl DynamoDbStore {
    /// A store on `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates a `Definitions` table (`pk` S hash key, `sk` S range key, on-demand billing) and waits
    /// up to a minute for it to become active. A table that already exists is left as it is. For the CLI, the local demo and tests; in production the
    /// SAM template creates the table.
    pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), StoreError> {
        let attribute = |attribute: &str| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|error| dynamo_error("CreateTable", name, error))
        };
        let key = |attribute: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(key_type)
                .build()
                .map_err(|error| dynamo_error("CreateTable", name, error))
        };
        let created = client
            .create_table()
            .table_name(name)
            .attribute_definitions(attribute(PK)?)
            .attribute_definitions(attribute(SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Already there (e.g. `tocsin apply --create-table` run twice): fine, its key schema is
            // checked by the first write.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(error) => return Err(dynamo_error("CreateTable", name, error)),
        }
        client
            .wait_until_table_exists()
            .table_name(name)
            .wait(Duration::from_secs(60))
            .await
            .map_err(|error| dynamo_error("DescribeTable", name, error))?;
        Ok(())
    }

    fn item_error(&self, error: item::ItemError) -> StoreError {
        StoreError::Item {
            key: error.key,
            table: self.table.clone(),
            reason: error.reason,
        }
    }

    /// Replaces the table's content with `definitions` (upserts every item, deletes the others).
    ///
    /// It does not validate (the CLI does, before calling it). Items are written with BatchWriteItem
    /// in chunks of 25, UnprocessedItems retried with backoff a bounded number of times; then every
    /// item whose key is no longer present is deleted the same way. Two objects of one type with the
    /// same id are refused before anything is written. Not atomic: a failure part-way leaves a mix;
    /// applying again repairs it.
    pub async fn apply(&self, definitions: &Definitions) -> Result<(), StoreError> {
        let items = item::items(definitions).map_err(|error| self.item_error(error))?;
        let mut keys: HashSet<(ItemType, String)> = HashSet::new();
        for (item_type, id, _) in &items {
            if !keys.insert((*item_type, id.clone())) {
                return Err(StoreError::Item {
                    key: format!("{}/{id}", item_type.as_str()),
                    table: self.table.clone(),
                    reason: "duplicate id: two objects of this type share it".to_owned(),
                });
            }
        }

        let puts = items
            .into_iter()
            .map(|(_, _, item)| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|error| dynamo_error("BatchWriteItem", &self.table, error))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(puts).await?;

        let mut deletes = Vec::new();
        for key in self.scan_keys().await? {
            let pk = match key.get(PK) {
                Some(AttributeValue::S(pk)) => pk.as_str(),
                _ => "",
            };
            let sk = match key.get(SK) {
                Some(AttributeValue::S(sk)) => sk.as_str(),
                _ => "",
            };
            let stale = match ItemType::parse(pk) {
                Some(item_type) => !keys.contains(&(item_type, sk.to_owned())),
                None => true, // not a definition item: the table holds definitions only
            };
            if stale {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map_err(|error| dynamo_error("BatchWriteItem", &self.table, error))?;
                deletes.push(WriteRequest::builder().delete_request(delete).build());
            }
        }
        self.batch_write(deletes).await
    }

    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let mut chunk: Vec<WriteRequest> = requests.by_ref().take(BATCH_SIZE).collect();
            let mut attempt = 0;
            loop {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, chunk)
                    .send()
                    .await
                    .map_err(|error| dynamo_error("BatchWriteItem", &self.table, error))?;
                let unprocessed = output
                    .unprocessed_items
                    .and_then(|mut items| items.remove(&self.table))
                    .unwrap_or_default();
                if unprocessed.is_empty() {
                    break;
                }
                attempt += 1;
                if attempt > MAX_UNPROCESSED_RETRIES {
                    return Err(StoreError::Item {
                        key: "-".to_owned(),
                        table: self.table.clone(),
                        reason: format!(
                            "{} items still unprocessed after {MAX_UNPROCESSED_RETRIES} retries of BatchWriteItem",
                            unprocessed.len()
                        ),
                    });
                }
                if let Some(sleep) = self.client.config().sleep_impl() {
                    sleep.sleep(Duration::from_millis(50 << attempt.min(6))).await;
                }
                chunk = unprocessed;
            }
        }
        Ok(())
    }

    /// The keys of every item in the table.
    async fn scan_keys(&self) -> Result<Vec<Item>, StoreError> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .projection_expression("#pk, #sk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| dynamo_error("Scan", &self.table, error))?;
            keys.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(keys);
            }
        }
    }
}

impl DefinitionSource for DynamoDbStore {
    /// Scans the whole table (following pagination) and maps every item; an item that does not map is
    /// an error naming its key and field, never skipped.
    async fn load(&self) -> Result<Definitions, StoreError> {
        let mut parsed = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| dynamo_error("Scan", &self.table, error))?;
            for item in output.items() {
                parsed.push(ParsedItem::try_from(item).map_err(|error| self.item_error(error))?);
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                break;
            }
        }
        Ok(item::assemble(parsed))
    }
}
