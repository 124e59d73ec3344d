//! Where definitions live: the DynamoDB `Definitions` table, or memory.

use std::future::Future;

use crate::Definitions;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The DynamoDB call failed.
    #[error("dynamodb {operation} on table `{table}` failed: {source}")]
    Dynamo {
        /// The operation (`Scan`, `BatchWriteItem`, …).
        operation: &'static str,
        /// The table.
        table: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An item could not be mapped to the model.
    #[error("item `{key}` in table `{table}`: {reason}")]
    Item {
        /// The item's key.
        key: String,
        /// The table.
        table: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the whole set of definitions. Notifier functions need nothing more (read-only IAM).
pub trait DefinitionSource: Send + Sync {
    /// Loads every definition.
    fn load(&self) -> impl Future<Output = Result<Definitions, StoreError>> + Send;
}

/// Definitions held in memory: the store of tests, the CLI and the local demo.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    definitions: Definitions,
}

impl MemoryStore {
    /// A store holding `definitions`.
    pub fn new(definitions: Definitions) -> Self {
        MemoryStore { definitions }
    }
}

impl DefinitionSource for MemoryStore {
    async fn load(&self) -> Result<Definitions, StoreError> {
        Ok(self.definitions.clone())
    }
}

/// The DynamoDB `Definitions` table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbStore {
    /// A store on `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// Replaces the table's content with `definitions` (upserts every item, deletes the others).
    pub async fn apply(&self, definitions: &Definitions) -> Result<(), StoreError> {
        let _ = (definitions, &self.client);
        Err(StoreError::Item {
            key: "-".to_owned(),
            table: self.table.clone(),
            reason: "not implemented yet".to_owned(),
        })
    }
}

impl DefinitionSource for DynamoDbStore {
    async fn load(&self) -> Result<Definitions, StoreError> {
        Err(StoreError::Item {
            key: "-".to_owned(),
            table: self.table.clone(),
            reason: "not implemented yet".to_owned(),
        })
    }
}
