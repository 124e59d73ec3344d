//! Alertmanager webhook v4 JSON and Grafana webhook JSON (the same shape plus `orgId`, `title`,
//! `state`, `message`, and per-alert `dashboardURL`, `panelURL`, `valueString`).
//!
//! One message is one group, so it becomes one [`Alert`]:
//! - `alert.type`: `status` `firing` → Alert (Reminder when `notification_reason` is
//!   `repeat interval elapsed`), `resolved` → Ok. Required: `status` (`$.status`) and `alerts`, a
//!   list of objects (`$.alerts`, `$.alerts[i]`).
//! - `monitor.name`: the `alertname` label (common, group, then first alert), else Grafana's
//!   `title`, else the group label values; `monitor.type`: `Alertmanager` / `Grafana`;
//!   `monitor.url`: the first alert's `generatorURL`; `monitor.dashboardUrl`: Grafana's first
//!   `dashboardURL`, else `externalURL`; `monitor.notes`: the `description` annotation (common,
//!   then first alert), else Grafana's `message`.
//! - `alert.description`: the `summary` annotation (common, then first alert), else the
//!   `description` annotation, else Grafana's `title`, else `<n> alerts firing`.
//! - `monitor.customFields`: group and common labels, and all labels of a single-alert message,
//!   under their own names. `account.accountId`: Grafana's `orgId`.
//! - Times: first error = the earliest `startsAt`; alert time on firing = `Sns.Timestamp` (the
//!   notification time), else the latest `startsAt`; on resolved = the latest `endsAt`, else
//!   `Sns.Timestamp`. Unreadable times are `Invalid` at `$.alerts[i].startsAt`.
//! - `incident.key` = `<alertmanager|grafana>:<id>`, `monitor.monitorGuid` = `<id>`, where `<id>`
//!   is the UUID v5 of `groupKey` (stable for the group: its firing and resolved messages share
//!   it); without a `groupKey`, a single alert's `fingerprint`, else the UUID v5 of the group
//!   labels, else of the SNS message id.
//! - `alert.alertGuid`: the UUID v5 of the SNS message id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    InboundError, InboundFormat, InboundMessage,
    common::{
        Obj, derived_uuid, fill_times, invalid, message_guid, optional_time, required_str, sns_time,
        string_map, text, type_name,
    },
};
use crate::{Alert, AlertType};

/// Alertmanager or Grafana JSON, when `object` has the webhook shape.
pub(super) fn detect(object: &Obj) -> Option<InboundFormat> {
    let webhook = object.contains_key("alerts")
        && ["status", "groupKey", "receiver", "groupLabels", "commonLabels"]
            .iter()
            .any(|key| object.contains_key(*key));
    if !webhook {
        return None;
    }
    let grafana =
        object.contains_key("orgId") || (object.contains_key("title") && object.contains_key("state"));
    Some(if grafana {
        InboundFormat::GrafanaJson
    } else {
        InboundFormat::AlertmanagerJson
    })
}

/// One entry of `alerts`.
struct GroupAlert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    fingerprint: Option<String>,
    generator_url: Option<String>,
    dashboard_url: Option<String>,
}

pub(super) fn normalize(
    object: &Obj,
    input: &InboundMessage<'_>,
    format: InboundFormat,
) -> Result<Alert, InboundError> {
    let grafana = format == InboundFormat::GrafanaJson;
    let (source, monitor_type) = if grafana {
        ("grafana", "Grafana")
    } else {
        ("alertmanager", "Alertmanager")
    };

    let status = required_str(object, "status", format, "$")?;
    let firing = match status.trim().to_ascii_lowercase().as_str() {
        "firing" => true,
        "resolved" => false,
        _ => {
            return Err(invalid(
                format,
                "$.status",
                format!("unknown status `{status}` (expected firing or resolved)"),
            ));
        }
    };
    let alerts = match object.get("alerts") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| group_alert(item, format, index))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(invalid(
                format,
                "$.alerts",
                format!("`alerts` must be a list, found {}", type_name(other)),
            ));
        }
        None => return Err(invalid(format, "$.alerts", "missing required field `alerts`")),
    };

    let group_labels = string_map(object.get("groupLabels"));
    let common_labels = string_map(object.get("commonLabels"));
    let common_annotations = string_map(object.get("commonAnnotations"));
    let first = alerts.first();
    let label = |name: &str| {
        common_labels
            .get(name)
            .or_else(|| group_labels.get(name))
            .or_else(|| first.and_then(|alert| alert.labels.get(name)))
            .filter(|value| !value.is_empty())
            .cloned()
    };
    let annotation = |name: &str| {
        common_annotations
            .get(name)
            .or_else(|| first.and_then(|alert| alert.annotations.get(name)))
            .filter(|value| !value.is_empty())
            .cloned()
    };

    let mut alert = Alert::default();
    alert.alert.alert_type = if !firing {
        AlertType::Ok
    } else if text(object, &["notification_reason"]).as_deref() == Some("repeat interval elapsed") {
        AlertType::Reminder
    } else {
        AlertType::Alert
    };
    alert.alert.alert_guid = message_guid(input);
    alert.monitor.name = label("alertname")
        .or_else(|| text(object, &["title"]))
        .or_else(|| {
            let values: Vec<&str> = group_labels.values().map(String::as_str).collect();
            (!values.is_empty()).then(|| values.join(" "))
        })
        .unwrap_or_else(|| format!("{monitor_type} alert"));
    alert.monitor.monitor_type = monitor_type.to_owned();
    alert.alert.description = annotation("summary")
        .or_else(|| annotation("description"))
        .or_else(|| text(object, &["title"]))
        .unwrap_or_else(|| {
            format!(
                "{} alerts {}",
                alerts.len(),
                if firing { "firing" } else { "resolved" }
            )
        });
    alert.monitor.notes = annotation("description")
        .or_else(|| text(object, &["message"]))
        .unwrap_or_default();
    alert.monitor.url = first
        .and_then(|alert| alert.generator_url.clone())
        .unwrap_or_default();
    alert.monitor.dashboard_url = first
        .and_then(|alert| alert.dashboard_url.clone())
        .or_else(|| text(object, &["externalURL"]))
        .unwrap_or_default();
    if grafana {
        alert.account.account_id = text(object, &["orgId"]).unwrap_or_default();
    }

    let mut fields = group_labels.clone();
    fields.extend(common_labels.clone());
    if let [only] = alerts.as_slice() {
        fields.extend(only.labels.clone());
    }
    alert.monitor.custom_fields = fields;

    let id = if let Some(group_key) = text(object, &["groupKey"]) {
        derived_uuid(&format!("{source}-group:{group_key}"))
    } else if let [
        GroupAlert {
            fingerprint: Some(fingerprint),
            ..
        },
    ] = alerts.as_slice()
    {
        fingerprint.clone()
    } else if !group_labels.is_empty() {
        let pairs: Vec<String> = group_labels
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect();
        derived_uuid(&format!("{source}-labels:{{{}}}", pairs.join(",")))
    } else {
        alert.alert.alert_guid.clone()
    };
    alert.incident.key = format!("{source}:{id}");
    alert.monitor.monitor_guid = id;

    let first_error = alerts.iter().filter_map(|alert| alert.starts_at).min();
    let latest_start = alerts.iter().filter_map(|alert| alert.starts_at).max();
    let latest_end = alerts.iter().filter_map(|alert| alert.ends_at).max();
    let at = if firing {
        sns_time(input).or(latest_start)
    } else {
        latest_end.or_else(|| sns_time(input))
    };
    fill_times(&mut alert.alert, at, first_error);
    Ok(alert)
}

fn group_alert(item: &Value, format: InboundFormat, index: usize) -> Result<GroupAlert, InboundError> {
    let path = format!("$.alerts[{index}]");
    let Value::Object(object) = item else {
        return Err(invalid(
            format,
            &path,
            format!("an alert must be an object, found {}", type_name(item)),
        ));
    };
    Ok(GroupAlert {
        labels: string_map(object.get("labels")),
        annotations: string_map(object.get("annotations")),
        starts_at: optional_time(object, "startsAt", format, &path)?,
        ends_at: optional_time(object, "endsAt", format, &path)?,
        fingerprint: text(object, &["fingerprint"]),
        generator_url: text(object, &["generatorURL"]),
        dashboard_url: text(object, &["dashboardURL", "panelURL"]),
    })
}
