use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Deserializer, Serialize};

/// One alert message, normalised from whatever arrived on the topic.
///
/// The fields are the 39 alert variables of the product we replace (`@account.accountId`,
/// `@alert.alertGuid`, …, `@monitor.name`, `@CustomField(name)`), grouped and named exactly as there,
/// so that templates written for it port unchanged. Serialised, an `Alert` is the body of the native
/// envelope v1 (see [`NativeEnvelope`]); every text value is a string, empty when unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Alert {
    /// `@account.*`
    pub account: Account,
    /// `@alert.*`
    pub alert: AlertInfo,
    /// `@alertDefinition.*`: filled per route from the definition that covers the monitor.
    pub alert_definition: AlertDefinitionInfo,
    /// `@escalationLevel.*`: the level comes from the sender (default 1); the message from the definition.
    pub escalation_level: EscalationLevelInfo,
    /// `@incident.*`
    pub incident: Incident,
    /// `@monitor.*` and `@CustomField(name)`.
    pub monitor: Monitor,
    /// Not an alert variable: set on the alerts Tocsin publishes itself (delivery-failure notices),
    /// which go to one integration only. Absent from the envelope when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_to: Option<DeliverTo>,
}

/// `deliverTo` of the native envelope: the alert reaches this integration only, through the level
/// that `alertDefinition.guid` and `escalationLevel.id` name (its operators are the recipients).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliverTo {
    /// The integration id.
    pub integration: String,
    /// Why Tocsin sent it: `delivery-failure`.
    #[serde(default)]
    pub reason: String,
}

/// [`DeliverTo::reason`] of a delivery-failure notice.
pub const DELIVERY_FAILURE: &str = "delivery-failure";

/// The native envelope v1: `{"version":1, "account":{…}, "alert":{…}, "monitor":{…}, …}`.
///
/// It is the public contract of the topic and the body of the preset "all variables" custom
/// integration, so that one Tocsin can feed another. Additive changes only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NativeEnvelope {
    /// Always 1 for this shape.
    pub version: u32,
    /// The alert variables.
    #[serde(flatten)]
    pub alert: Alert,
}

impl NativeEnvelope {
    /// Wraps an alert in the current envelope version.
    pub fn new(alert: Alert) -> Self {
        NativeEnvelope { version: 1, alert }
    }
}

/// `@account.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Account {
    /// `@account.accountId`
    #[serde(deserialize_with = "lenient_string")]
    pub account_id: String,
}

/// `@alert.*`: 25 variables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct AlertInfo {
    /// Unique id of this alert message; stable across redeliveries of the same message.
    #[serde(deserialize_with = "lenient_string")]
    pub alert_guid: String,
    /// `Alert` (new error), `Ok` (resolved) or `Reminder` (still ongoing).
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    #[serde(deserialize_with = "lenient_string")]
    pub description: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error_description: String,
    #[serde(deserialize_with = "lenient_string")]
    pub failure_message: String,
    #[serde(deserialize_with = "lenient_string")]
    pub error_type_id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub checkpoint_name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub number_of_consecutive_errors: String,
    #[serde(deserialize_with = "lenient_string")]
    pub timestamp_utc: String,
    #[serde(deserialize_with = "lenient_string")]
    pub timestamp: String,
    #[serde(deserialize_with = "lenient_string")]
    pub timestamp_utc_formatted: String,
    #[serde(deserialize_with = "lenient_string")]
    pub timestamp_formatted: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error_utc: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error_utc_formatted: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error_formatted: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error_check_id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub first_error_check_url: String,
    #[serde(deserialize_with = "lenient_string")]
    pub downtime_duration: String,
    #[serde(deserialize_with = "lenient_string")]
    pub resolved_ip_address: String,
    #[serde(deserialize_with = "lenient_string")]
    pub server_ipv4: String,
    #[serde(deserialize_with = "lenient_string")]
    pub server_ipv6: String,
    #[serde(deserialize_with = "lenient_string")]
    pub response_body: String,
    #[serde(deserialize_with = "lenient_string")]
    pub response_headers: String,
    #[serde(deserialize_with = "lenient_string")]
    pub ssl_valid_until: String,
}

/// `@alertDefinition.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertDefinitionInfo {
    /// `@alertDefinition.guid`
    #[serde(deserialize_with = "lenient_string")]
    pub guid: String,
    /// `@alertDefinition.name`
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
}

/// `@escalationLevel.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EscalationLevelInfo {
    /// `@escalationLevel.id`: the level that produced the alert, 1 when the sender does not say.
    #[serde(deserialize_with = "lenient_level")]
    pub id: u32,
    /// `@escalationLevel.message`
    #[serde(deserialize_with = "lenient_string")]
    pub message: String,
}

impl Default for EscalationLevelInfo {
    fn default() -> Self {
        EscalationLevelInfo {
            id: 1,
            message: String::new(),
        }
    }
}

/// `@incident.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Incident {
    /// `@incident.key`: shared by an incident's Alert, Reminder and Ok messages; every target's
    /// dedup key derives from it.
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
}

/// `@monitor.*` and `@CustomField(name)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)]
pub struct Monitor {
    #[serde(deserialize_with = "lenient_string")]
    pub monitor_guid: String,
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub monitor_type: String,
    #[serde(deserialize_with = "lenient_string")]
    pub url: String,
    #[serde(deserialize_with = "lenient_string")]
    pub notes: String,
    #[serde(deserialize_with = "lenient_string")]
    pub dashboard_url: String,
    #[serde(deserialize_with = "lenient_string")]
    pub edit_url: String,
    /// `@CustomField(name)`: accepts a map or the API's `[{"Name":…,"Value":…}]` list.
    #[serde(deserialize_with = "lenient_custom_fields")]
    pub custom_fields: BTreeMap<String, String>,
}

/// `@alert.type`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
pub enum AlertType {
    /// A new error (the API calls it `Error`).
    #[default]
    Alert,
    /// Resolved.
    Ok,
    /// Still ongoing.
    Reminder,
}

impl AlertType {
    /// Every alert type.
    pub const ALL: &'static [AlertType] = &[AlertType::Alert, AlertType::Ok, AlertType::Reminder];

    /// The variable's value: `Alert`, `Ok` or `Reminder`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::Alert => "Alert",
            AlertType::Ok => "Ok",
            AlertType::Reminder => "Reminder",
        }
    }

    /// Lower-case name used in CLI flags and delivery-log keys.
    pub fn as_lower(self) -> &'static str {
        match self {
            AlertType::Alert => "alert",
            AlertType::Ok => "ok",
            AlertType::Reminder => "reminder",
        }
    }

    /// Parses the names senders use: `Alert`/`Error`/`firing`, `Ok`/`resolved`, `Reminder`, any case.
    pub fn parse(text: &str) -> Option<AlertType> {
        match text.trim().to_ascii_lowercase().as_str() {
            "alert" | "error" | "firing" | "alarm" | "problem" => Some(AlertType::Alert),
            "ok" | "resolved" | "recovery" => Some(AlertType::Ok),
            "reminder" => Some(AlertType::Reminder),
            _ => None,
        }
    }
}

impl fmt::Display for AlertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AlertType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AlertType::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown alert type `{text}` (expected Alert, Ok or Reminder)"
            ))
        })
    }
}

/// Accepts a string, number, boolean or null where the product sends strings.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text,
        serde_json::Value::Bool(flag) => flag.to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        other => other.to_string(),
    })
}

fn lenient_level<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let text = lenient_string(deserializer)?;
    if text.trim().is_empty() {
        return Ok(1);
    }
    text.trim()
        .parse()
        .map_err(|_| serde::de::Error::custom(format!("escalation level `{text}` is not a whole number")))
}

fn lenient_custom_fields<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let scalar = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| {
                let name = item.get("Name").or_else(|| item.get("name"));
                let value = item.get("Value").or_else(|| item.get("value"));
                match (name, value) {
                    (Some(name), value) => Ok((scalar(name), value.map(scalar).unwrap_or_default())),
                    _ => Err(serde::de::Error::custom("custom field without a Name")),
                }
            })
            .collect(),
        _ => Err(serde::de::Error::custom(
            "customFields must be a map or a list of {Name, Value}",
        )),
    }
}
