//! The DynamoDB `Definitions` table (`pk` S, `sk` S); item mapping in [`item`].

pub mod item;

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use aws_sdk_dynamodb::{
    client::Waiters,
    config::AsyncSleep,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
        PutRequest, ScalarAttributeType, WriteRequest,
    },
};

use crate::{DefinitionSource, Definitions, StoreError, escape::escape_controls};
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

    /// Replaces the table's content with `definitions`: [`DynamoDbStore::changes`], then
    /// [`DynamoDbStore::apply_changes`].
    ///
    /// It does not validate (the CLI does, before calling it). Not atomic: a failure part-way leaves a
    /// mix; applying again repairs it.
    pub async fn apply(&self, definitions: &Definitions) -> Result<(), StoreError> {
        let changes = self.changes(definitions).await?;
        self.apply_changes(&changes).await
    }

    /// What applying `definitions` would change: reads every item of the table (consistently) and
    /// compares it with the item of the same type and id in `definitions`. Changes nothing.
    ///
    /// Two objects of one type with the same id are refused. Items that are not definitions (an
    /// unknown `pk`) are removals, as [`DynamoDbStore::apply`] removes them.
    pub async fn changes(&self, definitions: &Definitions) -> Result<Changes, StoreError> {
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

        let mut current: HashMap<(String, String), Item> = self
            .scan_items()
            .await?
            .into_iter()
            .map(|item| (item_key(&item), item))
            .collect();
        let mut changes = Changes::default();
        for (item_type, id, item) in items {
            let key = ItemKey {
                item_type: item_type.as_str().to_owned(),
                id,
            };
            match current.remove(&(key.item_type.clone(), key.id.clone())) {
                Some(old) if same_item(&old, &item) => changes.unchanged += 1,
                Some(_) => {
                    changes.changed.push(key);
                    changes.puts.push(item);
                }
                None => {
                    changes.added.push(key);
                    changes.puts.push(item);
                }
            }
        }
        let mut stale: Vec<(String, String)> = current.into_keys().collect();
        // Removals by type (in the model's order, then anything else), then id.
        stale.sort_by_cached_key(|(pk, sk)| {
            let rank = ItemType::parse(pk).map_or(ItemType::ALL.len(), |item_type| {
                ItemType::ALL.iter().position(|t| *t == item_type).unwrap_or(0)
            });
            (rank, pk.clone(), sk.clone())
        });
        for (pk, sk) in stale {
            changes.deletes.push(HashMap::from([
                (PK.to_owned(), AttributeValue::S(pk.clone())),
                (SK.to_owned(), AttributeValue::S(sk.clone())),
            ]));
            changes.removed.push(ItemKey {
                item_type: pk,
                id: sk,
            });
        }
        Ok(changes)
    }

    /// Writes what [`DynamoDbStore::changes`] found: the added and changed items first, then the
    /// removals, each with BatchWriteItem in chunks of 25 (UnprocessedItems retried with backoff a
    /// bounded number of times). Only the removals listed are made: an item another writer added since
    /// stays.
    pub async fn apply_changes(&self, changes: &Changes) -> Result<(), StoreError> {
        let puts = changes
            .puts
            .iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|error| dynamo_error("BatchWriteItem", &self.table, error))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(puts).await?;
        let deletes = changes
            .deletes
            .iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(|error| dynamo_error("BatchWriteItem", &self.table, error))
            })
            .collect::<Result<Vec<_>, _>>()?;
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

    /// Every item in the table, read consistently.
    async fn scan_items(&self) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| dynamo_error("Scan", &self.table, error))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// The key of a definitions item: its type (`pk`) and its id (`sk`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    /// `integration`, `alertDefinition`, `operator`, `operatorGroup`, `monitorGroup`, or the `pk` of
    /// an item that is not a definition.
    pub item_type: String,
    /// The object's id.
    pub id: String,
}

/// `integration ops-email`, control characters escaped.
impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            escape_controls(&self.item_type),
            escape_controls(&self.id)
        )
    }
}

/// What applying a set of definitions changes in the table ([`DynamoDbStore::changes`]), and the
/// writes that make it so ([`DynamoDbStore::apply_changes`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Objects not in the table yet, in file order by type.
    pub added: Vec<ItemKey>,
    /// Objects whose item differs from the table's (any field, or the position in its list).
    pub changed: Vec<ItemKey>,
    /// Items in the table that the definitions no longer hold, by type and id.
    pub removed: Vec<ItemKey>,
    /// Objects already in the table as they are.
    pub unchanged: usize,
    puts: Vec<Item>,
    deletes: Vec<Item>,
}

impl Changes {
    /// Nothing to add, change or remove.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

fn item_key(item: &Item) -> (String, String) {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        _ => String::new(),
    };
    (text(PK), text(SK))
}

/// Whether two items hold the same attributes; numbers compare by value (DynamoDB may give back
/// `1.50` as `1.5`).
fn same_item(a: &Item, b: &Item) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(name, value)| b.get(name).is_some_and(|other| same_value(value, other)))
}

fn same_value(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => x == y || same_number(x, y),
        (AttributeValue::L(x), AttributeValue::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (AttributeValue::M(x), AttributeValue::M(y)) => same_item(x, y),
        _ => a == b,
    }
}

fn same_number(x: &str, y: &str) -> bool {
    let (x, y) = (x.trim(), y.trim());
    match (x.parse::<i128>(), y.parse::<i128>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => matches!((x.parse::<f64>(), y.parse::<f64>()), (Ok(x), Ok(y)) if x == y),
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
