//! Helpers shared by the format parsers: JSON access with paths, times, derived ids.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    InboundError, InboundFormat, InboundMessage, MAX_ID_BYTES, MAX_MONITOR_GUID_BYTES, ORIGINAL_INCIDENT_KEY,
};
use crate::{Alert, AlertInfo, AlertType};

/// A JSON object.
pub(super) type Obj = Map<String, Value>;

/// The error for a recognised message that is not valid for its format.
pub(super) fn invalid(format: InboundFormat, path: &str, reason: impl Into<String>) -> InboundError {
    InboundError::Invalid {
        format,
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// The JSON type name of `value`, for error messages.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar as text: strings as they are, null as empty, numbers and booleans printed, arrays and
/// objects as compact JSON. Whole floats print without the fraction (`80.0` → `80`).
pub(super) fn scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 1e15 => {
                format!("{float:.0}")
            }
            _ => number.to_string(),
        },
        other => other.to_string(),
    }
}

/// The first of `keys` present in `obj` with a non-empty scalar value, as text.
pub(super) fn text(obj: &Obj, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|key| obj.get(*key))
        .filter(|value| !value.is_array() && !value.is_object())
        .map(scalar)
        .find(|text| !text.is_empty())
}

/// The first of `keys` present in `obj` that is an object.
pub(super) fn object<'a>(obj: &'a Obj, keys: &[&str]) -> Option<&'a Obj> {
    keys.iter()
        .filter_map(|key| obj.get(*key))
        .find_map(Value::as_object)
}

/// A required non-empty string field: `Invalid` at `{prefix}.{key}` when missing, empty or not a string.
pub(super) fn required_str(
    obj: &Obj,
    key: &str,
    format: InboundFormat,
    prefix: &str,
) -> Result<String, InboundError> {
    let path = format!("{prefix}.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => Err(invalid(format, &path, format!("missing required field `{key}`"))),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(invalid(format, &path, format!("`{key}` is empty")))
        }
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(invalid(
            format,
            &path,
            format!("`{key}` must be a string, found {}", type_name(other)),
        )),
    }
}

/// A required object field: `Invalid` at `{prefix}.{key}` when missing or not an object.
pub(super) fn required_obj<'a>(
    obj: &'a Obj,
    key: &str,
    format: InboundFormat,
    prefix: &str,
) -> Result<&'a Obj, InboundError> {
    let path = format!("{prefix}.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => Err(invalid(format, &path, format!("missing required field `{key}`"))),
        Some(Value::Object(inner)) => Ok(inner),
        Some(other) => Err(invalid(
            format,
            &path,
            format!("`{key}` must be an object, found {}", type_name(other)),
        )),
    }
}

/// An object of scalars (labels, annotations) as a sorted text map; other shapes give an empty map.
pub(super) fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| (key.clone(), scalar(value)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Parses the time formats senders use, all read as UTC when they carry no offset: RFC 3339
/// (`2024-07-05T15:20:44.959Z`), an offset without colon (`+0000`, CloudWatch), and a bare
/// `YYYY-MM-DDTHH:MM:SS[.fff]` (or with a space instead of `T`). Alertmanager's zero time
/// (`0001-01-01T00:00:00Z`, "not ended yet") and anything before year 1970 count as absent.
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let parsed = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%z"))
        .map(|time| time.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()
                .map(|naive| Utc.from_utc_datetime(&naive))
        })?;
    (parsed.timestamp() >= 0).then_some(parsed)
}

/// An optional time field: absent or empty gives `None`; present but unreadable is `Invalid` at
/// `{prefix}.{key}` (a wrong time is worse than a clear error).
pub(super) fn optional_time(
    obj: &Obj,
    key: &str,
    format: InboundFormat,
    prefix: &str,
) -> Result<Option<DateTime<Utc>>, InboundError> {
    let Some(value) = obj.get(key) else {
        return Ok(None);
    };
    let raw = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text,
        other => {
            return Err(invalid(
                format,
                &format!("{prefix}.{key}"),
                format!("`{key}` must be a time string, found {}", type_name(other)),
            ));
        }
    };
    if raw.trim().is_empty() || is_zero_time(raw) {
        return Ok(None);
    }
    parse_time(raw).map(Some).ok_or_else(|| {
        invalid(
            format,
            &format!("{prefix}.{key}"),
            format!("`{key}` is not a readable time: `{raw}`"),
        )
    })
}

/// Go's zero time, which Alertmanager sends as `endsAt` of alerts still firing.
fn is_zero_time(text: &str) -> bool {
    text.trim_start().starts_with("0001-01-01")
}

/// `YYYY-MM-DDTHH:MM:SS`, the product's ISO 8601 form.
pub(super) fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// en-US culture: `M/D/YYYY h:mm AM`.
pub(super) fn formatted(time: DateTime<Utc>) -> String {
    time.format("%-m/%-d/%Y %-I:%M %p").to_string()
}

/// `H:mm:ss`, hours unbounded (`48:03:21`); `None` when `to` is before `from`.
pub(super) fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<String> {
    let seconds = to.signed_duration_since(from).num_seconds();
    (seconds >= 0).then(|| {
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            (seconds / 60) % 60,
            seconds % 60
        )
    })
}

/// Fills the time variables of `info` that are still empty.
///
/// The account time zone is UTC, so `timestamp` equals `timestampUtc` (and `firstError` equals
/// `firstErrorUtc`). `downtimeDuration` is set on `Ok` alerts when both times are known.
pub(super) fn fill_times(
    info: &mut AlertInfo,
    at: Option<DateTime<Utc>>,
    first_error: Option<DateTime<Utc>>,
) {
    fn set(field: &mut String, value: impl FnOnce() -> String) {
        if field.is_empty() {
            *field = value();
        }
    }
    if let Some(at) = at {
        set(&mut info.timestamp_utc, || iso(at));
        set(&mut info.timestamp, || iso(at));
        set(&mut info.timestamp_utc_formatted, || formatted(at));
        set(&mut info.timestamp_formatted, || formatted(at));
    }
    if let Some(first) = first_error {
        set(&mut info.first_error_utc, || iso(first));
        set(&mut info.first_error, || iso(first));
        set(&mut info.first_error_utc_formatted, || formatted(first));
        set(&mut info.first_error_formatted, || formatted(first));
    }
    let downtime = match (info.alert_type, at, first_error) {
        (AlertType::Ok, Some(at), Some(first)) => duration(first, at),
        _ => None,
    };
    if let Some(text) = downtime {
        set(&mut info.downtime_duration, || text);
    }
}

/// The namespace of every UUID v5 Tocsin derives (itself the v5 of a URL in the URL namespace).
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://tocsin.dev/inbound")
}

/// A stable UUID v5 (Tocsin namespace) for `name`.
pub(super) fn derived_uuid(name: &str) -> String {
    Uuid::new_v5(&namespace(), name.as_bytes()).to_string()
}

/// `alert.alertGuid` when the sender gives none: the UUID v5 of the SNS message id, so a
/// redelivery of the same message gets the same guid. Without a message id (local runs), the
/// UUID v5 of the subject and message text.
pub(super) fn message_guid(input: &InboundMessage<'_>) -> String {
    if input.message_id.trim().is_empty() {
        derived_uuid(&format!(
            "sns-content:{}\n{}",
            input.subject.unwrap_or_default(),
            input.message
        ))
    } else {
        derived_uuid(&format!("sns-message:{}", input.message_id))
    }
}

/// `Sns.Timestamp`, when readable.
pub(super) fn sns_time(input: &InboundMessage<'_>) -> Option<DateTime<Utc>> {
    input.timestamp.and_then(parse_time)
}

/// Bounds the identifiers of a normalised alert that become keys (see [`MAX_ID_BYTES`]), whatever
/// its format: an identifier with a control character, or an `alert.alertGuid`,
/// `alertDefinition.guid` or `deliverTo.integration` longer than [`MAX_ID_BYTES`] (a
/// `monitor.monitorGuid` longer than [`MAX_MONITOR_GUID_BYTES`]), refuses the message, naming the
/// variable (its path in the native envelope) and its length. An `incident.key` longer than
/// [`MAX_ID_BYTES`] is shortened by [`shortened_key`] and kept whole in the custom field
/// [`ORIGINAL_INCIDENT_KEY`].
pub(super) fn bound_ids(alert: &mut Alert, format: InboundFormat) -> Result<(), InboundError> {
    let check = |path: &str, name: &str, value: &str, max: usize| -> Result<(), InboundError> {
        if let Some(control) = value.chars().find(|c| c.is_control()) {
            return Err(invalid(
                format,
                path,
                format!(
                    "`{name}` contains the control character U+{:04X}; an identifier must be printable text",
                    u32::from(control)
                ),
            ));
        }
        if value.len() > max {
            return Err(invalid(
                format,
                path,
                format!(
                    "`{name}` is {} bytes long, more than the {max} bytes an identifier may have",
                    value.len()
                ),
            ));
        }
        Ok(())
    };
    check(
        "$.alert.alertGuid",
        "alert.alertGuid",
        &alert.alert.alert_guid,
        MAX_ID_BYTES,
    )?;
    check(
        "$.alertDefinition.guid",
        "alertDefinition.guid",
        &alert.alert_definition.guid,
        MAX_ID_BYTES,
    )?;
    check(
        "$.monitor.monitorGuid",
        "monitor.monitorGuid",
        &alert.monitor.monitor_guid,
        MAX_MONITOR_GUID_BYTES,
    )?;
    if let Some(target) = &alert.deliver_to {
        check(
            "$.deliverTo.integration",
            "deliverTo.integration",
            &target.integration,
            MAX_ID_BYTES,
        )?;
    }
    check("$.incident.key", "incident.key", &alert.incident.key, usize::MAX)?;
    if alert.incident.key.len() > MAX_ID_BYTES {
        let original = std::mem::take(&mut alert.incident.key);
        alert.incident.key = shortened_key(&original);
        alert
            .monitor
            .custom_fields
            .insert(ORIGINAL_INCIDENT_KEY.to_owned(), original);
    }
    Ok(())
}

/// What replaces an incident key longer than [`MAX_ID_BYTES`]: its first bytes (so that it stays
/// recognisable, cut at a character boundary), `#sha256:` and the SHA-256 of the whole key in hex;
/// at most [`MAX_ID_BYTES`] bytes. The same key always gives the same result, so an incident's
/// Alert, Reminder and Ok still share it.
pub(super) fn shortened_key(key: &str) -> String {
    const SUFFIX_BYTES: usize = "#sha256:".len() + 64;
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut keep = (MAX_ID_BYTES - SUFFIX_BYTES).min(key.len());
    while !key.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}#sha256:{hex}", &key[..keep])
}
