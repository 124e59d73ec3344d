//! Detection and normalisation of every inbound message shape (DESIGN.md §3).
//!
//! Formats, tried in this order: native envelope v1, CloudWatch alarm notification, EventBridge
//! "CloudWatch Alarm State Change", Alertmanager webhook JSON, Grafana webhook JSON, Alertmanager
//! default text, Grafana default text, and plain text (never dropped).

use std::collections::BTreeMap;

use crate::Alert;

/// Messages larger than this are refused (SNS's own limit is 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

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
pub fn normalize(input: &InboundMessage<'_>) -> Result<Normalized, InboundError> {
    if input.message.trim().is_empty() {
        return Err(InboundError::Empty);
    }
    Err(InboundError::Invalid {
        format: InboundFormat::PlainText,
        path: "$".to_owned(),
        reason: "not implemented yet".to_owned(),
    })
}
