//! Native envelope v1: `{"version":1,"account":{…},"alert":{…},"monitor":{…},…}`.
//!
//! Rules:
//! - Detected by a `version` key next to at least one of the variable groups `alert`, `monitor`,
//!   `incident`, `alertDefinition`, `escalationLevel` (not `account` alone), and neither an
//!   Alertmanager `alerts` list nor an EventBridge `detail-type`.
//! - `version` must be 1 (number or `"1"`), else `Invalid` at `$.version`; `alert` is required
//!   (`$.alert`); every group present must be an object (`$.<group>`); `alert.type` must be
//!   `Alert` / `Ok` / `Reminder` (or `Error`, `firing`, `resolved`, …) at `$.alert.type`.
//! - Values are taken as given (lenient: numbers and booleans become text); unknown keys are ignored.
//! - `deliverTo: {integration, reason}` (Tocsin's own notices) is kept; an empty integration is none.
//! - `alert.alertGuid`: the given one, else the UUID v5 of the SNS message id.
//! - `incident.key`: the given one, else the monitor guid, else derived from the monitor name,
//!   else the alert guid (no correlation possible).
//! - Times: empty time variables are filled from `alert.timestampUtc` / `alert.firstErrorUtc` when
//!   readable, else the alert time from `Sns.Timestamp`; given values are never rewritten.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    InboundError, InboundFormat, InboundMessage,
    common::{Obj, derived_uuid, fill_times, invalid, message_guid, parse_time, sns_time, type_name},
};
use crate::{Alert, AlertType};

const FORMAT: InboundFormat = InboundFormat::Native;

/// The variable groups of the envelope.
const GROUPS: &[&str] = &[
    "alert",
    "monitor",
    "incident",
    "account",
    "alertDefinition",
    "escalationLevel",
];

pub(super) fn matches(object: &Obj) -> bool {
    object.contains_key("version")
        && !object.contains_key("alerts")
        && !object.contains_key("detail-type")
        // `account` alone does not count: EventBridge events have `version` and `account` too.
        && GROUPS.iter().filter(|group| **group != "account").any(|group| object.contains_key(*group))
}

pub(super) fn normalize(object: &Obj, input: &InboundMessage<'_>) -> Result<Alert, InboundError> {
    check_version(object.get("version"))?;
    for group in GROUPS {
        match object.get(*group) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(invalid(
                    FORMAT,
                    &format!("$.{group}"),
                    format!("`{group}` must be an object, found {}", type_name(other)),
                ));
            }
        }
    }
    let Some(Value::Object(alert_group)) = object.get("alert") else {
        return Err(invalid(FORMAT, "$.alert", "missing required field `alert`"));
    };
    match alert_group.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if AlertType::parse(text).is_some() => {}
        Some(other) => {
            return Err(invalid(
                FORMAT,
                "$.alert.type",
                format!("unknown alert type {other} (expected Alert, Ok or Reminder)"),
            ));
        }
    }

    let mut alert = Alert {
        account: group(object, "account")?,
        alert: group(object, "alert")?,
        alert_definition: group(object, "alertDefinition")?,
        escalation_level: group(object, "escalationLevel")?,
        incident: group(object, "incident")?,
        monitor: group(object, "monitor")?,
        deliver_to: match object.get("deliverTo") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                serde_json::from_value::<crate::DeliverTo>(value.clone())
                    .map_err(|error| invalid(FORMAT, "$.deliverTo", error.to_string()))?,
            )
            .filter(|target| !target.integration.trim().is_empty()),
        },
    };

    if alert.alert.alert_guid.trim().is_empty() {
        alert.alert.alert_guid = message_guid(input);
    }
    if alert.incident.key.trim().is_empty() {
        alert.incident.key = if !alert.monitor.monitor_guid.trim().is_empty() {
            alert.monitor.monitor_guid.clone()
        } else if !alert.monitor.name.trim().is_empty() {
            format!(
                "native:{}",
                derived_uuid(&format!("native-monitor:{}", alert.monitor.name))
            )
        } else {
            alert.alert.alert_guid.clone()
        };
    }
    let at = if alert.alert.timestamp_utc.trim().is_empty() {
        sns_time(input)
    } else {
        parse_time(&alert.alert.timestamp_utc)
    };
    let first_error = parse_time(&alert.alert.first_error_utc);
    fill_times(&mut alert.alert, at, first_error);
    Ok(alert)
}

fn check_version(version: Option<&Value>) -> Result<(), InboundError> {
    let supported = match version {
        Some(Value::Number(number)) => number.as_u64() == Some(1) || number.as_f64() == Some(1.0),
        Some(Value::String(text)) => matches!(text.trim(), "1" | "1.0"),
        _ => false,
    };
    if supported {
        return Ok(());
    }
    let found = version.map_or_else(|| "none".to_owned(), Value::to_string);
    Err(invalid(
        FORMAT,
        "$.version",
        format!("unsupported native envelope version {found} (expected 1)"),
    ))
}

/// One variable group, `Default` when absent or null.
fn group<T: DeserializeOwned + Default>(object: &Obj, key: &str) -> Result<T, InboundError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|error| invalid(FORMAT, &format!("$.{key}"), error.to_string())),
    }
}
