//! SNS → Lambda events and sample alert messages, built in code.

use serde_json::{Value, json};

/// The sample monitor of the examples (BRIEF: native alerts for this monitor).
pub const SAMPLE_MONITOR_GUID: &str = "849b2046-213d-43ad-9efc-5af1faaeb222";
/// Its name.
pub const SAMPLE_MONITOR_NAME: &str = "GalacticResorts.com - DNS";
/// Its incident key.
pub const SAMPLE_INCIDENT_KEY: &str = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746";

/// An SNS event as Lambda receives it, with one record per `(message id, message)`: `Subject` null,
/// `SigningCertURL` in its upper-case spelling, one string message attribute.
pub fn event(records: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, message)| {
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alerts:0b8c5e0a",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": id,
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                    "Subject": null,
                    "Message": message,
                    "Timestamp": "2026-11-28T10:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {"severity": {"Type": "String", "Value": "critical"}}
                }
            })
        })
        .collect();
    json!({ "Records": records })
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
