//! SNS → Lambda events and sample alert messages, built in code.

use serde_json::{Value, json};

/// The sample monitor of the examples (BRIEF: native alerts for this monitor).
pub const SAMPLE_MONITOR_GUID: &str = "849b2046-213d-43ad-9efc-5af1faaeb222";
/// Its name.
pub const SAMPLE_MONITOR_NAME: &str = "GalacticResorts.com - DNS";
/// Its incident key.
pub const SAMPLE_INCIDENT_KEY: &str = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746";

/// The topic of the events built here, unless a record names another.
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

/// One SNS record as Lambda gives it to a function: the tests' one builder of SNS events.
///
/// By default `Subject` is null, the topic is [`TOPIC_ARN`], the time fixed, and there is one string
/// message attribute; `SigningCertURL` and `UnsubscribeURL` have their upper-case spelling (the
/// pipeline reads neither).
#[derive(Debug, Clone)]
pub struct Record {
    message_id: String,
    message: String,
    subject: Option<String>,
    topic_arn: String,
    timestamp: String,
    attributes: Value,
}

impl Record {
    /// The record of `message` under SNS message id `message_id`.
    pub fn new(message_id: impl Into<String>, message: impl Into<String>) -> Self {
        Record {
            message_id: message_id.into(),
            message: message.into(),
            subject: None,
            topic_arn: TOPIC_ARN.to_owned(),
            timestamp: "2026-11-28T10:00:00.000Z".to_owned(),
            attributes: json!({"severity": {"Type": "String", "Value": "critical"}}),
        }
    }

    /// With `Subject` (a CloudWatch alarm's or a text format's); `None` keeps it null.
    pub fn subject<'a>(mut self, subject: impl Into<Option<&'a str>>) -> Self {
        self.subject = subject.into().map(str::to_owned);
        self
    }

    /// Published to `topic_arn` (the subscription is named after it).
    pub fn topic_arn(mut self, topic_arn: &str) -> Self {
        topic_arn.clone_into(&mut self.topic_arn);
        self
    }

    /// Published at `timestamp` (RFC 3339).
    pub fn timestamp(mut self, timestamp: &str) -> Self {
        timestamp.clone_into(&mut self.timestamp);
        self
    }

    /// With these `MessageAttributes` (`{"name": {"Type": "String", "Value": "…"}}`).
    pub fn attributes(mut self, attributes: Value) -> Self {
        self.attributes = attributes;
        self
    }

    /// The record as JSON (one element of the event's `Records`).
    pub fn to_json(&self) -> Value {
        json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{}:0b8c5e0a", self.topic_arn),
            "Sns": {
                "Type": "Notification",
                "MessageId": self.message_id,
                "TopicArn": self.topic_arn,
                "Subject": self.subject,
                "Message": self.message,
                "Timestamp": self.timestamp,
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": self.attributes
            }
        })
    }
}

/// An SNS event as Lambda receives it, holding `records`.
pub fn event_of(records: impl IntoIterator<Item = Record>) -> Value {
    let records: Vec<Value> = records.into_iter().map(|record| record.to_json()).collect();
    json!({ "Records": records })
}

/// An SNS event with one default [`Record`] per `(message id, message)`.
pub fn event(records: &[(&str, &str)]) -> Value {
    event_of(
        records
            .iter()
            .map(|(message_id, message)| Record::new(*message_id, *message)),
    )
}

/// A native envelope v1 message (type `Alert`) for the sample monitor, with `alert_guid`.
pub fn native_alert(alert_guid: &str) -> String {
    native(alert_guid, "Alert")
}

/// A native envelope v1 message of `alert_type` (`Alert`, `Ok`, `Reminder`) for the sample monitor.
pub fn native(alert_guid: &str, alert_type: &str) -> String {
    json!({
        "version": 1,
        "account": {"accountId": "123456"},
        "alert": {
            "alertGuid": alert_guid,
            "type": alert_type,
            "description": "DNS lookup failed",
            "timestampUtc": "2026-11-28T10:00:00Z"
        },
        "monitor": {
            "monitorGuid": SAMPLE_MONITOR_GUID,
            "name": SAMPLE_MONITOR_NAME,
            "customFields": {"Team": "ops"}
        },
        "incident": {"key": SAMPLE_INCIDENT_KEY}
    })
    .to_string()
}
