//! SNS records: read tolerantly, normalised into an alert.

use std::collections::BTreeMap;

use alert_model::{
    Alert,
    inbound::{InboundMessage, normalize},
};
use serde::Deserialize;

/// One record of an SNS event, read tolerantly (DESIGN §1, inbound-formats §11.1).
#[derive(Debug, Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns", alias = "sns")]
    sns: SnsMessage,
}

#[derive(Debug, Deserialize)]
struct SnsMessage {
    #[serde(rename = "MessageId", alias = "messageId", default)]
    message_id: Option<String>,
    #[serde(rename = "Message", alias = "message", default)]
    message: Option<serde_json::Value>,
    #[serde(rename = "Subject", alias = "subject", default)]
    subject: Option<String>,
    #[serde(rename = "Timestamp", alias = "timestamp", default)]
    timestamp: Option<String>,
    #[serde(rename = "MessageAttributes", alias = "messageAttributes", default)]
    message_attributes: Option<BTreeMap<String, SnsAttribute>>,
}

#[derive(Debug, Deserialize)]
struct SnsAttribute {
    #[serde(rename = "Type", alias = "type", default)]
    kind: Option<String>,
    #[serde(rename = "Value", alias = "value", default)]
    value: Option<serde_json::Value>,
}

/// Reads one SNS record tolerantly and normalises its message (also used by `tocsin render` for
/// SNS event files). The error is the reason, for the log; it holds no message content.
pub fn alert_from_record(record: &serde_json::Value) -> Result<Alert, String> {
    if !record.is_object() {
        return Err("the record is not an object".to_owned());
    }
    let record: SnsRecord = serde_json::from_value(record.clone())
        .map_err(|e| format!("the record is not an sns record: {e}"))?;
    let sns = record.sns;
    let message_id = sns
        .message_id
        .filter(|id| !id.trim().is_empty())
        .ok_or("the record has no `Sns.MessageId`")?;
    let message = match sns.message {
        Some(serde_json::Value::String(text)) => text,
        Some(serde_json::Value::Null) | None => return Err("the record has no `Sns.Message`".to_owned()),
        // Not what SNS sends, but a JSON document in place of its string form is unambiguous.
        Some(other) => other.to_string(),
    };
    let attributes: BTreeMap<String, String> = sns
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, attribute)| {
            attribute
                .kind
                .as_deref()
                .is_none_or(|kind| kind == "String" || kind == "Number")
        })
        .filter_map(|(name, attribute)| match attribute.value {
            Some(serde_json::Value::String(text)) => Some((name, text)),
            Some(serde_json::Value::Number(number)) => Some((name, number.to_string())),
            _ => None,
        })
        .collect();
    let input = InboundMessage {
        message: &message,
        subject: sns.subject.as_deref(),
        message_id: &message_id,
        timestamp: sns.timestamp.as_deref(),
        attributes: &attributes,
    };
    let mut alert = normalize(&input)
        .map_err(|e| format!("cannot read the message: {e}"))?
        .alert;
    if alert.alert.alert_guid.trim().is_empty() {
        // The idempotency key must be stable across redeliveries: the SNS message id is.
        alert.alert.alert_guid = message_id;
    }
    Ok(alert)
}
