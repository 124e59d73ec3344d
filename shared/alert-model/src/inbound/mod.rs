//! Detection and normalisation of every inbound message shape (DESIGN.md §3).
//!
//! Formats, tried in this order: native envelope v1, CloudWatch alarm notification, EventBridge
//! "CloudWatch Alarm State Change", Alertmanager webhook JSON, Grafana webhook JSON, Alertmanager
//! default text, Grafana default text, and plain text (never dropped).
//!
//! Detection:
//! - A message that parses as a JSON object is matched by its keys: `version` with `alert` /
//!   `monitor` / … (and no `alerts`) is native; `AlarmName`, `AlarmArn` or `NewStateValue` is a
//!   CloudWatch alarm notification; `detail-type: "CloudWatch Alarm State Change"` is EventBridge;
//!   an `alerts` list with `status` / `groupKey` / `receiver` / … is Alertmanager, or Grafana when
//!   it also carries `orgId` (or `title` and `state`). Any other JSON (object, array, scalar) is
//!   plain text.
//! - Text with a line `**Firing**` / `**Resolved**` is Grafana's default text; a line
//!   `Alerts Firing:` / `Alerts Resolved:`, or a subject `[FIRING:n] …` / `[RESOLVED] …`, is
//!   Alertmanager's default text. Everything else is plain text, including text that merely starts
//!   with `{`.
//! - Once a format is recognised, a missing or malformed required field is an
//!   [`InboundError::Invalid`] naming the JSON path (`$.AlarmName`), never a silent fall-back.
//!
//! Common mapping rules (details in each format's module):
//! - `alert.alertGuid`: the sender's id when it gives one (native `alert.alertGuid`, EventBridge
//!   `id`), else the UUID v5 of the SNS message id, so a redelivery gets the same guid.
//! - `incident.key`: shared by an incident's Alert, Reminder and Ok; the sender's when given, else
//!   derived per format (details in the modules):
//!
//!   | Format | `incident.key` |
//!   |---|---|
//!   | native | `incident.key`, else `monitor.monitorGuid` |
//!   | CloudWatch (SNS) | `cloudwatch:<AlarmArn>` |
//!   | EventBridge | `cloudwatch:<alarm ARN>@<time it went into ALARM>`, else `cloudwatch:<alarm ARN>` |
//!   | Alertmanager / Grafana JSON | `alertmanager:` / `grafana:` + UUID v5 of `groupKey` (no `groupKey`: a single alert's `fingerprint`) |
//!   | Alertmanager / Grafana text | `alertmanager:` / `grafana:` + UUID v5 of the subject's group part |
//!   | plain text | `text:` + UUID v5 of the subject (or first line) |
//! - `monitor.monitorGuid`: the sender's, the alarm ARN, or the UUID of the key above; `monitor.type`
//!   is `CloudWatch alarm`, `Alertmanager`, `Grafana` or `Plain text` unless the sender says.
//! - `monitor.customFields`: labels (names as they are), dimensions, and readable names for the rest
//!   (`region`, `namespace`, `metricName`, `threshold`, `state`, …).
//! - Times are UTC (the account time zone is UTC): `timestampUtc` = `timestamp` =
//!   `YYYY-MM-DDTHH:MM:SS`, `*Formatted` = en-US `M/D/YYYY h:mm AM`; the message's own time, else
//!   `Sns.Timestamp`. `downtimeDuration` (`H:mm:ss`) on Ok when the first-error time is known.
//! - Values pass through unchanged as data (quotes, newlines, template syntax, unicode); identifiers
//!   that become keys are bounded ([`MAX_ID_BYTES`]): too long or with a control character, the
//!   message is refused, except an over-long `incident.key`, which is shortened to a stable hash.

mod cloudwatch;
mod common;
mod native;
mod prometheus;
mod text;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Alert;

/// Messages larger than this are refused (SNS's own limit is 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Longest identifier, in bytes, of an alert: `alert.alertGuid`, `alertDefinition.guid`,
/// `deliverTo.integration`, and the longest `incident.key` kept as it is.
///
/// These become keys: the alert id is the delivery log's partition key (`alert#<alert id>`,
/// DynamoDB allows 2,048 bytes; a longer one makes every claim fail, so the alert is retried and
/// never delivered), the incident key every target's dedup key (PagerDuty's `dedup_key` takes 255
/// characters), the other two name a definition or an integration. 255 bytes fit them all.
///
/// Policy, per identifier: the ids a sender gives explicitly or Tocsin writes itself
/// (`alert.alertGuid`, `alertDefinition.guid`, `deliverTo.integration`) are refused beyond the
/// limit: a sender whose ids are that long is broken, and a hash would hide it. The incident key
/// is often derived from the sender's own data (an alarm ARN, a `groupKey`), which can be long
/// legitimately: beyond the limit it is shortened to a stable form of at most 255 bytes (its first
/// bytes, `#sha256:` and the SHA-256 of the whole key) and kept whole in the custom field
/// [`ORIGINAL_INCIDENT_KEY`]. Every identifier containing a control character (NUL, CR, LF, tab, …)
/// is refused. A refused message is an [`InboundError::Invalid`] naming the variable and its length:
/// logged and counted as rejected by the pipeline, never retried.
pub const MAX_ID_BYTES: usize = 255;

/// Longest `monitor.monitorGuid`, in bytes. The monitor guid is matched against the definitions,
/// never a key of its own (a native alert without an incident key takes it as its incident key,
/// then shortened like any key), and a CloudWatch alarm's is its ARN: about 330 bytes for the
/// longest alarm name (255 characters). 1,024 is DynamoDB's sort-key limit.
pub const MAX_MONITOR_GUID_BYTES: usize = 1024;

/// The custom field that keeps an incident key Tocsin shortened (see [`MAX_ID_BYTES`]).
pub const ORIGINAL_INCIDENT_KEY: &str = "tocsin.originalIncidentKey";

/// One message as it arrived, with the SNS fields that help to normalise it.
#[derive(Debug, Clone, Copy)]
pub struct InboundMessage<'a> {
    /// `Sns.Message`: JSON or text.
    pub message: &'a str,
    /// `Sns.Subject`, when the publisher gave one.
    pub subject: Option<&'a str>,
    /// `Sns.MessageId`: stable across redeliveries; seeds ids the sender does not give.
    pub message_id: &'a str,
    /// `Sns.Timestamp` (RFC 3339), used when the message carries no time of its own.
    pub timestamp: Option<&'a str>,
    /// `Sns.MessageAttributes`, string values only.
    pub attributes: &'a BTreeMap<String, String>,
}

/// The shape a message was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InboundFormat {
    /// `{"version":1,"alert":{…},…}`
    Native,
    /// CloudWatch alarm notification (SNS JSON).
    CloudwatchAlarm,
    /// EventBridge "CloudWatch Alarm State Change" event.
    EventbridgeAlarm,
    /// Alertmanager webhook v4 JSON.
    AlertmanagerJson,
    /// Alertmanager's default SNS text.
    AlertmanagerText,
    /// Grafana webhook JSON.
    GrafanaJson,
    /// Grafana's default SNS text.
    GrafanaText,
    /// Anything else.
    PlainText,
}

/// A normalised alert and the format it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The alert variables.
    pub alert: Alert,
    /// The recognised format.
    pub format: InboundFormat,
}

/// Why a message could not be turned into an alert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// The message is empty or white space only.
    #[error("empty message")]
    Empty,
    /// The message is larger than [`MAX_MESSAGE_BYTES`].
    #[error("message of {size} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The message was recognised as `format` but is not valid for it.
    #[error("invalid {format:?} message at `{path}`: {reason}")]
    Invalid {
        /// The recognised format.
        format: InboundFormat,
        /// JSON path of the offending value (`$` for the whole message).
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Detects the format of `input` and normalises it into one [`Alert`].
///
/// Errors: [`InboundError::Empty`] for an empty or blank message, [`InboundError::TooLarge`] above
/// [`MAX_MESSAGE_BYTES`], and [`InboundError::Invalid`] for JSON nested deeper than serde_json's
/// recursion limit (128), a recognised format missing a required field, or an identifier that
/// cannot be a key (see [`MAX_ID_BYTES`]). Never panics.
pub fn normalize(input: &InboundMessage<'_>) -> Result<Normalized, InboundError> {
    let message = input.message;
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(InboundError::TooLarge {
            size: message.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    if message.trim().is_empty() {
        return Err(InboundError::Empty);
    }
    let mut normalized = match normalize_json(input)? {
        Some(result) => result,
        None => text::normalize(input),
    };
    common::bound_ids(&mut normalized.alert, normalized.format)?;
    Ok(normalized)
}

/// The JSON formats: `Ok(None)` when the message is not a JSON object of a known shape.
fn normalize_json(input: &InboundMessage<'_>) -> Result<Option<Normalized>, InboundError> {
    // A byte-order mark is not white space to `trim_start`.
    let text = input.message.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return Ok(None);
    }
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Ok(None),
        Err(error) if error.to_string().contains("recursion limit") => {
            return Err(common::invalid(
                InboundFormat::PlainText,
                "$",
                format!("json nested too deeply (more than 128 levels): {error}"),
            ));
        }
        // Text that merely starts with `{` or `[`: plain text.
        Err(_) => return Ok(None),
    };
    let found = if native::matches(&object) {
        Some((native::normalize(&object, input)?, InboundFormat::Native))
    } else if cloudwatch::matches_eventbridge(&object) {
        Some((
            cloudwatch::normalize_eventbridge(&object, input)?,
            InboundFormat::EventbridgeAlarm,
        ))
    } else if cloudwatch::matches_sns(&object) {
        Some((
            cloudwatch::normalize_sns(&object, input)?,
            InboundFormat::CloudwatchAlarm,
        ))
    } else if let Some(format) = prometheus::detect(&object) {
        Some((prometheus::normalize(&object, input, format)?, format))
    } else {
        None
    };
    Ok(found.map(|(alert, format)| Normalized { alert, format }))
}
