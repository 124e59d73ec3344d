//! What the kinds that open and close incidents at their targets share (PagerDuty, Splunk On-Call,
//! Jira Service Management / Opsgenie): what an Alert, a Reminder and an Ok do, the state that
//! keeps a message arriving late from opening or closing the wrong incident, the correlation key
//! within a target's limit, and one-line titles.
//!
//! The lifecycle (ARCHITECTURE.md, "Decisions"):
//! - An Alert opens the incident of its `incident.key` (the target merges a repeated Alert into the
//!   open incident by the key).
//! - A Reminder sends nothing unless the kind's setting turns reminders on (the product advises
//!   against reminders for state-based systems: the incident stays open until the Ok); then it
//!   sends the Alert's event again, which the target merges into the open incident.
//! - An Ok closes the incident of its key; the target drops a close of nothing.
//! - Messages out of order: the kind keeps, per integration and incident key (the runner's
//!   incident state, [`Notifier::INCIDENT_STATE`](crate::Notifier::INCIDENT_STATE)), when the
//!   latest open and close were sent, by the alerts' own times (`alert.timestampUtc`). An Alert or
//!   Reminder no later than a close already sent belongs to the closed incident and sends nothing
//!   (otherwise it would open an incident that no Ok closes); an Ok earlier than an open already
//!   sent belongs to an older incident of a reused key and sends nothing (otherwise it would close
//!   the newer one). A key reused for a new incident after its Ok (a CloudWatch alarm's ARN) opens a
//!   new incident: its Alert is later than the close.

use std::borrow::Cow;

use alert_model::{Alert, AlertType};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The state key of the time of the latest open sent (RFC 3339).
pub const TRIGGERED_AT: &str = "triggeredAt";
/// The state key of the time of the latest close sent (RFC 3339).
pub const RESOLVED_AT: &str = "resolvedAt";

/// What a message does to its incident at the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Opens the incident (an Alert, or a Reminder with reminders on): the target merges it into
    /// the open incident of the same key.
    Open,
    /// Closes the incident (an Ok).
    Close,
    /// Sends nothing, for this reason (lower-case, for logs and `tocsin test`).
    Skip(String),
}

/// Why a kind that opens and closes incidents at `target` sends nothing for `alert` (the kind's
/// `nothing_to_send`): the skip's reason, or an Ok without the key (`key_name`, as the target
/// calls it) it would close by.
pub fn nothing_to_send(alert: &Alert, target: &str, reminders: bool, no_key: &str) -> String {
    match action(alert, target, reminders, None) {
        Action::Skip(reason) => reason,
        Action::Close if alert.incident.key.trim().is_empty() => no_key.to_owned(),
        _ => format!("{target} has nothing to send for this {}", alert.alert.alert_type),
    }
}

/// What `alert` does at `target` (a name for the reasons: `PagerDuty`), with reminders sent or
/// not, given the state `kept` for its incident (`None` before the first message, and in
/// `tocsin render`).
pub fn action(alert: &Alert, target: &str, reminders: bool, kept: Option<&Value>) -> Action {
    let at = alert_time(alert);
    match alert.alert.alert_type {
        AlertType::Reminder if !reminders => Action::Skip(format!(
            "a Reminder sends nothing to {target}: the incident stays open until the Ok (set \
             settings.sendReminders: true to send the Alert's event again)"
        )),
        AlertType::Alert | AlertType::Reminder => match (at, kept_time(kept, RESOLVED_AT)) {
            (Some(at), Some(resolved)) if at <= resolved => Action::Skip(format!(
                "this {} of {} arrived after the Ok of {} that closed its incident: sending it would \
                 open an incident no Ok closes",
                alert.alert.alert_type,
                rfc3339(at),
                rfc3339(resolved)
            )),
            _ => Action::Open,
        },
        AlertType::Ok => match (at, kept_time(kept, TRIGGERED_AT)) {
            (Some(at), Some(triggered)) if at < triggered => Action::Skip(format!(
                "this Ok of {} is older than the Alert of {} that opened the incident again: \
                 sending it would close the newer incident",
                rfc3339(at),
                rfc3339(triggered)
            )),
            _ => Action::Close,
        },
    }
}

/// The state to keep once `action` was sent for `alert`: the time of the latest open or close
/// (never moved back by a message older than the one kept). `None` when there is nothing to keep
/// (the alert has no readable time, or nothing was sent).
pub fn keep(action: &Action, alert: &Alert, kept: Option<&Value>) -> Option<Value> {
    let key = match action {
        Action::Open => TRIGGERED_AT,
        Action::Close => RESOLVED_AT,
        Action::Skip(_) => return None,
    };
    let at = alert_time(alert)?;
    let latest = match kept_time(kept, key) {
        Some(kept) if kept > at => kept,
        _ => at,
    };
    Some(json!({ key: rfc3339(latest) }))
}

/// When the alert happened: `alert.timestampUtc` (RFC 3339, or `YYYY-MM-DDTHH:MM:SS[.fff]` in UTC,
/// as the inbound formats write it); `None` when it is empty or unreadable.
pub fn alert_time(alert: &Alert) -> Option<DateTime<Utc>> {
    parse_time(&alert.alert.timestamp_utc)
}

/// A time as the alert variables write it: RFC 3339, or `YYYY-MM-DDTHH:MM:SS[.fff]` in UTC; `None`
/// when empty or unreadable.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|time| time.and_utc())
}

fn kept_time(kept: Option<&Value>, key: &str) -> Option<DateTime<Utc>> {
    kept?.get(key)?.as_str().and_then(parse_time)
}

/// `2026-11-28T16:00:00Z`.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `key` if it has at most `max_bytes` bytes; else its first bytes (cut at a character boundary),
/// `#` and the UUID v5 of the whole key (32 hex digits): at most `max_bytes` (at least 40), the
/// same for every message of the incident, so that the Ok still closes what the Alert opened.
/// Inbound parsing already shortens keys over 255 bytes; targets with a lower limit (an alias of
/// 250) shorten again here.
pub fn key_within(key: &str, max_bytes: usize) -> Cow<'_, str> {
    if key.len() <= max_bytes {
        return Cow::Borrowed(key);
    }
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2b6f_51e4_93c1_4d0a_8f27_d5c3_1e9a_6b48);
    let digest = uuid::Uuid::new_v5(&NAMESPACE, key.as_bytes())
        .simple()
        .to_string();
    let mut keep = max_bytes.saturating_sub(digest.len() + 1);
    while !key.is_char_boundary(keep) {
        keep -= 1;
    }
    Cow::Owned(format!("{}#{digest}", &key[..keep]))
}

/// `text` as one line of at most `max_chars` characters: its lines trimmed and joined by spaces,
/// other control characters and the line and paragraph separators as spaces, cut with `…` (the
/// rule of an e-mail subject: an incident's title).
pub fn title(text: &str, max_chars: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let line: String = line
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if line.chars().count() <= max_chars {
        return line;
    }
    let mut cut: String = line.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Whether a setting is a template (it holds `{{` or `{%`) rather than a literal value, which
/// `tocsin validate` can check as it is.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(alert_type: AlertType, at: &str) -> Alert {
        let mut alert = Alert::default();
        alert.alert.alert_type = alert_type;
        alert.alert.timestamp_utc = at.to_owned();
        alert.incident.key = "key-1".to_owned();
        alert
    }

    #[test]
    fn an_alert_opens_an_ok_closes_and_a_reminder_waits_for_its_setting() {
        assert_eq!(
            action(&alert(AlertType::Alert, "2026-11-28T10:00:00"), "X", false, None),
            Action::Open
        );
        assert_eq!(
            action(&alert(AlertType::Ok, "2026-11-28T10:05:00"), "X", false, None),
            Action::Close
        );
        let reminder = alert(AlertType::Reminder, "2026-11-28T10:02:00");
        assert!(
            matches!(action(&reminder, "X", false, None), Action::Skip(reason) if reason.contains("sendReminders"))
        );
        assert_eq!(action(&reminder, "X", true, None), Action::Open);
    }

    #[test]
    fn an_alert_no_later_than_the_close_kept_sends_nothing_a_later_one_opens_again() {
        let kept = json!({ RESOLVED_AT: "2026-11-28T10:05:00Z" });
        for late in ["2026-11-28T10:00:00", "2026-11-28T10:05:00Z"] {
            let action = action(&alert(AlertType::Alert, late), "X", false, Some(&kept));
            assert!(
                matches!(&action, Action::Skip(reason) if reason.contains("arrived after the Ok of 2026-11-28T10:05:00Z")),
                "{late}: {action:?}"
            );
        }
        let reminder = action(
            &alert(AlertType::Reminder, "2026-11-28T10:01:00"),
            "X",
            true,
            Some(&kept),
        );
        assert!(matches!(reminder, Action::Skip(_)), "{reminder:?}");
        assert_eq!(
            action(
                &alert(AlertType::Alert, "2026-11-28T11:00:00"),
                "X",
                false,
                Some(&kept)
            ),
            Action::Open,
            "a reused key opens a new incident after its Ok"
        );
    }

    #[test]
    fn an_ok_older_than_the_open_kept_sends_nothing() {
        let kept = json!({ TRIGGERED_AT: "2026-11-28T11:00:00Z", RESOLVED_AT: "2026-11-28T10:05:00Z" });
        let stale = action(
            &alert(AlertType::Ok, "2026-11-28T10:05:00"),
            "X",
            false,
            Some(&kept),
        );
        assert!(
            matches!(&stale, Action::Skip(reason) if reason.contains("older than the Alert")),
            "{stale:?}"
        );
        assert_eq!(
            action(
                &alert(AlertType::Ok, "2026-11-28T11:00:00"),
                "X",
                false,
                Some(&kept)
            ),
            Action::Close,
            "an Ok of the same second as the open closes it"
        );
    }

    #[test]
    fn without_readable_times_every_message_is_sent() {
        let kept = json!({ TRIGGERED_AT: "2026-11-28T11:00:00Z", RESOLVED_AT: "2026-11-28T12:00:00Z" });
        assert_eq!(
            action(&alert(AlertType::Alert, ""), "X", false, Some(&kept)),
            Action::Open
        );
        assert_eq!(
            action(&alert(AlertType::Ok, "soon"), "X", false, Some(&kept)),
            Action::Close
        );
        assert_eq!(keep(&Action::Open, &alert(AlertType::Alert, ""), None), None);
    }

    #[test]
    fn the_state_kept_never_moves_back() {
        let open = alert(AlertType::Alert, "2026-11-28T10:00:00");
        assert_eq!(
            keep(&Action::Open, &open, None),
            Some(json!({ TRIGGERED_AT: "2026-11-28T10:00:00Z" }))
        );
        let kept = json!({ TRIGGERED_AT: "2026-11-28T10:30:00Z" });
        assert_eq!(
            keep(&Action::Open, &open, Some(&kept)),
            Some(json!({ TRIGGERED_AT: "2026-11-28T10:30:00Z" }))
        );
        let ok = alert(AlertType::Ok, "2026-11-28T10:40:00.250Z");
        assert_eq!(
            keep(&Action::Close, &ok, Some(&kept)),
            Some(json!({ RESOLVED_AT: "2026-11-28T10:40:00.250Z" }))
        );
        assert_eq!(keep(&Action::Skip(String::new()), &ok, None), None);
    }

    #[test]
    fn a_long_key_is_shortened_the_same_way_every_time_within_its_limit() {
        assert_eq!(key_within("short", 250), "short");
        let long = format!("{}é", "k".repeat(300));
        let short = key_within(&long, 250);
        assert!(short.len() <= 250, "{}", short.len());
        assert!(short.starts_with("kkkk"));
        assert_eq!(short, key_within(&long, 250));
        assert_ne!(short, key_within(&format!("{long}x"), 250));
        // A cut that would split a character keeps it whole.
        let accented = "é".repeat(200);
        let cut = key_within(&accented, 100);
        assert!(cut.len() <= 100 && cut.starts_with('é'), "{cut}");
    }

    #[test]
    fn a_title_is_one_line_cut_with_an_ellipsis() {
        assert_eq!(title(" a\r\n\n b\u{2028}c\u{0}", 100), "a b c ");
        assert_eq!(title("abcdef", 4), "abc…");
        assert_eq!(title("abcd", 4), "abcd");
    }
}
