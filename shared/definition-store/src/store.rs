//! Where definitions live: the DynamoDB `Definitions` table, or memory.

use std::future::Future;

use crate::{Definitions, escape::escape_controls};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The DynamoDB call failed.
    #[error(
        "dynamodb {operation} on table `{}` failed: {}",
        escape_controls(.table),
        escape_controls(&.source.to_string())
    )]
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
    #[error(
        "item `{}` in table `{}`: {}",
        escape_controls(.key),
        escape_controls(.table),
        escape_controls(.reason)
    )]
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
