//! The mapping between the model and DynamoDB items.
//!
//! One item per object: `pk` = the item type (`integration`, `alertDefinition`, `operator`,
//! `operatorGroup`, `monitorGroup`), `sk` = the object's id, `seq` (N) = its position in its list (so
//! that a load gives the definitions back in file order, which is routing order), and the object's
//! fields as native attributes with their camelCase names (strings S, numbers N, booleans BOOL, nulls
//! NULL, lists L, maps M). `pk`, `sk` and `seq` are reserved: no model object has such a field.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{AlertDefinition, Definitions, Integration, MonitorGroup, Operator, OperatorGroup};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Position attribute.
pub const SEQ: &str = "seq";

/// The item types, i.e. the values of `pk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemType {
    /// An [`Integration`].
    Integration,
    /// An [`AlertDefinition`].
    AlertDefinition,
    /// An [`Operator`].
    Operator,
    /// An [`OperatorGroup`].
    OperatorGroup,
    /// A [`MonitorGroup`].
    MonitorGroup,
}

impl ItemType {
    /// Every item type.
    pub const ALL: &'static [ItemType] = &[
        ItemType::Integration,
        ItemType::AlertDefinition,
        ItemType::Operator,
        ItemType::OperatorGroup,
        ItemType::MonitorGroup,
    ];

    /// The `pk` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Integration => "integration",
            ItemType::AlertDefinition => "alertDefinition",
            ItemType::Operator => "operator",
            ItemType::OperatorGroup => "operatorGroup",
            ItemType::MonitorGroup => "monitorGroup",
        }
    }

    /// Parses a `pk` value.
    pub fn parse(text: &str) -> Option<ItemType> {
        ItemType::ALL.iter().copied().find(|kind| kind.as_str() == text)
    }
}

/// Why an item could not be mapped; `key` is `pk/sk` (or what is known of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// `integration/ops-email`.
    pub key: String,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// One object read from an item.
#[derive(Debug, Clone, PartialEq)]
pub enum DefinitionItem {
    /// An integration.
    Integration(Integration),
    /// An alert definition.
    AlertDefinition(AlertDefinition),
    /// An operator.
    Operator(Operator),
    /// An operator group.
    OperatorGroup(OperatorGroup),
    /// A monitor group.
    MonitorGroup(MonitorGroup),
}

/// An object read from an item, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedItem {
    /// The `seq` attribute, when present.
    pub seq: Option<u64>,
    /// The `sk`.
    pub id: String,
    /// The object.
    pub object: DefinitionItem,
}

/// The key (`pk`, `sk`) of an item.
pub fn key(item_type: ItemType, id: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(item_type.as_str().to_owned())),
        (SK.to_owned(), AttributeValue::S(id.to_owned())),
    ])
}

/// Every item of `definitions`, in order (integrations, definitions, operators, operator groups,
/// monitor groups).
pub fn items(definitions: &Definitions) -> Result<Vec<(ItemType, String, Item)>, ItemError> {
    let mut items = Vec::new();
    push_all(
        &mut items,
        ItemType::Integration,
        &definitions.integrations,
        |o| &o.id,
    )?;
    push_all(
        &mut items,
        ItemType::AlertDefinition,
        &definitions.alert_definitions,
        |o| &o.id,
    )?;
    push_all(&mut items, ItemType::Operator, &definitions.operators, |o| &o.id)?;
    push_all(
        &mut items,
        ItemType::OperatorGroup,
        &definitions.operator_groups,
        |o| &o.id,
    )?;
    push_all(
        &mut items,
        ItemType::MonitorGroup,
        &definitions.monitor_groups,
        |o| &o.id,
    )?;
    Ok(items)
}

fn push_all<T: Serialize>(
    items: &mut Vec<(ItemType, String, Item)>,
    item_type: ItemType,
    objects: &[T],
    id: impl Fn(&T) -> &String,
) -> Result<(), ItemError> {
    for (seq, object) in objects.iter().enumerate() {
        let id = id(object);
        items.push((item_type, id.clone(), to_item(item_type, id, seq as u64, object)?));
    }
    Ok(())
}

/// The item of one object.
pub fn to_item<T: Serialize>(item_type: ItemType, id: &str, seq: u64, object: &T) -> Result<Item, ItemError> {
    let key_text = format!("{}/{id}", item_type.as_str());
    if id.is_empty() {
        return Err(ItemError {
            key: key_text,
            reason: "empty id (DynamoDB keys cannot be empty)".to_owned(),
        });
    }
    let value = serde_json::to_value(object).map_err(|error| ItemError {
        key: key_text.clone(),
        reason: format!("cannot serialise: {error}"),
    })?;
    let Value::Object(fields) = value else {
        return Err(ItemError {
            key: key_text,
            reason: "object did not serialise to a map".to_owned(),
        });
    };
    let mut item = key(item_type, id);
    for (name, value) in fields {
        if [PK, SK, SEQ].contains(&name.as_str()) {
            return Err(ItemError {
                key: key_text,
                reason: format!("field `{name}` is a reserved attribute name"),
            });
        }
        item.insert(name, to_attribute(value));
    }
    item.insert(SEQ.to_owned(), AttributeValue::N(seq.to_string()));
    Ok(item)
}

/// JSON → DynamoDB: strings S, numbers N, booleans BOOL, null NULL, arrays L, objects M.
pub fn to_attribute(value: Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(flag) => AttributeValue::Bool(flag),
        Value::Number(number) => AttributeValue::N(number.to_string()),
        Value::String(text) => AttributeValue::S(text),
        Value::Array(values) => AttributeValue::L(values.into_iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(map.into_iter().map(|(k, v)| (k, to_attribute(v))).collect()),
    }
}

/// DynamoDB → JSON; `path` names the field in errors. String sets become lists of strings and number
/// sets lists of numbers; binary values are refused.
pub fn from_attribute(value: &AttributeValue, path: &str) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(flag) => Value::Bool(*flag),
        AttributeValue::N(text) => Value::Number(parse_number(text, path)?),
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::Ss(texts) => Value::Array(texts.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(texts) => Value::Array(
            texts
                .iter()
                .map(|text| parse_number(text, path).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::L(values) => Value::Array(
            values
                .iter()
                .enumerate()
                .map(|(i, value)| from_attribute(value, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| from_attribute(v, &join(path, k)).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(_) | AttributeValue::Bs(_) => {
            return Err(format!("field `{path}`: binary values are not supported"));
        }
        _ => return Err(format!("field `{path}`: unsupported attribute type")),
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn parse_number(text: &str, path: &str) -> Result<serde_json::Number, String> {
    let trimmed = text.trim();
    if let Ok(n) = trimmed.parse::<u64>() {
        return Ok(n.into());
    }
    if let Ok(n) = trimmed.parse::<i64>() {
        return Ok(n.into());
    }
    trimmed
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .ok_or_else(|| format!("field `{path}`: `{text}` is not a number"))
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text),
        Some(_) => Err(format!("field `{name}` is not a string")),
        None => Err(format!("missing field `{name}`")),
    }
}

fn get_n(item: &Item, name: &str) -> Result<Option<u64>, String> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("field `{name}`: `{text}` is not a whole number")),
        Some(_) => Err(format!("field `{name}` is not a number")),
        None => Ok(None),
    }
}

impl TryFrom<&Item> for ParsedItem {
    type Error = ItemError;

    fn try_from(item: &Item) -> Result<Self, ItemError> {
        let pk = get_s(item, PK).map_err(|reason| ItemError {
            key: "?".to_owned(),
            reason,
        })?;
        let sk = get_s(item, SK).map_err(|reason| ItemError {
            key: format!("{pk}/?"),
            reason,
        })?;
        let key_text = format!("{pk}/{sk}");
        let error = |reason: String| ItemError {
            key: key_text.clone(),
            reason,
        };
        let item_type = ItemType::parse(pk).ok_or_else(|| {
            error(format!(
                "unknown item type `{pk}` in field `pk` (expected integration, alertDefinition, operator, operatorGroup or monitorGroup)"
            ))
        })?;
        let seq = get_n(item, SEQ).map_err(&error)?;
        let mut fields = serde_json::Map::new();
        for (name, value) in item {
            if [PK, SK, SEQ].contains(&name.as_str()) {
                continue;
            }
            fields.insert(name.clone(), from_attribute(value, name).map_err(&error)?);
        }
        match fields.get("id") {
            None => {
                fields.insert("id".to_owned(), Value::String(sk.to_owned()));
            }
            Some(Value::String(id)) if id == sk => {}
            Some(_) => return Err(error(format!("field `id` does not equal the sort key `{sk}`"))),
        }
        let value = Value::Object(fields);
        let object = match item_type {
            ItemType::Integration => DefinitionItem::Integration(parse(value).map_err(&error)?),
            ItemType::AlertDefinition => DefinitionItem::AlertDefinition(parse(value).map_err(&error)?),
            ItemType::Operator => DefinitionItem::Operator(parse(value).map_err(&error)?),
            ItemType::OperatorGroup => DefinitionItem::OperatorGroup(parse(value).map_err(&error)?),
            ItemType::MonitorGroup => DefinitionItem::MonitorGroup(parse(value).map_err(&error)?),
        };
        Ok(ParsedItem {
            seq,
            id: sk.to_owned(),
            object,
        })
    }
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        format!("field `{path}`: {}", error.inner())
    })
}

/// Assembles objects read in any order: each list sorted by `seq` (items without one last, by id).
pub fn assemble(mut parsed: Vec<ParsedItem>) -> Definitions {
    parsed.sort_by(|a, b| (a.seq.is_none(), a.seq, &a.id).cmp(&(b.seq.is_none(), b.seq, &b.id)));
    let mut definitions = Definitions::default();
    for item in parsed {
        match item.object {
            DefinitionItem::Integration(o) => definitions.integrations.push(o),
            DefinitionItem::AlertDefinition(o) => definitions.alert_definitions.push(o),
            DefinitionItem::Operator(o) => definitions.operators.push(o),
            DefinitionItem::OperatorGroup(o) => definitions.operator_groups.push(o),
            DefinitionItem::MonitorGroup(o) => definitions.monitor_groups.push(o),
        }
    }
    definitions
}
