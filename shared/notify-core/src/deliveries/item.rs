//! The items of the `Deliveries` table and their keys.
//!
//! Keys join their parts with `#`; a part that holds `#` or `%` has those percent-encoded first, so
//! that no two deliveries share a key (`a#b` through `d` and `a` through `b#d` once both became
//! `route#a#b#d/…`). Ids without `#` and `%`, which `tocsin validate` requires, keep their text.

use std::{borrow::Cow, collections::HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{
    AttemptOutcome, DeliveryKey, DeliveryLogError, DeliveryRecord, DeliveryState, DeliveryStatus,
    IncidentKey, Kept, NoticeKey,
};

/// A key part with `%` and `#` percent-encoded.
pub(crate) fn key_part(part: &str) -> Cow<'_, str> {
    if part.contains(['#', '%']) {
        Cow::Owned(part.replace('%', "%25").replace('#', "%23"))
    } else {
        Cow::Borrowed(part)
    }
}

pub(crate) fn pk(alert_id: &str) -> AttributeValue {
    AttributeValue::S(format!("alert#{}", key_part(alert_id)))
}

pub(crate) fn state_sk(key: &DeliveryKey) -> AttributeValue {
    AttributeValue::S(format!(
        "route#{}#{}",
        key_part(&key.integration_id),
        key_part(&key.step)
    ))
}

pub(crate) fn attempt_sk(key: &DeliveryKey, attempt: u32) -> AttributeValue {
    AttributeValue::S(format!(
        "attempt#{}#{}#{attempt:04}",
        key_part(&key.integration_id),
        key_part(&key.step)
    ))
}

pub(crate) fn notice_pk(key: &NoticeKey) -> AttributeValue {
    AttributeValue::S(format!("notice#{}", key_part(&key.integration_id)))
}

pub(crate) fn notice_sk(key: &NoticeKey) -> AttributeValue {
    AttributeValue::S(format!("definition#{}", key_part(&key.definition_id)))
}

pub(crate) fn incident_pk(key: &IncidentKey) -> AttributeValue {
    AttributeValue::S(format!("incident#{}", key_part(&key.integration_id)))
}

pub(crate) fn incident_sk(key: &IncidentKey) -> AttributeValue {
    AttributeValue::S(format!("key#{}", key_part(&key.incident_key)))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The `status` of a state item, parsed.
pub(crate) fn item_status(item: &HashMap<String, AttributeValue>) -> Option<DeliveryStatus> {
    item.get("status")
        .and_then(|v| v.as_s().ok())
        .and_then(|status| DeliveryStatus::parse(status))
}

pub(crate) fn state_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<DeliveryState, DeliveryLogError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let sk = text("sk").unwrap_or_default();
    let bad = |reason: &str| DeliveryLogError::Item {
        key: sk.clone(),
        reason: reason.to_owned(),
    };
    Ok(DeliveryState {
        key: DeliveryKey {
            alert_id: text("alertId").ok_or_else(|| bad("missing `alertId`"))?,
            integration_id: text("integrationId").ok_or_else(|| bad("missing `integrationId`"))?,
            step: text("step").ok_or_else(|| bad("missing `step`"))?,
        },
        status: text("status")
            .and_then(|status| DeliveryStatus::parse(&status))
            .ok_or_else(|| bad("missing or invalid `status`"))?,
        attempts: number(item, "attempts") as u32,
        external_id: text("externalId"),
        last_error: text("lastError"),
        kept: kept_of(item),
    })
}

/// What a delivered step kept (`kept`, JSON), or nothing.
pub(crate) fn kept_of(item: &HashMap<String, AttributeValue>) -> Kept {
    Kept::from_json(
        item.get("kept")
            .and_then(|value| value.as_s().ok())
            .map(String::as_str),
    )
}

pub(crate) fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn record_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<DeliveryRecord, DeliveryLogError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let sk = text("sk").unwrap_or_default();
    let bad = |reason: &str| DeliveryLogError::Item {
        key: sk.clone(),
        reason: reason.to_owned(),
    };
    let time = text("time")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("missing or invalid `time`"))?;
    let outcome = text("outcome")
        .and_then(|o| AttemptOutcome::parse(&o))
        .ok_or_else(|| bad("missing or invalid `outcome`"))?;
    Ok(DeliveryRecord {
        key: DeliveryKey {
            alert_id: text("alertId").ok_or_else(|| bad("missing `alertId`"))?,
            integration_id: text("integrationId").ok_or_else(|| bad("missing `integrationId`"))?,
            step: text("step").ok_or_else(|| bad("missing `step`"))?,
        },
        attempt: number(item, "attempt") as u32,
        time,
        outcome,
        http_status: item
            .get("httpStatus")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
        latency_ms: number(item, "latencyMs"),
        error: text("error"),
        request: text("request").unwrap_or_default(),
        response: text("response").unwrap_or_default(),
    })
}
