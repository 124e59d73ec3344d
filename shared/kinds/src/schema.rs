//! The published JSON Schema of the definitions file, with each kind's settings.

use alert_model::IntegrationKind;
use notify_core::Kind;
use serde_json::{Value, json};

use crate::{Visitor, visit};

/// The JSON Schema of a definitions file (YAML or JSON): the model's types, with an integration's
/// `settings` described by its kind's own settings type (`if kind is X then settings is
/// XSettings`). Committed as `shared/kinds/schema/definitions.schema.json`.
pub fn json_schema() -> Value {
    let mut schema = definition_store::json_schema();
    let mut conditions = Vec::new();
    for kind in IntegrationKind::ALL {
        let (name, settings, nested) = visit(*kind, SettingsSchema);
        conditions.push(json!({
            "if": { "properties": { "kind": { "const": kind.as_str() } }, "required": ["kind"] },
            "then": { "properties": { "settings": { "$ref": format!("#/$defs/{name}") } } }
        }));
        if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
            defs.insert(name, settings);
            defs.extend(nested);
        }
    }
    if let Some(integration) = schema
        .pointer_mut("/$defs/Integration")
        .and_then(Value::as_object_mut)
    {
        integration.insert("allOf".to_owned(), Value::Array(conditions));
    }
    schema
}

/// The name and schema of a kind's settings type, and the definitions it refers to (`#/$defs/…`,
/// moved into the root's so that the references resolve there).
struct SettingsSchema;

impl Visitor for SettingsSchema {
    type Output = (String, Value, serde_json::Map<String, Value>);

    fn visit<K: Kind>(self) -> Self::Output {
        let name = <K::Settings as schemars::JsonSchema>::schema_name().into_owned();
        let mut schema = schemars::SchemaGenerator::default()
            .into_root_schema_for::<K::Settings>()
            .to_value();
        let mut nested = serde_json::Map::new();
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            object.remove("title");
            if let Some(Value::Object(defs)) = object.remove("$defs") {
                nested = defs;
            }
        }
        (name, schema, nested)
    }
}
