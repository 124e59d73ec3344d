//! Definitions: integrations, alert definitions with escalation levels, operators and groups.
//!
//! - [`model`]: the types, shared by the YAML file, the DynamoDB table and the JSON Schema.
//! - [`validate`](crate::validate()): every error with its path.
//! - [`Catalog`]: definitions indexed for routing; [`Catalog::routes`] answers "which attachments of
//!   this kind does this alert reach".
//! - Stores: [`DynamoDbStore`] (the `Definitions` table), [`MemoryStore`], and the YAML loader.
//!
//! Invariant: this crate never sends a notification and never knows about Lambda or SNS.
#![warn(missing_docs)]

mod catalog;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod escape;
pub mod model;
mod nesting;
pub mod rules;
mod schema;
pub mod selector;
mod store;
mod validate;
mod yaml;

pub use catalog::{Catalog, CatalogStats, Route};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{Changes, DynamoDbStore, ItemKey};
pub use escape::escape_controls;
pub use model::*;
pub use rules::{HTTP_METHODS, SecretLocation};
pub use schema::json_schema;
pub use store::{DefinitionSource, MemoryStore, StoreError};
pub use validate::{
    IntegrationCheck, KindRules, NoKindRules, Recipients, SettingsError, ValidationIssue, parse_settings,
    validate, validate_with,
};

#[cfg(test)]
mod tests;
pub use yaml::{LoadError, MAX_DEFINITIONS_BYTES, MAX_DEPTH, from_yaml, load_file};
