//! Pure: what a message of an incident does at StatusHub, from the alert, the services the level
//! links to its monitor, and the state kept for the incident (StatusHub's incident id, the
//! services it affects, whether it is open, and when it opened or closed).
//!
//! One Alert creates one incident (`investigating`, its services down); a repeated Alert adds an
//! `investigating` update: with the services its level links that the incident does not affect
//! yet, or, when there are none, a silent one restating the incident's services; a Reminder sends
//! nothing unless the integration asks for a silent update, and never creates an incident; the Ok
//! updates the incident the Alert created (`monitoring` with its services up, or `resolved`).
//! Messages out of order do no harm: an Alert or Reminder no later than the Ok that closed its
//! incident is dropped; an Ok with no incident sends nothing and keeps its time for them.

use alert_model::{Alert, AlertType};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{OkState, Reminders};

/// What the runner keeps for one incident at one integration (`Sent::incident`, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kept {
    /// StatusHub's incident id.
    pub incident_id: Option<String>,
    /// The services the incident affects.
    pub services: Vec<u64>,
    /// Whether the incident is open: true after the Alert, false after the Ok.
    pub open: Option<bool>,
    /// When the Alert that created it happened (RFC 3339).
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
}

/// The state an update puts the incident in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateType {
    /// `investigating`, the services down (or degraded).
    Investigating,
    /// `monitoring`, the services up.
    Monitoring,
    /// `resolved`, without service statuses (StatusHub sets them up).
    Resolved,
}

impl UpdateType {
    /// StatusHub's `incident_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateType::Investigating => "investigating",
            UpdateType::Monitoring => "monitoring",
            UpdateType::Resolved => "resolved",
        }
    }
}

/// What one message does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Create an incident (`investigating`) with these services down.
    Create {
        /// StatusHub service ids.
        services: Vec<u64>,
    },
    /// Update the kept incident.
    Update {
        /// StatusHub's incident id.
        incident_id: String,
        /// The new state.
        update: UpdateType,
        /// The services whose status the update sets.
        services: Vec<u64>,
        /// Subscribers are not notified.
        silent: bool,
    },
    /// Send nothing to StatusHub, but keep that the incident is closed (an Ok with no incident to
    /// update): its late Alert then creates nothing.
    Remember(&'static str),
    /// Nothing, for this reason.
    Nothing(&'static str),
}

/// Why an Alert or Reminder older than the Ok is not sent.
pub const OUT_OF_ORDER: &str =
    "it is no later than the Ok that closed its incident (it arrived out of order): nothing is sent";
/// Why a Reminder is not sent.
pub const REMINDERS_SKIPPED: &str =
    "reminders are skipped (settings.reminders: skip); a Reminder never creates an incident";
/// Why a Reminder is not sent.
pub const NO_OPEN_INCIDENT: &str = "no incident is open for it: a Reminder never creates one";
/// Why an Alert is not sent.
pub const NO_SERVICE: &str = "the level links no service to the monitor (serviceLinks) and settings.defaultServices is empty: nothing is sent";
/// Why a message of an open incident is not sent.
pub const ID_UNKNOWN: &str =
    "the open incident's id is unknown (its create was answered without one): it cannot be updated";
/// Why an Ok is not sent.
pub const RESOLVED_ALREADY: &str = "the incident was closed already (a repeated Ok): nothing is sent";
/// What an Ok with no incident keeps.
pub const NOTHING_TO_UPDATE: &str = "no incident was created for it: nothing to update; the Ok's time is kept, so that a late Alert creates nothing";

/// What the integration says about the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// What the Ok makes of the incident.
    pub ok_state: OkState,
    /// What a Reminder does.
    pub reminders: Reminders,
    /// Updates notify nobody.
    pub silent: bool,
}

/// The plan for `alert_type` at `time`, the level linking `services` to the monitor, with `kept`.
pub fn plan(rules: Rules, alert_type: AlertType, time: DateTime<Utc>, services: &[u64], kept: &Kept) -> Plan {
    let open = kept.open == Some(true);
    let closed_at = kept.closed_at.as_deref().and_then(parse_time);
    let stale = !open && closed_at.is_some_and(|closed| time <= closed);
    match alert_type {
        AlertType::Alert | AlertType::Reminder if stale => Plan::Nothing(OUT_OF_ORDER),
        // The open incident's create was answered without an id: it cannot be updated, so the
        // next Alert creates one that can (the Ok then updates that one).
        AlertType::Alert if open && kept.incident_id.is_none() && !services.is_empty() => Plan::Create {
            services: services.to_vec(),
        },
        AlertType::Alert if open => {
            let Some(incident_id) = kept.incident_id.clone() else {
                return Plan::Nothing(NO_SERVICE);
            };
            let added: Vec<u64> = services
                .iter()
                .copied()
                .filter(|service| !kept.services.contains(service))
                .collect();
            if added.is_empty() {
                // The incident says it all already: restate it without notifying subscribers.
                return Plan::Update {
                    incident_id,
                    update: UpdateType::Investigating,
                    services: if kept.services.is_empty() {
                        services.to_vec()
                    } else {
                        kept.services.clone()
                    },
                    silent: true,
                };
            }
            Plan::Update {
                incident_id,
                update: UpdateType::Investigating,
                services: added,
                silent: rules.silent,
            }
        }
        AlertType::Alert if services.is_empty() => Plan::Nothing(NO_SERVICE),
        AlertType::Alert => Plan::Create {
            services: services.to_vec(),
        },
        AlertType::Reminder if rules.reminders == Reminders::Skip => Plan::Nothing(REMINDERS_SKIPPED),
        AlertType::Reminder => match (&kept.incident_id, open) {
            (Some(incident_id), true) => Plan::Update {
                incident_id: incident_id.clone(),
                update: UpdateType::Investigating,
                services: if kept.services.is_empty() {
                    services.to_vec()
                } else {
                    kept.services.clone()
                },
                silent: true,
            },
            _ => Plan::Nothing(NO_OPEN_INCIDENT),
        },
        AlertType::Ok if kept.open == Some(false) => Plan::Nothing(RESOLVED_ALREADY),
        AlertType::Ok => match (&kept.incident_id, open) {
            (Some(incident_id), true) => Plan::Update {
                incident_id: incident_id.clone(),
                update: match rules.ok_state {
                    OkState::Monitoring => UpdateType::Monitoring,
                    OkState::Resolved => UpdateType::Resolved,
                },
                services: if kept.services.is_empty() {
                    services.to_vec()
                } else {
                    kept.services.clone()
                },
                silent: rules.silent,
            },
            (None, true) => Plan::Remember(ID_UNKNOWN),
            _ => Plan::Remember(NOTHING_TO_UPDATE),
        },
    }
}

/// What a message keeps for the incident once sent (the send adds the created incident's id).
pub fn keep(plan: &Plan, kept: &Kept, time: DateTime<Utc>) -> Value {
    let time = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match plan {
        Plan::Create { services } => json!({
            "open": true, "openedAt": time, "closedAt": null, "services": services, "incidentId": null,
        }),
        Plan::Update {
            update: UpdateType::Investigating,
            services,
            ..
        } => {
            let mut all = kept.services.clone();
            all.extend(services.iter().filter(|service| !kept.services.contains(service)));
            json!({ "services": all })
        }
        Plan::Update { .. } | Plan::Remember(_) => json!({"open": false, "closedAt": time}),
        Plan::Nothing(_) => json!({}),
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
