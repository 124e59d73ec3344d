//! Pure: one route → one request of the alert API (a create on an Alert, a close by alias on an
//! Ok), Jira Service Management's integration events API or Opsgenie's, the same shape.

use std::collections::BTreeMap;

use alert_model::{
    Alert,
    template::{Escape, RenderContext, TemplateSource},
};
use notify_core::{
    HttpRequest, NotifyError, Outgoing, RouteContext,
    http::truncate_utf8,
    incident::{self, Action},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::config::{JsmTarget, Priority, Responder};

/// `alias` takes at most 512 characters; some of Atlassian's own docs say 250: 250 bytes, stricter.
pub const MAX_ALIAS_BYTES: usize = 250;
/// `message` takes at most 130 characters.
pub const MAX_MESSAGE_CHARS: usize = 130;
/// `description` takes at most 15,000 characters: cut at 15,000 bytes (at a character boundary),
/// which is stricter.
pub const MAX_DESCRIPTION_BYTES: usize = 15_000;
/// `entity` takes at most 512 characters.
pub const MAX_ENTITY_CHARS: usize = 512;
/// `source` takes at most 100 characters.
pub const MAX_SOURCE_CHARS: usize = 100;
/// A tag takes at most 50 characters.
pub const MAX_TAG_CHARS: usize = 50;
/// `details` take at most about 8,000 characters in all (names and values).
pub const MAX_DETAILS_CHARS: usize = 8_000;
/// A close's `note` takes at most 25,000 characters.
pub const MAX_NOTE_CHARS: usize = 25_000;
/// `source` when the settings name none.
pub const SOURCE: &str = "Tocsin";

/// What stays as it is in a path segment: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One request, ready to encode ([`JsmRequest::request`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsmRequest {
    /// The URL: the alerts, or the close of one alert by its alias.
    pub url: String,
    /// The API key (the `Authorization: GenieKey` header).
    pub api_key: String,
    /// The body.
    pub body: Body,
    /// The incident state to keep once it is delivered.
    #[serde(skip)]
    pub keep: Option<serde_json::Value>,
}

/// A create or a close.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// `POST …/alerts`.
    Create(Create),
    /// `POST …/alerts/<alias>/close?identifierType=alias`.
    Close(Close),
}

/// The create body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Create {
    /// One line, at most 130 characters.
    pub message: String,
    /// The incident key; absent for an alert without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// At most 15,000 characters.
    pub description: String,
    /// Who is notified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<Responder>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Text properties.
    pub details: BTreeMap<String, String>,
    /// What the alert is about.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity: String,
    /// `Tocsin` or the setting.
    pub source: String,
    /// `P1`…`P5`; absent for the API's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<&'static str>,
}

/// The close body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Close {
    /// `Tocsin` or the setting.
    pub source: String,
    /// Why it closes.
    pub note: String,
}

impl JsmRequest {
    /// The HTTP request.
    pub fn request(&self) -> Result<HttpRequest, NotifyError> {
        let body = serde_json::to_string(&self.body)
            .map_err(|error| NotifyError::permanent(format!("jsm request not serialisable: {error}")))?;
        Ok(HttpRequest {
            method: "POST".to_owned(),
            url: self.url.clone(),
            headers: BTreeMap::from([
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("Authorization".to_owned(), format!("GenieKey {}", self.api_key)),
            ]),
            body,
        })
    }
}

/// Builds the request of one route: a create for an Alert (and for a Reminder with
/// `sendReminders`), a close by alias for an Ok, nothing when the lifecycle says so
/// ([`incident::action`]).
pub(crate) fn build_requests(
    route: &RouteContext<'_>,
    target: &JsmTarget,
) -> Result<Vec<Outgoing<JsmRequest>>, NotifyError> {
    let integration = route.integration.id.as_str();
    let alert = route.alert;
    let action = incident::action(
        alert,
        "Jira Service Management",
        target.send_reminders,
        route.incident,
    );
    let alias = Some(incident::key_within(&alert.incident.key, MAX_ALIAS_BYTES).into_owned())
        .filter(|key| !key.trim().is_empty());
    match (&action, &alias) {
        (Action::Open, _) | (Action::Close, Some(_)) => {}
        (Action::Close, None) => {
            tracing::warn!(
                integration,
                "nothing to send: the Ok has no incident key (alias) to close by"
            );
            return Ok(Vec::new());
        }
        (Action::Skip(reason), _) => {
            tracing::info!(integration, reason = reason.as_str(), "nothing to send");
            return Ok(Vec::new());
        }
    }
    let renderer = Renderer {
        route,
        context: RenderContext {
            alert,
            variables: route.variables.values(),
            now: route.now,
        },
    };
    let base = renderer.url(&target.url)?;
    let alerts = format!("{}{}", base.trim_end_matches('/'), target.api.alerts_path());
    let api_key = renderer
        .render("settings.apiKey", &target.api_key, Escape::Header)?
        .trim()
        .to_owned();
    if api_key.is_empty() {
        return Err(renderer.error("`settings.apiKey` renders to an empty API key"));
    }
    let source = cut_chars(&target.source, MAX_SOURCE_CHARS);
    let (step, url, body) = match (action.clone(), alias) {
        (Action::Close, Some(alias)) => {
            let note = renderer.template_or_default(
                "settings.closeNote",
                target.close_note.as_deref(),
                "jsm.note",
            )?;
            let url = format!(
                "{alerts}/{}/close?identifierType=alias",
                utf8_percent_encode(&alias, SEGMENT)
            );
            let note = cut_chars(note.trim(), MAX_NOTE_CHARS);
            ("close", url, Body::Close(Close { source, note }))
        }
        (_, alias) => {
            let create = create(&renderer, target, alias, source)?;
            ("create", alerts, Body::Create(create))
        }
    };
    Ok(vec![Outgoing {
        step: step.to_owned(),
        message: JsmRequest {
            url,
            api_key,
            body,
            keep: incident::keep(&action, alert, route.incident),
        },
    }])
}

fn create(
    renderer: &Renderer<'_>,
    target: &JsmTarget,
    alias: Option<String>,
    source: String,
) -> Result<Create, NotifyError> {
    let alert = renderer.route.alert;
    let message = incident::title(
        &renderer.template_or_default("settings.message", target.message.as_deref(), "jsm.message")?,
        MAX_MESSAGE_CHARS,
    );
    let message = if message.trim().is_empty() {
        fallback_message(alert)
    } else {
        message
    };
    let description = renderer.template_or_default(
        "settings.description",
        target.description.as_deref(),
        "jsm.description",
    )?;
    let entity = match &target.entity {
        Some(template) => renderer.render("settings.entity", template, Escape::Text)?,
        None => alert.monitor.name.clone(),
    };
    let mut tags = Vec::new();
    for (index, template) in target.tags.iter().enumerate() {
        let tag = renderer.render(&format!("settings.tags[{index}]"), template, Escape::Text)?;
        let tag = incident::title(&tag, MAX_TAG_CHARS);
        if !tag.trim().is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let mut details = identifying_details(alert);
    for (name, template) in &target.details {
        let value = renderer.render(&format!("settings.details.{name}"), template, Escape::Text)?;
        details.insert(name.clone(), value);
    }
    fit_details(&mut details);
    Ok(Create {
        message,
        alias,
        description: truncate_utf8(description.trim(), MAX_DESCRIPTION_BYTES),
        responders: target.responders.clone(),
        tags,
        details,
        entity: cut_chars(entity.trim(), MAX_ENTITY_CHARS),
        source,
        priority: priority(renderer, target)?.map(Priority::as_str),
    })
}

/// `Alert: <monitor>`, for a message that renders empty.
fn fallback_message(alert: &Alert) -> String {
    let monitor = alert.monitor.name.trim();
    let monitor = if monitor.is_empty() {
        "(unnamed monitor)"
    } else {
        monitor
    };
    incident::title(
        &format!("{}: {monitor}", alert.alert.alert_type),
        MAX_MESSAGE_CHARS,
    )
}

/// The priority the template renders, through `priorityMap`; none when there is no template or it
/// renders empty; `P1` for anything else (with a warning: an alert is never lost to its priority).
fn priority(renderer: &Renderer<'_>, target: &JsmTarget) -> Result<Option<Priority>, NotifyError> {
    let Some(template) = &target.priority else {
        return Ok(None);
    };
    let value = renderer.render("settings.priority", template, Escape::Text)?;
    let value = value.trim().to_lowercase();
    if value.is_empty() {
        return Ok(None);
    }
    if let Some(priority) = target
        .priority_map
        .get(&value)
        .copied()
        .or_else(|| Priority::parse(&value))
    {
        return Ok(Some(priority));
    }
    tracing::warn!(
        integration = renderer.route.integration.id.as_str(),
        priority = value.as_str(),
        "the priority is not P1 to P5, nor in settings.priorityMap: sent as P1"
    );
    Ok(Some(Priority::P1))
}

/// The alert's identifying values, those that have one.
pub(crate) fn identifying_details(alert: &Alert) -> BTreeMap<String, String> {
    let level = alert.escalation_level.id.to_string();
    [
        ("alert", alert.alert.alert_guid.as_str()),
        ("alertDefinition", alert.alert_definition.name.as_str()),
        ("escalationLevel", level.as_str()),
        ("monitor", alert.monitor.name.as_str()),
        ("monitorType", alert.monitor.monitor_type.as_str()),
        ("monitorUrl", alert.monitor.url.as_str()),
        ("dashboardUrl", alert.monitor.dashboard_url.as_str()),
        ("failedCheckUrl", alert.alert.first_error_check_url.as_str()),
        ("checkpoint", alert.alert.checkpoint_name.as_str()),
        ("firstError", alert.alert.first_error_utc.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| (name, value.trim()))
    .filter(|(_, value)| !value.is_empty())
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// Cuts the longest values (in halves, never below 50 characters) until the details fit
/// [`MAX_DETAILS_CHARS`], then leaves out the longest ones that still do not.
fn fit_details(details: &mut BTreeMap<String, String>) {
    let size = |details: &BTreeMap<String, String>| {
        details
            .iter()
            .map(|(name, value)| name.chars().count() + value.chars().count())
            .sum::<usize>()
    };
    while size(details) > MAX_DETAILS_CHARS {
        let Some((name, length)) = details
            .iter()
            .map(|(name, value)| (name.clone(), value.chars().count()))
            .max_by_key(|(_, length)| *length)
        else {
            return;
        };
        if length <= 50 {
            details.remove(&name);
        } else if let Some(value) = details.get_mut(&name) {
            *value = cut_chars(value, length / 2);
        }
    }
}

/// At most `max` characters of `text`, the last one `…` when it was cut.
pub(crate) fn cut_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
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

    /// The base URL, values percent-encoded; an absolute http(s) URL without white space, query or
    /// fragment. Never quoted in the error.
    fn url(&self, template: &str) -> Result<String, NotifyError> {
        let url = self.render("settings.url", template, Escape::Url)?;
        let url = url.trim().to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error("`settings.url` does not render to an absolute http:// or https:// URL"));
        }
        if url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        {
            return Err(self.error(
                "`settings.url` renders to a URL containing white space, control characters, a query or a \
                 fragment: give the API's base URL",
            ));
        }
        Ok(url)
    }
}
