//! Pure: what a message of an incident does at ServiceNow, from the alert and the state kept for the
//! incident (the `sys_id` an Alert opened, whether its Ok resolved it, and when).
//!
//! One Alert opens one incident; a repeated Alert (another level's, a re-fired alarm) adds a work
//! note to it instead of opening another; a Reminder sends nothing unless the integration asks for
//! work notes, and never opens an incident; the Ok resolves what the Alert opened (by its kept
//! `sys_id`, else by a query on `correlation_id`). Messages that arrive out of order do no harm: an
//! Alert or Reminder no later than the Ok that closed its incident is dropped, and an Ok with
//! nothing open leaves that time behind for them.

use alert_model::{Alert, AlertType};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Mode, Reminders};

/// What the runner keeps for one incident at one integration (`Sent::incident`, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kept {
    /// The incident's `sys_id` (mode `incident`).
    pub sys_id: Option<String>,
    /// The incident's number (`INC0010001`).
    pub number: Option<String>,
    /// Whether the incident is open: true after the Alert, false after the Ok.
    pub open: Option<bool>,
    /// When the Alert that opened it happened (RFC 3339).
    pub opened_at: Option<String>,
    /// When the Ok that closed it happened (RFC 3339).
    pub closed_at: Option<String>,
}

impl Kept {
    /// The kept state; anything unreadable counts as nothing kept.
    pub fn from_state(state: Option<&Value>) -> Kept {
        state
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .unwrap_or_default()
    }

    fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at.as_deref().and_then(parse_time)
    }
}

/// What one message does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Open an incident (after a lookup by `correlation_id`, which adopts an open one).
    Open,
    /// Add a work note to the open incident: the kept `sys_id`, else the one a lookup finds.
    Note {
        /// The kept `sys_id`.
        sys_id: Option<String>,
    },
    /// Resolve the open incident: the kept `sys_id`, else every one a lookup finds.
    Resolve {
        /// The kept `sys_id`.
        sys_id: Option<String>,
    },
    /// Send an event (mode `event`); `clear` for the Ok (severity 0).
    Event {
        /// The Ok's clear event.
        clear: bool,
    },
    /// Nothing, for this reason.
    Nothing(&'static str),
}

/// Why an Alert or Reminder older than the Ok is not sent.
pub const OUT_OF_ORDER: &str =
    "it is no later than the Ok that closed its incident (it arrived out of order): nothing is sent";
/// Why a Reminder is not sent.
pub const REMINDERS_SKIPPED: &str =
    "reminders are skipped (settings.reminders: skip); a Reminder never opens an incident";
/// Why a repeated Ok is not sent.
pub const RESOLVED_ALREADY: &str = "the incident was resolved already (a repeated Ok): nothing is sent";

/// The plan for `alert_type` at `time`, with `kept` for the incident.
pub fn plan(
    mode: Mode,
    reminders: Reminders,
    alert_type: AlertType,
    time: DateTime<Utc>,
    kept: &Kept,
) -> Plan {
    let open = kept.open == Some(true);
    let stale = !open && kept.closed_at().is_some_and(|closed| time <= closed);
    match (mode, alert_type) {
        (_, AlertType::Alert | AlertType::Reminder) if stale => Plan::Nothing(OUT_OF_ORDER),
        (_, AlertType::Reminder) if reminders == Reminders::Skip => Plan::Nothing(REMINDERS_SKIPPED),
        (Mode::Event, AlertType::Alert | AlertType::Reminder) => Plan::Event { clear: false },
        (Mode::Event, AlertType::Ok) => Plan::Event { clear: true },
        (Mode::Incident, AlertType::Alert) if open => Plan::Note {
            sys_id: kept.sys_id.clone(),
        },
        (Mode::Incident, AlertType::Alert) => Plan::Open,
        (Mode::Incident, AlertType::Reminder) => Plan::Note {
            sys_id: kept.sys_id.clone().filter(|_| open),
        },
        (Mode::Incident, AlertType::Ok) if kept.open == Some(false) => Plan::Nothing(RESOLVED_ALREADY),
        (Mode::Incident, AlertType::Ok) => Plan::Resolve {
            sys_id: kept.sys_id.clone().filter(|_| open),
        },
    }
}

/// What a message keeps for the incident once sent, as far as the build knows it (the send adds
/// the `sys_id`): an Alert marks it open since `time`, an Ok closed at `time`.
pub fn keep(plan: &Plan, alert_type: AlertType, time: DateTime<Utc>) -> Value {
    let time = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let opened = json!({"open": true, "openedAt": time, "closedAt": null});
    let closed = json!({"open": false, "closedAt": time});
    match (plan, alert_type) {
        (Plan::Open, _) | (Plan::Event { clear: false }, AlertType::Alert) => opened,
        (Plan::Resolve { .. }, _) | (Plan::Event { clear: true }, _) => closed,
        _ => json!({}),
    }
}

/// When the alert happened: `alert.timestampUtc`, else `now` (the time it is delivered).
pub fn alert_time(alert: &Alert, now: DateTime<Utc>) -> DateTime<Utc> {
    parse_time(&alert.alert.timestamp_utc).unwrap_or(now)
}

/// An RFC 3339 time, or the product's `YYYY-MM-DDTHH:MM:SS` (UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|naive| Utc.from_utc_datetime(&naive))
        })
}
