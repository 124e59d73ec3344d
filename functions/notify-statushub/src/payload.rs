//! Pure: one route → the one message of the incident (create, update, or nothing sent), rendered.

use std::collections::BTreeMap;

use alert_model::{
    AlertType,
    template::{Escape, RenderContext, TemplateSource},
};
use notify_core::{Context, Field, NotifyError, Outgoing, RouteContext};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    config::{StatusHubSettings, StatusHubTarget, service_id},
    lifecycle::{self, Kept, Plan, Rules, UpdateType},
};

/// Titles are one line, cut at this many characters.
pub const MAX_TITLE_CHARS: usize = 255;

/// What one message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// `POST /hubs/{hub}/incidents`.
    Create,
    /// `POST /hubs/{hub}/incidents/{id}/incident_updates`.
    Update,
    /// No request: the Ok's time is kept for the incident.
    Remember,
}

/// One message to a StatusHub hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusHubMessage {
    /// What it does.
    pub operation: Operation,
    /// The request's URL (empty for [`Operation::Remember`]).
    pub url: String,
    /// Its headers (the key among them).
    pub headers: BTreeMap<String, String>,
    /// Its JSON body.
    pub body: String,
    /// The hub's writes are limited together: its API URL and subdomain.
    pub limit_key: String,
    /// This message among the hub's writes (integration, alert, level, step): the write a slot of
    /// the limit is reserved for when it has to wait.
    pub write_id: String,
    /// What the message keeps for the incident once sent.
    pub keep: Value,
    /// What a [`Operation::Remember`] says in the delivery log.
    pub note: String,
    /// The templated fields as rendered (for the security matrices).
    pub rendered: Vec<Field>,
}

/// The services the level links to the alert's monitor, else the integration's default services:
/// StatusHub ids, without duplicates. A link naming no service of the integration is an error
/// naming it.
fn linked_services(route: &RouteContext<'_>, settings: &StatusHubSettings) -> Result<Vec<u64>, NotifyError> {
    let monitor = route.alert.monitor.monitor_guid.as_str();
    let mut services = Vec::new();
    for (index, link) in route.attachment.service_links.iter().enumerate() {
        if link.monitor != monitor {
            continue;
        }
        let id = service_id(settings, &link.service).map_err(|reason| {
            NotifyError::permanent(format!(
                "integration `{}`: escalation level {}, serviceLinks[{index}].service: {reason}",
                route.integration.id, route.level.id
            ))
        })?;
        if !services.contains(&id) {
            services.push(id);
        }
    }
    if services.is_empty() {
        for name in &settings.default_services {
            if let Some(id) = settings.services.get(name)
                && !services.contains(id)
            {
                services.push(*id);
            }
        }
    }
    Ok(services)
}

/// Builds the message of one route: none when the lifecycle says there is nothing to send.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &StatusHubTarget,
) -> Result<Vec<Outgoing<StatusHubMessage>>, NotifyError> {
    let settings = &target.settings;
    let alert_type = route.alert.alert.alert_type;
    let time = lifecycle::alert_time(route.alert, route.now);
    let kept = Kept::from_state(route.incident);
    let services = linked_services(route, settings)?;
    let rules = Rules {
        ok_state: settings.ok_state,
        reminders: settings.reminders,
        silent: settings.silent,
    };
    let plan = lifecycle::plan(rules, alert_type, time, &services, &kept);
    let renderer = Renderer::new(route);
    let mut rendered = Vec::new();
    // StatusHub refuses a start time in the future: the alert's own time, at most now.
    let start_time = time.min(route.now).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let status = settings.alert_status.as_str();
    let (operation, path, body) = match &plan {
        Plan::Nothing(reason) => {
            tracing::info!(integration = %route.integration.id, %alert_type, reason, "statushub: nothing to send");
            return Ok(Vec::new());
        }
        Plan::Remember(_) => (Operation::Remember, String::new(), Value::Null),
        Plan::Create { services } => {
            let (title, text) = renderer.texts(settings, false, &mut rendered)?;
            let body = json!({
                "title": title,
                "body": text,
                "incident_type": UpdateType::Investigating.as_str(),
                "start_time": start_time,
                "service_statuses": statuses(services, status),
                "silent": settings.silent,
            });
            (Operation::Create, String::new(), body)
        }
        Plan::Update {
            incident_id,
            update,
            services,
            silent,
        } => {
            let ok = alert_type == AlertType::Ok;
            let (title, text) = renderer.texts(settings, ok, &mut rendered)?;
            let mut body = json!({
                "title": title,
                "body": text,
                "incident_type": update.as_str(),
                "start_time": start_time,
                "silent": silent,
            });
            match update {
                UpdateType::Investigating => body["service_statuses"] = statuses(services, status),
                UpdateType::Monitoring => body["service_statuses"] = statuses(services, "up"),
                // StatusHub refuses service statuses with `resolved`: it sets them up itself.
                UpdateType::Resolved => {}
            }
            if !incident_id_ok(incident_id) {
                return Err(renderer.error(format!(
                    "the kept incident id `{}` is not a StatusHub id",
                    incident_id.escape_debug()
                )));
            }
            (
                Operation::Update,
                format!("/{incident_id}/incident_updates"),
                body,
            )
        }
    };
    let api = renderer.api_url(&settings.api_url)?;
    let key = renderer.key(&settings.api_key)?;
    let mut headers = BTreeMap::from([
        ("Accept".to_owned(), "application/json".to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ]);
    match settings.api_key_header.as_deref() {
        None => headers.insert("Authorization".to_owned(), format!("Bearer {key}")),
        Some(header) if header.eq_ignore_ascii_case("authorization") => {
            headers.insert("Authorization".to_owned(), format!("Bearer {key}"))
        }
        Some(header) => headers.insert(header.to_owned(), key),
    };
    let incidents = format!("{api}/hubs/{}/incidents", settings.hub);
    let (url, body) = match operation {
        Operation::Remember => (String::new(), String::new()),
        _ => (format!("{incidents}{path}"), body.to_string()),
    };
    let note = match &plan {
        Plan::Remember(note) => (*note).to_owned(),
        _ => String::new(),
    };
    let step = match alert_type {
        AlertType::Alert => "incident",
        AlertType::Reminder => "reminder",
        AlertType::Ok => "ok",
    };
    Ok(vec![Outgoing {
        step: step.to_owned(),
        message: StatusHubMessage {
            operation,
            url,
            headers,
            body,
            limit_key: format!("{api}\n{}", settings.hub),
            write_id: format!(
                "{}\n{}\n{}\n{step}",
                route.integration.id, route.alert.alert.alert_guid, route.level.id
            ),
            keep: lifecycle::keep(&plan, &kept, time),
            note,
            rendered,
        },
    }])
}

fn statuses(services: &[u64], status: &str) -> Value {
    Value::Array(
        services
            .iter()
            .map(|service| json!({ "service_id": service, "status": status }))
            .collect(),
    )
}

/// StatusHub's ids are numbers; a kept id reaches a URL only when it is a plain token.
pub(crate) fn incident_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Renders the route's templates, naming the integration and the field in errors.
struct Renderer<'a> {
    route: &'a RouteContext<'a>,
    context: RenderContext<'a>,
}

impl<'a> Renderer<'a> {
    fn new(route: &'a RouteContext<'a>) -> Self {
        Renderer {
            route,
            context: RenderContext {
                alert: route.alert,
                variables: route.variables.values(),
                now: route.now,
            },
        }
    }

    fn error(&self, reason: impl std::fmt::Display) -> NotifyError {
        NotifyError::permanent(format!("integration `{}`: {reason}", self.route.integration.id))
    }

    fn raw(&self, template: &str, field: &str, escape: Escape) -> Result<String, NotifyError> {
        let source = TemplateSource {
            integration: &self.route.integration.id,
            field,
        };
        self.route
            .engine
            .render(source, template, escape, &self.context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    /// The template of `settings.<setting>`, else the built-in `default`, and the field's path.
    fn render(
        &self,
        template: Option<&str>,
        setting: &str,
        default: &'static str,
        escape: Escape,
    ) -> Result<(String, String), NotifyError> {
        let (template, field) = match template {
            Some(template) => (template, format!("settings.{setting}")),
            None => (
                crate::default_template(default)
                    .ok_or_else(|| self.error(format!("no built-in template `{default}`")))?,
                default.to_owned(),
            ),
        };
        Ok((self.raw(template, &field, escape)?, field))
    }

    /// The title (one line) and the body (HTML), of the Alert or of the Ok.
    fn texts(
        &self,
        settings: &StatusHubSettings,
        ok: bool,
        rendered: &mut Vec<Field>,
    ) -> Result<(String, String), NotifyError> {
        let (title, body) = if ok {
            (
                (settings.ok_title.as_deref(), "okTitle", "statushub.ok_title"),
                (settings.ok_body.as_deref(), "okBody", "statushub.ok_body"),
            )
        } else {
            (
                (settings.title.as_deref(), "title", "statushub.title"),
                (settings.body.as_deref(), "body", "statushub.body"),
            )
        };
        let (text, field) = self.render(title.0, title.1, title.2, Escape::Text)?;
        let title = one_line(&text, MAX_TITLE_CHARS);
        if title.is_empty() {
            return Err(self.error(format!("`{field}` renders to an empty title")));
        }
        rendered.push(Field::new(field, Context::Subject, &title));
        let (text, field) = self.render(body.0, body.1, body.2, Escape::Html)?;
        let body = text.trim().to_owned();
        rendered.push(Field::new(field, Context::Html, &body));
        Ok((title, body))
    }

    /// The API's base URL: absolute http(s), no white space, no query; the trailing `/` off. Not
    /// quoted in errors: it may carry a token.
    fn api_url(&self, template: &str) -> Result<String, NotifyError> {
        let url = self.raw(template, "settings.apiUrl", Escape::Url)?;
        let url = url.trim().trim_end_matches('/').to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error("`settings.apiUrl` does not render to an absolute https:// url"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains(['?', '#']) {
            return Err(
                self.error("`settings.apiUrl` renders to a url with white space, a query or a fragment")
            );
        }
        Ok(url)
    }

    /// The API key (never quoted).
    fn key(&self, template: &str) -> Result<String, NotifyError> {
        let key = self.raw(template, "settings.apiKey", Escape::Header)?;
        let key = key.trim().to_owned();
        if key.is_empty() {
            return Err(self.error("`settings.apiKey` renders to an empty key"));
        }
        Ok(key)
    }
}

/// The lines of `text` joined by spaces, control characters and the Unicode line and paragraph
/// separators as spaces, cut to `max` characters with `…`.
pub(crate) fn one_line(text: &str, max: usize) -> String {
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
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// What a message looks like for `tocsin render` and the delivery log.
pub(crate) fn describe(message: &StatusHubMessage) -> Value {
    match message.operation {
        Operation::Remember => json!({
            "statushub": {"operation": message.operation, "note": message.note},
        }),
        operation => json!({
            "request": {
                "method": "POST",
                "url": message.url,
                "headers": message.headers,
                "body": message.body,
            },
            "statushub": {"operation": operation},
        }),
    }
}
