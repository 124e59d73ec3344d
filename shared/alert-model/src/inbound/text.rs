//! Text messages: Alertmanager's and Grafana's default SNS text, and plain text.
//!
//! Alertmanager (`template/default.tmpl`, `sns.default.message`): a first line of common
//! annotation values, then `Alerts Firing:` / `Alerts Resolved:` sections, each alert a `Labels:`
//! and an `Annotations:` list of ` - name = value` lines and a `Source:` line. Grafana
//! (`default.message`): `**Firing**` / `**Resolved**` sections, each alert a `Value:` line, the same
//! lists, and `Source:` / `Silence:` / `Dashboard:` / `Panel:` lines. Both subjects read
//! `[FIRING:n] <group label values> (<other common label values>)` or `[RESOLVED] …` (Grafana:
//! `[FIRING:n, RESOLVED:m] …`). Hand-parsed, line by line; a line that continues a list value
//! (multi-line annotation) is appended to it.
//!
//! Mapping of both text formats:
//! - `alert.type`: the subject's status; without a subject, Alert when an alert is listed as
//!   firing, Ok when only resolved ones are.
//! - `monitor.name`: the first alert's `alertname` label, else the group part of the subject;
//!   `monitor.type`: `Alertmanager` / `Grafana`; `monitor.url`: the first `Source:`;
//!   `monitor.dashboardUrl`: the first `Dashboard:` (Grafana); `monitor.notes`: the first alert's
//!   `description` annotation.
//! - `alert.description`: the `summary` annotation when every listed alert has the same one, else
//!   Alertmanager's first line (common annotation values), else the first alert's `summary`, else
//!   its `description`, else the subject.
//! - `monitor.customFields`: the labels every listed alert has with the same value.
//! - `incident.key` = `<alertmanager|grafana>:<id>`, `monitor.monitorGuid` = `<id>`: the UUID v5 of
//!   the subject's group part (label values before the trailing `(common labels)`), which is the
//!   same for the group's FIRING and RESOLVED subjects; without a subject, of the alert names.
//! - Time: `Sns.Timestamp` (the text carries none); the first error is unknown.
//!
//! Plain text (everything else, including JSON of unknown shape): `monitor.name` = the subject,
//! else the first non-blank line; `alert.description` = the whole message; `monitor.type` =
//! `Plain text`; `alert.type` from a message attribute `alertType`, `type` or `status` when it
//! names one (else Alert); `monitor.customFields` = the message attributes; `incident.key` =
//! `text:<UUID v5 of the monitor name>`, `monitor.monitorGuid` the same UUID.

use std::collections::BTreeMap;

use super::{
    InboundFormat, InboundMessage, Normalized,
    common::{derived_uuid, fill_times, message_guid, sns_time},
};
use crate::{Alert, AlertType};

/// Normalises a message that is not one of the JSON formats. Never fails: unknown text is plain text.
pub(super) fn normalize(input: &InboundMessage<'_>) -> Normalized {
    let subject = input.subject.map(str::trim).filter(|subject| !subject.is_empty());
    let grafana = has_line(input.message, &["**Firing**", "**Resolved**"]);
    let alertmanager = !grafana
        && (has_line(input.message, &["Alerts Firing:", "Alerts Resolved:"])
            || subject.and_then(parse_subject).is_some());
    let format = if grafana {
        InboundFormat::GrafanaText
    } else if alertmanager {
        InboundFormat::AlertmanagerText
    } else {
        return Normalized {
            alert: plain(input, subject),
            format: InboundFormat::PlainText,
        };
    };
    Normalized {
        alert: group_text(input, subject, format),
        format,
    }
}

fn has_line(message: &str, wanted: &[&str]) -> bool {
    message.lines().any(|line| wanted.contains(&line.trim()))
}

/// Characters of the group part that make the incident key (see [`parse_subject`]).
const GROUP_KEY_CHARS: usize = 80;

/// `[FIRING:n] group (common)` / `[RESOLVED] group (common)` → (firing, group part).
///
/// The group part is the text after the status without the trailing `(common labels)`. Senders cut
/// subjects at 100 characters with `…` (Alertmanager) or `...`; as `[FIRING:12] ` and `[RESOLVED] `
/// differ in length, the cut falls elsewhere for the two, so a cut subject also loses its unclosed
/// `(…` part, and only the first 80 characters of the group part are kept.
fn parse_subject(subject: &str) -> Option<(bool, String)> {
    let rest = subject.trim_start().strip_prefix('[')?;
    let (status, rest) = rest.split_once(']')?;
    let firing = if status.starts_with("FIRING") {
        true
    } else if status.starts_with("RESOLVED") {
        false
    } else {
        return None;
    };
    let rest = rest.trim();
    let (rest, truncated) = match rest.strip_suffix('…').or_else(|| rest.strip_suffix("...")) {
        Some(cut) => (cut.trim_end(), true),
        None => (rest, false),
    };
    let mut group = strip_trailing_parens(rest).trim_end();
    let unclosed = if truncated { group.rsplit_once(" (") } else { None };
    if let Some((head, _)) = unclosed {
        group = head.trim_end();
    }
    let group = if group.is_empty() { rest } else { group };
    Some((firing, group.chars().take(GROUP_KEY_CHARS).collect()))
}

/// Removes a trailing balanced `( … )` segment (the common labels that are not group labels).
fn strip_trailing_parens(text: &str) -> &str {
    if !text.ends_with(')') {
        return text;
    }
    let mut depth = 0usize;
    for (index, character) in text.char_indices().rev() {
        match character {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return text.get(..index).unwrap_or(text);
                }
            }
            _ => {}
        }
    }
    text
}

/// One alert listed in a text message.
#[derive(Default)]
struct TextAlert {
    firing: bool,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    source: Option<String>,
    dashboard: Option<String>,
}

impl TextAlert {
    fn is_fresh(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty() && self.source.is_none()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum List {
    None,
    Labels,
    Annotations,
}

/// The text before the first section, and the listed alerts.
fn parse_body(message: &str) -> (String, Vec<TextAlert>) {
    let mut preamble: Vec<&str> = Vec::new();
    let mut alerts: Vec<TextAlert> = Vec::new();
    let mut section: Option<bool> = None;
    let mut list = List::None;
    let mut last_key: Option<String> = None;
    let mut blank_lines = 0usize;

    for line in message.lines() {
        let trimmed = line.trim();
        match trimmed {
            "Alerts Firing:" | "**Firing**" => {
                section = Some(true);
                list = List::None;
                continue;
            }
            "Alerts Resolved:" | "**Resolved**" => {
                section = Some(false);
                list = List::None;
                continue;
            }
            _ => {}
        }
        let Some(firing) = section else {
            preamble.push(line);
            continue;
        };
        let start_alert = |alerts: &mut Vec<TextAlert>| {
            alerts.push(TextAlert {
                firing,
                ..TextAlert::default()
            })
        };
        if trimmed.starts_with("Value:") {
            start_alert(&mut alerts);
            list = List::None;
        } else if trimmed == "Labels:" {
            if !alerts.last().is_some_and(TextAlert::is_fresh) {
                start_alert(&mut alerts);
            }
            list = List::Labels;
        } else if trimmed == "Annotations:" {
            if alerts.is_empty() {
                start_alert(&mut alerts);
            }
            list = List::Annotations;
        } else if let (Some(entry), true) = (line.trim_start().strip_prefix("- "), list != List::None) {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            let key = key.trim().to_owned();
            let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
            if let Some(alert) = alerts.last_mut() {
                let map = if list == List::Labels {
                    &mut alert.labels
                } else {
                    &mut alert.annotations
                };
                map.insert(key.clone(), value);
            }
            last_key = Some(key);
            blank_lines = 0;
        } else if let Some(url) = trimmed.strip_prefix("Source:") {
            if let Some(alert) = alerts.last_mut() {
                alert.source = Some(url.trim().to_owned());
            }
            list = List::None;
        } else if let Some(url) = trimmed.strip_prefix("Dashboard:") {
            if let Some(alert) = alerts.last_mut() {
                alert.dashboard = Some(url.trim().to_owned());
            }
            list = List::None;
        } else if trimmed.starts_with("Silence:") || trimmed.starts_with("Panel:") {
            list = List::None;
        } else if trimmed.is_empty() {
            blank_lines += 1;
        } else if list != List::None {
            // A value that spans lines.
            if let (Some(alert), Some(key)) = (alerts.last_mut(), &last_key) {
                let map = if list == List::Labels {
                    &mut alert.labels
                } else {
                    &mut alert.annotations
                };
                if let Some(value) = map.get_mut(key) {
                    value.push_str(&"\n".repeat(blank_lines + 1));
                    value.push_str(line);
                }
            }
            blank_lines = 0;
        }
    }
    (preamble.join("\n").trim().to_owned(), alerts)
}

fn group_text(input: &InboundMessage<'_>, subject: Option<&str>, format: InboundFormat) -> Alert {
    let (source, monitor_type) = if format == InboundFormat::GrafanaText {
        ("grafana", "Grafana")
    } else {
        ("alertmanager", "Alertmanager")
    };
    let parsed_subject = subject.and_then(parse_subject);
    let (preamble, alerts) = parse_body(input.message);
    let first = alerts.first();
    let first_annotation = |name: &str| {
        first
            .and_then(|alert| alert.annotations.get(name))
            .filter(|value| !value.is_empty())
            .cloned()
    };

    let firing = match &parsed_subject {
        Some((firing, _)) => *firing,
        None => alerts.iter().any(|alert| alert.firing) || alerts.is_empty(),
    };
    let alert_names: Vec<&str> = {
        let mut names: Vec<&str> = alerts
            .iter()
            .filter_map(|alert| alert.labels.get("alertname"))
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    };
    let group = match &parsed_subject {
        Some((_, group)) => group.clone(),
        None if !alert_names.is_empty() => alert_names.join(" "),
        None => subject.map_or_else(|| message_guid(input), str::to_owned),
    };

    let mut alert = Alert::default();
    alert.alert.alert_guid = message_guid(input);
    alert.alert.alert_type = if firing { AlertType::Alert } else { AlertType::Ok };
    alert.monitor.name = first
        .and_then(|alert| alert.labels.get("alertname"))
        .filter(|name| !name.is_empty())
        .cloned()
        .unwrap_or_else(|| group.clone());
    alert.monitor.monitor_type = monitor_type.to_owned();
    alert.monitor.url = first.and_then(|alert| alert.source.clone()).unwrap_or_default();
    alert.monitor.dashboard_url = first
        .and_then(|alert| alert.dashboard.clone())
        .unwrap_or_default();
    alert.monitor.notes = first_annotation("description").unwrap_or_default();
    let common_summary = first_annotation("summary").filter(|summary| {
        alerts
            .iter()
            .all(|alert| alert.annotations.get("summary") == Some(summary))
    });
    alert.alert.description = common_summary
        .or_else(|| Some(preamble).filter(|preamble| !preamble.is_empty()))
        .or_else(|| first_annotation("summary"))
        .or_else(|| first_annotation("description"))
        .or_else(|| subject.map(str::to_owned))
        .unwrap_or_else(|| group.clone());
    alert.monitor.custom_fields = match alerts.split_first() {
        Some((head, tail)) => head
            .labels
            .iter()
            .filter(|(name, value)| tail.iter().all(|other| other.labels.get(*name) == Some(*value)))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        None => BTreeMap::new(),
    };
    let id = derived_uuid(&format!("{source}-text-group:{group}"));
    alert.incident.key = format!("{source}:{id}");
    alert.monitor.monitor_guid = id;
    fill_times(&mut alert.alert, sns_time(input), None);
    alert
}

fn plain(input: &InboundMessage<'_>, subject: Option<&str>) -> Alert {
    let name = subject
        .map(str::to_owned)
        .or_else(|| {
            input
                .message
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let mut alert = Alert::default();
    alert.alert.alert_guid = message_guid(input);
    alert.alert.alert_type = ["alertType", "type", "status"]
        .iter()
        .filter_map(|key| input.attributes.get(*key))
        .find_map(|value| AlertType::parse(value))
        .unwrap_or_default();
    alert.alert.description = input.message.to_owned();
    let id = derived_uuid(&format!("text-monitor:{name}"));
    alert.monitor.name = name;
    alert.monitor.monitor_type = "Plain text".to_owned();
    alert.monitor.custom_fields = input.attributes.clone();
    alert.incident.key = format!("text:{id}");
    alert.monitor.monitor_guid = id;
    fill_times(&mut alert.alert, sns_time(input), None);
    alert
}
