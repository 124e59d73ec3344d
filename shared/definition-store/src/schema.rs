//! The published JSON Schema of the definitions file.

use crate::Definitions;

/// The JSON Schema of a definitions file (YAML or JSON), generated from the model types; committed as
/// `shared/definition-store/schema/definitions.schema.json`.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(Definitions).to_value()
}
