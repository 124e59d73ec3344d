//! Pure: one route → one Events API v2 event (`trigger` on an Alert, `resolve` on an Ok), and its
//! encoding for the wire, fitted to PagerDuty's size limit.

use std::collections::BTreeMap;

use alert_model::{
    Alert,
    template::{Escape, RenderContext, TemplateSource},
};
use notify_core::{
    HttpRequest, NotifyError, Outgoing, RouteContext,
    incident::{self, Action},
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{PagerDutyTarget, Severity};

/// `dedup_key` takes at most 255 characters (targets.md §1); measured in bytes, which is stricter.
pub const MAX_DEDUP_KEY_BYTES: usize = 255;
/// `payload.summary` takes at most 1,024 characters.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// An event takes at most 512 KB (PagerDuty's "Size Limits"; Alertmanager's 512,000 bytes).
pub const MAX_EVENT_BYTES: usize = 512_000;
/// What a shrunk `custom_details` says, under this key.
pub const SHRUNK_NOTE_KEY: &str = "tocsin";
/// The client PagerDuty shows ("View in Tocsin").
pub const CLIENT: &str = "Tocsin";

/// One event, ready to encode ([`PagerDutyEvent::request`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PagerDutyEvent {
    /// The Events API URL.
    pub url: String,
    /// The event as built: its `custom_details` whole, as the template rendered it.
    pub event: Event,
    /// The incident state to keep once it is delivered.
    #[serde(skip)]
    pub keep: Option<Value>,
}

/// An Events API v2 alert event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The integration key.
    pub routing_key: String,
    /// `trigger` or `resolve`.
    pub event_action: &'static str,
    /// The incident key (within 255 bytes); absent on a trigger of an alert without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// What happened (triggers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// The monitoring client (triggers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Its URL: the monitor's dashboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    /// The dashboard and the failed check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// `payload` of a trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payload {
    /// One line, at most 1,024 characters.
    pub summary: String,
    /// The affected system.
    pub source: String,
    /// `critical`, `error`, `warning` or `info`.
    pub severity: &'static str,
    /// When the alert happened (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// See the settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// See the settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// See the settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// An object.
    pub custom_details: Value,
}

/// A link shown on the alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The URL.
    pub href: String,
    /// Its text.
    pub text: String,
}

impl PagerDutyEvent {
    /// The HTTP request that sends this event: the event as JSON, fitted to [`MAX_EVENT_BYTES`] by
    /// shrinking `custom_details` (its longest values cut first, then all of it), which then says
    /// so under [`SHRUNK_NOTE_KEY`]. An event too large without its custom details is refused
    /// (permanent: a template renders too much).
    pub fn request(&self) -> Result<HttpRequest, NotifyError> {
        Ok(HttpRequest {
            method: "POST".to_owned(),
            url: self.url.clone(),
            headers: BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]),
            body: fitted(&self.event)?,
        })
    }
}

fn encode(event: &Event) -> Result<String, NotifyError> {
    serde_json::to_string(event)
        .map_err(|error| NotifyError::permanent(format!("pagerduty event not serialisable: {error}")))
}

/// The event as JSON, at most [`MAX_EVENT_BYTES`].
pub(crate) fn fitted(event: &Event) -> Result<String, NotifyError> {
    let body = encode(event)?;
    if body.len() <= MAX_EVENT_BYTES {
        return Ok(body);
    }
    let size = body.len();
    let Some(payload) = event.payload.as_ref() else {
        return Err(too_large(size));
    };
    let mut shrunk = event.clone();
    let note = |cut: usize, whole: bool| {
        let what = if whole {
            "custom_details removed".to_owned()
        } else {
            format!("{cut} value(s) of custom_details cut")
        };
        Value::String(format!(
            "{what}: the event was {size} bytes, more than PagerDuty's limit of {MAX_EVENT_BYTES}"
        ))
    };
    // The longest values first, until the event fits (the note's own size counted).
    let mut details = match &payload.custom_details {
        Value::Object(map) => map.clone(),
        other => Map::from_iter([("details".to_owned(), other.clone())]),
    };
    details.insert(SHRUNK_NOTE_KEY.to_owned(), note(usize::MAX, false));
    let excess = size
        .saturating_add(json_len(&details[SHRUNK_NOTE_KEY]))
        .saturating_sub(MAX_EVENT_BYTES);
    let cut = cut_longest(&mut details, excess);
    details.insert(SHRUNK_NOTE_KEY.to_owned(), note(cut, false));
    set_details(&mut shrunk, Value::Object(details));
    let body = encode(&shrunk)?;
    if body.len() <= MAX_EVENT_BYTES {
        return Ok(body);
    }
    let only_note = Map::from_iter([(SHRUNK_NOTE_KEY.to_owned(), note(0, true))]);
    set_details(&mut shrunk, Value::Object(only_note));
    let body = encode(&shrunk)?;
    if body.len() <= MAX_EVENT_BYTES {
        return Ok(body);
    }
    Err(too_large(body.len()))
}

fn too_large(size: usize) -> NotifyError {
    NotifyError::permanent(format!(
        "the pagerduty event is {size} bytes without its custom details, more than PagerDuty's limit of \
         {MAX_EVENT_BYTES}: a template (routing key, source, component, group, class) renders too much"
    ))
}

fn set_details(event: &mut Event, details: Value) {
    if let Some(payload) = event.payload.as_mut() {
        payload.custom_details = details;
    }
}

/// The bytes `value` takes in JSON.
fn json_len(value: &Value) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// The bytes `text` takes as a JSON string.
fn string_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(0, |json| json.len())
}

/// What replaces a cut value.
fn cut_mark(value: &str) -> Value {
    Value::String(format!("[cut: {} bytes]", value.len()))
}

/// Replaces the longest string values anywhere in `details` (never the note) with a mark saying
/// how long they were, until `excess` bytes are saved; returns how many were cut.
fn cut_longest(details: &mut Map<String, Value>, excess: usize) -> usize {
    /// What cutting `text` saves.
    fn saving(text: &str) -> usize {
        string_len(text).saturating_sub(json_len(&cut_mark(text)))
    }
    fn leaves(value: &Value, out: &mut Vec<usize>) {
        match value {
            Value::String(text) => out.push(saving(text)),
            Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
            Value::Object(map) => map.values().for_each(|item| leaves(item, out)),
            _ => {}
        }
    }
    /// Cuts the values that save more than `threshold`, and `ties` of those that save exactly it.
    fn cut(value: &mut Value, threshold: usize, ties: &mut usize, count: &mut usize) {
        match value {
            Value::String(text) => {
                let saved = saving(text);
                let take = saved > threshold || (saved == threshold && *ties > 0);
                if take && saved > 0 {
                    if saved == threshold {
                        *ties -= 1;
                    }
                    *value = cut_mark(text);
                    *count += 1;
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| cut(item, threshold, ties, count)),
            Value::Object(map) => map
                .values_mut()
                .for_each(|item| cut(item, threshold, ties, count)),
            _ => {}
        }
    }
    let mut savings = Vec::new();
    for (key, value) in details.iter() {
        if key != SHRUNK_NOTE_KEY {
            leaves(value, &mut savings);
        }
    }
    savings.sort_unstable_by(|a, b| b.cmp(a));
    // The fewest values that save enough: the longest first.
    let mut saved = 0;
    let mut chosen: usize = 0;
    for saving in &savings {
        if saved >= excess || *saving == 0 {
            break;
        }
        saved += saving;
        chosen += 1;
    }
    let Some(&threshold) = chosen.checked_sub(1).and_then(|last| savings.get(last)) else {
        return 0;
    };
    let mut ties = savings[..chosen]
        .iter()
        .filter(|saving| **saving == threshold)
        .count();
    let mut count = 0;
    for (key, value) in details.iter_mut() {
        if key != SHRUNK_NOTE_KEY {
            cut(value, threshold, &mut ties, &mut count);
        }
    }
    count
}

/// Builds the event of one route: a `trigger` for an Alert (and for a Reminder with
/// `sendReminders`), a `resolve` for an Ok, nothing when the lifecycle says so
/// ([`incident::action`]).
pub(crate) fn build_events(
    route: &RouteContext<'_>,
    target: &PagerDutyTarget,
) -> Result<Vec<Outgoing<PagerDutyEvent>>, NotifyError> {
    let integration = route.integration.id.as_str();
    let alert = route.alert;
    let action = incident::action(alert, "PagerDuty", target.send_reminders, route.incident);
    let dedup_key = Some(incident::key_within(&alert.incident.key, MAX_DEDUP_KEY_BYTES).into_owned())
        .filter(|key| !key.trim().is_empty());
    let (event_action, step) = match (&action, &dedup_key) {
        (Action::Open, _) => ("trigger", "trigger"),
        (Action::Close, Some(_)) => ("resolve", "resolve"),
        (Action::Close, None) => {
            tracing::warn!(
                integration,
                "nothing to send: the Ok has no incident key to resolve by"
            );
            return Ok(Vec::new());
        }
        (Action::Skip(reason), _) => {
            tracing::info!(integration, reason = reason.as_str(), "nothing to send");
            return Ok(Vec::new());
        }
    };
    let renderer = Renderer {
        route,
        context: RenderContext {
            alert,
            variables: route.variables.values(),
            now: route.now,
        },
    };
    let url = renderer.url(&target.url)?;
    let routing_key = renderer
        .render("settings.routingKey", &target.routing_key, Escape::Text)?
        .trim()
        .to_owned();
    if routing_key.is_empty() {
        return Err(renderer.error("`settings.routingKey` renders to an empty routing key"));
    }
    let mut event = Event {
        routing_key,
        event_action,
        dedup_key,
        payload: None,
        client: None,
        client_url: None,
        links: Vec::new(),
    };
    if event_action == "trigger" {
        event.payload = Some(payload(&renderer, target)?);
        event.client = Some(CLIENT.to_owned());
        event.client_url = web_url(&alert.monitor.dashboard_url);
        event.links = links(alert);
    }
    Ok(vec![Outgoing {
        step: step.to_owned(),
        message: PagerDutyEvent {
            url,
            event,
            keep: incident::keep(&action, alert, route.incident),
        },
    }])
}

fn payload(renderer: &Renderer<'_>, target: &PagerDutyTarget) -> Result<Payload, NotifyError> {
    let alert = renderer.route.alert;
    let summary = incident::title(
        &renderer.template_or_default("settings.summary", target.summary.as_deref(), "pagerduty.summary")?,
        MAX_SUMMARY_CHARS,
    );
    let summary = if summary.trim().is_empty() {
        fallback_summary(alert)
    } else {
        summary
    };
    let source = renderer
        .template_or_default("settings.source", target.source.as_deref(), "pagerduty.source")?
        .trim()
        .to_owned();
    let source = [
        source,
        alert.monitor.name.trim().to_owned(),
        CLIENT.to_lowercase(),
    ]
    .into_iter()
    .find(|text| !text.is_empty())
    .unwrap_or_default();
    let optional = |field: &str, template: &Option<String>| -> Result<Option<String>, NotifyError> {
        let Some(template) = template else {
            return Ok(None);
        };
        let text = renderer.render(field, template, Escape::Text)?;
        Ok(Some(text.trim().to_owned()).filter(|text| !text.is_empty()))
    };
    let custom_details = match &target.custom_details {
        Some(template) => {
            let text = renderer.render("settings.customDetails", template, Escape::Json)?;
            match serde_json::from_str::<Value>(&text) {
                Ok(object @ Value::Object(_)) => object,
                Ok(other) => Value::Object(Map::from_iter([("details".to_owned(), other)])),
                Err(error) => {
                    return Err(renderer.error(format!("`settings.customDetails` is not JSON: {error}")));
                }
            }
        }
        None => default_details(alert),
    };
    Ok(Payload {
        summary,
        source,
        severity: severity(renderer, target)?.as_str(),
        timestamp: incident::alert_time(alert).map(incident::rfc3339),
        component: optional("settings.component", &target.component)?,
        group: optional("settings.group", &target.group)?,
        class: optional("settings.class", &target.class)?,
        custom_details,
    })
}

/// `<Alert|Reminder>: <monitor>`, for a summary that renders empty.
fn fallback_summary(alert: &Alert) -> String {
    let monitor = alert.monitor.name.trim();
    let monitor = if monitor.is_empty() {
        "(unnamed monitor)"
    } else {
        monitor
    };
    incident::title(
        &format!("{}: {monitor}", alert.alert.alert_type),
        MAX_SUMMARY_CHARS,
    )
}

/// The severity the template renders, through `severityMap`; `critical` when it renders empty or
/// to something else (with a warning: an alert is never dropped for its severity).
fn severity(renderer: &Renderer<'_>, target: &PagerDutyTarget) -> Result<Severity, NotifyError> {
    let value = renderer.render("settings.severity", &target.severity, Escape::Text)?;
    let value = value.trim().to_lowercase();
    if value.is_empty() {
        return Ok(Severity::Critical);
    }
    if let Some(severity) = target
        .severity_map
        .get(&value)
        .copied()
        .or_else(|| Severity::parse(&value))
    {
        return Ok(severity);
    }
    tracing::warn!(
        integration = renderer.route.integration.id.as_str(),
        severity = value.as_str(),
        "the severity is not critical, error, warning or info, nor in settings.severityMap: sent as critical"
    );
    Ok(Severity::Critical)
}

/// Every alert variable that has a value, grouped as in the native envelope (`alert`, `monitor`,
/// …), and the level's message as `message`.
pub(crate) fn default_details(alert: &Alert) -> Value {
    fn prune(value: Value) -> Option<Value> {
        match value {
            Value::String(text) if text.trim().is_empty() => None,
            Value::Object(map) => {
                let map: Map<String, Value> = map
                    .into_iter()
                    .filter_map(|(key, value)| prune(value).map(|value| (key, value)))
                    .collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            other => Some(other),
        }
    }
    let mut alert = alert.clone();
    alert.deliver_to = None;
    let mut details = serde_json::to_value(&alert)
        .ok()
        .and_then(prune)
        .and_then(|value| match value {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    let message = alert.escalation_level.message.trim();
    if !message.is_empty() {
        details.insert("message".to_owned(), Value::String(message.to_owned()));
    }
    Value::Object(details)
}

/// A link to the dashboard and one to the failed check, when the alert has them (http(s) URLs).
fn links(alert: &Alert) -> Vec<Link> {
    [
        (&alert.monitor.dashboard_url, "Dashboard"),
        (&alert.alert.first_error_check_url, "Failed check"),
    ]
    .into_iter()
    .filter_map(|(url, text)| {
        web_url(url).map(|href| Link {
            href,
            text: text.to_owned(),
        })
    })
    .collect()
}

/// `url` trimmed, when it is an http(s) URL.
fn web_url(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    ((lower.starts_with("https://") || lower.starts_with("http://")) && !url.contains(char::is_whitespace))
        .then(|| url.to_owned())
}

struct Renderer<'a> {
    route: &'a RouteContext<'a>,
    context: RenderContext<'a>,
}

impl Renderer<'_> {
    /// A permanent error naming the integration.
    fn error(&self, reason: impl std::fmt::Display) -> NotifyError {
        NotifyError::permanent(format!("integration `{}`: {reason}", self.route.integration.id))
    }

    fn render(&self, field: &str, template: &str, escape: Escape) -> Result<String, NotifyError> {
        let source = TemplateSource {
            integration: &self.route.integration.id,
            field,
        };
        self.route
            .engine
            .render(source, template, escape, &self.context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    /// The integration's template at `field`, else the built-in `default` (as plain text).
    fn template_or_default(
        &self,
        field: &str,
        template: Option<&str>,
        default: &str,
    ) -> Result<String, NotifyError> {
        match template {
            Some(template) => self.render(field, template, Escape::Text),
            None => {
                let builtin = crate::default_template(default)
                    .ok_or_else(|| self.error(format!("no built-in template `{default}`")))?;
                self.render(default, builtin, Escape::Text)
            }
        }
    }

    /// The URL, values percent-encoded; an absolute http(s) URL without white space. Never quoted
    /// in the error.
    fn url(&self, template: &str) -> Result<String, NotifyError> {
        let url = self.render("settings.url", template, Escape::Url)?;
        let url = url.trim().to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error("`settings.url` does not render to an absolute http:// or https:// URL"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                self.error("`settings.url` renders to a URL containing white space or control characters")
            );
        }
        Ok(url)
    }
}
